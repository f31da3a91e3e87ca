"""``cwbulk sheets list|submit|approve|reject|reverse``: time sheets in bulk.

The rendering helpers here (plan, confirmation, summary) are shared with ``cwbulk reject``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click
import pandas as pd

from cwbulk.approval import (
    DEFAULT_CONCURRENCY,
    STATUSES,
    ActionOptions,
    ActionRun,
    Selection,
    run_sheet_action,
    sheets_table,
)
from cwbulk.commands.options import max_rate_option, member_option, period_options
from cwbulk.connect import Connection, connection
from cwbulk.errors import UsageError
from cwbulk.io import write_table
from cwbulk.report import emit_json, emit_text

if TYPE_CHECKING:
    from cwbulk.cli import AppContext

F = TypeVar("F", bound=Callable[..., Any])

_PAST = {"submit": "submitted", "approve": "approved", "reject": "rejected", "reverse": "reversed"}
_NOUNS = {"sheets": ("time sheet", "time sheets"), "entries": ("time entry", "time entries")}


# --- options shared by the actions (and, in part, by `cwbulk reject`) ---------------------


status_option = click.option(
    "--status",
    "statuses",
    multiple=True,
    type=click.Choice(STATUSES, case_sensitive=False),
    metavar="STATUS",
    help=f"Only time sheets in this status; repeat for several. One of {', '.join(STATUSES)}.",
)
ids_option = click.option(
    "--ids",
    "ids_file",
    type=click.Path(dir_okay=False, path_type=Path),
    metavar="FILE",
    help="A CSV/XLSX file with an id column: act on exactly these (instead of filters).",
)


def action_options(func: F) -> F:
    """--dry-run, --yes, --results, --concurrency, --max-rate and --json, as ``options``
    (an ``ActionOptions``), ``yes`` and ``json_output``."""

    @functools.wraps(func)
    def wrapper(
        *args: Any,
        dry_run: bool,
        results: Path | None,
        concurrency: int,
        max_rate: float | str | None,
        **kwargs: Any,
    ) -> Any:
        kwargs["options"] = ActionOptions(
            dry_run=dry_run,
            concurrency=concurrency,
            max_rate=max_rate,
            results=results,
        )
        return func(*args, **kwargs)

    decorators = (
        click.option(
            "--dry-run", is_flag=True, help="Show what would be done, and their statuses now."
        ),
        click.option("-y", "--yes", is_flag=True, help="Don't ask for confirmation."),
        click.option(
            "--results",
            type=click.Path(dir_okay=False, path_type=Path),
            metavar="PATH",
            help="Results file (.csv or .xlsx). Default: beside the --ids file, else "
            "<kind>-<action>-<timestamp>.csv here.",
        ),
        click.option(
            "--concurrency",
            type=click.IntRange(1, 32),
            default=DEFAULT_CONCURRENCY,
            show_default=True,
            help="Requests in flight at once.",
        ),
        max_rate_option,
        click.option("--json", "json_output", is_flag=True, help="Print one JSON object."),
    )
    for decorator in reversed(decorators):
        wrapper = decorator(wrapper)
    return wrapper  # type: ignore[return-value]


def open_connection(app: AppContext) -> Connection:
    """The connection the global options name (warnings about the profiles file on stderr)."""
    return connection(
        profile=app.profile, sandbox=app.sandbox, warn=lambda m: click.echo(m, err=True)
    )


def check_can_confirm(options: ActionOptions, yes: bool, as_json: bool) -> None:
    """--json can't hold an interactive question: it needs --yes (or --dry-run)."""
    if as_json and not yes and not options.dry_run:
        raise UsageError(
            "--json can't ask for confirmation.",
            hint="Add --yes to go ahead, or --dry-run to see what would be done.",
        )


# --- rendering -------------------------------------------------------------------------


def _count(n: int, kind: str) -> str:
    singular, plural = _NOUNS[kind]
    return f"{n} {singular if n == 1 else plural}"


def render_plan(run: ActionRun) -> str:
    """The dry run: a table of every record, its status and what would happen; a summary."""
    if not run.steps:
        return f"No {_NOUNS[run.kind][1]} match."
    rows = []
    for step in run.steps:
        if step.send:
            plan = run.action
        else:
            plan = f"{'skip' if step.target.status else 'fail'}: {step.reason}"
        rows.append({"id": step.target.id, **step.target.details, "status": step.target.status})
        rows[-1]["plan"] = plan
    table = pd.DataFrame(rows).fillna("")
    width = int(table["plan"].str.len().max())
    text = table.to_string(index=False, formatters={"plan": lambda v: f"{v:<{width}}"})
    return "\n".join([text, render_plan_summary(run)])


def render_plan_summary(run: ActionRun) -> str:
    """One line of what the plan would do, with the commonest reasons to skip."""
    counts = run.counts()
    text = f"Would {run.action} {_count(counts['send'], run.kind)}"
    if counts["skip"]:
        text += f"; skip {counts['skip']}"
    if counts["fail"]:
        text += f"; {counts['fail']} not found"
    lines = [text + "."]
    lines += [f"  {n} × {why}" for _outcome, why, n in run.reasons()]
    return "\n".join([*lines, *run.notes])


def render_outcome(run: ActionRun) -> str:
    """The summary after a run (or why nothing was sent)."""
    if run.declined:
        return "Nothing was sent."
    counts = run.counts()
    text = f"{_PAST[run.action].capitalize()} {_count(counts['done'], run.kind)}"
    text += f"; {counts['skipped']} skipped, {counts['failed']} failed."
    lines = [text]
    lines += [f"  {outcome} {n} × {why}" for outcome, why, n in run.reasons()]
    if run.interrupted:
        lines.append("Interrupted: run the same command again to finish; done ones are skipped.")
    if run.results_path is not None:
        lines.append(f"Results: {run.results_path}")
    return "\n".join([*lines, *run.notes])


def confirmer(app: AppContext, yes: bool) -> Callable[[ActionRun], bool] | None:
    """None for --yes; else a question on stderr showing the plan's summary."""
    if yes:
        return None

    def confirm(run: ActionRun) -> bool:
        if not app.quiet:
            emit_text(render_plan_summary(run))
        question = f"{run.action.capitalize()} {_count(run.to_send, run.kind)} on {run.site}?"
        return click.confirm(question, default=False, err=True)

    return confirm


def finish(app: AppContext, run: ActionRun, as_json: bool) -> int:
    """Print the result (JSON on stdout, or text on stderr) and give the exit code."""
    if app.json or as_json:
        emit_json(run.to_dict())
    elif run.dry_run:
        click.echo(render_plan(run))
    elif not app.quiet or run.exit_code:
        emit_text(render_outcome(run))
    return run.exit_code


# --- the commands ----------------------------------------------------------------------


@click.group("sheets")
def command() -> None:
    """List time sheets, and submit, approve, reject or reverse them in bulk.

    Pick sheets with filters (--member, --from/--to: sheets whose week overlaps the period,
    --status) or list their ids in a file (--ids). Sheets an action doesn't apply to are
    skipped with the reason (approving an Open sheet: it must be submitted first). Each
    action is sent once per sheet, even when answers get lost. Exit status: 0 all done or
    skipped, 1 some failed, 2 usage, configuration or connection error.

    \b
    Examples:
      cwbulk --sandbox sheets list --status PendingApproval
      cwbulk --sandbox sheets approve --from 2026-03-01 --to 2026-03-31 --dry-run
      cwbulk sheets approve --ids to-approve.xlsx --yes
    """


@command.command("list")
@member_option
@period_options()
@status_option
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the table to a .csv or .xlsx file instead (it can be an --ids file).",
)
@click.option("--json", "json_output", is_flag=True, help="Print one JSON object.")
@click.pass_obj
def list_command(
    app: AppContext,
    members: tuple[str, ...],
    date_from: date | None,
    date_to: date | None,
    statuses: tuple[str, ...],
    output: Path | None,
    json_output: bool,
) -> None:
    """List time sheets: id, member, period, hours and status, newest week first.

    \b
    Examples:
      cwbulk --sandbox sheets list --status PendingApproval
      cwbulk sheets list --member abaker --from 2026-03-01 --to 2026-03-31 -o march.xlsx
    """
    selection = Selection(
        members=members,
        date_from=date_from,
        date_to=date_to,
        statuses=_canonical_statuses(statuses),
    )
    table = sheets_table(selection, connection=open_connection(app))
    as_json = app.json or json_output
    if output is not None:
        write_table(table, output, sheet_name="time sheets")
        if as_json:
            emit_json({"command": "sheets list", "rows": len(table), "path": str(output)})
        elif not app.quiet:
            emit_text(f"Wrote {_count(len(table), 'sheets')} to {output}.")
        return
    if as_json:
        items = table.to_dict(orient="records")
        emit_json({"command": "sheets list", "rows": len(table), "items": items})
    elif table.empty:
        emit_text("No time sheets match.")
    else:
        click.echo(table.to_string(index=False))


def _canonical_statuses(statuses: tuple[str, ...]) -> tuple[str, ...]:
    by_lower = {s.lower(): s for s in STATUSES}
    return tuple(dict.fromkeys(by_lower[s.lower()] for s in statuses))


_HELP = {
    "submit": (
        "Submit time sheets for approval (Open, Rejected or corrected → PendingApproval).",
        "submit --member abaker --from 2026-03-02 --to 2026-03-08 --yes",
    ),
    "approve": (
        "Approve submitted time sheets (PendingApproval → ApprovedByTierOne; --tier 2: "
        "→ ApprovedByTierTwo).",
        "approve --status PendingApproval --from 2026-03-01 --to 2026-03-31 --dry-run",
    ),
    "reject": (
        "Reject submitted or approved time sheets back to their members (→ Rejected).",
        "reject --ids sheets.xlsx --yes",
    ),
    "reverse": (
        "Reverse submitted or approved time sheets back to Open.",
        "reverse --member abaker --from 2026-03-02 --to 2026-03-08 --yes",
    ),
}


def _action_command(action: str) -> click.Command:
    summary, example = _HELP[action]

    @member_option
    @period_options()
    @status_option
    @ids_option
    @action_options
    @click.pass_obj
    def run(
        app: AppContext,
        members: tuple[str, ...],
        date_from: date | None,
        date_to: date | None,
        statuses: tuple[str, ...],
        ids_file: Path | None,
        options: ActionOptions,
        yes: bool,
        json_output: bool,
        tier: int = 1,
    ) -> int:
        as_json = app.json or json_output
        check_can_confirm(options, yes, as_json)
        selection = Selection(
            members=members,
            date_from=date_from,
            date_to=date_to,
            statuses=_canonical_statuses(statuses),
            ids_file=ids_file,
        )
        result = run_sheet_action(
            action,
            selection,
            options,
            connection=open_connection(app),
            tier=tier,
            confirm=confirmer(app, yes),
            progress=not app.quiet,
            notify=lambda m: click.echo(m, err=True),
        )
        return finish(app, result, as_json)

    run.__doc__ = (
        f"{summary}\n\nSheets it doesn't apply to are skipped with the reason; a results "
        "file lists every sheet: id, member, period, status before and after, outcome.\n\n"
        f"\b\nExample:\n  cwbulk sheets {example}"
    )
    if action == "approve":
        run = click.option(
            "--tier",
            type=click.IntRange(1, 2),
            default=1,
            show_default=True,
            help="Approval tier: 1 approves submitted sheets; 2 also approves tier-one ones.",
        )(run)
    return click.command(action)(run)


for _action in ("submit", "approve", "reject", "reverse"):
    command.add_command(_action_command(_action))
