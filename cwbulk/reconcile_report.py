"""Rendering a reconciliation: the terminal summary and the report workbook.

:func:`render_reconcile` builds text and never prints; :func:`write_report` writes the
workbook with xlsxwriter:

- ``Summary``: one line per member (source and ConnectWise hours, delta, ConnectWise
  billable and non-billable hours, items per class, entries per status) and a total line,
  with a native Excel bar chart of source against ConnectWise hours per member;
- ``Matched``, ``Different``, ``Missing``, ``Extra``: one sheet per class; on
  ``Different`` the cells of each differing field are highlighted on both sides;
- ``Checks``: the ConnectWise-side findings; ``Invalid``: source rows that could not be
  compared (only when there are some); ``About``: what was compared, and how.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from cwbulk.errors import UsageError
from cwbulk.io import replacing
from cwbulk.reconcile import CHECKS, CLASSES, COLUMNS, MATCHED_BY, Item, ReconcileResult
from cwbulk.report import describe_problem

__all__ = [
    "SHEETS",
    "SUMMARY_COLUMNS",
    "default_report_path",
    "render_reconcile",
    "write_report",
]

SUMMARY = "Summary"
#: Sheet name of each class.
SHEETS = {"matched": "Matched", "different": "Different", "missing": "Missing", "extra": "Extra"}
#: The Summary sheet's leading columns; a column per ConnectWise status follows.
SUMMARY_COLUMNS = (
    "member",
    "source hours",
    "ConnectWise hours",
    "delta (CW - source)",
    "billable hours (CW)",
    "non-billable hours (CW)",
    *CLASSES,
)
CW = " (CW)"
# The order ConnectWise's approval cycle goes through, for the status columns.
_STATUS_ORDER = (
    "Open",
    "Rejected",
    "PendingApproval",
    "ErrorsCorrected",
    "PendingProjectApproval",
    "ApprovedByTierOne",
    "RejectBySecondTier",
    "ApprovedByTierTwo",
    "ReadyToBill",
    "Billed",
    "WrittenOff",
    "BilledAgreement",
)
_LISTED = 10
_MAX_WIDTH = 50


def default_report_path(source: Path) -> Path:
    """``<source name>.reconcile.xlsx`` beside the source."""
    return source.with_name(f"{source.stem}.reconcile.xlsx")


# ---------------------------------------------------------------------------- terminal


def render_reconcile(result: ReconcileResult, *, listed: int = _LISTED) -> str:
    """The terminal summary: a table per member, the checks, the first differences."""
    lines = [
        f"{result.source.name} against {result.site}: {result.date_from.isoformat()} to "
        f"{result.date_to.isoformat()} ({result.tz}), by {result.by}, "
        f"tolerance {result.tolerance:g} h"
    ]
    width = max([len("member"), len("Total"), *(len(m.member) for m in result.members)])
    head = f"  {'member':<{width}} {'source h':>9} {'CW h':>9} {'delta':>8}"
    lines.append(head + "".join(f" {kind:>9}" for kind in CLASSES))
    counts = result.counts()
    totals = result.totals()
    table = [
        (m.member, m.source_hours, m.connectwise_hours, m.delta, m.classes) for m in result.members
    ]
    table.append(
        ("Total", totals["sourceHours"], totals["connectwiseHours"], totals["delta"], counts)
    )
    for member, ours, theirs, delta, classes in table:
        line = f"  {member:<{width}} {ours:>9.2f} {theirs:>9.2f} {delta:>+8.2f}"
        lines.append(line + "".join(f" {classes[kind]:>9}" for kind in CLASSES))
    flagged = result.check_counts()
    if any(flagged.values()):
        lines.append("ConnectWise checks (entries):")
        lines += [f"  {CHECKS[code]:<40} {n:>6}" for code, n in flagged.items() if n]
    for kind in ("different", "missing", "extra"):
        items = [i for i in result.items if i.kind == kind]
        if items:
            more = f"first {listed} of {len(items)}" if len(items) > listed else f"{len(items)}"
            lines.append(f"{kind.capitalize()} ({more}):")
            lines += [f"  {_describe(i)}" for i in items[:listed]]
    if counts["invalid"]:
        shown = result.invalid[:listed]
        more = f"first {len(shown)} problems" if len(result.invalid) > listed else "problems"
        lines.append(f"Invalid source rows: {counts['invalid']} could not be compared ({more}):")
        sheets = len({p.sheet for p in result.invalid})
        lines += [f"  {describe_problem(p, sheets=sheets)}" for p in shown]
    lines += [f"Note: {note}" for note in result.notes]
    if result.path:
        lines.append(f"Report: {result.path}")
    if result.exit_code == 0:
        lines.append(f"Everything matches within {result.tolerance:g} h.")
    else:
        unmatched = sum(n for kind, n in counts.items() if kind != "matched")
        lines.append(f"{unmatched} items do not match.")
    return "\n".join(lines)


def _describe(item: Item) -> str:
    diffs = "; ".join(f"{d.field} {d.source!r} vs CW {d.connectwise!r}" for d in item.diffs)
    cells = item.source or item.connectwise
    if not cells:  # by day
        hours = item.source_hours if item.kind == "missing" else item.connectwise_hours
        return f"{item.member} {item.date}: {diffs or f'{hours or 0:g} h'}"
    where = f"row {item.row}" if item.row is not None else f"entry {item.entry_id}"
    if item.entry_id is not None and item.row is not None:
        where += f" / entry {item.entry_id}"
    if item.kind == "different":
        return f"{where} ({item.member} {item.date}): {diffs}"
    charge = f"{cells.get('chargeToType') or ''} {cells.get('chargeTo') or ''}".strip()
    start = f" {cells['start']}" if cells.get("start") else ""
    hours = cells.get("hours") or 0
    return f"{where}: {item.member} {item.date}{start} · {hours:g} h · {charge}"


# ---------------------------------------------------------------------------- workbook


def write_report(result: ReconcileResult, path: str | Path) -> ReconcileResult:
    """Write the report workbook (.xlsx) and return the result with its ``path``."""
    import xlsxwriter

    path = Path(path)
    if path.suffix.lower() != ".xlsx":
        raise UsageError(
            f"can't write the report to {path.name}: it is a workbook",
            hint="Give a file name ending in .xlsx.",
        )
    with replacing(path) as tmp_path:
        book = xlsxwriter.Workbook(
            str(tmp_path),
            {
                "constant_memory": True,
                "strings_to_formulas": False,
                "strings_to_urls": False,
                "strings_to_numbers": False,
            },
        )
        _Report(book, result).write()
        book.close()
    return replace(result, path=path)


class _Report:
    """Writes one workbook; each sheet is written top to bottom (constant memory)."""

    def __init__(self, book: Any, result: ReconcileResult) -> None:
        self.book = book
        self.result = result
        self.bold = book.add_format({"bold": True})
        self.head = book.add_format({"bold": True, "bg_color": "#DDEBF7", "border": 1})
        self.cw_head = book.add_format({"bold": True, "bg_color": "#FCE4D6", "border": 1})
        self.hours = book.add_format({"num_format": "0.00"})
        self.total = book.add_format({"bold": True, "num_format": "0.00", "top": 1})
        self.changed = book.add_format({"bg_color": "#FFC7CE", "font_color": "#9C0006"})
        self.changed_hours = book.add_format(
            {"bg_color": "#FFC7CE", "font_color": "#9C0006", "num_format": "0.00"}
        )

    def write(self) -> None:
        self._summary()
        for kind in CLASSES:
            items = [i for i in self.result.items if i.kind == kind]
            if self.result.by == "day":
                self._day_sheet(SHEETS[kind], items)
            else:
                self._entry_sheet(kind, items)
        self._checks()
        if self.result.invalid:
            self._invalid()
        self._about()

    # -- helpers ----------------------------------------------------------------------

    def _sheet(
        self,
        name: str,
        columns: Sequence[str],
        rows: int,
        *,
        widths: Sequence[int] | None = None,
        header: Callable[[str], Any] | None = None,
    ) -> Any:
        sheet = self.book.add_worksheet(name)
        for position, column in enumerate(columns):
            width = widths[position] if widths else len(column) + 2
            sheet.set_column(position, position, min(max(width, 8), _MAX_WIDTH))
        sheet.freeze_panes(1, 0)
        if columns:
            sheet.autofilter(0, 0, max(rows, 1), len(columns) - 1)
        for position, column in enumerate(columns):
            sheet.write_string(0, position, column, header(column) if header else self.head)
        return sheet

    def _write(
        self, sheet: Any, row: int, values: Sequence[Any], formats: Sequence[Any], first: int = 0
    ) -> None:
        for position, (value, fmt) in enumerate(zip(values, formats, strict=True), start=first):
            if value is None or value == "":
                if fmt is not None:
                    sheet.write_blank(row, position, None, fmt)
            elif isinstance(value, bool):
                sheet.write_boolean(row, position, value, fmt)
            elif isinstance(value, int | float):
                sheet.write_number(row, position, value, fmt)
            else:
                sheet.write_string(row, position, str(value), fmt)

    @staticmethod
    def _widths(columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> list[int]:
        widths = [len(c) + 2 for c in columns]
        for row in rows[:500]:
            for position, value in enumerate(row):
                widths[position] = max(widths[position], len(str(value)) + 2)
        return widths

    # -- Summary ----------------------------------------------------------------------

    def _summary(self) -> None:
        result = self.result
        statuses = {s for m in result.members for s in m.statuses}
        status_columns = [s for s in _STATUS_ORDER if s in statuses]
        status_columns += sorted(statuses - set(status_columns))
        columns = [*SUMMARY_COLUMNS, *status_columns]
        rows = []
        for m in result.members:
            rows.append(
                [
                    m.member,
                    round(m.source_hours, 4),
                    round(m.connectwise_hours, 4),
                    round(m.delta, 4),
                    round(m.billable_hours, 4),
                    round(m.non_billable_hours, 4),
                    *(m.classes[kind] for kind in CLASSES),
                    *(m.statuses.get(s, 0) for s in status_columns),
                ]
            )
        totals = ["Total"] + [
            round(sum(row[position] for row in rows), 4) for position in range(1, len(columns))
        ]
        sheet = self._sheet(
            SUMMARY, columns, len(rows), widths=self._widths(columns, [*rows, totals])
        )
        hours = [None, *[self.hours] * 5, *[None] * (len(columns) - 6)]
        for number, row in enumerate(rows, start=1):
            self._write(sheet, number, row, hours)
        self._write(sheet, len(rows) + 1, totals, [self.total] * len(columns))
        if rows:
            chart = self.book.add_chart({"type": "bar"})
            for position, color in ((1, "#5B9BD5"), (2, "#ED7D31")):
                # Streamed sheets keep no cells for xlsxwriter to cache in the chart, so the
                # cache is given here (else the member names would be charted as numbers).
                chart.add_series(
                    {
                        "name": [SUMMARY, 0, position],
                        "name_data": [columns[position]],
                        "categories": [SUMMARY, 1, 0, len(rows), 0],
                        "categories_data": [row[0] for row in rows],
                        "values": [SUMMARY, 1, position, len(rows), position],
                        "values_data": [row[position] for row in rows],
                        "fill": {"color": color},
                    }
                )
            chart.set_title({"name": "Source and ConnectWise hours per member"})
            chart.set_x_axis({"name": "hours"})
            chart.set_y_axis({"reverse": True})
            chart.set_legend({"position": "bottom"})
            chart.set_size({"width": 640, "height": max(300, 60 + 32 * len(rows))})
            sheet.insert_chart(len(rows) + 3, 0, chart)

    # -- class sheets -----------------------------------------------------------------

    def _entry_sheet(self, kind: str, items: Sequence[Item]) -> None:
        name = SHEETS[kind]
        if kind == "missing":
            columns = ["sheet", "row", *COLUMNS]
            rows = [[i.sheet, i.row, *(i.source.get(c, "") for c in COLUMNS)] for i in items]
            formats = [[None] * len(columns)] * len(rows)
            header = None
        elif kind == "extra":
            columns = ["id", "status", *COLUMNS]
            rows = [
                [i.entry_id, i.connectwise.get("status", ""), *_cells(i.connectwise)] for i in items
            ]
            formats = [[None] * len(columns)] * len(rows)
            header = None
        elif kind == "matched":
            # Both sides agree: the source row once, with the entry's id, hours and status.
            columns = ["sheet", "row", "id", "matched by", *COLUMNS, "hours" + CW, "status" + CW]
            rows = [
                [
                    i.sheet,
                    i.row,
                    i.entry_id,
                    MATCHED_BY.get(i.match or "", i.match),
                    *_cells(i.source),
                    i.connectwise.get("hours", ""),
                    i.connectwise.get("status", ""),
                ]
                for i in items
            ]
            formats = [[None] * len(columns)] * len(rows)
            header = None
        else:
            columns = ["sheet", "row", "id", "matched by", "differences"]
            for column in COLUMNS:
                columns += [column, column + CW]
            columns.append("status" + CW)
            rows, formats = [], []
            for i in items:
                changed = {d.field for d in i.diffs}
                row = [
                    i.sheet,
                    i.row,
                    i.entry_id,
                    MATCHED_BY.get(i.match or "", i.match),
                    ", ".join(d.field for d in i.diffs),
                ]
                fmt: list[Any] = [None] * 5
                for column in COLUMNS:
                    row += [i.source.get(column, ""), i.connectwise.get(column, "")]
                    highlight = self.changed if column in changed else None
                    fmt += [highlight, highlight]
                row.append(i.connectwise.get("status", ""))
                fmt.append(None)
                rows.append(row)
                formats.append(fmt)

            def header(column: str) -> Any:
                return self.cw_head if column.endswith(CW) else self.head

        sheet = self._sheet(
            name, columns, len(rows), widths=self._widths(columns, rows), header=header
        )
        for number, (row, fmt) in enumerate(zip(rows, formats, strict=True), start=1):
            self._write(sheet, number, row, fmt)

    def _day_sheet(self, name: str, items: Sequence[Item]) -> None:
        columns = [
            "member",
            "date",
            "source hours",
            "ConnectWise hours",
            "delta (CW - source)",
            "source rows",
            "ConnectWise entries",
        ]
        widths = [
            max([14, *(len(i.member) + 2 for i in items[:500])]),
            12,
            *(len(c) + 2 for c in columns[2:]),
        ]
        sheet = self._sheet(name, columns, len(items), widths=widths)
        for number, i in enumerate(items, start=1):
            changed = self.changed_hours if i.kind == "different" else self.hours
            values = [
                i.member,
                i.date,
                i.source_hours,
                i.connectwise_hours,
                i.delta,
                i.rows,
                i.entries,
            ]
            self._write(
                sheet, number, values, [None, None, changed, changed, self.hours, None, None]
            )

    # -- checks, invalid rows, about --------------------------------------------------

    def _checks(self) -> None:
        shown = ("start", "end", "hours", "chargeToType", "chargeTo", "workType")
        shown += ("billableOption", "notes")
        columns = ["check", "id", "member", "date", *shown, "status", "detail"]
        rows = [
            [
                CHECKS[c.code],
                c.entry_id,
                c.member,
                c.date,
                *(c.connectwise.get(name, "") for name in shown),
                c.connectwise.get("status", ""),
                c.detail,
            ]
            for c in self.result.checks
        ]
        sheet = self._sheet("Checks", columns, len(rows), widths=self._widths(columns, rows))
        for number, row in enumerate(rows, start=1):
            self._write(sheet, number, row, [None] * len(columns))

    def _invalid(self) -> None:
        columns = ["sheet", "row", "column", "value", "code", "message"]
        rows = [
            [p.sheet, p.row, p.column or "", p.value or "", p.code, p.message]
            for p in self.result.invalid
        ]
        sheet = self._sheet("Invalid", columns, len(rows), widths=self._widths(columns, rows))
        for number, row in enumerate(rows, start=1):
            self._write(sheet, number, row, [None] * len(columns))

    def _about(self) -> None:
        result = self.result
        counts = result.counts()
        info: list[tuple[str, Any]] = [
            ("source", str(result.source)),
            ("ConnectWise site", result.site),
            ("from", result.date_from.isoformat()),
            ("to", result.date_to.isoformat()),
            ("time zone", result.tz),
            ("compared by", result.by),
            ("tolerance (hours)", result.tolerance),
            *(
                (f"{kind} ({'days' if result.by == 'day' else 'items'})", counts[kind])
                for kind in CLASSES
            ),
            ("invalid source rows", counts["invalid"]),
            ("source rows outside the period", result.outside),
            ("fix file", str(result.fix_path) if result.fix_path else ""),
            ("delta", "ConnectWise hours less source hours"),
            ("highlighted", "on Different: the cells of each field that differs"),
        ]
        info += [("note", note) for note in result.notes]
        sheet = self.book.add_worksheet("About")
        sheet.set_column(0, 0, 32)
        sheet.set_column(1, 1, 90)
        for number, (key, value) in enumerate(info):
            sheet.write_string(number, 0, key, self.bold)
            self._write(sheet, number, [value], [None], first=1)


def _cells(cells: Any) -> list[Any]:
    return [cells.get(c, "") for c in COLUMNS]
