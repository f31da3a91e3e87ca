"""Validation: mapped sheets → the canonical frame of valid rows, and every row problem.

The checks, in the order a row meets them:

- text cells are trimmed, and the formula guard that exports put in front of ``=``, ``+``,
  ``-`` and ``@`` (a leading ``'``) is removed; enum cells are matched ignoring case and
  spaces (``service ticket`` → ``ServiceTicket``);
- the pandera schema built from ``schemas/time_entry.yaml`` (fields.py): required cells,
  enum values, whole-number ids;
- dates, times and hours parsed (parse.py) and local times turned into UTC through the time
  zone; a local time that doesn't exist or happens twice at a DST change is a row error;
- the entry's span: from start to end (an end earlier than the start is the next day, for
  an overnight entry of up to 12 hours), or from start plus hours, or, for hours-only rows,
  stacked one after another from the day start, per member and day, in file order;
  0 < hours ≤ 24, deduct less than the span, hours given with start and end agreeing with
  end − start − deduct to within a minute;
- what the time is charged to: tickets by number, charge codes and company time with a
  company;
- across rows: entries of one member that overlap (warning; stacked rows are not
  compared), rows that are exact copies of an earlier row (warning: ``duplicate_row``), and
  one ConnectWise id on two rows (error).

Every failure is collected with a stable reason code; nothing stops at the first.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from itertools import repeat
from operator import is_not
from pathlib import Path
from typing import TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

import numpy as np
import pandas as pd

from cwbulk.errors import InputError, UsageError
from cwbulk.fields import canonical_columns, check_canonical_frame, load_reference, suggest
from cwbulk.io import SheetData, read_table, unguard_formula
from cwbulk.mapping import (
    HELPER_COLUMNS,
    MappedSheet,
    Profile,
    apply_profile,
    detect_profile,
    load_member_map,
    load_profile,
)
from cwbulk.parse import (
    ParseError,
    format_cw_datetime,
    local_to_utc,
    parse_cw_datetime,
    parse_date,
    parse_hours,
    parse_time,
)
from cwbulk.problems import RowProblem

__all__ = [
    "AMBIGUOUS_CHOICES",
    "DEFAULT_DAY_START",
    "HOURS_TOLERANCE",
    "MAX_OVERNIGHT_HOURS",
    "ReadOptions",
    "ValidationResult",
    "resolve_zone",
    "system_zone",
    "validate_file",
    "validate_sheets",
]

DEFAULT_DAY_START = "09:00"
# Hours typed beside start and end are usually rounded (1.33 for 1:20); a minute covers that.
HOURS_TOLERANCE = 1 / 60
# An end before the start is read as the next day only up to this length: a longer
# "overnight" entry is nearly always start and end swapped.
MAX_OVERNIGHT_HOURS = 12.0
AMBIGUOUS_CHOICES = ("raise", "earlier", "later")
TICKET_TYPES = ("ServiceTicket", "ProjectTicket")
# Exports put a ' before cells starting with these so spreadsheets don't run them as formulas.
PROBLEM_LIMIT = 1000  # problems listed in to_dict(); the errors file has all of them
_PROGRESS_STEP = 10_000

_V = TypeVar("_V")


@dataclass(frozen=True)
class ReadOptions:
    """How to read, map and validate a file: what the shared command options carry."""

    sheet: str | int | None = None
    mapping: str | Path | None = None
    tz: str | None = None
    dayfirst: bool | None = None
    member_map: str | Path | None = None
    day_start: str | None = None
    ambiguous: str = "raise"


@dataclass(frozen=True)
class ValidationResult:
    """The outcome of validating one file's sheets.

    ``rows`` is the canonical frame of the valid rows (docs/architecture.md): the canonical
    text columns, ``sheet``, ``row`` (spreadsheet row number), ``timeStart``/``timeEnd``
    (UTC ``YYYY-MM-DDTHH:MM:SSZ``), ``actualHours`` and ``hoursDeduct`` (floats).
    ``problems`` holds every error and warning, in sheet and row order. ``warnings`` counts
    warning problems; ``duplicate`` counts rows that repeat an earlier row exactly.
    ``sources`` keeps the sheets as read, for writing the original rows beside problems.
    ``held`` is the same frame for the invalid rows whose errors all lie outside the
    natural key (``KEY_COLUMNS``): never imported, but planned beside the valid rows so a
    row keeps its place among the rows that share its key once it is fixed.
    """

    rows: pd.DataFrame
    problems: list[RowProblem]
    read: int
    valid: int
    invalid: int
    warnings: int
    blank: int
    duplicate: int
    profile: str
    tz: str
    sheets: tuple[str, ...]
    notes: tuple[str, ...] = ()
    sources: tuple[SheetData, ...] = field(default=(), repr=False, compare=False)
    held: pd.DataFrame = field(default_factory=pd.DataFrame, repr=False, compare=False)

    @property
    def ok(self) -> bool:
        """True when no row is invalid (warnings allowed)."""
        return self.invalid == 0

    @property
    def counts(self) -> dict[str, int]:
        """Row counts: read, valid, invalid, warnings, blank (rows skipped), duplicate."""
        return {
            "read": self.read,
            "valid": self.valid,
            "invalid": self.invalid,
            "warnings": self.warnings,
            "blank": self.blank,
            "duplicate": self.duplicate,
        }

    def reasons(self) -> list[tuple[str, int]]:
        """Reason codes with how often each occurs, the most common first."""
        return Counter(p.code for p in self.problems).most_common()

    def to_dict(self, *, problem_limit: int | None = PROBLEM_LIMIT) -> dict[str, object]:
        """The result as plain data for JSON (the valid rows are left out)."""
        listed = self.problems if problem_limit is None else self.problems[:problem_limit]
        return {
            "profile": self.profile,
            "timeZone": self.tz,
            "sheets": list(self.sheets),
            "counts": self.counts,
            "reasons": dict(self.reasons()),
            "notes": list(self.notes),
            "problems": [p.to_dict() for p in listed],
            "problemsTruncated": len(listed) < len(self.problems),
        }


# --------------------------------------------------------------------------- time zones


def system_zone() -> ZoneInfo | None:
    """The machine's IANA time zone (``TZ``, else /etc/localtime), or None if unknown."""
    candidates = [os.environ.get("TZ", "").lstrip(":")]
    try:
        link = os.path.realpath("/etc/localtime")
        if "zoneinfo/" in link:
            candidates.append(link.split("zoneinfo/", 1)[1])
        candidates.append(Path("/etc/timezone").read_text(encoding="utf-8").strip())
    except OSError:
        pass
    for name in filter(None, candidates):
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError, OSError):
            continue
    return None


def resolve_zone(name: str | None) -> tuple[ZoneInfo, str | None]:
    """The zone called ``name`` (IANA, e.g. ``Europe/London``), else the system's.

    Returns the zone and a note when it had to fall back to UTC. Raises UsageError for a
    name that is not a time zone.
    """
    if name:
        try:
            return ZoneInfo(name.strip()), None
        except (ZoneInfoNotFoundError, ValueError, OSError):
            close = suggest(name, sorted(available_timezones()), cutoff=80)
            fix = f"did you mean {close}? " if close else ""
            raise UsageError(
                f"unknown time zone {name!r}",
                hint=f"{fix}Use an IANA name such as Europe/London or America/New_York.",
            ) from None
    zone = system_zone()
    if zone is None:
        return ZoneInfo("UTC"), "the system time zone is unknown; times are read as UTC (--tz)"
    return zone, None


# -------------------------------------------------------------------------- one sheet


@dataclass
class _Checked:
    """One sheet after the per-row checks (lists are positional, like ``frame``)."""

    sheet: str
    frame: pd.DataFrame  # canonical + helper columns, cleaned
    headers: Mapping[str, str]  # canonical column → the user's header
    problems: list[RowProblem]
    day: list[date | None]
    start: list[datetime | None]
    end: list[datetime | None]
    hours: list[float | None]
    deduct: list[float]
    stack: list[bool]  # hours-only rows, to be stacked from the day start


@dataclass(frozen=True)
class _Settings:
    tz: ZoneInfo
    dayfirst: bool
    day_start: time
    day_start_text: str
    ambiguous: str


def _clean(frame: pd.DataFrame) -> pd.DataFrame:
    """Trim every cell, drop the formula guard and match enum values ignoring case/spaces.

    Columns that need no change are kept as they are, not copied: a million-row file is
    held in memory once.
    """
    cleaned = {}
    reference = load_reference().columns
    for name in frame.columns:
        # Plain lists: a list comprehension is several times faster than pandas' string
        # methods on the python-backed string dtype.
        original = frame[name].tolist()
        values = [v.strip() for v in original]
        if any(map(str.startswith, values, repeat("'"))):
            values = [unguard_formula(v) for v in values]
        column = reference.get(name)
        if column is not None and column.kind == "enum":
            spelled = {"".join(v.split()).casefold(): v for v in column.enum}
            lookup = {v: spelled.get("".join(v.split()).casefold(), v) for v in set(values)}
            values = [lookup[v] for v in values]
        # str.strip() and the lookups return the very same object when nothing changed.
        if any(map(is_not, values, original)):
            cleaned[name] = pd.Series(values, index=frame.index, dtype=object)
        else:
            cleaned[name] = frame[name]
    return pd.DataFrame(cleaned, index=frame.index, copy=False)


def _check_sheet(
    mapped: MappedSheet, settings: _Settings, advance: Callable[[int], None]
) -> _Checked:
    frame = _clean(mapped.frame)
    sheet, headers = mapped.name, mapped.headers
    rows = frame.index.tolist()
    problems = check_canonical_frame(
        frame[list(canonical_columns())],
        sheets=pd.Series(sheet, index=frame.index),
        rows=pd.Series(rows, index=frame.index),
        headers=headers,
    )
    n = len(rows)
    checked = _Checked(
        sheet,
        frame,
        headers,
        problems,
        [None] * n,
        [None] * n,
        [None] * n,
        [None] * n,
        [0.0] * n,
        [False] * n,
    )
    # Lists of only the columns the row checks read: indexing a list is fast.
    read = ("date", "start", "end", "endDate", "hours", "deduct", "chargeToType", "chargeTo")
    col = {name: frame[name].tolist() for name in (*read, "company", "lastUpdated")}
    charge = (col["chargeToType"], col["chargeTo"], col["company"])
    row = _Row(sheet, 0, headers, problems, settings)
    for i in range(n):
        row.row = rows[i]
        _check_times(row, i, col, checked)
        _check_charge(row, i, *charge)
        if col["lastUpdated"][i]:
            row.parse("lastUpdated", parse_cw_datetime, col["lastUpdated"][i])
        if i % _PROGRESS_STEP == _PROGRESS_STEP - 1:
            advance(_PROGRESS_STEP)
    advance(n % _PROGRESS_STEP)
    checked.frame = frame.assign(chargeToType=charge[0], chargeTo=charge[1])
    return checked


class _Row:
    """Collects the problems of a row, naming the column as the user's header has it."""

    __slots__ = ("headers", "problems", "row", "settings", "sheet")

    def __init__(
        self,
        sheet: str,
        row: int,
        headers: Mapping[str, str],
        problems: list[RowProblem],
        settings: _Settings,
    ) -> None:
        self.sheet, self.row, self.headers = sheet, row, headers
        self.problems, self.settings = problems, settings

    def add(self, column: str, value: str, code: str, message: str) -> None:
        header = self.headers.get(column, column)
        self.problems.append(RowProblem(self.sheet, self.row, header, value, code, message))

    def parse(self, column: str, parser: Callable[..., _V], text: str, **kwargs: bool) -> _V | None:
        try:
            return parser(text, **kwargs)
        except ParseError as exc:
            self.add(column, text, exc.code, exc.message)
            return None

    def utc(self, column: str, on: date, at: time, text: str) -> datetime | None:
        try:
            return local_to_utc(on, at, self.settings.tz, ambiguous=self.settings.ambiguous)
        except ParseError as exc:
            self.add(column, text, exc.code, exc.message)
            return None


def _check_times(row: _Row, i: int, col: dict[str, list[str]], out: _Checked) -> None:
    """Parse date, start, end, hours and deduct of row ``i`` and work out its span."""
    dayfirst = row.settings.dayfirst
    date_text, start_text, end_text = col["date"][i], col["start"][i], col["end"][i]
    hours_text, deduct_text = col["hours"][i], col["deduct"][i]
    d = row.parse("date", parse_date, date_text, dayfirst=dayfirst) if date_text else None
    st = row.parse("start", parse_time, start_text) if start_text else None
    en = row.parse("end", parse_time, end_text) if end_text else None
    h = row.parse("hours", parse_hours, hours_text) if hours_text else None
    dd = (row.parse("deduct", parse_hours, deduct_text) if deduct_text else None) or 0.0
    if h is not None and not 0 < h <= 24:
        row.add(
            "hours",
            hours_text,
            "hours_out_of_range",
            f'"{hours_text}" is {h:g} hours — hours must be more than 0 and at most 24; '
            "split longer work into one row per day",
        )
        h = None
    out.day[i], out.hours[i], out.deduct[i] = d, h, dd
    if end_text and not start_text:
        row.add(
            "start",
            "",
            "missing_start",
            f"end {end_text} is given without a start — fill in start, or clear end and give hours",
        )
    elif start_text and not end_text and not hours_text:
        row.add(
            "end",
            "",
            "missing_end",
            f"start {start_text} is given without end or hours — fill in end or hours",
        )
    elif not (start_text or end_text or hours_text):
        row.add(
            "hours",
            "",
            "missing_hours",
            "no hours and no start/end — give hours (e.g. 1.5), or start and end",
        )
    if d is None:
        return
    if st is not None and en is not None:
        end_day_text, overnight = col["endDate"][i], False
        if end_day_text:
            end_day = row.parse("endDate", parse_date, end_day_text, dayfirst=dayfirst)
        else:
            overnight = en < st
            end_day = d + timedelta(days=1) if overnight else d
        ts = row.utc("start", d, st, start_text)
        te = row.utc("end", end_day, en, end_text) if end_day is not None else None
        if ts is None or te is None:
            return
        span = (te - ts).total_seconds() / 3600
        times = f"{st:%H:%M}–{en:%H:%M}"
        if span <= 0:
            row.add(
                "end",
                end_text,
                "end_before_start",
                f"end {en:%H:%M} is not after start {st:%H:%M} — correct the times",
            )
        elif overnight and span > MAX_OVERNIGHT_HOURS:
            row.add(
                "end",
                end_text,
                "end_before_start",
                f"end {en:%H:%M} is before start {st:%H:%M}; running past midnight that "
                f"would be {span:.2f} hours — swap start and end if they are the wrong way "
                f"round (overnight entries of up to {MAX_OVERNIGHT_HOURS:g} hours are read "
                "as ending the next day)",
            )
        elif span > 24:
            row.add(
                "end",
                end_text,
                "hours_out_of_range",
                f"{times} is {span:.2f} hours — an entry can be at most 24 hours; split it "
                "into one row per day",
            )
        elif dd >= span:
            row.add(
                "deduct",
                deduct_text,
                "deduct_too_large",
                f"deduct {dd:g} h is not less than the {span:.2f} h from {times} — lower "
                "the deduct or correct the times",
            )
        else:
            actual = span - dd
            if h is not None and abs(h - actual) > HOURS_TOLERANCE:
                minus = f" minus {dd:g} h deducted" if dd else ""
                row.add(
                    "hours",
                    hours_text,
                    "hours_mismatch",
                    f'hours "{hours_text}" ({h:g} h) disagree with {times}{minus} = '
                    f"{actual:.2f} h — correct one of them, or clear hours",
                )
            out.start[i], out.end[i] = ts, te
            out.hours[i] = h if h is not None else round(actual, 6)
    elif st is not None and h is not None and not end_text:
        ts = row.utc("start", d, st, start_text)
        if ts is not None:
            out.start[i], out.end[i] = ts, ts + timedelta(hours=h + dd)
    elif h is not None and not start_text and not end_text:
        out.stack[i] = True


def _check_charge(
    row: _Row, i: int, kinds: list[str], targets: list[str], companies: list[str]
) -> None:
    """What the time is charged to; fills in Company for rows with neither type nor target,
    and drops a ``#`` in front of ticket numbers."""
    kind, target, company = kinds[i], targets[i], companies[i]
    if not kind and not target:
        kinds[i] = kind = "Company"
    if kind in TICKET_TYPES:
        original, target = target, target.removeprefix("#").strip()
        targets[i] = target
        if not target:
            row.add(
                "chargeTo",
                "",
                "missing_charge_to",
                f"chargeToType is {kind} but chargeTo is blank — fill in the ticket number",
            )
        elif not target.isdigit():
            row.add(
                "chargeTo",
                original,
                "bad_charge_to",
                f'"{original}" is not a ticket number — use the number only, e.g. 1042',
            )
    elif kind == "Activity":
        if not target:
            row.add(
                "chargeTo",
                "",
                "missing_charge_to",
                "chargeToType is Activity but chargeTo is blank — fill in the activity id",
            )
        elif not target.isdigit():
            row.add(
                "chargeTo",
                target,
                "bad_charge_to",
                f'"{target}" is not an activity id — use its number, e.g. 310',
            )
    elif kind == "ChargeCode":
        if not target:
            row.add(
                "chargeTo",
                "",
                "missing_charge_to",
                "chargeToType is ChargeCode but chargeTo is blank — fill in the charge code name",
            )
        if not company:
            row.add(
                "company",
                "",
                "missing_company",
                "charge code time needs a company — fill in the company the charge code belongs to",
            )
    elif kind == "Company":
        if target:
            row.add(
                "chargeTo",
                target,
                "unexpected_charge_to",
                f'chargeTo "{target}" is given for Company time — clear it, or set '
                "chargeToType to ServiceTicket, ProjectTicket, ChargeCode or Activity",
            )
        elif not company:
            row.add(
                "company",
                "",
                "missing_company",
                "no ticket, charge code or company — fill in the company the time is for, "
                "or chargeToType and chargeTo",
            )
    elif not kind and target:
        row.add(
            "chargeToType",
            "",
            "missing_charge_to_type",
            f'chargeTo "{target}" is given without chargeToType — fill in ServiceTicket, '
            "ProjectTicket, ChargeCode or Activity",
        )


# ------------------------------------------------------------------------- across rows


def _stack(checked: list[_Checked], settings: _Settings) -> None:
    """Give hours-only rows consecutive times from the day start, per member and day."""
    cursor: dict[tuple[str, date], datetime] = {}
    for part in checked:
        members = part.frame["member"].tolist()
        rows = part.frame.index.tolist()
        for i in [i for i, flag in enumerate(part.stack) if flag]:
            day, hours = part.day[i], part.hours[i]
            assert day is not None and hours is not None
            key = (members[i].casefold(), day)
            begin = cursor.get(key)
            if begin is None:
                try:
                    begin = local_to_utc(
                        day, settings.day_start, settings.tz, ambiguous=settings.ambiguous
                    )
                except ParseError as exc:
                    part.problems.append(
                        RowProblem(
                            part.sheet,
                            rows[i],
                            part.headers.get("date", "date"),
                            part.frame.at[rows[i], "date"],
                            exc.code,
                            f"{exc.message} (the start comes from --day-start "
                            f"{settings.day_start_text})",
                        )
                    )
                    continue
            finish = begin + timedelta(hours=hours + part.deduct[i])
            part.start[i], part.end[i] = begin, finish
            cursor[key] = finish


def _where(sheet: str, row: int, here: str) -> str:
    return f"row {row}" if sheet == here else f'row {row} of sheet "{sheet}"'


def _overlaps(
    checked: list[_Checked], skip: set[tuple[str, int]], tz: ZoneInfo
) -> list[RowProblem]:
    """Warnings for entries of one member that overlap (rows with given times only)."""
    entries = []
    for n, part in enumerate(checked):
        members = part.frame["member"].tolist()
        for i, row in enumerate(part.frame.index.tolist()):
            if part.start[i] is None or part.stack[i] or (part.sheet, row) in skip:
                continue
            entries.append((members[i].casefold(), part.start[i], part.end[i], n, row))
    entries.sort(key=lambda e: (e[0], e[1]))
    problems = []
    latest = None
    for entry in entries:
        member, begin, _finish, n, row = entry
        if latest is not None and latest[0] == member and begin < latest[2]:
            _m, other_begin, other_end, other_n, other_row = latest
            part = checked[n]
            span = f"{other_begin.astimezone(tz):%Y-%m-%d %H:%M}–{other_end.astimezone(tz):%H:%M}"
            problems.append(
                RowProblem(
                    part.sheet,
                    row,
                    part.headers.get("start", "start"),
                    part.frame.at[row, "start"],
                    "overlap",
                    f"overlaps {_where(checked[other_n].sheet, other_row, part.sheet)} of the "
                    f"same member ({span}) — check the times; ConnectWise accepts overlapping "
                    "entries",
                    "warning",
                )
            )
        if latest is None or latest[0] != member or entry[2] > latest[2]:
            latest = entry
    return problems


def _locate(checked: list[_Checked], positions: Iterable[int]) -> Iterator[tuple[_Checked, int]]:
    """(sheet part, position in it) for positions in the sheets laid end to end."""
    offsets = np.cumsum([0, *(len(part.frame) for part in checked)])
    for position in positions:
        n = int(np.searchsorted(offsets, position, side="right")) - 1
        yield checked[n], int(position - offsets[n])


def _duplicates(checked: list[_Checked]) -> tuple[list[RowProblem], int]:
    """Warnings for exact copies of an earlier row; errors for one id on two rows.

    Rows are compared by hash first (8 bytes a row), and only rows whose hash repeats are
    compared cell by cell.
    """
    content = [*canonical_columns(), *HELPER_COLUMNS]
    hashes = pd.concat(
        [pd.util.hash_pandas_object(part.frame[content], index=False) for part in checked],
        ignore_index=True,
    )
    ids = pd.concat([part.frame["id"] for part in checked], ignore_index=True)
    repeated_ids = ids.duplicated(keep=False) & (ids != "")
    problems: list[RowProblem] = []
    count = 0
    for what, candidates in (
        ("row", np.flatnonzero(hashes.duplicated(keep=False).to_numpy())),
        ("id", np.flatnonzero(repeated_ids.to_numpy())),
    ):
        first: dict[object, tuple[str, int]] = {}
        for part, i in _locate(checked, candidates):
            row = int(part.frame.index[i])
            if what == "row":
                key: object = tuple(part.frame[c].iat[i] for c in content)
            else:
                key = part.frame["id"].iat[i]
            earlier = first.setdefault(key, (part.sheet, row))
            if earlier == (part.sheet, row):
                continue
            if what == "row":
                count += 1
                problems.append(
                    RowProblem(
                        part.sheet,
                        row,
                        None,
                        None,
                        "duplicate_row",
                        f"the same as {_where(*earlier, part.sheet)} — delete one if it was "
                        "entered twice",
                        "warning",
                    )
                )
            else:
                problems.append(
                    RowProblem(
                        part.sheet,
                        row,
                        "id",
                        str(key),
                        "duplicate_id",
                        f"id {key} is also on {_where(*earlier, part.sheet)} — one "
                        "ConnectWise entry can only be on one row; clear id on a new entry",
                    )
                )
    return problems, count


# ------------------------------------------------------------------------------ public


def _settings(
    profile: Profile,
    tz: ZoneInfo | str | None,
    dayfirst: bool | None,
    day_start: str | None,
    ambiguous: str,
) -> tuple[_Settings, str | None]:
    if ambiguous not in AMBIGUOUS_CHOICES:
        raise UsageError(f"--ambiguous {ambiguous!r}: use one of {', '.join(AMBIGUOUS_CHOICES)}")
    note = None
    if isinstance(tz, ZoneInfo):
        zone = tz
    else:
        zone, note = resolve_zone(tz or profile.tz)
    start_text = day_start or profile.day_start or DEFAULT_DAY_START
    try:
        start = parse_time(start_text)
    except ParseError as exc:
        raise UsageError(f"--day-start {start_text!r}: {exc.message}") from None
    first = profile.dayfirst if dayfirst is None else dayfirst
    return _Settings(zone, bool(first), start, start_text, ambiguous), note


def validate_sheets(
    sheets: Sequence[SheetData],
    *,
    mapping: Profile | str | Path | None = None,
    tz: ZoneInfo | str | None = None,
    dayfirst: bool | None = None,
    day_start: str | None = None,
    ambiguous: str = "raise",
    member_map: Mapping[str, str] | None = None,
    source: str = "",
    progress: Callable[[int, int], None] | None = None,
) -> ValidationResult:
    """Map and validate sheets read by :func:`cwbulk.io.read_table`.

    ``mapping`` is a profile (or its name or YAML path); without it each sheet's profile is
    detected from its header. ``tz``, ``dayfirst`` and ``day_start`` override the profile's;
    ``tz`` defaults to the system zone. ``ambiguous`` is ``"raise"`` (a time that happens
    twice at a DST change is an error), ``"earlier"`` or ``"later"``. ``member_map`` maps
    legacy names or e-mails to member identifiers. ``source`` names the file in messages.
    ``progress(done, total)`` is called as rows are checked (for a progress bar).

    Raises :class:`InputError` when a sheet has no column that could hold the member, the
    date or the hours (when several sheets are read, such a sheet is skipped with a warning).
    """
    if isinstance(mapping, str | Path):
        mapping = load_profile(mapping)
    mapped: list[tuple[MappedSheet, Profile]] = []
    skipped: list[RowProblem] = []
    failures: list[InputError] = []
    for sheet in sheets:
        profile = mapping or load_profile(detect_profile(sheet.frame.columns))
        where = source if len(sheets) == 1 and source else f'sheet "{sheet.name}"'
        try:
            mapped.append(
                (apply_profile(sheet, profile, member_map=member_map, where=where), profile)
            )
        except InputError as exc:
            if len(sheets) == 1:
                raise
            failures.append(exc)
            skipped.append(
                RowProblem(
                    sheet.name,
                    1,
                    None,
                    None,
                    "sheet_skipped",
                    f"{exc.message} — the sheet was skipped",
                    "warning",
                )
            )
    if not mapped:
        raise failures[0]
    first_profile = mapped[0][1]
    settings, zone_note = _settings(first_profile, tz, dayfirst, day_start, ambiguous)
    total, done = sum(len(part.frame) for part, _profile in mapped), 0

    def advance(rows: int) -> None:
        nonlocal done
        done += rows
        if progress is not None:
            progress(done, total)

    checked = []
    for part, profile in mapped:
        part_settings = settings
        if profile is not first_profile and dayfirst is None and profile.dayfirst is not None:
            part_settings = _Settings(
                settings.tz,
                profile.dayfirst,
                settings.day_start,
                settings.day_start_text,
                settings.ambiguous,
            )
        checked.append(_check_sheet(part, part_settings, advance))
    _stack(checked, settings)

    sheet_order = {s.name: n for n, s in enumerate(sheets)}
    problems = [p for part in checked for p in part.problems]
    problems += [p for sheet in sheets for p in sheet.problems]
    duplicate_problems, duplicate = _duplicates(checked)
    problems += duplicate_problems
    invalid = {(p.sheet, p.row) for p in problems if p.severity == "error"}
    copies = {(p.sheet, p.row) for p in duplicate_problems}
    problems += _overlaps(checked, invalid | copies, settings.tz)
    problems += skipped
    problems.sort(key=lambda p: (sheet_order.get(p.sheet, 0), p.row))
    rows = pd.concat(
        [_canonical_rows(part, lambda key: key not in invalid) for part in checked],
        ignore_index=True,
    )
    held_by_part = [(part, _held(part, problems, invalid)) for part in checked]
    held_parts = [_canonical_rows(part, keys.__contains__) for part, keys in held_by_part if keys]
    held = pd.concat(held_parts, ignore_index=True) if held_parts else rows.iloc[:0]
    read = sum(len(part.frame) for part in checked)
    notes = [n for s in sheets for n in s.notes] + [n for part, _p in mapped for n in part.notes]
    if zone_note:
        notes.append(zone_note)
    profiles = list(dict.fromkeys(profile.name for _part, profile in mapped))
    return ValidationResult(
        rows=rows,
        problems=problems,
        read=read,
        valid=read - len(invalid),
        invalid=len(invalid),
        warnings=sum(p.severity == "warning" for p in problems),
        blank=sum(s.blank_rows for s in sheets),
        duplicate=duplicate,
        profile=", ".join(profiles),
        tz=settings.tz.key,
        sheets=tuple(part.sheet for part in checked),
        notes=tuple(notes),
        sources=tuple(sheets),
        held=held,
    )


#: The canonical columns the natural key is made of (plan.natural_key): member, local
#: date, charge-to, hours and start.
KEY_COLUMNS = frozenset(
    {"member", "date", "endDate", "start", "end", "hours", "deduct", "chargeToType", "chargeTo"}
)


def _held(
    part: _Checked, problems: Sequence[RowProblem], invalid: set[tuple[str, int]]
) -> set[tuple[str, int]]:
    """The invalid rows of ``part`` whose natural key is whole: every error names a
    column outside ``KEY_COLUMNS`` (so not a repeated row, which names none)."""
    key_headers = {part.headers.get(c, c) for c in KEY_COLUMNS}
    broken_key = {
        (p.sheet, p.row)
        for p in problems
        if p.severity == "error"
        and p.sheet == part.sheet
        and (p.column is None or p.column in key_headers)
    }
    return {(sheet, row) for sheet, row in invalid if sheet == part.sheet} - broken_key


_cw_text = lru_cache(maxsize=1 << 16)(format_cw_datetime)


def _canonical_rows(part: _Checked, wanted: Callable[[tuple[str, int]], bool]) -> pd.DataFrame:
    """The canonical frame of one sheet's rows whose (sheet, row) is ``wanted``."""
    keep = [wanted((part.sheet, row)) for row in part.frame.index]
    out = part.frame.loc[keep, list(canonical_columns())]
    out.insert(0, "row", out.index.astype("int64"))
    out.insert(0, "sheet", part.sheet)
    out = out.reset_index(drop=True)
    picked = {
        "timeStart": [_cw_text(v) if v else "" for v, k in zip(part.start, keep, strict=True) if k],
        "timeEnd": [_cw_text(v) if v else "" for v, k in zip(part.end, keep, strict=True) if k],
    }
    for name, values in picked.items():
        out[name] = pd.Series(values, dtype=object)
    out["actualHours"] = pd.Series(
        [v for v, k in zip(part.hours, keep, strict=True) if k], dtype="float64"
    )
    out["hoursDeduct"] = pd.Series(
        [v for v, k in zip(part.deduct, keep, strict=True) if k], dtype="float64"
    )
    return out


def validate_file(
    path: str | Path,
    options: ReadOptions | None = None,
    *,
    progress: Callable[[int, int], None] | None = None,
) -> ValidationResult:
    """Read ``path`` and validate it with ``options`` (what ``cwbulk validate`` runs).

    Raises :class:`InputError` when the file can't be read or has no data rows, and
    :class:`UsageError`/:class:`ConfigError` for a bad option, mapping or member map.
    """
    options = options or ReadOptions()
    path = Path(path)
    mapping = load_profile(options.mapping) if options.mapping else None
    member_map = load_member_map(options.member_map) if options.member_map else None
    sheets = read_table(path, sheet=options.sheet)
    if not any(len(s.frame) for s in sheets):
        blank = sum(s.blank_rows for s in sheets)
        skipped = f" ({blank} blank rows skipped)" if blank else ""
        raise InputError(
            f"{path.name} has a header but no data rows{skipped}",
            hint="Add time entries below the header, or check that it is the right file"
            + (" and sheet (--sheet)." if len(sheets) == 1 and path.suffix != ".csv" else "."),
        )
    return validate_sheets(
        sheets,
        mapping=mapping,
        tz=options.tz,
        dayfirst=options.dayfirst,
        day_start=options.day_start,
        ambiguous=options.ambiguous,
        member_map=member_map,
        source=path.name,
        progress=progress,
    )
