"""``cwbulk validate FILE``: every problem of a timesheet, offline."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import click
from tqdm import tqdm

from cwbulk.cli import AppContext
from cwbulk.commands.options import read_options
from cwbulk.report import emit_json, emit_text, render_validation, write_problems
from cwbulk.validate import ReadOptions, validate_file


@click.command("validate")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@read_options
@click.option(
    "--errors",
    "errors_path",
    type=click.Path(dir_okay=False, path_type=Path),
    metavar="PATH",
    help="Write every problem, with its original row, to this .csv or .xlsx file.",
)
@click.option("--json", "json_output", is_flag=True, help="Print one JSON object on stdout.")
@click.pass_obj
def command(
    app: AppContext, file: Path, read: ReadOptions, errors_path: Path | None, json_output: bool
) -> int:
    """Check a timesheet offline and report every problem with its row and the fix.

    Reads CSV, XLSX or ODS in cwbulk's canonical layout or as a Toggl, Clockify or Harvest
    export (detected from the header, or given with --mapping), and checks every row:
    dates, times, hours, time zones, charge-to rules, overlaps and duplicates. Nothing is
    sent to ConnectWise. Exit status: 0 all rows valid (warnings allowed), 1 some rows
    invalid, 2 the file or an option can't be used.

    \b
    Examples:
      cwbulk validate samples/legacy-timesheet.csv --tz America/New_York
      cwbulk validate samples/toggl-export.csv --member-map samples/member-map.csv \\
          --errors problems.xlsx
    """
    with _progress_bar(disabled=app.quiet) as progress:
        result = validate_file(file, read, progress=progress)
    if errors_path is not None:
        write_problems(errors_path, result.problems, result.sources)
    if app.json or json_output:
        data = {"command": "validate", "file": str(file), **result.to_dict()}
        data["errorsFile"] = str(errors_path) if errors_path is not None else None
        emit_json(data)
    elif not app.quiet:
        emit_text(render_validation(result, source=file.name, errors_path=errors_path))
    return 0 if result.ok else 1


# Files below this many rows are checked in about a second: no bar.
_BAR_FROM_ROWS = 50_000


@contextmanager
def _progress_bar(*, disabled: bool) -> Iterator[Callable[[int, int], None]]:
    """A ``progress(done, total)`` callback drawing a tqdm bar on stderr for large files."""
    bars: list[tqdm] = []

    def progress(done: int, total: int) -> None:
        if disabled or total < _BAR_FROM_ROWS:
            return
        if not bars:
            bars.append(tqdm(total=total, unit=" rows", desc="Checking", leave=False))
        bars[0].update(done - bars[0].n)

    try:
        yield progress
    finally:
        for bar in bars:
            bar.close()
