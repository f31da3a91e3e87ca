"""``cwbulk import FILE``: plan, confirm, post in batches, journal, results file."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from cwbulk.apply import DEFAULT_BATCH_SIZE, DEFAULT_CONCURRENCY, MAX_BATCH_SIZE
from cwbulk.commands.options import max_rate_option, read_options
from cwbulk.connect import connection
from cwbulk.errors import UsageError
from cwbulk.importer import ON_CONFLICT, ImportOptions, ImportResult, import_file
from cwbulk.report import emit_json, emit_text, render_import, render_plan

if TYPE_CHECKING:
    from cwbulk.cli import AppContext
    from cwbulk.validate import ReadOptions

_PATH = click.Path(dir_okay=False, path_type=Path)


def _show(_ctx: click.Context, _param: click.Parameter, value: str) -> int | None:
    if value.strip().lower() == "all":
        return None
    if value.strip().isdigit():
        return int(value)
    raise click.BadParameter(f"{value!r}: give a number of rows, or all.")


@click.command("import")
@click.argument("file", type=_PATH)
@read_options
@click.option(
    "--dry-run",
    is_flag=True,
    help="Plan only: show what would change, write the plan file, send nothing.",
)
@click.option("-y", "--yes", is_flag=True, help="Write the plan without asking (for scripts).")
@click.option(
    "--show",
    default="20",
    metavar="N|all",
    callback=_show,
    help="Rows of each kind listed in the plan.  [default: 20]",
)
@click.option(
    "--allow-inactive", is_flag=True, help="Accept inactive members, work types and roles."
)
@click.option(
    "--batch-size",
    type=click.IntRange(1, MAX_BATCH_SIZE),
    default=DEFAULT_BATCH_SIZE,
    show_default=True,
    help="Rows per batch; each batch is journaled before the next starts.",
)
@click.option(
    "--concurrency",
    type=click.IntRange(1, 64),
    default=DEFAULT_CONCURRENCY,
    show_default=True,
    help="Requests in flight at once.",
)
@max_rate_option
@click.option(
    "--max-failures",
    type=click.IntRange(1),
    metavar="N",
    help="Stop after the batch in which N rows have failed.",
)
@click.option(
    "--on-conflict",
    type=click.Choice(ON_CONFLICT),
    default="skip",
    show_default=True,
    help="Entries changed in ConnectWise since the sheet or the plan: leave them, "
    "overwrite them, or write nothing at all.",
)
@click.option(
    "--journal",
    type=_PATH,
    metavar="PATH",
    help="The journal file [default: journal.sqlite in cwbulk's data folder].",
)
@click.option(
    "--results",
    type=_PATH,
    metavar="PATH",
    help="Results file (.csv or .xlsx) [default: FILE's name + .results.csv/.xlsx beside it].",
)
@click.option(
    "--errors-only",
    type=_PATH,
    metavar="PATH",
    help="Also write the failed and invalid rows, in FILE's own layout, to fix and import again.",
)
@click.option(
    "--plan",
    "plan_path",
    type=_PATH,
    metavar="PATH",
    help="The plan file the dry run writes and the real run compares with "
    "[default: FILE.plan.json beside FILE].",
)
@click.option("--json", "json_output", is_flag=True, help="Print one JSON object on stdout.")
@click.pass_obj
def command(
    app: AppContext,
    file: Path,
    read: ReadOptions,
    dry_run: bool,
    yes: bool,
    show: int | None,
    allow_inactive: bool,
    batch_size: int,
    concurrency: int,
    max_rate: float | str | None,
    max_failures: int | None,
    on_conflict: str,
    journal: Path | None,
    results: Path | None,
    errors_only: Path | None,
    plan_path: Path | None,
    json_output: bool,
) -> int:
    """Import a timesheet into ConnectWise: validate, resolve, plan, then post in batches.

    Nothing is written before you have seen the plan: --dry-run shows it (counts per
    action, and each create and update, before → after) and writes it to a plan file;
    without --dry-run the same plan is shown and you are asked to confirm (--yes skips the
    question). New entries carry a mobileGuid derived from the row, so running the same
    file again, after a crash or on another machine, never creates duplicates. Every row
    ends in the results file: created, updated, unchanged, skipped, invalid or failed.
    Exit status: 0 all done, 1 some rows invalid or failed, 2 a file, option or
    connection problem, 130 interrupted (what was in flight is recorded).

    \b
    Examples:
      cwbulk --sandbox import samples/legacy-timesheet.xlsx --dry-run
      cwbulk --sandbox import samples/legacy-timesheet.xlsx --yes
      cwbulk import toggl.csv --member-map people.csv --dry-run --show all
      cwbulk --json import edited-export.xlsx --yes --on-conflict skip
    """
    as_json = app.json or json_output
    if as_json and not (dry_run or yes):
        raise UsageError(
            "--json can't ask for confirmation.",
            hint="Review the plan with --dry-run, then run again with --yes.",
        )
    options = ImportOptions(
        read=read,
        dry_run=dry_run,
        allow_inactive=allow_inactive,
        batch_size=batch_size,
        concurrency=concurrency,
        max_rate=max_rate,
        max_failures=max_failures,
        on_conflict=on_conflict,  # type: ignore[arg-type]
        journal=journal,
        results=results,
        errors_only=errors_only,
        plan=plan_path,
    )

    def confirm(preview: ImportResult) -> bool:
        if yes:
            if not (as_json or app.quiet):
                emit_text(render_plan(preview, show=show))
            return True
        emit_text(render_plan(preview, show=show))
        counts = preview.plan.counts()
        changed = counts["update"] + (counts["conflict"] if on_conflict == "overwrite" else 0)
        return click.confirm(
            f"Write {counts['create']} new and {changed} changed entries to {preview.site}?",
            default=False,
            err=True,
        )

    result = import_file(
        file,
        options,
        connection=connection(
            profile=app.profile, sandbox=app.sandbox, warn=lambda m: click.echo(m, err=True)
        ),
        confirm=confirm,
        progress=not app.quiet,
        notify=lambda message: click.echo(message, err=True),
    )
    if as_json:
        emit_json({"command": "import", **result.to_dict()})
    elif result.dry_run:
        if not app.quiet:
            emit_text(render_plan(result, show=show))
    elif result.declined:
        emit_text("Nothing was written to ConnectWise.")
    elif not app.quiet:
        if not any(o.outcome in ("created", "updated", "failed") for o in result.outcomes):
            emit_text(render_plan(result, show=show))
        emit_text(render_import(result))
    return result.exit_code
