"""How fast `cwbulk export` writes a large workbook, beside pandas + openpyxl.

Loads ROWS time entries into a fresh sandbox database (the seed's entries cloned straight
into its SQLite table), then, each in its own child process:

- cwbulk: ``cwbulk --sandbox export -o entries.xlsx`` (the whole command: start-up, paging
  through the in-process sandbox, names and times, the streamed workbook);
- pandas: the same rows as a DataFrame (built untimed), then only
  ``DataFrame.to_excel(engine="openpyxl")`` timed.

Prints seconds and peak RSS (each child's own, from ``os.wait4``) side by side, and the
ratio. Targets (issue 6): cwbulk at most 0.6 of the pandas time, peak RSS under 600 MB.

    python benchmarks/bench_export.py            # 100,000 rows
    python benchmarks/bench_export.py --rows 5000
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

TIME_TARGET = 0.6
RSS_TARGET_MB = 600
TODAY = date(2026, 10, 15)

_PANDAS_CHILD = """
import json, sqlite3, sys, time
from zoneinfo import ZoneInfo
from cwbulk.export import entries_frame
db, out = sys.argv[1], sys.argv[2]
connection = sqlite3.connect(db)
rows = connection.execute("SELECT body FROM time_entries ORDER BY id").fetchall()
entries = [json.loads(body) for (body,) in rows]
codes = dict(connection.execute("SELECT id, json_extract(body, '$.name') FROM charge_codes"))
frame = entries_frame(entries, ZoneInfo("UTC"), charge_codes=codes)
del rows, entries
started = time.perf_counter()
frame.to_excel(out, engine="openpyxl", index=False)
print(json.dumps({"seconds": time.perf_counter() - started, "rows": len(frame)}))
"""


def load_entries(db_path: Path, rows: int) -> int:
    """Seed the sandbox, then clone its entries (new ids, notes varied) up to ``rows``."""
    from cwbulk.sandbox import reset

    reset(db_path, today=TODAY)
    db = sqlite3.connect(db_path)
    seeded = [json.loads(body) for (body,) in db.execute("SELECT body FROM time_entries")]
    next_id = db.execute("SELECT max(id) FROM time_entries").fetchone()[0] + 1
    missing = max(0, rows - len(seeded))

    def clones():
        for n in range(missing):
            body = dict(seeded[n % len(seeded)])
            body["id"] = next_id + n
            body["notes"] = f"{body.get('notes') or 'Work'} (copy {n})"
            yield body["id"], json.dumps(body, separators=(",", ":"), ensure_ascii=False)

    with db:
        db.executemany("INSERT INTO time_entries (id, body) VALUES (?, ?)", clones())
    total = db.execute("SELECT count(*) FROM time_entries").fetchone()[0]
    db.close()
    return total


def run_child(args: list[str], env: dict[str, str]) -> tuple[float, float, str]:
    """Run a child; its wall seconds, its own peak RSS in MB, and its stdout."""
    started = time.perf_counter()
    with tempfile.TemporaryFile() as out:
        child = subprocess.Popen(args, env=env, stdout=out, stderr=subprocess.PIPE)
        assert child.stderr is not None
        errors = child.stderr.read()
        _pid, status, usage = os.wait4(child.pid, 0)
        child.returncode = os.waitstatus_to_exitcode(status)
        seconds = time.perf_counter() - started
        out.seek(0)
        text = out.read().decode()
    if child.returncode:
        sys.exit(f"{' '.join(args[:4])} … failed ({child.returncode}):\n{errors.decode()}")
    return seconds, usage.ru_maxrss / 1024, text  # Linux reports ru_maxrss in KiB


def main() -> None:
    """Run the benchmark and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=100_000, help="entries to export")
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    options = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="cwbulk-bench-export-"))
    try:
        db_path = work / "sandbox.sqlite"
        started = time.perf_counter()
        total = load_entries(db_path, options.rows)
        print(f"loaded {total:,} entries into the sandbox in {time.perf_counter() - started:.1f}s")
        env = {**os.environ, "CWBULK_SANDBOX_DB": str(db_path), "HOME": str(work)}
        cwbulk_out = work / "cwbulk.xlsx"
        command = ["--sandbox", "--json", "-q", "export", "--tz", "UTC", "-o"]
        cw_seconds, cw_rss, cw_text = run_child(
            [sys.executable, "-m", "cwbulk", *command, str(cwbulk_out)], env
        )
        exported = json.loads(cw_text)["rows"]
        pandas_out = work / "pandas.xlsx"
        _, pd_rss, pd_text = run_child(
            [sys.executable, "-c", _PANDAS_CHILD, str(db_path), str(pandas_out)], env
        )
        pd_seconds = json.loads(pd_text)["seconds"]
        ratio = cw_seconds / pd_seconds
        print(f"{'':34}{'seconds':>9}{'peak RSS MB':>13}")
        print(f"{'cwbulk export (whole command)':34}{cw_seconds:9.2f}{cw_rss:13.0f}")
        print(f"{'DataFrame.to_excel (openpyxl)':34}{pd_seconds:9.2f}{pd_rss:13.0f}")
        print(
            f"rows exported: {exported:,}; files: {cwbulk_out.stat().st_size / 1e6:.1f} MB "
            f"(cwbulk), {pandas_out.stat().st_size / 1e6:.1f} MB (openpyxl)"
        )
        print(
            f"time ratio cwbulk/openpyxl: {ratio:.2f} (target ≤ {TIME_TARGET}) "
            f"{'ok' if ratio <= TIME_TARGET else 'MISSED'}; "
            f"cwbulk peak RSS {cw_rss:.0f} MB (target < {RSS_TARGET_MB}) "
            f"{'ok' if cw_rss < RSS_TARGET_MB else 'MISSED'}"
        )
    finally:
        if options.keep:
            print(f"work folder kept: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
