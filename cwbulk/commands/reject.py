"""``cwbulk reject``: reject time entries in bulk, with a comment the members see."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

import click

from cwbulk.approval import ActionOptions, Selection, reject_entries
from cwbulk.commands.options import member_option, period_options, tz_option
from cwbulk.commands.sheets import (
    action_options,
    check_can_confirm,
    confirmer,
    finish,
    ids_option,
    open_connection,
)

if TYPE_CHECKING:
    from cwbulk.cli import AppContext


@click.command("reject")
@member_option
@period_options()
@click.option(
    "--ticket",
    "tickets",
    multiple=True,
    type=click.IntRange(1),
    metavar="NUMBER",
    help="Only time on this service or project ticket; repeat for several.",
)
@click.option(
    "--conditions",
    metavar="TEXT",
    help="More ConnectWise conditions, e.g. 'workType/name = \"Remote\"'.",
)
@ids_option
@click.option(
    "--comment",
    required=True,
    metavar="TEXT",
    help="Why the time is rejected (required; the member sees it).",
)
@tz_option
@action_options
@click.pass_obj
def command(
    app: AppContext,
    members: tuple[str, ...],
    date_from: date | None,
    date_to: date | None,
    tickets: tuple[int, ...],
    conditions: str | None,
    ids_file: Path | None,
    comment: str,
    tz: str | None,
    options: ActionOptions,
    yes: bool,
    json_output: bool,
) -> int:
    """Reject submitted or approved time entries, with a comment.

    Pick entries with filters (--member, --from/--to: days in --tz, --ticket,
    --conditions) or list their ids in a file (--ids). Billed entries are refused and
    reported; entries not submitted, or already rejected, are skipped with the reason. A
    results file lists every entry with its status before and after. Exit status: 0 all
    done or skipped, 1 some failed, 2 usage, configuration or connection error.

    \b
    Examples:
      cwbulk --sandbox reject --member abaker --from 2026-03-02 --to 2026-03-06 \\
          --comment "Charge this to the project, not the service ticket" --dry-run
      cwbulk reject --ids entries.csv --comment "Duplicate of the Monday entry" --yes
    """
    as_json = app.json or json_output
    check_can_confirm(options, yes, as_json)
    selection = Selection(
        members=members,
        date_from=date_from,
        date_to=date_to,
        tickets=tickets,
        conditions=conditions,
        ids_file=ids_file,
        tz=tz,
    )
    result = reject_entries(
        selection,
        comment,
        options,
        connection=open_connection(app),
        confirm=confirmer(app, yes),
        progress=not app.quiet,
        notify=lambda m: click.echo(m, err=True),
    )
    return finish(app, result, as_json)
