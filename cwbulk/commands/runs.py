"""``cwbulk runs``: the imports the journal knows, newest first."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from cwbulk.journal import Journal
from cwbulk.report import emit_json, render_runs

if TYPE_CHECKING:
    from cwbulk.cli import AppContext

journal_option = click.option(
    "--journal",
    type=click.Path(dir_okay=False, path_type=Path),
    metavar="PATH",
    help="The journal file [default: journal.sqlite in cwbulk's data folder].",
)


@click.command("runs")
@journal_option
@click.option(
    "--limit", type=click.IntRange(1), default=20, show_default=True, help="Runs to list."
)
@click.option("--json", "json_output", is_flag=True, help="Print one JSON object on stdout.")
@click.pass_obj
def command(app: AppContext, journal: Path | None, limit: int, json_output: bool) -> None:
    """List past imports: when, which file, which site, what they created and updated.

    A run that shows as "killed" stopped without finishing; importing the same file again
    resumes it without redoing the rows it wrote.

    \b
    Examples:
      cwbulk runs
      cwbulk runs --limit 5 --json
    """
    with Journal(journal) as opened:
        runs = opened.runs(limit=limit)
        path = opened.path
    if app.json or json_output:
        emit_json({"command": "runs", "journal": str(path), "runs": [r.to_dict() for r in runs]})
    else:
        click.echo(render_runs(runs))
