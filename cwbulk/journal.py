"""The import journal: a SQLite (WAL) record of every run and every row it handled.

One file under the user data dir (``journal.sqlite``, or ``--journal PATH``) holds:

- ``runs``: when, which source file (path and sha256), sheets, site and company (never the
  keys), the options, the status and the counts;
- ``rows``: one per source row of a run: sheet, row, natural key, mobileGuid, planned
  action, outcome, ConnectWise id, error code and message, and when it was sent/finished.

What it is for: a rerun of the same file on the same site skips rows that an earlier run
already created or updated, without any HTTP for them; ``cwbulk runs`` lists runs;
``cwbulk rollback`` finds the entries a run created. A row's ``sent`` time is written
before its request goes out and its outcome after the whole batch, so after a crash the
rows in flight are known (``sent`` without ``outcome``) and found again by mobileGuid.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import platformdirs

from cwbulk.errors import InputError, UsageError

SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    started TEXT NOT NULL,
    finished TEXT,
    source TEXT NOT NULL,
    source_sha256 TEXT NOT NULL,
    sheets TEXT NOT NULL,
    site TEXT NOT NULL,
    company TEXT NOT NULL,
    options TEXT NOT NULL,
    status TEXT NOT NULL,
    counts TEXT NOT NULL DEFAULT '{}',
    pid INTEGER
);
CREATE TABLE IF NOT EXISTS rows (
    run INTEGER NOT NULL REFERENCES runs(id),
    sheet TEXT NOT NULL,
    row INTEGER NOT NULL,
    key TEXT NOT NULL,
    mobile_guid TEXT,
    action TEXT NOT NULL,
    outcome TEXT,
    entry_id INTEGER,
    error_code TEXT,
    message TEXT,
    sent TEXT,
    finished TEXT,
    rolled_back TEXT,
    PRIMARY KEY (run, sheet, row)
);
CREATE INDEX IF NOT EXISTS rows_by_guid ON rows(mobile_guid);
CREATE INDEX IF NOT EXISTS runs_by_source ON runs(source_sha256, site, company);
"""

#: Outcomes a rerun never redoes.
DONE_OUTCOMES = ("created", "updated")


def default_journal_path() -> Path:
    """``<user data dir>/journal.sqlite``."""
    return Path(platformdirs.user_data_dir("cwbulk", appauthor=False)) / "journal.sqlite"


def now() -> str:
    """The current UTC time as ISO text, to the second."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class RunInfo:
    """One run of ``cwbulk import`` as the journal knows it."""

    id: int
    started: str
    finished: str | None
    source: str
    source_sha256: str
    sheets: tuple[str, ...]
    site: str
    company: str
    options: Mapping[str, Any]
    status: str
    counts: Mapping[str, Any]

    def to_dict(self) -> dict[str, Any]:
        """The run as a plain dict."""
        data = asdict(self)
        data["sheets"] = list(self.sheets)
        data["options"] = dict(self.options)
        data["counts"] = dict(self.counts)
        return data


@dataclass(frozen=True)
class RowRecord:
    """One row of one run: what was planned, and what happened."""

    sheet: str
    row: int
    key: str
    action: str
    mobile_guid: str | None = None
    outcome: str | None = None
    entry_id: int | None = None
    error_code: str | None = None
    message: str | None = None
    sent: str | None = None
    finished: str | None = None
    rolled_back: str | None = None
    run: int | None = None


class Journal:
    """The journal file, opened for use (``with Journal(path) as journal:``)."""

    def __init__(self, path: str | Path | None = None) -> None:
        self.path = Path(path) if path is not None else default_journal_path()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, timeout=30.0, isolation_level=None)
            self._db.row_factory = sqlite3.Row
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            version = self._db.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise InputError(
                    f"The journal {self.path} was written by a newer cwbulk.",
                    hint="Upgrade cwbulk, or pass --journal with another file.",
                )
            self._db.executescript(_SCHEMA)
            self._db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        except sqlite3.DatabaseError as exc:
            raise InputError(
                f"Can't use the journal {self.path}: {exc}.",
                hint="Pass --journal with another file, or move the broken one away.",
            ) from exc

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the file."""
        self._db.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield self._db
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    # -- writing a run --------------------------------------------------------------

    def start_run(
        self,
        *,
        source: str | Path,
        source_sha256: str,
        sheets: Iterable[str],
        site: str,
        company: str,
        options: Mapping[str, Any],
        rows: Iterable[RowRecord],
    ) -> int:
        """Record a new run and its planned rows (outcomes already known may be set).

        ``UsageError`` if a live process is importing the same file to the same site: two
        at once could both create the same rows.
        """
        with self._transaction() as db:
            for other in db.execute(
                "SELECT * FROM runs WHERE status = 'running' AND source_sha256 = ?"
                " AND site = ? AND company = ?",
                (source_sha256, site, company),
            ).fetchall():
                if _run_info(other).status == "running":
                    raise UsageError(
                        f"Run {other['id']} (process {other['pid']}) is importing this same "
                        f"file to {site} right now.",
                        hint="Wait for it to finish, then run the import again.",
                    )
            cursor = db.execute(
                "INSERT INTO runs (started, source, source_sha256, sheets, site, company,"
                " options, status, pid) VALUES (?, ?, ?, ?, ?, ?, ?, 'running', ?)",
                (
                    now(),
                    str(source),
                    source_sha256,
                    json.dumps(list(sheets)),
                    site,
                    company,
                    json.dumps(dict(options), default=str),
                    os.getpid(),
                ),
            )
            run_id = int(cursor.lastrowid or 0)
            stamp = now()
            db.executemany(
                "INSERT INTO rows (run, sheet, row, key, mobile_guid, action, outcome,"
                " entry_id, error_code, message, finished) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                (
                    (
                        run_id,
                        r.sheet,
                        r.row,
                        r.key,
                        r.mobile_guid,
                        r.action,
                        r.outcome,
                        r.entry_id,
                        r.error_code,
                        r.message,
                        stamp if r.outcome else None,
                    )
                    for r in rows
                ),
            )
        return run_id

    def mark_sent(self, run_id: int, rows: Iterable[tuple[str, int]]) -> None:
        """Note that these rows' requests are about to go out."""
        stamp = now()
        with self._transaction() as db:
            db.executemany(
                "UPDATE rows SET sent = ? WHERE run = ? AND sheet = ? AND row = ?",
                ((stamp, run_id, sheet, row) for sheet, row in rows),
            )

    def unmark_sent(self, run_id: int, rows: Iterable[tuple[str, int]]) -> None:
        """Take back ``mark_sent`` for rows whose requests never went out."""
        with self._transaction() as db:
            db.executemany(
                "UPDATE rows SET sent = NULL WHERE run = ? AND sheet = ? AND row = ?"
                " AND outcome IS NULL",
                ((run_id, sheet, row) for sheet, row in rows),
            )

    def record_outcomes(self, run_id: int, outcomes: Iterable[RowRecord]) -> None:
        """Commit the outcomes of finished rows (one transaction for the batch)."""
        stamp = now()
        with self._transaction() as db:
            db.executemany(
                "UPDATE rows SET outcome = ?, entry_id = COALESCE(?, entry_id),"
                " error_code = ?, message = ?, finished = ?"
                " WHERE run = ? AND sheet = ? AND row = ?",
                (
                    (o.outcome, o.entry_id, o.error_code, o.message, stamp, run_id, o.sheet, o.row)
                    for o in outcomes
                ),
            )

    def finish_run(self, run_id: int, *, status: str, counts: Mapping[str, Any]) -> None:
        """Close a run with its final status and counts."""
        with self._transaction() as db:
            db.execute(
                "UPDATE runs SET finished = ?, status = ?, counts = ? WHERE id = ?",
                (now(), status, json.dumps(dict(counts)), run_id),
            )

    # -- reading --------------------------------------------------------------------

    def finished_rows(
        self, *, source_sha256: str, site: str, company: str
    ) -> dict[tuple[str, int], RowRecord]:
        """Rows that earlier runs of this same file on this site created or updated.

        Rows a rollback deleted don't count: importing again after a rollback recreates.
        """
        found = self._db.execute(
            "SELECT rows.* FROM rows JOIN runs ON runs.id = rows.run"
            " WHERE runs.source_sha256 = ? AND runs.site = ? AND runs.company = ?"
            " AND rows.outcome IN ('created', 'updated') AND rows.rolled_back IS NULL"
            " ORDER BY rows.run",
            (source_sha256, site, company),
        ).fetchall()
        return {(r["sheet"], r["row"]): _row_record(r) for r in found}

    def runs(self, *, limit: int | None = None) -> list[RunInfo]:
        """Runs, newest first."""
        query = "SELECT * FROM runs ORDER BY id DESC"
        if limit:
            query += f" LIMIT {int(limit)}"
        return [_run_info(r) for r in self._db.execute(query).fetchall()]

    def run(self, run_id: int) -> RunInfo:
        """One run; ``UsageError`` naming the known runs when there is no such run."""
        found = self._db.execute("SELECT * FROM runs WHERE id = ?", (run_id,)).fetchone()
        if found is None:
            latest = [str(r.id) for r in self.runs(limit=5)]
            known = f"recent runs: {', '.join(latest)}" if latest else "the journal is empty"
            raise UsageError(
                f"There is no run {run_id} in the journal {self.path} ({known}).",
                hint="List them with `cwbulk runs`.",
            )
        return _run_info(found)

    def rows(self, run_id: int) -> list[RowRecord]:
        """Every row of a run, in sheet and row order."""
        found = self._db.execute(
            "SELECT * FROM rows WHERE run = ? ORDER BY rowid", (run_id,)
        ).fetchall()
        return [_row_record(r) for r in found]

    def created_rows(self, run_id: int) -> list[RowRecord]:
        """Rows of a run that created an entry, or may have (sent, outcome unknown)."""
        found = self._db.execute(
            "SELECT * FROM rows WHERE run = ? AND action = 'create' AND sent IS NOT NULL"
            " AND rolled_back IS NULL AND (outcome IS NULL OR outcome = 'created'"
            " OR (outcome = 'failed' AND error_code = 'outcome_unknown'))"
            " ORDER BY rowid",
            (run_id,),
        ).fetchall()
        return [_row_record(r) for r in found]

    def made_from_other_files(
        self, guids: Iterable[str], *, source: Path, site: str, company: str
    ) -> set[str]:
        """Of these mobileGuids, the ones whose entries a run created on this site from a
        file other than ``source`` (compared as resolved paths)."""
        return self._created_guids(
            guids,
            "runs.source != ? AND runs.site = ? AND runs.company = ?",
            (str(source.resolve()), site, company),
        )

    def guids_created_elsewhere(self, run_id: int, guids: Iterable[str]) -> set[str]:
        """Of these mobileGuids, the ones another run recorded as created (its entries)."""
        return self._created_guids(guids, "rows.run != ?", (run_id,))

    def _created_guids(
        self, guids: Iterable[str], where: str, params: tuple[object, ...]
    ) -> set[str]:
        """Of ``guids``, those of entries created (not rolled back) by runs matching
        ``where``; asked 500 at a time (SQLite's limit on parameters)."""
        wanted = list(guids)
        found: set[str] = set()
        for start in range(0, len(wanted), 500):
            chunk = wanted[start : start + 500]
            marks = ",".join("?" * len(chunk))
            found.update(
                r[0]
                for r in self._db.execute(
                    "SELECT rows.mobile_guid FROM rows JOIN runs ON runs.id = rows.run"
                    " WHERE rows.outcome = 'created' AND rows.rolled_back IS NULL"
                    f" AND {where} AND rows.mobile_guid IN ({marks})",
                    (*params, *chunk),
                )
            )
        return found

    def mark_rolled_back(
        self, run_id: int, rows: Iterable[tuple[str, int, int]], *, status: str
    ) -> None:
        """Record the rows (sheet, row, entry id) whose entries a rollback deleted."""
        stamp = now()
        with self._transaction() as db:
            db.executemany(
                "UPDATE rows SET rolled_back = ?, entry_id = COALESCE(entry_id, ?)"
                " WHERE run = ? AND sheet = ? AND row = ?",
                ((stamp, entry_id, run_id, sheet, row) for sheet, row, entry_id in rows),
            )
            db.execute("UPDATE runs SET status = ? WHERE id = ?", (status, run_id))


def _row_record(row: sqlite3.Row) -> RowRecord:
    return RowRecord(**{k: row[k] for k in row.keys()})  # noqa: SIM118


def _run_info(row: sqlite3.Row) -> RunInfo:
    status = row["status"]
    if status == "running" and row["pid"] and not _alive(int(row["pid"])):
        status = "killed"
    return RunInfo(
        id=row["id"],
        started=row["started"],
        finished=row["finished"],
        source=row["source"],
        source_sha256=row["source_sha256"],
        sheets=tuple(json.loads(row["sheets"])),
        site=row["site"],
        company=row["company"],
        options=json.loads(row["options"]),
        status=status,
        counts=json.loads(row["counts"] or "{}"),
    )


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True
