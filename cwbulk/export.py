"""Time entries → the canonical sheet, streamed page by page to .xlsx, .csv or .json.

:func:`export_entries` is what ``cwbulk export`` calls: the filters become one ConnectWise
``conditions`` text, pages of 1,000 entries are fetched concurrently
(``CwClient.iter_items``) and each page goes straight to the file, so memory stays flat
however many entries match. :func:`entries_frame` turns a page into the canonical columns
of ``schemas/time_entry.yaml`` (names instead of ids, times in the sheet's zone) plus a
read-only ``ticketSummary``; :func:`write_template` writes the same workbook without rows,
for people to fill in.

The workbook has real number, date and time cells, dropdowns for member, workType,
workRole, billableOption and chargeToType (server lists live on a hidden ``Lists`` sheet,
since Excel's inline lists stop at 255 characters), and a second sheet that records how it
was made. Text cells that a spreadsheet would run as a formula get a leading ``'`` in
.xlsx and .csv alike (:func:`guard_formula`); validation strips it again on import.
"""

from __future__ import annotations

import contextlib
import csv
import json
import math
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from pathlib import Path
from typing import Any, Protocol

import pandas as pd

from cwbulk import __version__
from cwbulk.client import PAGE_SIZE, CwClient
from cwbulk.conditions import MAX_CONDITIONS_LENGTH, and_, cond, encoded_length
from cwbulk.errors import UsageError
from cwbulk.fields import Column, load_reference
from cwbulk.io import guard_formula, replacing
from cwbulk.resolve import Resolver

__all__ = [
    "ENTRY_FIELDS",
    "FORMATS",
    "ExportFilters",
    "ExportResult",
    "build_conditions",
    "day_window",
    "dropdown_lists",
    "entries_frame",
    "export_columns",
    "export_entries",
    "write_template",
]

ENTRIES_PATH = "time/entries"
FORMATS = (".xlsx", ".csv", ".json")
#: A read-only column after chargeTo (the ticket's summary); import ignores it.
TICKET_SUMMARY = "ticketSummary"
#: The API fields an .xlsx or .csv export reads (a .json export takes whole records).
ENTRY_FIELDS = (
    "id",
    "member/identifier",
    "timeStart",
    "timeEnd",
    "actualHours",
    "hoursDeduct",
    "chargeToType",
    "chargeToId",
    "company/identifier",
    "ticket/summary",
    "workType/name",
    "workRole/name",
    "billableOption",
    "notes",
    "internalNotes",
    "status",
    "_info/lastUpdated",
)
#: Columns with a dropdown; the first three take their values from the server.
SERVER_LISTS = ("member", "workType", "workRole")
DATA_SHEET = "Time entries"
TEMPLATE_SHEET = "Timesheet"
LISTS_SHEET = "Lists"
_TICKET_TYPES = ("ServiceTicket", "ProjectTicket")
_EXCEL_EPOCH = pd.Timestamp("1899-12-30")
_DAY_SECONDS = 86400
_LAST_EXCEL_ROW = 1_048_575  # 0-based


# ------------------------------------------------------------------------------ columns


def export_columns() -> tuple[Column, ...]:
    """The export's columns: the canonical ones, with ``ticketSummary`` after ``chargeTo``."""
    columns = list(load_reference().columns.values())
    at = [c.name for c in columns].index("chargeTo") + 1
    summary = Column(
        name=TICKET_SUMMARY,
        field="ticket",
        kind="text",
        required=False,
        description="Summary of the ticket the time is charged to; for reading only, "
        "import ignores it.",
        example="Printer offline in reception",
        enum=(),
    )
    return (*columns[:at], summary, *columns[at:])


# ------------------------------------------------------------------------------ filters


@dataclass(frozen=True)
class ExportFilters:
    """Which entries to export; every filter given narrows the set (they are and-ed).

    ``date_from``/``date_to`` are inclusive local dates in the export's time zone;
    ``members`` and ``companies`` are identifiers or names (looked up on the server);
    ``tickets`` are service or project ticket numbers; ``conditions`` is raw ConnectWise
    conditions text.
    """

    date_from: date | None = None
    date_to: date | None = None
    members: tuple[str, ...] = ()
    companies: tuple[str, ...] = ()
    tickets: tuple[int, ...] = ()
    statuses: tuple[str, ...] = ()
    billable: tuple[str, ...] = ()
    conditions: str | None = None

    def describe(self) -> list[tuple[str, str]]:
        """The filters that are set, as (name, value) pairs for people."""
        given = {
            "from": self.date_from.isoformat() if self.date_from else "",
            "to": self.date_to.isoformat() if self.date_to else "",
            "member": ", ".join(self.members),
            "company": ", ".join(self.companies),
            "ticket": ", ".join(map(str, self.tickets)),
            "status": ", ".join(self.statuses),
            "billable": ", ".join(self.billable),
            "conditions": (self.conditions or "").strip(),
        }
        return [(name, value) for name, value in given.items() if value]


def _midnight(day: date, tz: tzinfo) -> datetime:
    # fold=0 is the first midnight when clocks go back over it, and the moment the clocks
    # jump to when midnight itself is skipped: the start of the day either way.
    return datetime.combine(day, time(0), tzinfo=tz).astimezone(UTC)


def day_window(date_from: date | None, date_to: date | None, tz: tzinfo) -> str:
    """Conditions for entries that start on local dates ``date_from``..``date_to`` (inclusive).

    Either end may be open; the days are ``tz``'s, so a day across a DST change is 23 or 25
    hours long. Raises ``UsageError`` when ``date_from`` is after ``date_to``.
    """
    if date_from and date_to and date_from > date_to:
        raise UsageError(
            f"--from {date_from.isoformat()} is after --to {date_to.isoformat()}",
            hint="Swap them: --from is the first day, --to the last (both included).",
        )
    parts = []
    if date_from:
        parts.append(cond("timeStart", ">=", _midnight(date_from, tz)))
    if date_to:
        parts.append(cond("timeStart", "<", _midnight(date_to + timedelta(days=1), tz)))
    return and_(*parts)


async def lookup_ids(
    resolver: Resolver, kind: str, values: Sequence[str], option: str
) -> list[int]:
    """The ids of the ``kind`` records named by an option's ``values``; UsageError if unknown."""
    index = await resolver.index(kind)
    ids = []
    for value in values:
        match = index.find(value)
        if match.record is not None:
            ids.append(int(match.record["id"]))
            continue
        noun = index.kind.noun
        if match.code.startswith("ambiguous"):
            raise UsageError(
                f"{option} {value!r} matches more than one {noun}",
                hint=f"Use the identifier instead (see `cwbulk lookup {kind} --search {value}`).",
            )
        close = index.suggest(value)
        quoted = [repr(c) for c in close]
        listed = " or ".join(filter(None, (", ".join(quoted[:-1]), quoted[-1] if quoted else "")))
        fix = f"Did you mean {listed}? " if close else ""
        raise UsageError(
            f"{option} {value!r}: there is no such {noun} in ConnectWise",
            hint=f"{fix}See `cwbulk lookup {kind}`.",
        )
    return ids


async def build_conditions(resolver: Resolver, filters: ExportFilters, tz: tzinfo) -> str | None:
    """The ConnectWise conditions text for ``filters`` (None when nothing is filtered).

    Members and companies are looked up by identifier, e-mail or name and sent as ids;
    every value is quoted by ``conditions.cond``, and the raw ``conditions`` are and-ed
    in brackets. Raises ``UsageError`` for an unknown name or a condition too long to send.
    """
    parts = [day_window(filters.date_from, filters.date_to, tz)]
    if filters.members:
        ids = await lookup_ids(resolver, "members", filters.members, "--member")
        parts.append(cond("member/id", "in", ids))
    if filters.companies:
        ids = await lookup_ids(resolver, "companies", filters.companies, "--company")
        parts.append(cond("company/id", "in", ids))
    if filters.tickets:
        parts.append(cond("chargeToType", "in", _TICKET_TYPES))
        parts.append(cond("chargeToId", "in", filters.tickets))
    if filters.statuses:
        parts.append(cond("status", "in", filters.statuses))
    if filters.billable:
        parts.append(cond("billableOption", "in", filters.billable))
    raw = (filters.conditions or "").strip()
    if raw:
        parts.append(f"({raw})")
    text = and_(*parts)
    if encoded_length(text) > MAX_CONDITIONS_LENGTH:
        raise UsageError(
            f"the filters make a condition of {encoded_length(text)} characters, "
            f"more than the {MAX_CONDITIONS_LENGTH} a ConnectWise URL can hold",
            hint="Export in parts (fewer --member or --ticket values at a time).",
        )
    return text or None


# --------------------------------------------------------------------------- the frame


def _ref(entries: Sequence[Mapping[str, Any]], name: str, key: str) -> list[Any]:
    return [(e.get(name) or {}).get(key) for e in entries]


def _local(values: list[Any], tz: tzinfo) -> pd.Series:
    """ConnectWise UTC datetimes as naive wall-clock datetimes in ``tz`` (NaT when absent)."""
    moments = pd.to_datetime(pd.Series(values, dtype=object), utc=True, format="ISO8601")
    return moments.dt.tz_convert(tz).dt.tz_localize(None)


def _charge_to(entry: Mapping[str, Any], charge_codes: Mapping[int, str]) -> int | str | None:
    kind, charge_id = entry.get("chargeToType"), entry.get("chargeToId")
    if charge_id is None or kind in (None, "Company"):
        return None
    if kind == "ChargeCode":
        return charge_codes.get(int(charge_id), str(charge_id))
    return int(charge_id)


def entries_frame(
    entries: Sequence[Mapping[str, Any]],
    tz: tzinfo,
    *,
    charge_codes: Mapping[int, str] | None = None,
) -> pd.DataFrame:
    """Time entries as the export's columns (:func:`export_columns`), one row each.

    Names replace ids (member and company identifiers, work type and role names, ticket
    numbers, charge code names from ``charge_codes``); ``date``, ``start`` and ``end`` are
    naive wall-clock datetimes in ``tz`` (``date`` at midnight); ``hours`` and ``deduct``
    floats; text columns hold ``str`` or None. ``chargeTo`` is blank for company time.
    """
    codes = charge_codes or {}
    start = _local([e.get("timeStart") for e in entries], tz)
    data: dict[str, Any] = {
        "id": pd.array([e.get("id") for e in entries], dtype="Int64"),
        "member": _ref(entries, "member", "identifier"),
        "date": start.dt.normalize(),
        "start": start,
        "end": _local([e.get("timeEnd") for e in entries], tz),
        "hours": pd.array([e.get("actualHours") for e in entries], dtype="Float64"),
        "deduct": pd.array([e.get("hoursDeduct") for e in entries], dtype="Float64"),
        "chargeToType": [e.get("chargeToType") for e in entries],
        "chargeTo": [_charge_to(e, codes) for e in entries],
        TICKET_SUMMARY: _ref(entries, "ticket", "summary"),
        "company": _ref(entries, "company", "identifier"),
        "workType": _ref(entries, "workType", "name"),
        "workRole": _ref(entries, "workRole", "name"),
        "billableOption": [e.get("billableOption") for e in entries],
        "notes": [e.get("notes") for e in entries],
        "internalNotes": [e.get("internalNotes") for e in entries],
        "status": [e.get("status") for e in entries],
        "lastUpdated": _ref(entries, "_info", "lastUpdated"),
    }
    frame = pd.DataFrame(
        {
            name: value
            if isinstance(value, pd.Series | pd.api.extensions.ExtensionArray)
            # object dtype keeps None as None (pandas 3 would make str columns with NaN).
            else pd.Series(value, dtype=object)
            for name, value in data.items()
        }
    )
    frame.index = pd.RangeIndex(len(frame))
    return frame[[c.name for c in export_columns()]]


# ------------------------------------------------------------------- cell conversions


def _blank_to_none(values: list[Any]) -> list[Any]:
    return [None if v is None or v is pd.NA or v != v else v for v in values]


def _seconds_since_epoch(values: pd.Series) -> list[Any]:
    seconds = (values - _EXCEL_EPOCH) // pd.Timedelta(seconds=1)
    return _blank_to_none(seconds.astype("float64").tolist())


def _excel_dates(values: pd.Series) -> list[float | None]:
    return [None if s is None else s // _DAY_SECONDS for s in _seconds_since_epoch(values)]


def _excel_times(values: pd.Series) -> list[float | None]:
    return [
        None if s is None else (s % _DAY_SECONDS) / _DAY_SECONDS
        for s in _seconds_since_epoch(values)
    ]


def _text_times(values: pd.Series) -> list[str]:
    texts = values.dt.strftime("%H:%M:%S").tolist()
    return ["" if t is None or t != t else t[:5] if t.endswith(":00") else t for t in texts]


def _number_text(value: Any) -> str:
    if value is None or value is pd.NA or value != value:
        return ""
    if isinstance(value, int):
        return str(value)
    return f"{value:.6f}".rstrip("0").rstrip(".")


def _guarded(values: list[Any]) -> list[Any]:
    return [guard_formula(v) if isinstance(v, str) else v for v in values]


def _csv_cells(column: Column, values: pd.Series) -> list[str]:
    """One column as CSV text: ISO dates, HH:MM times, plain numbers, guarded text."""
    if column.kind == "date":
        return ["" if t is None or t != t else t for t in values.dt.strftime("%Y-%m-%d").tolist()]
    if column.kind == "time":
        return _text_times(values)
    if column.kind in ("integer", "hours"):
        return [_number_text(v) for v in values.tolist()]
    cells = _blank_to_none(values.tolist())
    if column.kind == "text":
        cells = _guarded(cells)
    return ["" if v is None else str(v) for v in cells]


# ----------------------------------------------------------------------------- writers


class _Sink(Protocol):
    """Where the pages go: ``write`` each page, ``close`` once at the end."""

    wants_frame: bool

    def write(self, entries: Sequence[Mapping[str, Any]], frame: pd.DataFrame | None) -> None:
        """Append one page."""

    def close(self, info: Sequence[Sequence[Any]]) -> None:
        """Finish the file; ``info`` rows describe it (a workbook's second sheet)."""

    def discard(self) -> None:
        """Let go of the file after a failure (it is deleted, not finished)."""


class _CsvSink:
    wants_frame = True

    def __init__(self, path: Path, columns: Sequence[Column], *, excel: bool) -> None:
        # utf-8-sig writes the BOM Excel needs to read UTF-8 instead of the ANSI code page.
        self.handle = path.open("w", encoding="utf-8-sig" if excel else "utf-8", newline="")
        self.writer = csv.writer(self.handle)
        self.columns = columns
        self.writer.writerow([c.name for c in columns])

    def write(self, entries: Sequence[Mapping[str, Any]], frame: pd.DataFrame | None) -> None:
        assert frame is not None
        cells = [_csv_cells(c, frame[c.name]) for c in self.columns]
        self.writer.writerows(zip(*cells, strict=True))

    def close(self, info: Sequence[Sequence[Any]]) -> None:
        self.handle.close()

    def discard(self) -> None:
        self.handle.close()


class _JsonSink:
    wants_frame = False

    def __init__(self, path: Path) -> None:
        self.handle = path.open("w", encoding="utf-8")
        self.first = True

    def write(self, entries: Sequence[Mapping[str, Any]], frame: pd.DataFrame | None) -> None:
        for entry in entries:
            self.handle.write("[\n" if self.first else ",\n")
            self.handle.write(json.dumps(entry, ensure_ascii=False))
            self.first = False

    def close(self, info: Sequence[Sequence[Any]]) -> None:
        self.handle.write("[]\n" if self.first else "\n]\n")
        self.handle.close()

    def discard(self) -> None:
        self.handle.close()


class _Workbook:
    """A streamed (xlsxwriter ``constant_memory``) workbook of the canonical sheet.

    Sheets, in tab order: the data sheet, an information sheet (filled at ``close``), and
    the hidden ``Lists`` sheet behind the long dropdowns.
    """

    wants_frame = True

    def __init__(
        self,
        path: Path,
        columns: Sequence[Column],
        *,
        sheet: str,
        info_sheet: str,
        lists: Mapping[str, Sequence[str]],
    ) -> None:
        import xlsxwriter

        self.book = xlsxwriter.Workbook(
            str(path),
            {
                "constant_memory": True,
                # Cell text stays text: a note starting with "=" must never become a formula.
                "strings_to_formulas": False,
                "strings_to_urls": False,
                "strings_to_numbers": False,
            },
        )
        self.columns = columns
        self.sheet = self.book.add_worksheet(sheet)
        self.info = self.book.add_worksheet(info_sheet)
        self.rows = 0
        self.widths = [max(len(c.name) + 3, 8) for c in columns]
        self._sized = False
        add = self.book.add_format
        self.formats = {
            "integer": add({"num_format": "0"}),
            "hours": add({"num_format": "0.00"}),
            "date": add({"num_format": "yyyy-mm-dd"}),
            "time": add({"num_format": "hh:mm"}),
        }
        self.bold = add({"bold": True})
        header = add({"bold": True, "bg_color": "#DDEBF7", "bottom": 1})
        for position, column in enumerate(columns):
            self.sheet.write_string(0, position, column.name, header)
            self.sheet.write_comment(0, position, column.description, {"x_scale": 2})
        self.sheet.freeze_panes(1, 0)
        self._dropdowns(lists)

    def _dropdowns(self, lists: Mapping[str, Sequence[str]]) -> None:
        positions = {c.name: n for n, c in enumerate(self.columns)}
        kept = {name: list(lists.get(name) or ()) for name in SERVER_LISTS}
        kept = {name: values for name, values in kept.items() if values}
        if kept:
            hidden = self.book.add_worksheet(LISTS_SHEET)
            hidden.hide()
            columns = [[name, *values] for name, values in kept.items()]
            # constant_memory writes row by row: a row once left can't be written again.
            for row in range(max(map(len, columns))):
                for column_number, cells in enumerate(columns):
                    if row < len(cells):
                        hidden.write_string(row, column_number, cells[row])
            for column_number, (name, values) in enumerate(kept.items()):
                letter = _column_letter(column_number)
                self._validate(
                    positions[name],
                    {
                        "validate": "list",
                        "source": f"={LISTS_SHEET}!${letter}$2:${letter}${len(values) + 1}",
                        "error_type": "warning",
                        "error_title": f"Not a known {name}",
                        "error_message": f"This {name} is not in ConnectWise's list; "
                        "import will check it and suggest the closest.",
                    },
                )
        for column in self.columns:
            if column.kind == "enum" and column.name in ("billableOption", "chargeToType"):
                self._validate(
                    positions[column.name],
                    {
                        "validate": "list",
                        "source": list(column.enum),
                        "error_type": "stop",
                        "error_title": f"Not a {column.name}",
                        "error_message": f"Use one of {', '.join(column.enum)}"[:255],
                    },
                )

    def _validate(self, position: int, options: dict[str, Any]) -> None:
        options.setdefault("ignore_blank", True)
        self.sheet.data_validation(1, position, _LAST_EXCEL_ROW, position, options)

    def write(self, entries: Sequence[Mapping[str, Any]], frame: pd.DataFrame | None) -> None:
        assert frame is not None
        if not self._sized:
            self._size(frame)
        sheet = self.sheet
        plans = []
        for position, column in enumerate(self.columns):
            values = frame[column.name]
            cell_format = self.formats.get(column.kind)
            if column.kind == "date":
                plans.append((position, _excel_dates(values), sheet.write_number, cell_format))
            elif column.kind == "time":
                plans.append((position, _excel_times(values), sheet.write_number, cell_format))
            elif column.kind in ("integer", "hours"):
                numbers = _blank_to_none(values.tolist())
                plans.append((position, numbers, sheet.write_number, cell_format))
            else:
                cells = _blank_to_none(values.tolist())
                if column.kind == "text":
                    cells = _guarded(cells)
                plans.append((position, cells, None, None))
        write_string, write_number = sheet.write_string, sheet.write_number
        first = self.rows + 1
        for offset in range(len(frame)):
            row = first + offset
            for position, cells, method, cell_format in plans:
                value = cells[offset]
                if value is None:
                    continue
                if method is not None:
                    method(row, position, value, cell_format)
                elif isinstance(value, str):
                    write_string(row, position, value)
                else:  # a ticket or activity number in chargeTo
                    write_number(row, position, value)
        self.rows += len(frame)

    def _size(self, frame: pd.DataFrame) -> None:
        """Column widths from the header and the first page (later pages can't change them)."""
        fixed = {"date": 11, "time": 7, "hours": 7, "integer": 9}
        for position, column in enumerate(self.columns):
            if column.kind in fixed:
                width = fixed[column.kind]
            else:
                texts = [str(v) for v in frame[column.name].head(200).tolist() if v is not None]
                longest = max((len(t.split("\n", 1)[0]) for t in texts), default=0)
                width = min(longest + 2, 50)
            self.widths[position] = max(self.widths[position], width)
        self._sized = True

    def close(self, info: Sequence[Sequence[Any]]) -> None:
        for position, width in enumerate(self.widths):
            self.sheet.set_column(position, position, width)
        if self.columns:
            self.sheet.autofilter(0, 0, max(self.rows, 1), len(self.columns) - 1)
        widths = [0, 0]
        for row, cells in enumerate(info):
            for position, value in enumerate(cells):
                if isinstance(value, int | float):
                    self.info.write_number(row, position, value)
                elif value:
                    text = guard_formula(str(value))
                    self.info.write_string(row, position, text, self.bold if row == 0 else None)
                while len(widths) <= position:
                    widths.append(0)
                widths[position] = max(widths[position], min(len(str(value)) + 2, 80))
        for position, width in enumerate(widths):
            self.info.set_column(position, position, max(width, 10))
        self.book.close()

    def discard(self) -> None:
        # Closing is what removes xlsxwriter's temporary row files.
        with contextlib.suppress(Exception):
            self.book.close()


def _column_letter(position: int) -> str:
    letters = ""
    position += 1
    while position:
        position, rest = divmod(position - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def _check_format(path: Path, allowed: Sequence[str], example: str) -> str:
    suffix = path.suffix.lower()
    if suffix not in allowed:
        raise UsageError(
            f"can't write {path.name}: the file name must end in {' or '.join(allowed)}",
            hint=f"Give a name such as {example}{allowed[0]}.",
        )
    return suffix


# ------------------------------------------------------------------------------ export


@dataclass(frozen=True)
class ExportResult:
    """What an export wrote."""

    rows: int
    path: Path
    format: str
    conditions: str | None = None
    info: tuple[tuple[str, str], ...] = field(default=(), repr=False)

    def to_dict(self) -> dict[str, Any]:
        """``{"rows", "path"}``: what ``cwbulk export --json`` prints."""
        return {"rows": self.rows, "path": str(self.path)}


async def dropdown_lists(resolver: Resolver) -> dict[str, list[str]]:
    """The values behind the server dropdowns: active member identifiers, work type and
    work role names, each sorted ignoring case."""
    members, work_types, work_roles = [
        await resolver.index(kind) for kind in ("members", "work-types", "work-roles")
    ]

    def active(records: list[dict[str, Any]], key: str) -> list[str]:
        names = {str(r[key]) for r in records if r.get(key) and not r.get("inactiveFlag")}
        return sorted(names, key=lambda n: (n.casefold(), n))

    return {
        "member": active(members.records, "identifier"),
        "workType": active(work_types.records, "name"),
        "workRole": active(work_roles.records, "name"),
    }


async def _pages(
    client: CwClient, conditions: str | None, fields: Sequence[str] | None
) -> AsyncIterator[list[dict[str, Any]]]:
    """The matching entries in batches of one page (``iter_items`` yields them one by one)."""
    batch: list[dict[str, Any]] = []
    async for entry in client.iter_items(ENTRIES_PATH, conditions=conditions, fields=fields):
        batch.append(entry)
        if len(batch) == PAGE_SIZE:
            yield batch
            batch = []
    if batch:
        yield batch


async def export_entries(
    client: CwClient,
    path: str | Path,
    *,
    tz: tzinfo,
    filters: ExportFilters | None = None,
    excel: bool = False,
    on_progress: Callable[[int, int], None] | None = None,
    now: datetime | None = None,
) -> ExportResult:
    """Export the entries ``filters`` select to ``path`` (.xlsx, .csv or .json by extension).

    Times are written in ``tz``; ``excel`` puts a BOM at the start of a CSV so Excel reads
    it as UTF-8. ``on_progress(pages_done, pages_total)`` is called after each page. The
    file appears only when complete (it is written beside ``path`` and renamed). Raises
    ``UsageError`` for a bad file name or filter, and the client's errors.
    """
    path = Path(path)
    suffix = _check_format(path, FORMATS, "entries")
    filters = filters or ExportFilters()
    resolver = Resolver(client)
    conditions = await build_conditions(resolver, filters, tz)
    total = await client.count(ENTRIES_PATH, conditions=conditions)
    pages_total = math.ceil(total / PAGE_SIZE)
    lists = await dropdown_lists(resolver) if suffix == ".xlsx" else {}
    columns = export_columns()
    charge_codes: dict[int, str] | None = None
    rows = pages = 0
    with replacing(path) as temporary:
        sink: _Sink
        if suffix == ".xlsx":
            sink = _Workbook(temporary, columns, sheet=DATA_SHEET, info_sheet="Export", lists=lists)
        elif suffix == ".csv":
            sink = _CsvSink(temporary, columns, excel=excel)
        else:
            sink = _JsonSink(temporary)
        fields = None if suffix == ".json" else ENTRY_FIELDS
        try:
            async for page in _pages(client, conditions, fields):
                frame = None
                if sink.wants_frame:
                    if charge_codes is None and any(
                        e.get("chargeToType") == "ChargeCode" for e in page
                    ):
                        index = await resolver.index("charge-codes")
                        charge_codes = {int(r["id"]): str(r["name"]) for r in index.records}
                    frame = entries_frame(page, tz, charge_codes=charge_codes)
                sink.write(page, frame)
                rows += len(page)
                pages += 1
                if on_progress is not None:
                    on_progress(pages, max(pages_total, pages))
        except BaseException:
            sink.discard()
            raise
        moment = (now or datetime.now(UTC)).astimezone(UTC)
        info = _export_info(client, filters, conditions, tz, rows, moment)
        sink.close(info)
    return ExportResult(
        rows=rows, path=path, format=suffix.lstrip("."), conditions=conditions, info=tuple(info)
    )


def _zone_name(tz: tzinfo) -> str:
    return str(getattr(tz, "key", None) or tz)


def _export_info(
    client: CwClient,
    filters: ExportFilters,
    conditions: str | None,
    tz: tzinfo,
    rows: int,
    moment: datetime,
) -> list[tuple[str, str]]:
    info = [
        ("cwbulk export", f"cwbulk {__version__}"),
        ("site", client.site.origin),
        ("company", client.company),
        ("exported at", moment.strftime("%Y-%m-%dT%H:%M:%SZ")),
        ("time zone", _zone_name(tz)),
        ("rows", str(rows)),
    ]
    info += [(f"filter: {name}", value) for name, value in filters.describe()]
    info.append(("conditions sent", conditions or "(none: every entry)"))
    info.append(
        (
            "to import changes",
            f"edit the {DATA_SHEET!r} sheet, then: cwbulk import FILE --tz {_zone_name(tz)} "
            "--dry-run",
        )
    )
    return info


# ---------------------------------------------------------------------------- template


def write_template(path: str | Path, *, lists: Mapping[str, Sequence[str]]) -> Path:
    """Write an empty canonical workbook with dropdowns and an instructions sheet.

    ``lists`` holds the server dropdowns (``member``, ``workType``, ``workRole``; see
    :func:`dropdown_lists`); missing ones are left without a dropdown. The instructions
    list what every column takes (from ``schemas/time_entry.yaml``) and an example row.
    """
    path = Path(path)
    _check_format(path, (".xlsx",), "timesheet")
    columns = tuple(load_reference().columns.values())
    instructions: list[tuple[str, ...]] = [
        ("How to fill in the Timesheet sheet",),
        (
            "One row per time entry. Leave id, status and lastUpdated blank for new "
            "entries; check the file with `cwbulk validate FILE`, then load it with "
            "`cwbulk import FILE --dry-run`.",
        ),
        (),
        ("column", "required", "what it takes", "example"),
    ]
    for column in columns:
        required = "yes" if column.required else ""
        instructions.append((column.name, required, column.description, column.example))
    instructions += [(), ("Example row",), tuple(c.name for c in columns)]
    instructions.append(tuple(c.example for c in columns))
    with replacing(path) as temporary:
        book = _Workbook(
            temporary, columns, sheet=TEMPLATE_SHEET, info_sheet="Instructions", lists=lists
        )
        book.close(instructions)
    return path
