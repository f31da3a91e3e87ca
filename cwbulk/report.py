"""Rendering results for people and programs: terminal summaries, JSON, problem files.

``render_*`` functions build text and never print; ``emit_*`` functions write it (stdout
for JSON, stderr for summaries). Import and reconcile add their renderers here.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path

import click
import pandas as pd

from cwbulk.io import SheetData, write_table
from cwbulk.problems import RowProblem
from cwbulk.validate import ValidationResult

__all__ = [
    "PROBLEM_COLUMNS",
    "describe_problem",
    "emit_json",
    "emit_text",
    "problems_frame",
    "render_reasons",
    "render_validation",
    "write_problems",
]

# The first columns of an errors file; the original row's columns follow.
PROBLEM_COLUMNS = ("sheet", "row", "column", "value", "code", "message", "severity")


def emit_json(data: object) -> None:
    """Print ``data`` as one JSON object on stdout (and nothing else there)."""
    click.echo(json.dumps(data, ensure_ascii=False, default=str))


def emit_text(text: str) -> None:
    """Print a human summary on stderr."""
    click.echo(text, err=True)


def describe_problem(problem: RowProblem, *, sheets: int = 1) -> str:
    """One problem on one line: where (sheet when there are several, row, column), what."""
    where = f"row {problem.row}"
    if sheets > 1:
        where = f'sheet "{problem.sheet}" {where}'
    if problem.column:
        where += f", {problem.column}"
    label = "warning: " if problem.severity == "warning" else ""
    return f"{where}: {label}{problem.message}"


def render_reasons(problems: Sequence[RowProblem], *, top: int = 5) -> list[str]:
    """The most common reason codes, with counts and one example each."""
    counts = Counter(p.code for p in problems)
    example = {}
    for problem in problems:
        example.setdefault(problem.code, problem)
    width = max((len(code) for code, _n in counts.most_common(top)), default=0)
    return [
        f"  {n:>6}  {code:<{width}}  e.g. {describe_problem(example[code])}"
        for code, n in counts.most_common(top)
    ]


def render_validation(
    result: ValidationResult,
    *,
    source: str,
    errors_path: Path | None = None,
    listed: int = 10,
) -> str:
    """The terminal summary of ``cwbulk validate``."""
    counts = result.counts
    lines = [f"{source}: profile {result.profile}, time zone {result.tz}"]
    if len(result.sheets) > 1:
        lines[0] += f", sheets {', '.join(result.sheets)}"
    labels = {
        "read": "rows read",
        "valid": "valid",
        "invalid": "invalid",
        "warnings": "warnings",
        "duplicate": "duplicate rows",
        "blank": "blank rows skipped",
    }
    width = max(map(len, labels.values()))
    lines += [f"  {label:<{width}}  {counts[key]:>7}" for key, label in labels.items()]
    if result.problems:
        lines += ["Most common problems:", *render_reasons(result.problems)]
        lines.append("Problems:")
        for problem in result.problems[:listed]:
            lines.append(f"  {describe_problem(problem, sheets=len(result.sheets))}")
        more = len(result.problems) - listed
        if more > 0:
            lines.append(f"  … and {more} more")
    lines += [f"Note: {note}" for note in result.notes]
    if errors_path is not None:
        lines.append(f"Every problem, with its original row: {errors_path}")
    elif result.problems:
        lines.append("Write every problem with its original row: --errors FILE.csv (or .xlsx)")
    lines.append(
        "All rows are valid."
        if result.ok
        else f"{result.invalid} rows are invalid: fix them first."
    )
    return "\n".join(lines)


def _blank_if_none(value: object) -> object:
    return "" if value is None else value


def problems_frame(problems: Iterable[RowProblem], sources: Sequence[SheetData]) -> pd.DataFrame:
    """Problems as a table (``PROBLEM_COLUMNS``) followed by each problem's original row."""
    problems = list(problems)
    # Blanks filled while building: fillna on object columns warns on pandas 2.2.
    table = pd.DataFrame(
        [[_blank_if_none(getattr(p, c)) for c in PROBLEM_COLUMNS] for p in problems],
        columns=list(PROBLEM_COLUMNS),
        dtype=object,
    )
    originals: dict[str, None] = {}
    for sheet in sources:
        originals.update(dict.fromkeys(map(str, sheet.frame.columns)))
    names = {c: f"{c} (file)" if c in PROBLEM_COLUMNS else c for c in originals}
    cells = pd.DataFrame("", index=table.index, columns=list(names.values()), dtype=object)
    by_sheet = {sheet.name: sheet.frame for sheet in sources}
    for name, frame in by_sheet.items():
        mine = [i for i, p in enumerate(problems) if p.sheet == name]
        if not mine:
            continue
        found = frame.reindex([problems[i].row for i in mine]).fillna("")
        found.columns = [names[str(c)] for c in found.columns]
        found.index = mine
        cells.loc[mine, list(found.columns)] = found.astype(object)
    return pd.concat([table, cells], axis=1)


def write_problems(
    path: str | Path, problems: Iterable[RowProblem], sources: Sequence[SheetData]
) -> None:
    """Write the errors file (CSV or XLSX by extension): one line per problem with the
    sheet, spreadsheet row, column, value, reason code, message and severity, then the
    original row's cells, so it can be fixed in place of the source."""
    write_table(problems_frame(problems, sources), path, sheet_name="problems")


# ------------------------------------------------------------------ import, runs, rollback

from typing import TYPE_CHECKING  # noqa: E402

if TYPE_CHECKING:
    from collections.abc import Callable

    from cwbulk.importer import ImportResult, RollbackResult
    from cwbulk.journal import RunInfo
    from cwbulk.plan import PlanItem


def _import_where(sheet: str, row: int, sheets: int) -> str:
    return f'sheet "{sheet}" row {row}' if sheets > 1 else f"row {row}"


def _short(text: object, width: int = 48) -> str:
    flat = " ".join(str(text or "").split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


def render_plan(result: ImportResult, *, show: int | None = 20) -> str:
    """The plan of ``cwbulk import``: counts per action and a readable diff.

    Creates and updates show before → after; conflicts, duplicates and invalid rows show
    why. ``show`` rows of each kind are listed (None: all).
    """
    from zoneinfo import ZoneInfo

    from cwbulk.plan import local_date_time

    plan, tz = result.plan, ZoneInfo(result.tz)
    sheets = len({i.sheet for i in plan.items})
    lines = [
        f"{result.source.name} → {result.site}: profile {result.profile}, time zone {result.tz}",
        "Plan:",
    ]
    counts = plan.counts()
    lines += [f"  {action:<10} {n:>7}" for action, n in counts.items()]
    if result.already_done:
        lines.append(
            f"Of these, {result.already_done} were already written by an earlier import of "
            "this file (see `cwbulk runs`) and will be skipped: ConnectWise no longer has them "
            "as written, so they were deleted or changed there since. To write them again, "
            "import with a new --journal FILE."
        )

    def listing(action: str, title: str, describe: Callable[[PlanItem], str]) -> None:
        items = [i for i in plan.items if i.action == action]
        if not items:
            return
        shown = items if show is None else items[:show]
        more = (
            ""
            if len(shown) == len(items)
            else f" (first {len(shown)} of {len(items)}; --show all for every one)"
        )
        lines.append(f"{title}{more}:")
        lines.extend(f"  {_import_where(i.sheet, i.row, sheets)}: {describe(i)}" for i in shown)

    def created(item: PlanItem) -> str:
        body = dict(item.body or {})
        day, clock = local_date_time(str(body.get("timeStart", "")), tz)
        shown = item.display
        charge = f"{body.get('chargeToType', '')} {shown.get('chargeTo', '')}".strip()
        parts = [
            shown.get("member", str((body.get("member") or {}).get("id", ""))),
            f"{day} {clock}",
            f"{float(body.get('actualHours') or 0):g} h",
            charge
            if body.get("chargeToType") != "Company"
            else f"Company {shown.get('company', '')}",
            shown.get("workType", ""),
            f'"{_short(body.get("notes"))}"' if body.get("notes") else "",
        ]
        return " · ".join(p for p in parts if p)

    def updated(item: PlanItem) -> str:
        changes = "; ".join(
            f'{c.field}: "{_short(c.before, 30)}" → "{_short(c.after, 30)}"' for c in item.changes
        )
        return f"entry {item.entry_id}: {changes}"

    def why(item: PlanItem) -> str:
        return item.message

    listing("create", "Creates", created)
    twins = [i for i in plan.items if i.action == "create" and i.message]
    if twins:
        lines.append(
            f"Check {len(twins)} of the creates: each has the member, date, charge-to and "
            "hours of an entry cwbulk made from another row (the same time twice?):"
        )
        lines.extend(
            f"  {_import_where(i.sheet, i.row, sheets)}: {i.message}" for i in twins[: show or None]
        )
    listing("update", "Updates (before → after)", updated)
    listing("conflict", "Conflicts (left alone unless --on-conflict overwrite)", why)
    listing("duplicate", "Duplicates (skipped)", why)
    listing("invalid", "Invalid rows", why)
    lines += [f"Note: {note}" for note in result.notes]
    if result.dry_run:
        lines.append(
            f"Dry run: nothing was sent to ConnectWise. Plan written to {result.plan_path}."
        )
    return "\n".join(lines)


def render_import(result: ImportResult, *, listed: int = 20) -> str:
    """What ``cwbulk import`` did: outcomes, failures, the run and the files written."""
    counts = result.outcome_counts()
    sheets = len({o.sheet for o in result.outcomes})
    lines = ["Outcomes: " + ", ".join(f"{n} {outcome}" for outcome, n in counts.items())]
    failed = [o for o in result.outcomes if o.outcome == "failed"]
    if failed:
        lines.append(f"Failed rows{'' if len(failed) <= listed else f' (first {listed})'}:")
        lines += [
            f"  {_import_where(o.sheet, o.row, sheets)}: {o.error_code}: {o.message}"
            for o in failed[:listed]
        ]
    if result.sent:
        lines.append(
            f"Sent {result.sent} rows in {result.send_seconds:.1f} s "
            f"({result.sent / max(result.send_seconds, 1e-9):.1f} a second), after "
            f"{result.plan_seconds:.1f} s of planning."
        )
    if result.stopped:
        lines.append(f"Stopped: {result.stopped}")
    if result.interrupted:
        unsent = sum(o.error_code == "not_sent" for o in result.outcomes)
        lines.append(
            f"Interrupted: {unsent} rows were not sent; run the same command again to continue "
            "(rows already written are skipped)."
        )
    if result.run_id is not None:
        lines.append(
            f"Run {result.run_id} is in the journal (cwbulk runs; cwbulk rollback {result.run_id})."
        )
    if result.results_path is not None:
        lines.append(f"Results, one row per source row: {result.results_path}")
    if result.errors_path is not None:
        lines.append(f"Failed and invalid rows, to fix and import again: {result.errors_path}")
    return "\n".join(lines)


def render_runs(runs: Sequence[RunInfo]) -> str:
    """``cwbulk runs``: one line per run, newest first."""
    if not runs:
        return "No imports in the journal yet."
    rows = []
    for run in runs:
        outcomes = dict(run.counts.get("outcomes") or {})
        rows.append(
            {
                "run": run.id,
                "started": run.started,
                "status": run.status,
                "created": outcomes.get("created", ""),
                "updated": outcomes.get("updated", ""),
                "failed": outcomes.get("failed", ""),
                "site": run.site,
                "source": Path(run.source).name,
            }
        )
    return pd.DataFrame(rows).to_string(index=False)


def render_rollback(result: RollbackResult, *, listed: int = 20) -> str:
    """``cwbulk rollback``: what is (or would be) deleted, and what is refused and why."""
    counts = {k: n for k, n in result.counts().items() if n}
    verb = "would delete" if result.dry_run or result.declined else "deleted"
    lines = [
        f"Run {result.run.id} ({Path(result.run.source).name}, {result.run.started}, "
        f"{result.run.site}): "
        + (", ".join(f"{n} {k}" for k, n in counts.items()) or "no entries created")
    ]
    for outcome, title in (
        ("delete", f"Entries it {verb}"),
        ("refused", "Refused (left alone)"),
        ("failed", "Failed"),
        ("gone", "Already gone"),
    ):
        items = [i for i in result.items if i.outcome == outcome]
        if not items:
            continue
        lines.append(f"{title}{'' if len(items) <= listed else f' (first {listed})'}:")
        lines += [
            f"  row {i.row}: entry {i.entry_id if i.entry_id is not None else '?'}"
            + (f" — {i.message}" if i.message else "")
            for i in items[:listed]
        ]
    if result.updated:
        lines.append(
            f"Note: the run also updated {result.updated} entries; rollback does not undo updates."
        )
    if result.dry_run:
        lines.append("Dry run: nothing was deleted.")
    elif result.declined:
        lines.append("Nothing was deleted.")
    return "\n".join(lines)
