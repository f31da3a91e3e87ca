"""How fast `cwbulk reconcile` compares a large source sheet with ConnectWise, and how many
HTTP requests it needs.

Builds, in a fresh sandbox database (seeded for a fixed day, so the period below has no
seed entries), ROWS source rows for the active members over half a year and, straight into
the sandbox's SQLite table, an entry for nearly every row: most carry the row's
``mobileGuid`` (as ``cwbulk import`` leaves them), some none (typed in ConnectWise: matched
by natural key), some have other hours (different), some rows have no entry (missing) and
some entries no row (extra). The entries are clones of one real entry per member and
charge made through the sandbox's store, so they look like entries made through the API.

Then runs the library pipeline in-process (read + validate, resolve, fetch, match, checks:
``reconcile_file``; the report workbook: ``write_report``) against the sandbox app over
httpx's ASGI transport, counting the requests the app receives.

Prints seconds per stage and the HTTP requests by endpoint. Target (issue 7): requests in
proportion to pages of 1,000 entries, under 100 in all.

    python benchmarks/bench_reconcile.py              # 50,000 rows, 50,000 entries
    python benchmarks/bench_reconcile.py --rows 5000
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import shutil
import sqlite3
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx

REQUEST_TARGET = 100
TODAY = date(2026, 10, 15)  # the seed's entries all come before this day
FIRST_DAY = date(2027, 1, 4)
DAYS = 182
TZ = "America/New_York"
ZONE = ZoneInfo(TZ)
TICKETS = tuple(range(1001, 1241))
ROW_COLUMNS = ("member", "date", "start", "hours", "chargeToType", "chargeTo", "company")
ROW_COLUMNS += ("workType", "notes")


@dataclass(frozen=True)
class Planned:
    """How the rows and entries were laid out (what the comparison should find)."""

    rows: int
    entries: int
    with_guid: int
    without_guid: int
    other_hours: int
    missing: int
    extra: int


def active_members(db: sqlite3.Connection) -> list[tuple[int, str]]:
    rows = db.execute(
        "SELECT id, json_extract(body, '$.identifier') FROM members "
        "WHERE json_extract(body, '$.inactiveFlag') = 0 ORDER BY id"
    )
    return [(int(i), str(name)) for i, name in rows]


def open_tickets(db: sqlite3.Connection, count: int) -> list[int]:
    found = db.execute(
        "SELECT t.id FROM service_tickets t JOIN statuses s "
        "ON s.id = json_extract(t.body, '$.status.id') WHERE s.closed = 0 AND s.no_time = 0 "
        "ORDER BY t.id LIMIT ?",
        (count,),
    )
    return [int(i) for (i,) in found]


def build(work: Path, rows: int) -> tuple[Path, Path, Planned]:
    """The sandbox database and the source CSV; what was planted."""
    from cwbulk.plan import mobile_guid, natural_key
    from cwbulk.sandbox import reset
    from cwbulk.sandbox.store import Store

    db_path = work / "sandbox.sqlite"
    reset(db_path, today=TODAY)
    store = Store(db_path)
    db = sqlite3.connect(db_path)
    members = active_members(db)
    tickets = open_tickets(db, 24)
    admin = db.execute(
        "SELECT id FROM charge_codes WHERE json_extract(body, '$.name') = 'ADMIN'"
    ).fetchone()[0]
    charges = [("ServiceTicket", t, str(t), "") for t in tickets]
    charges.append(("ChargeCode", int(admin), "ADMIN", "Cwbulk"))

    templates: dict[tuple[int, int], dict[str, Any]] = {}
    start = datetime.combine(FIRST_DAY, datetime.min.time(), tzinfo=UTC) + timedelta(hours=14)
    for member_id, _name in members:
        for kind, charge_id, _text, company in charges:
            body = {
                "member": {"id": member_id},
                "chargeToType": kind,
                "chargeToId": charge_id,
                "timeStart": start.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "actualHours": 1.0,
                "workType": {"name": "Regular"},
                "notes": "template",
            }
            if company:
                body["company"] = {"identifier": company}
            templates[(member_id, charge_id)] = store.create_time_entry(body)
    store.close()
    db.execute("DELETE FROM time_entries WHERE json_extract(body, '$.notes') = 'template'")
    next_id = db.execute("SELECT max(id) FROM time_entries").fetchone()[0] + 1

    per_day = math.ceil(rows / (len(members) * DAYS))
    source = work / "source.csv"
    entries: list[tuple[int, str]] = []
    counts = Counter()
    with source.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(ROW_COLUMNS)
        n = 0
        for d in range(DAYS):
            day = FIRST_DAY + timedelta(days=d)
            for member_id, name in members:
                for k in range(per_day):
                    if n >= rows:
                        break
                    kind, charge_id, text, company = charges[(n * 7 + k) % len(charges)]
                    hours = (0.25, 0.5, 0.25, 0.5, 0.5)[n % 5]
                    local = datetime.combine(day, datetime.min.time(), tzinfo=ZONE)
                    local += timedelta(hours=6, minutes=30 * k)
                    clock = local.strftime("%H:%M")
                    notes = f"Work item {n}"
                    writer.writerow(
                        (name, day.isoformat(), clock, hours, kind, text, company, "Regular", notes)
                    )
                    key = natural_key(
                        member_id=member_id,
                        date=day.isoformat(),
                        charge_to_type=kind,
                        charge_to_id=charge_id,
                        hours=hours,
                        start=clock,
                    )
                    fate = n % 100
                    n += 1
                    if fate == 0:
                        counts["missing"] += 1
                        continue
                    body = dict(templates[(member_id, charge_id)])
                    actual = hours + 0.25 if fate in (1, 2) else hours
                    counts["other_hours" if fate in (1, 2) else "same"] += 1
                    guid = None if fate in range(3, 8) else mobile_guid(key)
                    counts["without_guid" if guid is None else "with_guid"] += 1
                    entries.append(_clone(body, next_id + len(entries), local, actual, guid, notes))
                    if fate == 50:  # an extra entry in ConnectWise, after the day's rows
                        later = local.replace(hour=20, minute=0)
                        extra = _clone(body, next_id + len(entries), later, 0.5, None, "Extra")
                        entries.append(extra)
                        counts["extra"] += 1
    with db:
        db.executemany("INSERT INTO time_entries (id, body) VALUES (?, ?)", entries)
    db.close()
    planned = Planned(
        rows=n,
        entries=len(entries),
        with_guid=counts["with_guid"],
        without_guid=counts["without_guid"],
        other_hours=counts["other_hours"],
        missing=counts["missing"],
        extra=counts["extra"],
    )
    return db_path, source, planned


def _clone(
    body: dict[str, Any], entry_id: int, local: datetime, hours: float, guid: str | None, notes
) -> tuple[int, str]:
    start = local.astimezone(UTC)
    clone = dict(body)
    clone["id"] = entry_id
    clone["timeStart"] = start.strftime("%Y-%m-%dT%H:%M:%SZ")
    clone["timeEnd"] = (start + timedelta(hours=hours)).strftime("%Y-%m-%dT%H:%M:%SZ")
    clone["actualHours"] = hours
    clone["mobileGuid"] = guid
    clone["notes"] = notes
    return entry_id, json.dumps(clone, separators=(",", ":"), ensure_ascii=False)


def main() -> None:
    """Build the data, run the comparison, print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=50_000, help="source rows (and entries)")
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    options = parser.parse_args()

    from cwbulk.connect import Connection, sandbox_profile
    from cwbulk.reconcile import ReconcileOptions, reconcile_file
    from cwbulk.reconcile_report import write_report
    from cwbulk.sandbox import SandboxConfig, create_app
    from cwbulk.validate import ReadOptions

    work = Path(tempfile.mkdtemp(prefix="cwbulk-bench-reconcile-"))
    try:
        started = time.perf_counter()
        db_path, source, planned = build(work, options.rows)
        print(
            f"built {planned.rows:,} source rows and {planned.entries:,} sandbox entries "
            f"in {time.perf_counter() - started:.1f}s"
        )
        app = create_app(SandboxConfig(db_path=db_path))

        @dataclass(frozen=True)
        class InProcess(Connection):
            def client(self, **client_options: Any):  # type: ignore[override]
                client_options["transport"] = httpx.ASGITransport(app=app)
                client_options["allow_http"] = True
                return super().client(**client_options)

        settings = ReconcileOptions(
            FIRST_DAY, FIRST_DAY + timedelta(days=DAYS - 1), read=ReadOptions(tz=TZ)
        )
        stages: dict[str, float] = {}

        def progress(stage: str, done: int, total: int | None) -> None:
            stages.setdefault(stage, time.perf_counter())

        started = time.perf_counter()
        result = reconcile_file(
            source, settings, connection=InProcess(profile=sandbox_profile()), progress=progress
        )
        compared = time.perf_counter()
        result = write_report(result, work / "report.xlsx")
        reported = time.perf_counter()
        app.state.store.close()

        log = app.state.faults.requests()
        by_path = Counter(f"{r['method']} {r['path'].split('/apis/3.0/')[-1]}" for r in log)
        requests = app.state.faults.counters["requests"]
        pages = math.ceil(planned.entries / 1000)
        fetching = stages.get("Fetching entries", compared)
        comparing = stages.get("Comparing", compared)
        print(f"{'stage':42}{'seconds':>9}")
        print(f"{'read + validate + resolve':42}{fetching - started:9.2f}")
        print(f"{'fetch entries (the sandbox serving most)':42}{comparing - fetching:9.2f}")
        print(f"{'match, checks, summaries':42}{compared - comparing:9.2f}")
        print(f"{'report workbook':42}{reported - compared:9.2f}")
        print(f"{'total':42}{reported - started:9.2f}")
        counts = result.counts()
        print(
            f"classes: {counts} (planted: {planned.missing} missing, {planned.extra} extra, "
            f"{planned.other_hours} other hours; {planned.without_guid} entries without guid)"
        )
        print(f"HTTP requests: {requests} for {planned.entries:,} entries ({pages} pages)")
        for path, n in by_path.most_common():
            print(f"  {n:5} {path}")
        ok = requests < REQUEST_TARGET and requests <= pages + 20
        print(
            f"requests {requests} (target < {REQUEST_TARGET}, about one per page) "
            f"{'ok' if ok else 'MISSED'}; report {result.path.stat().st_size / 1e6:.1f} MB"
        )
    finally:
        if options.keep:
            print(f"work folder kept: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
