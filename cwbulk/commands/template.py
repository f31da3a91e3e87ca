"""``cwbulk template``: an empty canonical workbook with dropdowns, to hand to people."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING

import click

from cwbulk.connect import connection
from cwbulk.export import dropdown_lists, write_template
from cwbulk.report import emit_json, emit_text
from cwbulk.resolve import Resolver

if TYPE_CHECKING:
    from cwbulk.cli import AppContext


@click.command("template")
@click.option(
    "-o",
    "--output",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    metavar="FILE.xlsx",
    help="Where to write the workbook.",
)
@click.option(
    "--offline",
    is_flag=True,
    help="Don't ask ConnectWise for members, work types and roles: only the fixed "
    "dropdowns (billableOption, chargeToType).",
)
@click.option("--json", "json_output", is_flag=True, help="Print one JSON object on stdout.")
@click.pass_obj
def command(app: AppContext, output: Path, offline: bool, json_output: bool) -> None:
    """Write an empty timesheet workbook in cwbulk's canonical layout.

    The Timesheet sheet has every column `cwbulk import` reads best, with dropdowns for
    member, workType and workRole filled from ConnectWise, and for billableOption and
    chargeToType; the Instructions sheet says what each column takes, with an example row.

    \b
    Examples:
      cwbulk --sandbox template -o timesheet.xlsx
      cwbulk --profile acme template -o october-timesheet.xlsx
      cwbulk template --offline -o blank.xlsx
    """
    lists: dict[str, list[str]] = {}
    if not offline:
        conn = connection(
            profile=app.profile, sandbox=app.sandbox, warn=lambda m: click.echo(m, err=True)
        )

        async def read() -> dict[str, list[str]]:
            async with conn.client() as client:
                return await dropdown_lists(Resolver(client))

        lists = asyncio.run(read())
    path = write_template(output, lists=lists)
    counts = {name: len(values) for name, values in lists.items()}
    if app.json or json_output:
        emit_json({"path": str(path), "lists": counts})
    elif not app.quiet:
        listed = ", ".join(f"{n} {name}s" for name, n in counts.items()) or "no server lists"
        emit_text(f"Wrote the template {path} ({listed} in its dropdowns).")
