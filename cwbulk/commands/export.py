"""``cwbulk export``: time entries → a workbook, CSV or JSON file to edit and import back."""

from __future__ import annotations

import asyncio
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

import click
from tqdm import tqdm

from cwbulk.commands.options import member_option, period_options, tz_option
from cwbulk.connect import connection
from cwbulk.export import ExportFilters, ExportResult, export_entries
from cwbulk.fields import load_reference
from cwbulk.report import emit_json, emit_text
from cwbulk.validate import resolve_zone

if TYPE_CHECKING:
    from cwbulk.cli import AppContext

_FIELDS = load_reference().fields


@click.command("export")
@click.option(
    "-o",
    "--output",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    metavar="FILE",
    help="Where to write: .xlsx (with dropdowns), .csv or .json (records as the API has them).",
)
@period_options()
@member_option
@click.option(
    "--company",
    "companies",
    multiple=True,
    metavar="NAME",
    help="Only this company (identifier or name); repeat for several.",
)
@click.option(
    "--ticket",
    "tickets",
    multiple=True,
    type=click.IntRange(min=1),
    metavar="NUMBER",
    help="Only time on this service or project ticket; repeat for several.",
)
@click.option(
    "--status",
    "statuses",
    multiple=True,
    type=click.Choice(_FIELDS["status"].enum, case_sensitive=False),
    help="Only entries in this approval status; repeat for several.",
)
@click.option(
    "--billable",
    multiple=True,
    type=click.Choice(_FIELDS["billableOption"].enum, case_sensitive=False),
    help="Only entries with this billable option; repeat for several.",
)
@click.option(
    "--conditions",
    metavar="TEXT",
    help="Raw ConnectWise conditions, and-ed with the other filters "
    "(e.g. 'notes contains \"VPN\"').",
)
@tz_option
@click.option("--excel", is_flag=True, help="Start a .csv with a BOM so Excel reads it as UTF-8.")
@click.option("--json", "json_output", is_flag=True, help="Print one JSON object on stdout.")
@click.pass_obj
def command(
    app: AppContext,
    output: Path,
    date_from: date | None,
    date_to: date | None,
    members: tuple[str, ...],
    companies: tuple[str, ...],
    tickets: tuple[int, ...],
    statuses: tuple[str, ...],
    billable: tuple[str, ...],
    conditions: str | None,
    tz: str | None,
    excel: bool,
    json_output: bool,
) -> None:
    """Export time entries to a file to edit and import back, or to keep.

    The workbook has one row per entry with names (not ids), times in --tz, dropdowns, and
    the id, status and lastUpdated columns that let `cwbulk import` patch only what you
    changed and refuse to overwrite entries changed in ConnectWise since. Text that a
    spreadsheet would run as a formula is written with a leading '.

    \b
    Examples:
      cwbulk --sandbox export --from 2026-10-01 --to 2026-10-31 -o october.xlsx
      cwbulk export --member klopez --status Open --tz Europe/London -o open.csv --excel
      cwbulk export --ticket 1042 --conditions 'billableOption = "Billable"' -o t.json
    """
    zone, note = resolve_zone(tz)
    if note and not app.quiet:
        emit_text(f"Note: {note}")
    filters = ExportFilters(
        date_from=date_from,
        date_to=date_to,
        members=members,
        companies=companies,
        tickets=tickets,
        statuses=statuses,
        billable=billable,
        conditions=conditions,
    )
    conn = connection(
        profile=app.profile, sandbox=app.sandbox, warn=lambda m: click.echo(m, err=True)
    )
    bars: list[tqdm] = []

    def progress(done: int, total: int) -> None:
        # Made at the first page, once the filters are known to be good and pages counted.
        if not bars:
            bars.append(tqdm(desc="Exporting", unit="page", disable=app.quiet, leave=False))
        bars[0].total = total
        bars[0].update(done - bars[0].n)

    async def run() -> ExportResult:
        async with conn.client() as client:
            return await export_entries(
                client, output, tz=zone, filters=filters, excel=excel, on_progress=progress
            )

    try:
        result = asyncio.run(run())
    finally:
        for bar in bars:
            bar.close()
    if app.json or json_output:
        emit_json(result.to_dict())
    elif not app.quiet:
        emit_text(f"Exported {result.rows} time entries to {result.path} (times in {zone.key}).")
