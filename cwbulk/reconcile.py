"""``cwbulk reconcile`` as a library call: a period's source rows against ConnectWise.

:func:`reconcile_file` reads and validates the source as ``import`` does, resolves its
names, and fetches the ConnectWise entries of the source's members that start on the
period's local days (pages of 1,000; members in ``member/id in (...)`` chunks and-ed with
the ``timeStart`` window, never one request per row). Every row and entry ends in one class:

- ``matched``: a row and an entry that agree (hours and times within the tolerance);
- ``different``: a row and its entry that disagree, with each differing field;
- ``missing``: a row with no entry in ConnectWise;
- ``extra``: an entry in ConnectWise with no row in the source.

Rows find their entries the way ``import`` does (:func:`cwbulk.plan.make_plan`: by id, then
``mobileGuid``, then natural key); then what is left pairs up by member + date + charge-to
with hours within the tolerance. ``by="day"`` compares the hours of each member and day
instead. Dates are local dates in the sheet's time zone, so an entry just past midnight
belongs to the next day.

ConnectWise-side checks cover every fetched entry: still Open or rejected, billable and
approved but not billed, blank notes, overlapping entries of one member, time on closed
tickets. They are reported, but only the four classes decide the exit code.
"""

from __future__ import annotations

import asyncio
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, tzinfo
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo

import pandas as pd

from cwbulk.client import CwClient
from cwbulk.conditions import in_chunks
from cwbulk.connect import Connection
from cwbulk.errors import InputError, UsageError
from cwbulk.export import day_window, entries_frame
from cwbulk.fields import canonical_columns
from cwbulk.importer import ENTRY_FIELDS, desired_rows, with_profile_zone
from cwbulk.io import write_table
from cwbulk.plan import (
    DesiredRow,
    FieldChange,
    diff_entry,
    local_date_time,
    make_plan,
    parse_instant,
)
from cwbulk.problems import RowProblem
from cwbulk.resolve import STATUS_CODES, TICKET_TYPES, Resolver
from cwbulk.validate import ReadOptions, ValidationResult, validate_file

__all__ = [
    "BY",
    "CHECKS",
    "CLASSES",
    "COLUMNS",
    "DEFAULT_TOLERANCE",
    "Check",
    "FieldDiff",
    "Item",
    "MemberSummary",
    "ReconcileOptions",
    "ReconcileResult",
    "fix_frame",
    "reconcile",
    "reconcile_file",
    "write_fix",
]

Kind = Literal["matched", "different", "missing", "extra"]
By = Literal["entry", "day"]
CLASSES: tuple[Kind, ...] = ("matched", "different", "missing", "extra")
BY: tuple[By, ...] = ("entry", "day")
DEFAULT_TOLERANCE = 0.05
ENTRIES_PATH = "time/entries"

#: The cells shown for each side of a pair, in the canonical sheet's names and order.
COLUMNS = (
    "member",
    "date",
    "start",
    "end",
    "hours",
    "deduct",
    "chargeToType",
    "chargeTo",
    "company",
    "workType",
    "workRole",
    "billableOption",
    "notes",
    "internalNotes",
)

#: ConnectWise-side checks: code → what it means, for people.
CHECKS: dict[str, str] = {
    "open_or_rejected": "still Open or rejected",
    "approved_not_billed": "billable, approved but not billed",
    "blank_notes": "blank notes",
    "overlap": "overlaps another entry of the member",
    "closed_ticket": "on a closed ticket",
}
OPEN_OR_REJECTED = frozenset({"Open", "Rejected", "RejectBySecondTier"})
APPROVED_UNBILLED = frozenset({"ApprovedByTierOne", "ApprovedByTierTwo", "ReadyToBill"})

# diff_entry's field names → the column they show in (chargeToType and chargeToId are one).
_FIELD_COLUMN = {
    "member": "member",
    "company": "company",
    "chargeToType": "chargeTo",
    "chargeToId": "chargeTo",
    "timeStart": "start",
    "timeEnd": "end",
    "actualHours": "hours",
    "hoursDeduct": "deduct",
    "workType": "workType",
    "workRole": "workRole",
    "billableOption": "billableOption",
    "notes": "notes",
    "internalNotes": "internalNotes",
}
#: How a pair was found, for people.
MATCHED_BY = {
    "id": "id",
    "content": "same content",
    "mobileGuid": "mobileGuid",
    "key": "natural key",
    "hours": "member, date, charge-to and hours",
    "day": "member and day",
}
_EPSILON = 1e-9

#: ``progress(stage, done, total)``; ``total`` is None when it is not known in advance.
Progress = Callable[[str, int, int | None], None]


# ---------------------------------------------------------------------------- results


@dataclass(frozen=True)
class FieldDiff:
    """One field a row and its entry disagree on (``field`` is a column of ``COLUMNS``)."""

    field: str
    source: str
    connectwise: str

    def to_dict(self) -> dict[str, str]:
        """The difference as a plain dict."""
        return {"field": self.field, "source": self.source, "connectwise": self.connectwise}


@dataclass(frozen=True)
class Item:
    """One pair or leftover: a source row and/or a ConnectWise entry (or, by day, a day).

    ``source`` and ``connectwise`` hold the cells of ``COLUMNS`` for each side (the entry's
    also ``id`` and ``status``); by day they are empty and ``rows``/``entries`` count what
    the day holds.
    """

    kind: Kind
    member: str
    date: str
    source_hours: float | None = None
    connectwise_hours: float | None = None
    sheet: str | None = None
    row: int | None = None
    entry_id: int | None = None
    match: str | None = None
    diffs: tuple[FieldDiff, ...] = ()
    source: Mapping[str, Any] = field(default_factory=dict)
    connectwise: Mapping[str, Any] = field(default_factory=dict)
    rows: int = 0
    entries: int = 0

    @property
    def delta(self) -> float:
        """ConnectWise hours less source hours."""
        return round((self.connectwise_hours or 0.0) - (self.source_hours or 0.0), 4)

    def to_dict(self) -> dict[str, Any]:
        """The item as a plain, JSON-ready dict."""
        return {
            "class": self.kind,
            "member": self.member,
            "date": self.date,
            "sourceHours": self.source_hours,
            "connectwiseHours": self.connectwise_hours,
            "sheet": self.sheet,
            "row": self.row,
            "connectwiseId": self.entry_id,
            "matchedBy": self.match,
            "differences": [d.to_dict() for d in self.diffs],
        }


@dataclass(frozen=True)
class Check:
    """One ConnectWise entry that a check flags (``code`` is a key of ``CHECKS``)."""

    code: str
    entry_id: int
    member: str
    date: str
    detail: str
    connectwise: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The finding as a plain dict."""
        return {
            "check": self.code,
            "connectwiseId": self.entry_id,
            "member": self.member,
            "date": self.date,
            "detail": self.detail,
        }


@dataclass(frozen=True)
class MemberSummary:
    """One member's totals: hours on each side, ConnectWise billing and statuses, classes."""

    member: str
    source_hours: float
    connectwise_hours: float
    billable_hours: float
    non_billable_hours: float
    statuses: Mapping[str, int]
    classes: Mapping[str, int]

    @property
    def delta(self) -> float:
        """ConnectWise hours less source hours."""
        return round(self.connectwise_hours - self.source_hours, 4)

    def to_dict(self) -> dict[str, Any]:
        """The member's line as a plain dict."""
        return {
            "member": self.member,
            "sourceHours": round(self.source_hours, 2),
            "connectwiseHours": round(self.connectwise_hours, 2),
            "delta": round(self.delta, 2),
            "billableHours": round(self.billable_hours, 2),
            "nonBillableHours": round(self.non_billable_hours, 2),
            "statuses": dict(self.statuses),
            "classes": dict(self.classes),
        }


@dataclass(frozen=True, repr=False)
class ReconcileResult:
    """What a reconciliation found. ``missing_rows`` are the source rows to import (in
    ``COLUMNS``), ``invalid`` the errors of source rows that could not be compared."""

    source: Path
    site: str
    tz: str
    date_from: date
    date_to: date
    by: By
    tolerance: float
    items: tuple[Item, ...]
    checks: tuple[Check, ...]
    members: tuple[MemberSummary, ...]
    missing_rows: tuple[Mapping[str, Any], ...] = ()
    invalid: tuple[RowProblem, ...] = ()
    outside: int = 0
    notes: tuple[str, ...] = ()
    path: Path | None = None
    fix_path: Path | None = None

    def __repr__(self) -> str:
        # Short on purpose: asyncio formats the result of the main task (Python 3.11), and
        # a repr of every item of a 50,000-row comparison costs seconds.
        return f"ReconcileResult(source={str(self.source)!r}, counts={self.counts()})"

    def counts(self) -> dict[str, int]:
        """Items per class (every class present), plus ``invalid`` source rows."""
        counts = dict.fromkeys(CLASSES, 0)
        for item in self.items:
            counts[item.kind] += 1
        counts["invalid"] = len({(p.sheet, p.row) for p in self.invalid})
        return counts

    def check_counts(self) -> dict[str, int]:
        """Flagged entries per check (every check present)."""
        counts = dict.fromkeys(CHECKS, 0)
        for check in self.checks:
            counts[check.code] += 1
        return counts

    def totals(self) -> dict[str, float]:
        """Source and ConnectWise hours over every member, and their difference."""
        source = sum(m.source_hours for m in self.members)
        connectwise = sum(m.connectwise_hours for m in self.members)
        return {
            "sourceHours": round(source, 2),
            "connectwiseHours": round(connectwise, 2),
            "delta": round(connectwise - source, 2),
        }

    @property
    def exit_code(self) -> int:
        """0 when everything matched within the tolerance; 1 otherwise."""
        counts = self.counts()
        return 0 if counts["matched"] == sum(counts.values()) else 1

    def to_dict(self, *, item_limit: int | None = 1000) -> dict[str, Any]:
        """The ``--json`` object: counts, totals, members, checks, paths and the differences
        (every item but the matched ones, at most ``item_limit``)."""
        unmatched = [i for i in self.items if i.kind != "matched"]
        listed = unmatched if item_limit is None else unmatched[:item_limit]
        return {
            "source": str(self.source),
            "site": self.site,
            "timeZone": self.tz,
            "from": self.date_from.isoformat(),
            "to": self.date_to.isoformat(),
            "by": self.by,
            "tolerance": self.tolerance,
            "counts": self.counts(),
            "totals": self.totals(),
            "members": [m.to_dict() for m in self.members],
            "checks": self.check_counts(),
            "items": [i.to_dict() for i in listed],
            "itemsTruncated": len(listed) < len(unmatched),
            "invalid": [p.to_dict() for p in self.invalid[: item_limit or None]],
            "outsidePeriod": self.outside,
            "path": str(self.path) if self.path else None,
            "fix": str(self.fix_path) if self.fix_path else None,
            "fixRows": len(self.missing_rows) if self.fix_path else None,
            "notes": list(self.notes),
        }


@dataclass(frozen=True)
class ReconcileOptions:
    """Everything ``cwbulk reconcile`` can be told, besides the file and the connection."""

    date_from: date
    date_to: date
    read: ReadOptions = field(default_factory=ReadOptions)
    tolerance: float = DEFAULT_TOLERANCE
    by: By = "entry"

    def check(self) -> None:
        """``UsageError`` for option values that make no sense."""
        if self.date_from > self.date_to:
            raise UsageError(
                f"--from {self.date_from.isoformat()} is after --to {self.date_to.isoformat()}",
                hint="Swap them: --from is the first day, --to the last (both included).",
            )
        if self.tolerance < 0:
            raise UsageError(f"--tolerance {self.tolerance:g}: give 0 or more hours.")
        if self.by not in BY:
            raise UsageError(f"--by {self.by!r}: use entry or day.")


# ------------------------------------------------------------------------- the pipeline


def reconcile_file(
    path: str | Path,
    options: ReconcileOptions,
    *,
    connection: Connection,
    progress: Progress | None = None,
) -> ReconcileResult:
    """Reconcile one timesheet file against ConnectWise for ``options``' period.

    Raises ``CwbulkError`` subclasses for files, options and connections; rows that can't
    be read or resolved end up in ``result.invalid``, not as errors. Writes nothing: see
    :func:`write_fix` and ``cwbulk.reconcile_report.write_report``.
    """
    options.check()
    path = Path(path)
    read = with_profile_zone(options.read, connection)

    def reading(done: int, total: int) -> None:
        if progress is not None:
            progress("Reading", done, total)

    validation = validate_file(path, read, progress=reading)
    if not validation.sources or not any(len(s.frame) for s in validation.sources):
        raise InputError(f"{path.name} has no rows to reconcile.")

    async def run() -> ReconcileResult:
        async with connection.client() as client:
            return await reconcile(client, validation, options, source=path, progress=progress)

    return asyncio.run(run())


async def reconcile(
    client: CwClient,
    validation: ValidationResult,
    options: ReconcileOptions,
    *,
    source: Path,
    progress: Progress | None = None,
) -> ReconcileResult:
    """Reconcile validated rows (``validate_file``'s result) against ConnectWise."""
    tz = ZoneInfo(validation.tz)
    resolver = Resolver(client)
    frame = validation.rows
    problems = [p for p in validation.problems if p.severity == "error"]
    if len(frame):
        resolution = await resolver.resolve(frame)
        ids = resolution.ids
        # A closed ticket or an inactive member takes no new time, but its id is known and
        # its existing time can be compared all the same.
        resolved_problems = [p for p in resolution.problems if p.severity == "error"]
        status_problems = [p for p in resolved_problems if p.code in STATUS_CODES]
        resolved_problems = [p for p in resolved_problems if p.code not in STATUS_CODES]
    else:
        ids, resolved_problems, status_problems = pd.DataFrame(index=frame.index), [], []
    local_days = _local_days(frame, tz)
    in_period = (local_days >= options.date_from) & (local_days <= options.date_to)
    period_rows = set(zip(frame["sheet"][in_period], frame["row"][in_period], strict=True))
    problems += [p for p in resolved_problems if (p.sheet, p.row) in period_rows]
    invalid = {(p.sheet, p.row) for p in problems}
    outside = int((~in_period).sum())
    member_ids = sorted({int(m) for m in ids["memberId"].dropna()} if "memberId" in ids else ())

    desired = desired_rows(frame[in_period], ids, tz, skip=invalid)
    window = day_window(options.date_from, options.date_to, tz)
    entries = await fetch_entries(client, member_ids, window, progress=progress)
    names = await _names(resolver, entries)
    tickets = await _closed_tickets(resolver, entries)
    if progress is not None:
        progress("Comparing", 0, len(desired) + len(entries))

    cw_cells = _entry_cells(entries, tz, names["charge-codes"])
    records = frame.to_dict("records")
    by_row = {(str(r["sheet"]), int(r["row"])): r for r in records}
    src_cells = {
        (d.sheet, d.row): _row_cells(d, by_row[(d.sheet, d.row)], names["members"], tz)
        for d in desired
    }
    if options.by == "day":
        items, missing = _by_day(desired, entries, src_cells, cw_cells, options.tolerance)
    else:
        items, missing = _by_entry(desired, entries, src_cells, cw_cells, options, tz, validation)
    checks = _checks(entries, cw_cells, tickets)
    members = _summaries(desired, entries, items, names["members"], cw_cells)
    if progress is not None:
        progress("Comparing", len(desired) + len(entries), len(desired) + len(entries))
    notes = list(validation.notes)
    blocked = {(p.sheet, p.row): p for p in status_problems}
    stuck = [i for i in items if i.kind == "missing" and (i.sheet, i.row) in blocked]
    if stuck:
        first = blocked[(stuck[0].sheet, stuck[0].row)]
        notes.append(
            f"{len(stuck)} missing rows can't be imported as they are, e.g. {first.message}"
        )
    if outside:
        notes.append(
            f"{outside} rows of {source.name} are outside {options.date_from.isoformat()}"
            f"..{options.date_to.isoformat()} and were left out"
        )
    return ReconcileResult(
        source=source,
        site=client.site.origin,
        tz=validation.tz,
        date_from=options.date_from,
        date_to=options.date_to,
        by=options.by,
        tolerance=options.tolerance,
        items=tuple(items),
        checks=tuple(checks),
        members=tuple(members),
        missing_rows=tuple(missing),
        invalid=tuple(sorted(problems, key=lambda p: (p.sheet, p.row))),
        outside=outside,
        notes=tuple(notes),
    )


def _local_days(frame: pd.DataFrame, tz: tzinfo) -> pd.Series:
    """The local date of each row's ``timeStart`` (valid rows always have one)."""
    if not len(frame):
        return pd.Series([], dtype=object)
    moments = pd.to_datetime(frame["timeStart"], utc=True, format="ISO8601")
    return moments.dt.tz_convert(tz).dt.date


async def fetch_entries(
    client: CwClient,
    member_ids: Sequence[int],
    window: str,
    *,
    progress: Progress | None = None,
) -> list[dict[str, Any]]:
    """The entries of ``member_ids`` within ``window`` (conditions), in pages of 1,000."""
    found: dict[int, dict[str, Any]] = {}

    async def fetch(conditions: str) -> None:
        async for entry in client.iter_items(
            ENTRIES_PATH, conditions=conditions, fields=ENTRY_FIELDS
        ):
            found[int(entry["id"])] = entry
            if progress is not None and len(found) % 1000 == 0:
                progress("Fetching entries", len(found), None)

    await asyncio.gather(*(fetch(c) for c in in_chunks("member/id", member_ids, base=window)))
    if progress is not None:
        progress("Fetching entries", len(found), len(found))
    return [found[i] for i in sorted(found)]


async def _names(resolver: Resolver, entries: Sequence[Mapping[str, Any]]) -> dict[str, dict]:
    """Member identifiers and charge code names by id (reference lists read once per run)."""
    members = await resolver.index("members")
    names: dict[str, dict] = {
        "members": {int(r["id"]): str(r.get("identifier") or r["id"]) for r in members.records},
        "charge-codes": {},
    }
    if any(e.get("chargeToType") == "ChargeCode" for e in entries):
        codes = await resolver.index("charge-codes")
        names["charge-codes"] = {int(r["id"]): str(r.get("name")) for r in codes.records}
    return names


async def _closed_tickets(
    resolver: Resolver, entries: Sequence[Mapping[str, Any]]
) -> dict[tuple[str, int], str]:
    """(ticket type, id) → status name, for the closed tickets the entries are charged to."""
    wanted: dict[str, set[int]] = defaultdict(set)
    for entry in entries:
        if entry.get("chargeToType") in TICKET_TYPES and entry.get("chargeToId") is not None:
            wanted[str(entry["chargeToType"])].add(int(entry["chargeToId"]))
    found = await asyncio.gather(*(resolver.tickets(kind, ids) for kind, ids in wanted.items()))
    return {
        (kind, number): ticket.status or "closed"
        for kind, tickets in zip(wanted, found, strict=True)
        for number, ticket in tickets.items()
        if not ticket.allows_time
    }


# ------------------------------------------------------------------------------ cells


def _entry_cells(
    entries: Sequence[Mapping[str, Any]], tz: tzinfo, charge_codes: Mapping[int, str]
) -> dict[int, dict[str, Any]]:
    """Each entry's cells (``COLUMNS`` plus ``id``, ``status``, ``billable``) by its id."""
    if not entries:
        return {}
    frame = entries_frame(entries, tz, charge_codes=charge_codes)
    out = pd.DataFrame(index=frame.index)
    for name in COLUMNS:
        column = frame[name]
        if name == "date":
            out[name] = column.dt.strftime("%Y-%m-%d")
        elif name in ("start", "end"):
            out[name] = column.dt.strftime("%H:%M")
        elif name in ("hours", "deduct"):
            out[name] = column.astype("float64")
        else:
            out[name] = column.astype(object)
    out["status"] = frame["status"].astype(object)
    values = out.to_numpy(dtype=object)
    values[pd.isna(values)] = ""
    names = list(out.columns)
    return {
        int(e["id"]): {**dict(zip(names, cells, strict=True)), "id": int(e["id"])}
        for e, cells in zip(entries, values.tolist(), strict=True)
    }


def _row_cells(
    desired: DesiredRow, record: Mapping[str, Any], members: Mapping[int, str], tz: tzinfo
) -> dict[str, Any]:
    """A source row's cells in ``COLUMNS``: names resolved to identifiers where it helps
    a later import (member), local date and times, hours as numbers."""
    text = {k: "" if v is None else str(v) for k, v in record.items() if k in COLUMNS}
    start = local_date_time(desired.time_start, tz)[1] if desired.start_given else ""
    end = local_date_time(desired.time_end, tz)[1] if desired.time_end else ""
    return {
        **text,
        "member": members.get(desired.member_id, text.get("member", "")),
        "date": desired.date,
        "start": start,
        "end": end,
        "hours": round(desired.actual_hours, 4),
        "deduct": round(desired.hours_deduct, 4) if desired.hours_deduct is not None else "",
        "chargeToType": desired.charge_to_type,
    }


# ----------------------------------------------------------------------------- by entry


def _by_entry(
    desired: Sequence[DesiredRow],
    entries: Sequence[Mapping[str, Any]],
    src_cells: Mapping[tuple[str, int], Mapping[str, Any]],
    cw_cells: Mapping[int, Mapping[str, Any]],
    options: ReconcileOptions,
    tz: tzinfo,
    validation: ValidationResult,
) -> tuple[list[Item], list[Mapping[str, Any]]]:
    """Pairs and leftovers of rows and entries; and the missing rows' cells."""
    plan = make_plan(desired, entries, tz=tz, sheet_order=validation.sheets)
    rows = {(d.sheet, d.row): d for d in desired}
    by_id = {int(e["id"]): e for e in entries}
    # (row, entry, how it was found, diff_entry's changes: the plan has them already)
    pairs: list[tuple[DesiredRow, Mapping[str, Any], str, Sequence[FieldChange]]] = []
    left: list[DesiredRow] = []
    for plan_item in plan.items:
        row = rows[(plan_item.sheet, plan_item.row)]
        if plan_item.action in ("unchanged", "update", "conflict"):
            entry = by_id[int(plan_item.entry_id or 0)]
            pairs.append((row, entry, plan_item.match or "key", plan_item.changes))
        else:  # create, a repeated row, or an id that is not in the period: try by hours
            left.append(row)
    claimed = {int(entry["id"]) for _row, entry, _how, _changes in pairs}
    found, left = _pair_by_hours(left, entries, claimed, options.tolerance, tz)
    pairs += [(row, entry, "hours", tuple(diff_entry(row, entry, tz))) for row, entry in found]

    items: list[Item] = []
    for row, entry, how, changes in pairs:
        entry_id = int(entry["id"])
        cells = cw_cells[entry_id]
        ours = src_cells[(row.sheet, row.row)]
        diffs = _diffs(row, entry, changes, options.tolerance, ours, cells)
        items.append(
            Item(
                "different" if diffs else "matched",
                member=str(src_cells[(row.sheet, row.row)]["member"]),
                date=row.date,
                source_hours=row.actual_hours,
                connectwise_hours=float(entry.get("actualHours") or 0.0),
                sheet=row.sheet,
                row=row.row,
                entry_id=entry_id,
                match=how,
                diffs=diffs,
                source=src_cells[(row.sheet, row.row)],
                connectwise=cells,
            )
        )
    missing = []
    for row in left:
        cells = src_cells[(row.sheet, row.row)]
        missing.append(cells)
        items.append(
            Item(
                "missing",
                member=str(cells["member"]),
                date=row.date,
                source_hours=row.actual_hours,
                sheet=row.sheet,
                row=row.row,
                source=cells,
            )
        )
    for entry in entries:
        entry_id = int(entry["id"])
        if entry_id in claimed:
            continue
        cells = cw_cells[entry_id]
        items.append(
            Item(
                "extra",
                member=str(cells["member"]),
                date=str(cells["date"]),
                connectwise_hours=float(entry.get("actualHours") or 0.0),
                entry_id=entry_id,
                connectwise=cells,
            )
        )
    order = {name: n for n, name in enumerate(validation.sheets)}
    items.sort(key=lambda i: _item_order(i, order))
    missing.sort(key=lambda c: (c["member"], c["date"], c["start"]))
    return items, missing


def _item_order(item: Item, sheets: Mapping[str, int]) -> tuple:
    start = str((item.source or item.connectwise).get("start") or "")
    rank = CLASSES.index(item.kind)
    return (item.member, item.date, start, rank, sheets.get(item.sheet or "", 0), item.row or 0)


def _pair_by_hours(
    rows: Sequence[DesiredRow],
    entries: Sequence[Mapping[str, Any]],
    claimed: set[int],
    tolerance: float,
    tz: tzinfo,
) -> tuple[list[tuple[DesiredRow, Mapping[str, Any]]], list[DesiredRow]]:
    """Rows left over paired with unclaimed entries of the same member, local date and
    charge-to whose hours are within ``tolerance`` (the closest hours, then start, first).
    Adds the paired entries to ``claimed``; returns the pairs and the rows still left."""
    buckets: dict[tuple, list[Mapping[str, Any]]] = defaultdict(list)
    for entry in entries:
        if int(entry["id"]) not in claimed:
            day = local_date_time(str(entry.get("timeStart") or ""), tz)[0]
            buckets[(_ref_id(entry, "member"), day, *_entry_charge(entry))].append(entry)
    pairs, left = [], []
    for row in rows:
        bucket = buckets.get((row.member_id, row.date, *_row_charge(row)), [])
        start = parse_instant(row.time_start)
        best = min(
            (
                e
                for e in bucket
                if int(e["id"]) not in claimed
                and abs(float(e.get("actualHours") or 0.0) - row.actual_hours)
                <= tolerance + _EPSILON
            ),
            key=lambda e: (
                round(abs(float(e.get("actualHours") or 0.0) - row.actual_hours), 4),
                _seconds_apart(parse_instant(e.get("timeStart")), start),
                int(e["id"]),
            ),
            default=None,
        )
        if best is None:
            left.append(row)
        else:
            claimed.add(int(best["id"]))
            pairs.append((row, best))
    return pairs, left


def _seconds_apart(a: datetime | None, b: datetime | None) -> float:
    return abs((a - b).total_seconds()) if a is not None and b is not None else float("inf")


def _ref_id(entry: Mapping[str, Any], name: str) -> int | None:
    ref = entry.get(name)
    return int(ref["id"]) if isinstance(ref, Mapping) and ref.get("id") is not None else None


def _entry_charge(entry: Mapping[str, Any]) -> tuple[str, int | None]:
    kind = str(entry.get("chargeToType") or "Company")
    charge_id = entry.get("chargeToId")
    if charge_id is None and kind == "Company":
        return kind, _ref_id(entry, "company")
    return kind, None if charge_id is None else int(charge_id)


def _row_charge(row: DesiredRow) -> tuple[str, int | None]:
    if row.charge_to_id is None and row.charge_to_type == "Company":
        return row.charge_to_type, row.company_id
    return row.charge_to_type, row.charge_to_id


def _diffs(
    row: DesiredRow,
    entry: Mapping[str, Any],
    changes: Iterable[FieldChange],
    tolerance: float,
    ours: Mapping[str, Any],
    theirs: Mapping[str, Any],
) -> tuple[FieldDiff, ...]:
    """The columns the row gives that differ from the entry beyond the tolerance, each with
    its cell on either side (``changes`` are ``diff_entry``'s). The local date is always
    compared (a row gives it even when its start was stacked from the day start, which
    ``diff_entry`` leaves alone)."""
    columns = ["date"] if row.date != theirs.get("date") else []
    for change in changes:
        if not _within(change, row, entry, tolerance):
            columns.append(_FIELD_COLUMN.get(change.field, change.field))
    return tuple(
        FieldDiff(c, _cell_text(ours, c), _cell_text(theirs, c)) for c in dict.fromkeys(columns)
    )


def _cell_text(cells: Mapping[str, Any], column: str) -> str:
    if column == "chargeTo":
        return f"{cells.get('chargeToType') or ''} {cells.get('chargeTo') or ''}".strip()
    value = cells.get(column, "")
    return f"{value:g}" if isinstance(value, float) else str(value)


def _within(
    change: FieldChange, row: DesiredRow, entry: Mapping[str, Any], tolerance: float
) -> bool:
    """Whether a numeric or time difference is small enough to count as equal."""
    if change.field == "actualHours":
        gap = abs(float(entry.get("actualHours") or 0.0) - row.actual_hours)
    elif change.field == "hoursDeduct":
        gap = abs(float(entry.get("hoursDeduct") or 0.0) - (row.hours_deduct or 0.0))
    elif change.field in ("timeStart", "timeEnd"):
        ours = row.time_start if change.field == "timeStart" else row.time_end
        gap = _seconds_apart(parse_instant(ours), parse_instant(entry.get(change.field))) / 3600
    else:
        return False
    return gap <= tolerance + _EPSILON


# ------------------------------------------------------------------------------- by day


def _by_day(
    desired: Sequence[DesiredRow],
    entries: Sequence[Mapping[str, Any]],
    src_cells: Mapping[tuple[str, int], Mapping[str, Any]],
    cw_cells: Mapping[int, Mapping[str, Any]],
    tolerance: float,
) -> tuple[list[Item], list[Mapping[str, Any]]]:
    """One item per member and local day with hours on either side; the rows of days that
    ConnectWise has nothing for are the missing rows."""
    source: dict[tuple[str, str], list[DesiredRow]] = defaultdict(list)
    for row in desired:
        source[(str(src_cells[(row.sheet, row.row)]["member"]), row.date)].append(row)
    connectwise: dict[tuple[str, str], list[Mapping[str, Any]]] = defaultdict(list)
    for entry in entries:
        cells = cw_cells[int(entry["id"])]
        connectwise[(str(cells["member"]), str(cells["date"]))].append(entry)
    items, missing = [], []
    for member, day in sorted(source.keys() | connectwise.keys()):
        rows, found = source.get((member, day), []), connectwise.get((member, day), [])
        ours = sum(r.actual_hours for r in rows)
        theirs = sum(float(e.get("actualHours") or 0.0) for e in found)
        diffs: tuple[FieldDiff, ...] = ()
        if not found:
            kind: Kind = "missing"
            missing += [src_cells[(r.sheet, r.row)] for r in rows]
        elif not rows:
            kind = "extra"
        elif abs(ours - theirs) <= tolerance + _EPSILON:
            kind = "matched"
        else:
            kind = "different"
            diffs = (FieldDiff("hours", _hours_text(ours), _hours_text(theirs)),)
        items.append(
            Item(
                kind,
                member=member,
                date=day,
                source_hours=round(ours, 4) if rows else None,
                connectwise_hours=round(theirs, 4) if found else None,
                match="day" if rows and found else None,
                diffs=diffs,
                rows=len(rows),
                entries=len(found),
            )
        )
    return items, missing


def _hours_text(hours: float) -> str:
    return f"{round(hours, 2):g}"


# ------------------------------------------------------------------------------- checks


def _checks(
    entries: Sequence[Mapping[str, Any]],
    cw_cells: Mapping[int, Mapping[str, Any]],
    closed: Mapping[tuple[str, int], str],
) -> list[Check]:
    """Every entry a ConnectWise-side check flags, in check order, then member and time."""
    found: list[Check] = []

    def flag(code: str, entry: Mapping[str, Any], detail: str) -> None:
        cells = cw_cells[int(entry["id"])]
        found.append(
            Check(code, int(entry["id"]), str(cells["member"]), str(cells["date"]), detail, cells)
        )

    ordered = sorted(entries, key=lambda e: (_ref_id(e, "member") or 0, e.get("timeStart") or ""))
    for entry in ordered:
        status = str(entry.get("status") or "")
        if status in OPEN_OR_REJECTED:
            flag("open_or_rejected", entry, f"status {status}")
        if entry.get("billableOption") == "Billable" and status in APPROVED_UNBILLED:
            flag("approved_not_billed", entry, f"status {status}, billable, no invoice yet")
        if not str(entry.get("notes") or "").strip():
            flag("blank_notes", entry, "no notes")
        kind, number = str(entry.get("chargeToType") or ""), entry.get("chargeToId")
        if number is not None and (kind, int(number)) in closed:
            flag("closed_ticket", entry, f"{kind} {number} is {closed[(kind, int(number))]}")
    for later, earlier in _overlaps(ordered):
        start = cw_cells[int(earlier["id"])]
        flag(
            "overlap",
            later,
            f"overlaps entry {earlier['id']} ({start['date']} {start['start']}–{start['end']})",
        )
    rank = {code: n for n, code in enumerate(CHECKS)}
    found.sort(key=lambda c: rank[c.code])
    return found


def _overlaps(
    ordered: Sequence[Mapping[str, Any]],
) -> Iterable[tuple[Mapping[str, Any], Mapping[str, Any]]]:
    """(entry, the earlier entry of the same member it overlaps), for entries in member and
    start order: each entry is compared with the one that ends last before it."""
    member, latest, latest_end = None, None, None
    for entry in ordered:
        start, end = parse_instant(entry.get("timeStart")), parse_instant(entry.get("timeEnd"))
        if _ref_id(entry, "member") != member:
            member, latest, latest_end = _ref_id(entry, "member"), None, None
        if start is None or end is None:
            continue
        if latest is not None and latest_end is not None and start < latest_end:
            yield entry, latest
        if latest_end is None or end > latest_end:
            latest, latest_end = entry, end


# ----------------------------------------------------------------------------- summary


def _summaries(
    desired: Sequence[DesiredRow],
    entries: Sequence[Mapping[str, Any]],
    items: Sequence[Item],
    members: Mapping[int, str],
    cw_cells: Mapping[int, Mapping[str, Any]],
) -> list[MemberSummary]:
    """One line per member with hours on either side, sorted by member."""
    source: Counter[str] = Counter()
    for row in desired:
        source[members.get(row.member_id, str(row.member_id))] += row.actual_hours
    connectwise: Counter[str] = Counter()
    billable: Counter[str] = Counter()
    statuses: dict[str, Counter[str]] = defaultdict(Counter)
    for entry in entries:
        member = str(cw_cells[int(entry["id"])]["member"])
        hours = float(entry.get("actualHours") or 0.0)
        connectwise[member] += hours
        if entry.get("billableOption") == "Billable":
            billable[member] += hours
        statuses[member][str(entry.get("status") or "")] += 1
    classes: dict[str, Counter[str]] = defaultdict(Counter)
    for item in items:
        classes[item.member][item.kind] += 1
    return [
        MemberSummary(
            member=member,
            source_hours=round(source[member], 4),
            connectwise_hours=round(connectwise[member], 4),
            billable_hours=round(billable[member], 4),
            non_billable_hours=round(connectwise[member] - billable[member], 4),
            statuses=dict(sorted(statuses[member].items())),
            classes={kind: classes[member][kind] for kind in CLASSES},
        )
        for member in sorted(source.keys() | connectwise.keys())
    ]


# ---------------------------------------------------------------------------- fix file


def fix_frame(result: ReconcileResult) -> pd.DataFrame:
    """The missing rows in the canonical columns, ready for ``cwbulk import``."""
    columns = list(canonical_columns())
    rows = [{c: cells.get(c, "") for c in columns} for cells in result.missing_rows]
    return pd.DataFrame(rows, columns=columns, dtype=object)


def write_fix(result: ReconcileResult, path: str | Path) -> ReconcileResult:
    """Write the missing rows as an import file (.csv or .xlsx); the result with its path.

    Times are local times in the result's time zone: import the file with the same
    ``--tz``. Members are written as identifiers, so no member map is needed.
    """
    path = Path(path)
    write_table(fix_frame(result), path, sheet_name="Timesheet")
    note = (
        f"{len(result.missing_rows)} missing rows written to {path}; import them with: "
        f"cwbulk import {path} --tz {result.tz}"
    )
    return replace(result, fix_path=path, notes=(*result.notes, note))
