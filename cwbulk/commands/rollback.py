"""``cwbulk rollback RUN``: delete the entries one import created, and nothing else."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from cwbulk.commands.runs import journal_option
from cwbulk.connect import connection
from cwbulk.errors import UsageError
from cwbulk.importer import RollbackResult, rollback_run
from cwbulk.report import emit_json, emit_text, render_rollback

if TYPE_CHECKING:
    from cwbulk.cli import AppContext


@click.command("rollback")
@click.argument("run", type=click.IntRange(1))
@journal_option
@click.option("--dry-run", is_flag=True, help="Show what would be deleted; delete nothing.")
@click.option("-y", "--yes", is_flag=True, help="Delete without asking (for scripts).")
@click.option("--json", "json_output", is_flag=True, help="Print one JSON object on stdout.")
@click.pass_obj
def command(
    app: AppContext,
    run: int,
    journal: Path | None,
    dry_run: bool,
    yes: bool,
    json_output: bool,
) -> int:
    """Undo an import: delete the entries run RUN created (see `cwbulk runs`).

    Only entries the run created are touched, each checked by id and mobileGuid; entries
    that are billed or on a submitted or approved time sheet are refused and reported.
    Updates the run made are not undone. Exit status: 0 done, 1 some entries refused or
    failed, 2 no such run or another problem.

    \b
    Examples:
      cwbulk --sandbox rollback 3 --dry-run
      cwbulk --sandbox rollback 3 --yes
    """
    as_json = app.json or json_output
    if as_json and not (dry_run or yes):
        raise UsageError(
            "--json can't ask for confirmation.",
            hint="Review with --dry-run, then run again with --yes.",
        )

    def confirm(preview: RollbackResult) -> bool:
        if yes:
            return True
        emit_text(render_rollback(preview))
        count = preview.counts()["delete"]
        return click.confirm(f"Delete these {count} entries?", default=False, err=True)

    result = rollback_run(
        run,
        connection=connection(
            profile=app.profile, sandbox=app.sandbox, warn=lambda m: click.echo(m, err=True)
        ),
        journal_path=journal,
        dry_run=dry_run,
        confirm=confirm,
    )
    if as_json:
        emit_json({"command": "rollback", **result.to_dict()})
    elif not app.quiet or result.dry_run:
        emit_text(render_rollback(result))
    return result.exit_code
