"""journal.py: runs and rows in SQLite; what a rerun skips, what a rollback finds."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from cwbulk.errors import InputError, UsageError
from cwbulk.journal import Journal, RowRecord, default_journal_path


def start(journal: Journal, sha: str = "abc", site: str = "http://s", rows=None) -> int:
    planned = rows or [
        RowRecord("S", 2, "k2", "create", mobile_guid="g2"),
        RowRecord("S", 3, "k3", "update", entry_id=50),
        RowRecord("S", 4, "k4", "unchanged", entry_id=51, outcome="unchanged"),
        RowRecord("S", 5, "", "invalid", outcome="invalid", error_code="bad_hours"),
    ]
    return journal.start_run(
        source="/data/t.csv",
        source_sha256=sha,
        sheets=["S"],
        site=site,
        company="acme",
        options={"batch_size": 100},
        rows=planned,
    )


def test_the_default_journal_lives_in_the_user_data_dir(isolated_user_dirs: Path) -> None:
    path = default_journal_path()
    assert path.name == "journal.sqlite"
    assert path.is_relative_to(isolated_user_dirs)
    with Journal() as journal:
        assert journal.path == path
    assert path.exists()


def test_the_journal_uses_wal(tmp_path: Path) -> None:
    with Journal(tmp_path / "j.sqlite"):
        pass
    db = sqlite3.connect(tmp_path / "j.sqlite")
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    db.close()


def test_a_run_records_its_rows_and_outcomes(tmp_path: Path) -> None:
    with Journal(tmp_path / "j.sqlite") as journal:
        run_id = start(journal)
        journal.mark_sent(run_id, [("S", 2), ("S", 3)])
        journal.record_outcomes(
            run_id,
            [
                RowRecord("S", 2, "k2", "create", outcome="created", entry_id=900),
                RowRecord(
                    "S", 3, "k3", "update", outcome="failed", error_code="400", message="locked"
                ),
            ],
        )
        journal.finish_run(run_id, status="finished", counts={"created": 1, "failed": 1})
        rows = {r.row: r for r in journal.rows(run_id)}
        assert (rows[2].outcome, rows[2].entry_id, rows[2].mobile_guid) == ("created", 900, "g2")
        assert (rows[3].outcome, rows[3].entry_id, rows[3].message) == ("failed", 50, "locked")
        assert rows[2].sent and rows[2].finished and rows[4].finished and not rows[4].sent
        run = journal.run(run_id)
        assert (run.status, run.counts, run.sheets) == (
            "finished",
            {"created": 1, "failed": 1},
            ("S",),
        )
        assert run.options == {"batch_size": 100} and run.finished


def test_a_rerun_of_the_same_file_and_site_finds_the_finished_rows(tmp_path: Path) -> None:
    with Journal(tmp_path / "j.sqlite") as journal:
        run_id = start(journal)
        journal.mark_sent(run_id, [("S", 2), ("S", 3)])
        journal.record_outcomes(
            run_id,
            [
                RowRecord("S", 2, "k2", "create", outcome="created", entry_id=900),
                RowRecord("S", 3, "k3", "update", outcome="failed", error_code="400"),
            ],
        )
        done = journal.finished_rows(source_sha256="abc", site="http://s", company="acme")
        assert list(done) == [("S", 2)] and done[("S", 2)].run == run_id
        assert not journal.finished_rows(source_sha256="abd", site="http://s", company="acme")
        assert not journal.finished_rows(source_sha256="abc", site="http://t", company="acme")


def test_rollback_candidates_include_rows_in_flight_but_not_failed_ones(tmp_path: Path) -> None:
    rows = [RowRecord("S", n, f"k{n}", "create", mobile_guid=f"g{n}") for n in range(2, 7)]
    with Journal(tmp_path / "j.sqlite") as journal:
        run_id = start(journal, rows=rows)
        journal.mark_sent(run_id, [("S", n) for n in range(2, 6)])
        journal.record_outcomes(
            run_id,
            [
                RowRecord("S", 2, "k2", "create", outcome="created", entry_id=900),
                RowRecord("S", 3, "k3", "create", outcome="failed", error_code="TimeEntryApi"),
                RowRecord("S", 4, "k4", "create", outcome="failed", error_code="outcome_unknown"),
            ],
        )
        # Row 5 was sent and never answered (a crash); row 6 was never sent.
        assert [r.row for r in journal.created_rows(run_id)] == [2, 4, 5]
        journal.mark_rolled_back(run_id, [("S", 2, 900), ("S", 5, 901)], status="rolled back")
        assert [r.row for r in journal.created_rows(run_id)] == [4]
        assert journal.run(run_id).status == "rolled back"
        assert not journal.finished_rows(source_sha256="abc", site="http://s", company="acme")


def test_unmark_sent_forgets_requests_that_never_went_out(tmp_path: Path) -> None:
    rows = [RowRecord("S", 2, "k2", "create", mobile_guid="g2")]
    with Journal(tmp_path / "j.sqlite") as journal:
        run_id = start(journal, rows=rows)
        journal.mark_sent(run_id, [("S", 2)])
        journal.unmark_sent(run_id, [("S", 2)])
        assert journal.created_rows(run_id) == []


def test_guids_created_by_another_run_are_known(tmp_path: Path) -> None:
    rows = [RowRecord("S", 2, "k2", "create", mobile_guid="g2")]
    with Journal(tmp_path / "j.sqlite") as journal:
        first = start(journal, rows=rows)
        journal.finish_run(first, status="finished", counts={})
        second = start(journal, rows=rows)
        journal.mark_sent(second, [("S", 2)])
        journal.record_outcomes(second, [RowRecord("S", 2, "k2", "create", outcome="created")])
        assert journal.guids_created_elsewhere(first, ["g2", "g9"]) == {"g2"}
        assert journal.guids_created_elsewhere(second, ["g2"]) == set()


def test_runs_are_listed_newest_first_and_a_dead_runner_shows_as_killed(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    code = (
        "from cwbulk.journal import Journal\n"
        f"j = Journal({str(path)!r})\n"
        "j.start_run(source='x', source_sha256='s', sheets=[], site='h', company='c',"
        " options={}, rows=[])\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
    with Journal(path) as journal:
        mine = start(journal)
        runs = journal.runs()
        assert [r.id for r in runs] == [mine, mine - 1]
        assert [r.status for r in runs] == ["running", "killed"]


def test_an_unknown_run_is_a_usage_error_naming_the_known_ones(tmp_path: Path) -> None:
    with Journal(tmp_path / "j.sqlite") as journal:
        start(journal)
        with pytest.raises(UsageError, match=r"There is no run 42 in the journal .*recent runs: 1"):
            journal.run(42)


def test_a_file_that_is_not_a_journal_is_an_input_error(tmp_path: Path) -> None:
    bad = tmp_path / "j.sqlite"
    bad.write_bytes(b"this is not a database" * 100)
    with pytest.raises(InputError, match="Can't use the journal"):
        Journal(bad)


def test_a_second_live_import_of_the_same_file_and_site_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    with Journal(path) as journal:
        start(journal)
        with pytest.raises(UsageError, match=r"Run 1 \(process \d+\) is importing this same file"):
            start(journal)
        start(journal, sha="other file")
        start(journal, site="http://other-site")
