"""``cwbulk lookup KIND``: the names ConnectWise knows, to fill a timesheet with."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import TYPE_CHECKING

import click
import pandas as pd

from cwbulk.connect import connection
from cwbulk.io import write_table
from cwbulk.resolve import LOOKUP_KINDS, reference_table

if TYPE_CHECKING:
    from cwbulk.cli import AppContext


@click.command("lookup")
@click.argument("kind", type=click.Choice(LOOKUP_KINDS))
@click.option("--search", metavar="TEXT", help="Only records whose name contains TEXT.")
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the table to a .csv or .xlsx file instead.",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON (same as the global --json).")
@click.pass_obj
def command(
    app: AppContext, kind: str, search: str | None, output: Path | None, as_json: bool
) -> None:
    """List members, work types, work roles, companies, charge codes or tickets.

    \b
    Examples:
      cwbulk --sandbox lookup members
      cwbulk --sandbox lookup work-types --search remote
      cwbulk lookup tickets --search Northwind -o tickets.xlsx
    """
    conn = connection(
        profile=app.profile, sandbox=app.sandbox, warn=lambda m: click.echo(m, err=True)
    )

    async def read() -> pd.DataFrame:
        async with conn.client() as client:
            return await reference_table(client, kind, search=search)

    table = asyncio.run(read())
    if output is not None:
        write_table(table, output, sheet_name=kind)
        if app.json or as_json:
            click.echo(json.dumps({"kind": kind, "rows": len(table), "path": str(output)}))
        elif not app.quiet:
            click.echo(f"Wrote {len(table)} {kind} to {output}.", err=True)
        return
    if app.json or as_json:
        items = json.loads(table.to_json(orient="records", force_ascii=False))
        click.echo(json.dumps({"kind": kind, "rows": len(table), "items": items}))
        return
    if table.empty:
        found = f" matching {search!r}" if search else ""
        click.echo(f"No {kind}{found}.", err=True)
        return
    click.echo(table.to_string(index=False))
