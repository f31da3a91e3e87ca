"""`cwbulk export` through the CLI: output, progress, errors, and what it asks the server."""

from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path
from urllib.parse import parse_qs
from zoneinfo import ZoneInfo

import httpx
import pytest
from click.testing import CliRunner, Result

from cwbulk.cli import cli

NY = ZoneInfo("America/New_York")


def cwbulk(*args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(cli, list(args), env=env)


def all_entries(client: httpx.Client) -> list[dict]:
    items, page = [], 1
    while batch := client.get("time/entries", params={"pageSize": 1000, "page": page}).json():
        items += batch
        page += 1
    return items


def local_day(entry: dict) -> date:
    moment = datetime.fromisoformat(entry["timeStart"].replace("Z", "+00:00"))
    return moment.astimezone(NY).date()


def test_json_prints_rows_and_path_only(
    sandbox_db: Path, sandbox_api: httpx.Client, tmp_path: Path
) -> None:
    entries = all_entries(sandbox_api)
    days = sorted({local_day(e) for e in entries})
    first, last = days[len(days) // 3], days[len(days) // 2]
    expected = [e for e in entries if first <= local_day(e) <= last]
    out = tmp_path / "period.xlsx"
    result = cwbulk(
        "--sandbox", "--json", "export", "-o", str(out), "--tz", "America/New_York",
        "--from", first.isoformat(), "--to", last.isoformat(),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {"rows": len(expected), "path": str(out)}
    assert result.stdout.count("\n") == 1
    assert "Exported" not in result.stderr
    assert out.exists()


def test_progress_and_summary_go_to_stderr_and_quiet_silences_them(
    sandbox_db: Path, tmp_path: Path
) -> None:
    loud = cwbulk("--sandbox", "export", "-o", str(tmp_path / "a.csv"), "--tz", "UTC")
    assert loud.exit_code == 0, loud.output
    assert loud.stdout == ""
    assert "Exporting" in loud.stderr and "page" in loud.stderr
    rows = len((tmp_path / "a.csv").read_text(encoding="utf-8").splitlines()) - 1
    assert loud.stderr.rstrip().endswith(
        f"Exported {rows} time entries to {tmp_path / 'a.csv'} (times in UTC)."
    )
    quiet = cwbulk("--sandbox", "-q", "export", "-o", str(tmp_path / "b.csv"), "--tz", "UTC")
    assert quiet.exit_code == 0, quiet.output
    assert (quiet.stdout, quiet.stderr) == ("", "")
    assert (tmp_path / "b.csv").read_bytes() == (tmp_path / "a.csv").read_bytes()


def test_excel_flag_writes_a_bom(sandbox_db: Path, tmp_path: Path) -> None:
    out = tmp_path / "excel.csv"
    result = cwbulk("--sandbox", "-q", "export", "-o", str(out), "--excel", "--status", "open")
    assert result.exit_code == 0, result.output
    assert out.read_bytes().startswith(b"\xef\xbb\xbfid,member,")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        pytest.param(
            ["-o", "x.txt"],
            "Error: can't write x.txt: the file name must end in .xlsx or .csv or .json\n"
            "Give a name such as entries.xlsx.\n",
            id="extension",
        ),
        pytest.param(
            ["-o", "x.csv", "--from", "2026-02-01", "--to", "2026-01-31"],
            "Error: --from 2026-02-01 is after --to 2026-01-31\n"
            "Swap them: --from is the first day, --to the last (both included).\n",
            id="from-after-to",
        ),
        pytest.param(
            ["-o", "x.csv", "--member", "nobody-at-all"],
            "Error: --member 'nobody-at-all': there is no such member in ConnectWise\n"
            "See `cwbulk lookup members`.\n",
            id="unknown-member",
        ),
        pytest.param(
            ["-o", "x.csv", "--conditions", "notes contains"],
            "Error: ConnectWise rejected GET time/entries/count",
            id="bad-conditions",
        ),
    ],
)
def test_errors_exit_2_with_the_fix(
    sandbox_db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, args: list[str], message: str
) -> None:
    monkeypatch.chdir(tmp_path)
    result = cwbulk("--sandbox", "export", "--tz", "UTC", *args)
    assert result.exit_code == 2
    assert result.stderr.startswith(message)
    assert "Traceback" not in result.output
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        pytest.param(["--tz", "Mars/Olympus"], "unknown time zone 'Mars/Olympus'", id="tz"),
        pytest.param(["--status", "Done"], "'Done' is not one of", id="status"),
        pytest.param(["--from", "01/02/2026"], "'01/02/2026' does not match", id="date"),
        pytest.param(["--ticket", "0"], "0 is not in the range x>=1", id="ticket"),
        pytest.param([], "Missing option '-o' / '--output'", id="no-output"),
    ],
)
def test_bad_options_are_usage_errors(args: list[str], fragment: str) -> None:
    result = cwbulk("--sandbox", "export", *(["-o", "x.csv"] if args else []), *args)
    assert result.exit_code == 2
    assert fragment in result.stderr


def test_pages_of_1000_with_only_the_needed_fields_over_http(served_sandbox, tmp_path: Path):
    served = served_sandbox()
    env = served.environment()
    served.clear_requests()
    result = cwbulk("--json", "export", "-o", str(tmp_path / "all.csv"), "--tz", "UTC", env=env)
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)["rows"]
    reads = [r for r in served.requests() if r["path"].lower().endswith("/time/entries")]
    queries = [parse_qs(r["query"]) for r in reads]
    assert sorted(int(q["page"][0]) for q in queries) == list(range(1, -(-rows // 1000) + 1))
    assert {q["pageSize"][0] for q in queries} == {"1000"}
    fields = queries[0]["fields"][0].split(",")
    assert "member/identifier" in fields and "_info/lastUpdated" in fields
    assert "hourlyRate" not in fields
    writes = [r for r in served.requests() if r["method"] != "GET"]
    assert writes == []
