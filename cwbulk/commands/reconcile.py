"""``cwbulk reconcile FILE``: a period's source timesheet against ConnectWise → report."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

import click
from tqdm import tqdm

from cwbulk.commands.options import period_options, read_options
from cwbulk.connect import connection
from cwbulk.errors import UsageError
from cwbulk.reconcile import (
    BY,
    DEFAULT_TOLERANCE,
    Progress,
    ReconcileOptions,
    reconcile_file,
    write_fix,
)
from cwbulk.reconcile_report import default_report_path, render_reconcile, write_report
from cwbulk.report import emit_json, emit_text

if TYPE_CHECKING:
    from cwbulk.cli import AppContext
    from cwbulk.validate import ReadOptions

_PATH = click.Path(dir_okay=False, path_type=Path)


@click.command("reconcile")
@click.argument("file", type=_PATH)
@period_options(required=True)
@read_options
@click.option(
    "--tolerance",
    type=click.FloatRange(min=0),
    default=DEFAULT_TOLERANCE,
    show_default=True,
    metavar="HOURS",
    help="Hours (and start/end times) closer than this count as equal.",
)
@click.option(
    "--by",
    type=click.Choice(BY),
    default="entry",
    show_default=True,
    help="Compare entry by entry, or the hours of each member and day.",
)
@click.option(
    "-o",
    "--output",
    type=_PATH,
    metavar="FILE.xlsx",
    help="The report workbook [default: FILE's name + .reconcile.xlsx beside it].",
)
@click.option(
    "--fix",
    "fix_path",
    type=_PATH,
    metavar="PATH",
    help="Also write the rows missing in ConnectWise as a .csv or .xlsx file that "
    "`cwbulk import` takes as it is (with the same --tz).",
)
@click.option("--json", "json_output", is_flag=True, help="Print one JSON object on stdout.")
@click.pass_obj
def command(
    app: AppContext,
    file: Path,
    date_from: date,
    date_to: date,
    read: ReadOptions,
    tolerance: float,
    by: str,
    output: Path | None,
    fix_path: Path | None,
    json_output: bool,
) -> int:
    """Compare a period's timesheet with what ConnectWise holds, and write a report.

    Each source row is matched with a ConnectWise entry of the same members in the period
    (by id or mobileGuid, then natural key, then member + date + charge-to with hours
    within --tolerance) and ends up matched, different (each differing field listed),
    missing in ConnectWise, or extra in ConnectWise. Entries are also checked for: still
    Open or rejected, billable and approved but not billed, blank notes, overlaps, and time
    on closed tickets. Dates are local days in --tz. The workbook has a Summary per member
    with a chart, one sheet per class and the checks. Exit status: 0 everything matches
    within the tolerance, 1 something differs, is missing or extra, 2 a file, option or
    connection problem.

    \b
    Examples:
      cwbulk --sandbox reconcile samples/legacy-timesheet.xlsx --from 2026-10-01 \\
          --to 2026-10-31 --member-map samples/member-map.csv --tz America/New_York
      cwbulk reconcile payroll.xlsx --from 2026-10-01 --to 2026-10-31 --by day -o oct.xlsx
      cwbulk reconcile october.csv --from 2026-10-01 --to 2026-10-31 --fix missing.csv
    """
    output = output or default_report_path(file)
    if output.suffix.lower() != ".xlsx":
        raise UsageError(f"-o {output.name}: the report is a workbook", hint="End it in .xlsx.")
    if fix_path is not None and fix_path.suffix.lower() not in (".csv", ".xlsx"):
        raise UsageError(f"--fix {fix_path.name}: write .csv or .xlsx", hint="End it in .csv.")
    options = ReconcileOptions(
        date_from=date_from,
        date_to=date_to,
        read=read,
        tolerance=tolerance,
        by=by,  # type: ignore[arg-type]
    )
    conn = connection(
        profile=app.profile, sandbox=app.sandbox, warn=lambda m: click.echo(m, err=True)
    )
    with _progress(disabled=app.quiet) as progress:
        result = reconcile_file(file, options, connection=conn, progress=progress)
    if fix_path is not None:
        result = write_fix(result, fix_path)
    result = write_report(result, output)
    if app.json or json_output:
        emit_json({"command": "reconcile", **result.to_dict()})
    elif not app.quiet:
        emit_text(render_reconcile(result))
    return result.exit_code


# Stages that finish within about a second draw no bar.
_BAR_FROM = 20_000


@contextmanager
def _progress(*, disabled: bool) -> Iterator[Progress]:
    """A ``progress(stage, done, total)`` callback drawing one tqdm bar per stage on stderr."""
    bars: dict[str, tqdm] = {}

    def progress(stage: str, done: int, total: int | None) -> None:
        if disabled or (total is not None and total < _BAR_FROM and stage not in bars):
            return
        bar = bars.get(stage)
        if bar is None:
            bar = bars[stage] = tqdm(desc=stage, total=total, unit=" rows", leave=False)
        bar.update(done - bar.n)

    try:
        yield progress
    finally:
        for bar in bars.values():
            bar.close()
