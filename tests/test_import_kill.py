"""A killed import resumes without duplicates: SIGKILL at three points, and Ctrl-C.

The import runs as a real process (``python -m cwbulk``) against a sandbox served with
some latency; the moment to kill it is read from the sandbox's request log or from the
journal. Each rerun must end with exactly one entry per row (found by mobileGuid), and so
must a rerun with the journal deleted.
"""

from __future__ import annotations

import csv
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from cwbulk.cli import cli

ROWS = 160
MEMBERS = ("abaker", "bchen", "cdiaz", "devans")


def write_rows(path: Path) -> Path:
    first = date.today() + timedelta(days=30)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["member", "date", "start", "hours", "chargeToType", "chargeTo", "company"])
        for n in range(ROWS):
            day = first + timedelta(days=n // 20)
            start = f"{8 + (n % 20) // 4:02d}:{15 * (n % 4):02d}"
            writer.writerow([MEMBERS[n % 4], day, start, 0.25, "ChargeCode", "MTNG", "Cwbulk"])
    return path


def import_args(sheet: Path, journal: Path) -> list[str]:
    return [
        "--json",
        "import",
        str(sheet),
        "--tz",
        "UTC",
        "--yes",
        "--journal",
        str(journal),
        "--batch-size",
        "20",
        "--concurrency",
        "4",
        "--max-rate",
        "0",
    ]


def start_import(served, sheet: Path, journal: Path) -> subprocess.Popen:
    env = {**os.environ, **served.environment()}
    return subprocess.Popen(
        [sys.executable, "-m", "cwbulk", "-q", *import_args(sheet, journal)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for(what: Callable[[], bool], process: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not what():
        if process.poll() is not None:
            pytest.fail(f"the import ended before the kill point: {process.communicate()}")
        if time.monotonic() > deadline:
            process.kill()
            process.communicate()
            pytest.fail("the kill point was never reached")
        time.sleep(0.005)


def posts(served) -> int:
    return sum(r["method"] == "POST" for r in served.requests())


def journaled(journal: Path, where: str) -> int:
    if not journal.exists():
        return 0
    db = sqlite3.connect(journal)
    try:
        return db.execute(f"SELECT count(*) FROM rows WHERE {where}").fetchone()[0]
    except sqlite3.OperationalError:
        return 0
    finally:
        db.close()


def guid_counts(served, guids: set[str]) -> dict[str, int]:
    counts = dict.fromkeys(guids, 0)
    with served.client() as http:
        for page in (1, 2):
            found = http.get(
                "/time/entries",
                params={
                    "conditions": 'chargeToType = "ChargeCode" and mobileGuid != null',
                    "fields": "id,mobileGuid",
                    "pageSize": 1000,
                    "page": page,
                },
            ).json()
            for entry in found:
                if entry["mobileGuid"] in counts:
                    counts[entry["mobileGuid"]] += 1
    return counts


def rerun(served, sheet: Path, journal: Path) -> dict:
    result = CliRunner().invoke(cli, import_args(sheet, journal), env=served.environment())
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


KILL_POINTS = [
    pytest.param(
        lambda served, journal: posts(served) >= 1, id="right-after-the-plan-is-confirmed"
    ),
    pytest.param(
        lambda served, journal: journaled(journal, "outcome = 'created'") >= 20,
        id="after-the-first-batch-is-journaled",
    ),
    pytest.param(lambda served, journal: posts(served) >= 50, id="mid-batch"),
]


@pytest.mark.parametrize("kill_point", KILL_POINTS)
def test_a_killed_import_reruns_to_exactly_one_entry_per_row(
    served_sandbox, tmp_path: Path, kill_point
) -> None:
    served = served_sandbox(latency_ms=25)
    sheet = write_rows(tmp_path / "t.csv")
    journal = tmp_path / "journal.sqlite"
    planned = CliRunner().invoke(
        cli, [*import_args(sheet, journal)[:-9], "--dry-run"], env=served.environment()
    )
    plan = json.loads(Path(json.loads(planned.stdout)["plan"]).read_text(encoding="utf-8"))
    guids = {i["mobileGuid"] for i in plan["items"]}
    assert len(guids) == ROWS
    served.clear_requests()

    process = start_import(served, sheet, journal)
    wait_for(lambda: kill_point(served, journal), process)
    process.send_signal(signal.SIGKILL)
    process.communicate(timeout=30)
    assert process.returncode == -signal.SIGKILL

    before = guid_counts(served, guids)
    assert max(before.values()) <= 1 and sum(before.values()) < ROWS
    finished = journaled(journal, "outcome = 'created'")
    assert sum(before.values()) >= finished, "what the journal says was created exists"
    served.clear_requests()

    resumed = rerun(served, sheet, journal)
    outcomes = resumed["outcomes"]
    assert outcomes["created"] == ROWS - sum(before.values())
    assert outcomes["unchanged"] == sum(before.values())
    assert posts(served) == outcomes["created"], "one POST per missing row, none redone"
    results = pd.read_csv(resumed["results"], dtype=str, keep_default_na=False)
    assert (results["message"] == "created by run 1").sum() == finished
    assert set(guid_counts(served, guids).values()) == {1}

    journal.unlink()
    fresh = rerun(served, sheet, journal)
    assert fresh["outcomes"]["unchanged"] == ROWS and fresh["outcomes"]["created"] == 0
    assert set(guid_counts(served, guids).values()) == {1}


def test_ctrl_c_exits_130_with_the_journal_consistent(served_sandbox, tmp_path: Path) -> None:
    served = served_sandbox(latency_ms=25)
    sheet = write_rows(tmp_path / "t.csv")
    journal = tmp_path / "journal.sqlite"

    process = start_import(served, sheet, journal)
    wait_for(lambda: posts(served) >= 30, process)
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=60)

    assert process.returncode == 130, err
    done = json.loads(out)
    assert done["interrupted"] is True
    created = done["outcomes"]["created"]
    assert 30 <= created < ROWS and done["outcomes"]["skipped"] == ROWS - created
    assert posts(served) == created, "every request sent was finished and recorded"
    assert journaled(journal, "outcome = 'created'") == created
    assert journaled(journal, "sent IS NOT NULL AND outcome IS NULL") == 0
    assert "Interrupted: finishing the requests in flight" in err
    resumed = rerun(served, sheet, journal)
    assert resumed["outcomes"]["created"] == ROWS - created
