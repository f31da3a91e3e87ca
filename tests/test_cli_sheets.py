"""``cwbulk sheets list|submit|approve|reject|reverse`` and ``cwbulk reject`` against the
sandbox: filters, dry runs, confirmation, results files, exit codes, locks seen through
``cwbulk import``, and exactly-once actions over a served sandbox that loses answers."""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from click.testing import CliRunner, Result

from cwbulk.cli import cli


def cwbulk(*args: str, input: str | None = None) -> Result:
    return CliRunner().invoke(cli, list(args), input=input)


def sheets(*args: str) -> list[dict[str, Any]]:
    """``cwbulk --sandbox sheets list ARGS --json`` → its items."""
    result = cwbulk("--sandbox", "sheets", "list", *args, "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["rows"] == len(data["items"])
    return data["items"]


def sheet_of(member: str, status: str) -> dict[str, Any]:
    """The newest sheet of ``member`` in ``status``."""
    return sheets("--member", member, "--status", status)[0]


def week(sheet: dict[str, Any]) -> tuple[str, str]:
    start, end = sheet["period"].split(" to ")
    return start, end


def status_of(sheet_id: int) -> str:
    (found,) = [s for s in sheets() if s["id"] == sheet_id]
    return found["status"]


# --- list ----------------------------------------------------------------------------------


def test_list_filters_by_status_member_and_period(sandbox_db: Path, tmp_path: Path) -> None:
    pending = sheets("--status", "pendingapproval")
    assert pending and {s["status"] for s in pending} == {"PendingApproval"}
    mine = sheets("--member", "abaker")
    assert len(mine) > 5 and {s["member"] for s in mine} == {"abaker"}
    assert [s["period"] for s in mine] == sorted((s["period"] for s in mine), reverse=True)
    _start, end = week(mine[0])
    in_week = sheets("--from", end, "--to", end)
    assert {s["period"] for s in in_week} == {mine[0]["period"]}
    assert len(in_week) > 2

    out = tmp_path / "pending.xlsx"
    result = cwbulk("--sandbox", "sheets", "list", "--status", "PendingApproval", "-o", str(out))
    assert result.exit_code == 0, result.output
    written = pd.read_excel(out, engine="calamine")
    assert sorted(written["id"]) == sorted(s["id"] for s in pending)

    text = cwbulk("--sandbox", "sheets", "list", "--member", "abaker")
    assert text.exit_code == 0
    assert re.search(r"id\s+member\s+period\s+hours\s+status", text.stdout)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        pytest.param(["sheets", "approve", "--yes"], "Say which records to act on", id="no-filter"),
        pytest.param(
            ["sheets", "approve", "--ids", "ids.csv", "--member", "abaker"],
            "--ids can't be combined",
            id="ids-and-filter",
        ),
        pytest.param(
            ["--json", "sheets", "approve", "--status", "PendingApproval"],
            "--json can't ask for confirmation",
            id="json-without-yes",
        ),
        pytest.param(
            ["sheets", "approve", "--member", "abakr", "--yes"],
            "--member 'abakr': there is no such member in ConnectWise",
            id="unknown-member",
        ),
        pytest.param(
            ["sheets", "submit", "--from", "2026-13-01"],
            "'2026-13-01' does not match the format '%Y-%m-%d'",
            id="bad-date",
        ),
        pytest.param(
            ["sheets", "reverse", "--ids", "missing.csv", "--yes"],
            "missing.csv",
            id="missing-ids-file",
        ),
        pytest.param(
            ["reject", "--member", "abaker", "--yes"], "Missing option '--comment'", id="no-comment"
        ),
        pytest.param(
            ["reject", "--member", "abaker", "--comment", " ", "--yes"],
            "--comment is empty",
            id="blank-comment",
        ),
    ],
)
def test_usage_errors_exit_2_with_the_fix(
    sandbox_db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, args: list[str], message: str
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "ids.csv").write_text("id\n1\n", encoding="utf-8")
    result = cwbulk("--sandbox", *args)
    assert result.exit_code == 2, result.output
    assert message in result.stderr
    assert "Traceback" not in result.output


# --- acting ------------------------------------------------------------------------------


def test_dry_run_shows_each_sheet_and_sends_nothing(sandbox_db: Path, tmp_path: Path) -> None:
    pending = sheet_of("abaker", "PendingApproval")
    result = cwbulk("--sandbox", "sheets", "approve", "--member", "abaker", "--dry-run")
    assert result.exit_code == 0, result.output
    row = next(
        line for line in result.stdout.splitlines() if line.lstrip().startswith(str(pending["id"]))
    )
    assert "PendingApproval" in row and row.rstrip().endswith("approve")
    assert "skip: Open: it must be submitted first (cwbulk sheets submit)" in result.stdout
    assert "Would approve 1 time sheet; skip" in result.stdout
    assert status_of(pending["id"]) == "PendingApproval"

    as_json = cwbulk("--sandbox", "--json", "sheets", "approve", "--member", "abaker", "--dry-run")
    data = json.loads(as_json.stdout)
    assert data["dryRun"] is True and data["counts"]["send"] == 1
    assert [i["id"] for i in data["items"] if i["action"] == "approve"] == [pending["id"]]


def test_confirmation_declined_sends_nothing_and_accepted_approves(
    sandbox_db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    pending = sheet_of("bchen", "PendingApproval")
    args = ("--sandbox", "sheets", "approve", "--member", "bchen", "--status", "PendingApproval")
    declined = cwbulk(*args, input="n\n")
    assert declined.exit_code == 1
    assert "Approve 1 time sheet on http://sandbox.invalid? [y/N]" in declined.stderr
    assert "Nothing was sent." in declined.stderr
    assert status_of(pending["id"]) == "PendingApproval"
    assert not list(tmp_path.glob("*.csv"))

    accepted = cwbulk(*args, input="y\n")
    assert accepted.exit_code == 0, accepted.output
    assert "Approved 1 time sheet; 0 skipped, 0 failed." in accepted.stderr
    (results,) = tmp_path.glob("sheets-approve-*.csv")
    assert re.fullmatch(r"sheets-approve-\d{8}-\d{6}\.csv", results.name)
    assert f"Results: {results.name}" in accepted.stderr
    assert status_of(pending["id"]) == "ApprovedByTierOne"


def test_ids_file_run_reports_every_sheet_beside_the_file(sandbox_db: Path, tmp_path: Path) -> None:
    pending = [s["id"] for s in sheets("--status", "PendingApproval")]
    opened = sheet_of("abaker", "Open")["id"]
    ids = tmp_path / "approve-these.xlsx"
    pd.DataFrame({"id": [*pending, opened, 999_999]}).to_excel(ids, index=False)
    result = cwbulk(
        "--sandbox", "--json", "sheets", "approve", "--ids", str(ids), "--yes", "--max-rate", "0"
    )
    assert result.exit_code == 1, result.output
    data = json.loads(result.stdout)
    assert data["counts"] == {"done": len(pending), "skipped": 1, "failed": 1}
    assert data["results"] == str(tmp_path / "approve-these.approve-results.xlsx")
    results = pd.read_excel(data["results"], engine="calamine", dtype=str, keep_default_na=False)
    assert list(results.columns) == [
        *("id", "member", "period", "hours", "statusBefore", "statusAfter"),
        *("outcome", "reason", "error"),
    ]
    assert results["id"].astype(int).tolist() == [*pending, opened, 999_999]
    by_id = results.set_index(results["id"].astype(int))
    assert set(by_id.loc[pending, "statusAfter"]) == {"ApprovedByTierOne"}
    assert set(by_id.loc[pending, "outcome"]) == {"done"}
    assert by_id.loc[opened, "outcome"] == "skipped"
    assert by_id.loc[opened, "reason"] == "Open: it must be submitted first (cwbulk sheets submit)"
    assert by_id.loc[999_999, "outcome"] == "failed"
    assert by_id.loc[999_999, "error"] == "no such time sheet in ConnectWise"

    again = cwbulk("--sandbox", "sheets", "approve", "--ids", str(ids), "--yes")
    assert again.exit_code == 1
    assert f"Approved 0 time sheets; {len(pending) + 1} skipped, 1 failed." in again.stderr
    assert f"skipped {len(pending)} × ApprovedByTierOne: already approved" in again.stderr


def test_locked_entries_refuse_changes_through_import_until_the_sheet_is_reversed(
    sandbox_db: Path, tmp_path: Path
) -> None:
    sheet = sheet_of("cdiaz", "Open")
    start, end = week(sheet)
    period = ("--member", "cdiaz", "--from", start, "--to", end)
    submitted = cwbulk(
        "--sandbox", "sheets", "submit", *period, "--yes", "--results", str(tmp_path / "s.csv")
    )
    assert submitted.exit_code == 0, submitted.output
    assert status_of(sheet["id"]) == "PendingApproval"

    exported = tmp_path / "week.csv"
    result = cwbulk("--sandbox", "export", *period, "--tz", "UTC", "-o", str(exported))
    assert result.exit_code == 0, result.output
    frame = pd.read_csv(exported, dtype=str, keep_default_na=False)
    assert set(frame["status"]) == {"PendingApproval"}
    frame = frame.iloc[:2].copy()
    frame.loc[frame.index[0], "notes"] = "edited after submitting"
    new_row = frame.iloc[[1]].assign(id="", start="", end="", hours="0.5", notes="added late")
    edited = tmp_path / "edited.csv"
    pd.concat([frame, new_row]).to_csv(edited, index=False)

    refused = cwbulk("--sandbox", "import", str(edited), "--tz", "UTC", "--yes")
    assert refused.exit_code == 1, refused.output
    results = pd.read_csv(tmp_path / "edited.results.csv", dtype=str, keep_default_na=False)
    failed = results[results["outcome"] == "failed"].set_index("row")
    assert set(failed.index) == {"2", "4"}
    entry_id = frame["id"].iloc[0]
    assert failed.loc["2", "errorCode"] == "TimeEntryApi"
    assert (
        f"Time entry {entry_id} is PendingApproval on time sheet {sheet['period']}, so it "
        "can't be changed: reject or reverse the time sheet first." in failed.loc["2", "message"]
    )
    assert "is PendingApproval, so no time can be added to it" in failed.loc["4", "message"]

    reversed_ = cwbulk(
        "--sandbox", "sheets", "reverse", *period, "--yes", "--results", str(tmp_path / "r.csv")
    )
    assert reversed_.exit_code == 0, reversed_.output
    accepted = cwbulk("--sandbox", "--json", "import", str(edited), "--tz", "UTC", "--yes")
    assert accepted.exit_code == 0, accepted.output
    assert json.loads(accepted.stdout)["outcomes"]["failed"] == 0


def test_reject_entries_by_filter_refuses_billed_time(sandbox_db: Path, tmp_path: Path) -> None:
    pending = sheet_of("devans", "PendingApproval")
    oldest = sheets("--member", "devans")[-1]
    start, _ = week(oldest)
    _, end = week(pending)
    results = tmp_path / "rejected.csv"
    result = cwbulk(
        "--sandbox", "--json", "reject", "--member", "devans", "--from", start, "--to", end,
        "--tz", "UTC", "--comment", "Wrong work type", "--yes", "--results", str(results),
        "--max-rate", "0",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    table = pd.read_csv(results, dtype=str, keep_default_na=False)
    assert list(table.columns[:6]) == ["id", "member", "date", "hours", "chargeTo", "timeSheet"]
    done = table[table["outcome"] == "done"]
    assert set(done["statusBefore"]) <= {
        "PendingApproval",
        "ApprovedByTierOne",
        "ApprovedByTierTwo",
        "ReadyToBill",
    }
    assert set(done["statusAfter"]) == {"Rejected"}
    assert str(pending["id"]) in set(done["timeSheet"])
    billed = table[table["statusBefore"] == "Billed"]
    assert len(billed) > 0
    assert set(billed["outcome"]) == {"skipped"}
    assert set(billed["reason"]) == {"Billed: refused: billed time can't be rejected"}
    assert set(billed["statusAfter"]) == {"Billed"}
    data = json.loads(result.stdout)
    assert data["command"] == "reject"
    assert data["counts"]["done"] == len(done) and data["counts"]["failed"] == 0
    # The sheet keeps its status; its rejected entries come back for correction.
    assert status_of(pending["id"]) == "PendingApproval"


# --- served, losing every answer ----------------------------------------------------------

SHEET_POST = re.compile(r"/time/sheets/(\d+)/approve$")


def test_every_answer_lost_still_approves_each_sheet_once(
    served_sandbox: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    served = served_sandbox(lost_response_rate=1.0)
    for name, value in served.environment().items():
        monkeypatch.setenv(name, value)
    results = tmp_path / "approved.csv"
    result = cwbulk(
        "--json", "sheets", "approve", "--status", "PendingApproval", "--yes",
        "--max-rate", "0", "--results", str(results),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    table = pd.read_csv(results, dtype=str, keep_default_na=False)
    assert len(table) > 5
    assert set(table["outcome"]) == {"done"}
    assert set(table["statusAfter"]) == {"ApprovedByTierOne"}
    approves = Counter(
        int(m.group(1))
        for entry in served.requests()
        if entry["method"] == "POST" and (m := SHEET_POST.search(entry["path"]))
    )
    assert approves == Counter(dict.fromkeys(table["id"].astype(int), 1))
    assert set(json.loads(result.stdout)["counts"].items()) == {
        ("done", len(table)), ("skipped", 0), ("failed", 0)
    }  # fmt: skip
