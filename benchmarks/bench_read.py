"""How fast `cwbulk validate` reads and checks a large timesheet, beside openpyxl's read alone.

Writes a ROWS-row canonical timesheet as XLSX (date and time cells, numbers) and as CSV, then
prints, in one run:

- ``pandas.read_excel(engine="openpyxl")`` of the XLSX (the read only, no checks);
- ``cwbulk -q validate`` of the XLSX and of the CSV (the whole command, in-process), and the
  ratio of the XLSX validation to the openpyxl read. Target: below 0.5.

Then it validates a BIG-row CSV (default 10 × ROWS, i.e. 1,000,000) in a child process
and prints its time and peak RSS, from ``resource.getrusage(RUSAGE_CHILDREN)``. Target:
under 1.5 GB. Files go to benchmarks/out/ (git-ignored). Figures are printed, not asserted.

    python benchmarks/bench_read.py              # 100,000 and 1,000,000 rows
    python benchmarks/bench_read.py --rows 2000  # a quick run
"""

from __future__ import annotations

import argparse
import csv
import random
import resource
import subprocess
import sys
from datetime import date, datetime, time, timedelta
from pathlib import Path
from time import perf_counter

RATIO_TARGET = 0.5
RSS_TARGET_MB = 1536
OUT = Path(__file__).resolve().parent / "out"
COLUMNS = [
    "id", "member", "date", "start", "end", "hours", "deduct", "chargeToType", "chargeTo",
    "company", "workType", "workRole", "billableOption", "notes", "internalNotes", "status",
    "lastUpdated",
]  # fmt: skip
NOTES = [
    "Replaced toner and printed a test page", "Reset password, verified MFA enrolment",
    "Checked backup job logs; re-ran failed job", "Patched workstation, rebooted",
    "Called user back, walked through VPN set-up", "Mailbox migration, batch 3",
]  # fmt: skip
PER_DAY = 4


def rows(count: int) -> list[list[object]]:
    """``count`` realistic entries: 100 members, 4 a day each, half with start and end
    times (one after another, no overlaps), half hours-only; typed values for the XLSX."""
    rng = random.Random(42)
    members = [f"tech{n:03d}" for n in range(100)]
    out: list[list[object]] = []
    day = date(2024, 1, 1)
    while len(out) < count:
        for member in members:
            timed = rng.random() < 0.5
            clock = datetime.combine(day, datetime.min.time()) + timedelta(hours=8)
            for _ in range(PER_DAY):
                hours = rng.choice([0.25, 0.5, 1.0, 1.5, 2.0])
                kind = rng.choice(["ServiceTicket", "ServiceTicket", "ProjectTicket", "Company"])
                target = "" if kind == "Company" else str(rng.randint(1001, 9999))
                row: list[object] = [
                    "", member, day, None, None, hours, None, kind, target,
                    "Northwind" if kind == "Company" else "", rng.choice(["Remote", ""]),
                    "", rng.choice(["", "Billable"]), rng.choice(NOTES), "", "", "",
                ]  # fmt: skip
                if timed:
                    row[3], row[4] = clock.time(), (clock + timedelta(hours=hours)).time()
                    clock += timedelta(hours=hours, minutes=15)
                out.append(row)
                if len(out) == count:
                    return out
        day += timedelta(days=1)
    return out


def _text(value: object) -> str:
    """A typed value as a CSV cell holds it."""
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, time):
        return f"{value:%H:%M}"
    return str(value)


def write_csv(path: Path, data: list[list[object]]) -> None:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(COLUMNS)
        writer.writerows([_text(v) for v in row] for row in data)


def write_xlsx(path: Path, data: list[list[object]]) -> None:
    import xlsxwriter

    book = xlsxwriter.Workbook(str(path), {"constant_memory": True})
    day_format = book.add_format({"num_format": "yyyy-mm-dd"})
    time_format = book.add_format({"num_format": "hh:mm"})
    sheet = book.add_worksheet("Timesheet")
    sheet.write_row(0, 0, COLUMNS)
    for r, row in enumerate(data, start=1):
        for c, value in enumerate(row):
            if value is None or value == "":
                continue
            if isinstance(value, date):
                sheet.write_datetime(r, c, datetime.combine(value, datetime.min.time()), day_format)
            elif isinstance(value, time):
                sheet.write_datetime(r, c, value, time_format)
            elif isinstance(value, float):
                sheet.write_number(r, c, value)
            else:
                sheet.write_string(r, c, str(value))
    book.close()


def timed(label: str, func: object) -> float:
    started = perf_counter()
    func()  # type: ignore[operator]
    seconds = perf_counter() - started
    print(f"  {label:<44} {seconds:8.2f} s", flush=True)
    return seconds


def validate_in_process(path: Path) -> None:
    from click.testing import CliRunner

    from cwbulk.cli import cli

    result = CliRunner().invoke(cli, ["-q", "validate", str(path), "--tz", "UTC"])
    if result.exit_code != 0:
        raise SystemExit(f"validate {path.name} exited {result.exit_code}: {result.output}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=100_000, help="rows of the XLSX/CSV pair")
    parser.add_argument("--big-rows", type=int, help="rows of the large CSV (10 × --rows)")
    args = parser.parse_args()
    big = args.big_rows or args.rows * 10
    OUT.mkdir(exist_ok=True)

    import pandas as pd

    import cwbulk.validate  # noqa: F401 -- import time is not what is measured

    print(f"Writing {args.rows:,} rows to {OUT} …", flush=True)
    data = rows(args.rows)
    xlsx, csv_path = OUT / f"read-{args.rows}.xlsx", OUT / f"read-{args.rows}.csv"
    write_xlsx(xlsx, data)
    write_csv(csv_path, data)
    del data

    print(f"{args.rows:,} rows:")
    openpyxl_seconds = timed(
        'pandas.read_excel(engine="openpyxl")',
        lambda: pd.read_excel(xlsx, engine="openpyxl", dtype=str),
    )
    xlsx_seconds = timed("cwbulk validate (XLSX)", lambda: validate_in_process(xlsx))
    timed("cwbulk validate (CSV)", lambda: validate_in_process(csv_path))
    ratio = xlsx_seconds / openpyxl_seconds
    verdict = "ok" if ratio < RATIO_TARGET else "MISSED"
    print(f"  ratio validate XLSX / openpyxl read: {ratio:.2f} (target < {RATIO_TARGET}) {verdict}")

    big_path = OUT / f"read-{big}.csv"
    print(f"Writing {big:,} rows to {big_path.name} …", flush=True)
    write_csv(big_path, rows(big))
    started = perf_counter()
    child = subprocess.run(
        [sys.executable, "-m", "cwbulk", "-q", "validate", str(big_path), "--tz", "UTC"],
        check=False,
    )
    seconds = perf_counter() - started
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024  # KiB on Linux
    verdict = "ok" if peak_mb < RSS_TARGET_MB and child.returncode == 0 else "MISSED"
    print(
        f"{big:,} rows ({big_path.stat().st_size / 1e6:.0f} MB CSV): cwbulk validate "
        f"{seconds:.1f} s (exit {child.returncode}), peak RSS {peak_mb:,.0f} MB "
        f"(target < {RSS_TARGET_MB:,} MB) {verdict}"
    )


if __name__ == "__main__":
    main()
