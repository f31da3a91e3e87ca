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


def problems_frame(problems: Iterable[RowProblem], sources: Sequence[SheetData]) -> pd.DataFrame:
    """Problems as a table (``PROBLEM_COLUMNS``) followed by each problem's original row."""
    problems = list(problems)
    table = pd.DataFrame(
        [[getattr(p, c) for c in PROBLEM_COLUMNS] for p in problems],
        columns=list(PROBLEM_COLUMNS),
        dtype=object,
    ).fillna("")
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
