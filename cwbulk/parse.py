"""Parsing of the values people type into timesheets: hours, dates, times and time zones.

Every parser takes the cell text and either returns a value or raises :class:`ParseError`
with a stable reason code and a message that names the value and the fix. Validation calls
these for every row of files with up to a million rows, where the same values repeat a lot,
so each text parser is memoised (failures included).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache, wraps
from typing import ParamSpec, TypeVar
from zoneinfo import ZoneInfo

__all__ = [
    "HOURS_STYLES",
    "ParseError",
    "format_cw_datetime",
    "format_hours",
    "local_to_utc",
    "parse_cw_datetime",
    "parse_date",
    "parse_hours",
    "parse_time",
]

HOURS_STYLES = ("decimal", "hh:mm", "hh:mm:ss", "hm")

_P = ParamSpec("_P")
_T = TypeVar("_T")


class ParseError(ValueError):
    """A cell value that can't be read as what its column holds.

    ``code`` is a stable snake_case reason (``bad_hours``, ``bad_date``, ``bad_time``,
    ``bad_datetime``, ``nonexistent_local_time``, ``ambiguous_local_time``); ``message``
    names the value and the fix.
    """

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def _memoised(func: Callable[_P, _T]) -> Callable[_P, _T]:
    """Cache results *and* failures: a bad value repeated 10,000 times is parsed once."""

    @lru_cache(maxsize=65536)
    def outcome(*args: object, **kwargs: object) -> object:
        try:
            return func(*args, **kwargs)  # type: ignore[arg-type]
        except ParseError as exc:
            # Keep only code and message: re-raising one instance would grow its traceback.
            return _Failure(exc.code, exc.message)

    @wraps(func)
    def wrapper(*args: _P.args, **kwargs: _P.kwargs) -> _T:
        result = outcome(*args, **kwargs)
        if type(result) is _Failure:
            raise ParseError(result.code, result.message)
        return result  # type: ignore[return-value]

    wrapper.cache_clear = outcome.cache_clear  # type: ignore[attr-defined]
    wrapper.cache_info = outcome.cache_info  # type: ignore[attr-defined]
    return wrapper


class _Failure:
    __slots__ = ("code", "message")

    def __init__(self, code: str, message: str) -> None:
        self.code = code
        self.message = message


_MAX_LENGTH = 64  # no valid value is longer; longer digit runs could overflow int()


def _squash(text: str, code: str, what: str) -> str:
    """Trim, lower-case and collapse every run of (Unicode) whitespace into one space."""
    value = " ".join(text.split()).lower()
    if len(value) > _MAX_LENGTH:
        raise ParseError(code, f'"{value[:30]}…" is too long to be {what}')
    return value


# ---------------------------------------------------------------------------------- hours

_FLAGS = re.ASCII | re.IGNORECASE
_DECIMAL = re.compile(r"(?:[0-9]+(?:[.,][0-9]*)?|[.,][0-9]+)", _FLAGS)
_CLOCK_DURATION = re.compile(r"([0-9]+):([0-9]{1,2})(?::([0-9]{1,2}(?:\.[0-9]*)?))?", _FLAGS)
_UNIT_DURATION = re.compile(
    r"(?:pt)?"
    r"(?:(?P<h>[0-9]+(?:[.,][0-9]+)?|[.,][0-9]+) ?(?:h|hrs?|hours?)\.?)? ?"
    r"(?:(?P<m>[0-9]+(?:[.,][0-9]+)?) ?(?P<mu>m|mins?|minutes?)?\.?)? ?"
    r"(?:(?P<s>[0-9]+) ?(?:s|secs?|seconds?)\.?)?",
    _FLAGS,
)
_HOURS_FIX = "use hours like 1.5, 1:30 or 1h30m"


def _number(text: str) -> float:
    """A decimal number that may use a decimal comma ("1,5")."""
    return float(text.replace(",", "."))


@_memoised
def parse_hours(text: str) -> float:
    """Read a duration in hours: ``1.5``, ``1,5``, ``1:30``, ``01:30:00``, ``1h30m``, ``90m``…

    Returns hours rounded to 1e-6. Blank and negative values raise ``ParseError("bad_hours")``;
    zero is returned as 0.0 (whether zero is allowed is the caller's rule).
    """
    value = _squash(text, "bad_hours", "a duration")
    if not value:
        raise ParseError("bad_hours", f"no hours given — {_HOURS_FIX}")
    if value.startswith(("-", "−")):
        raise ParseError("bad_hours", f'"{text.strip()}" is negative — hours must be 0 or more')
    if _DECIMAL.fullmatch(value):
        return round(_number(value), 6)
    match = _CLOCK_DURATION.fullmatch(value)
    if match:
        hours, minutes, seconds = match.group(1), int(match.group(2)), match.group(3)
        secs = float(seconds) if seconds else 0.0
        if minutes < 60 and secs < 60:
            return round(int(hours) + minutes / 60 + secs / 3600, 6)
    else:
        match = _UNIT_DURATION.fullmatch(value)
        # Minutes may go without their unit only after hours: "1h30".
        if (
            match
            and any(match.group("h", "m", "s"))
            and (match["mu"] or not match["m"] or match["h"])
        ):
            h, m, s = match.group("h", "m", "s")
            minutes = _number(m) if m else 0.0
            secs = int(s) if s else 0
            # "1h90m" is as likely a typo as "1:90"; a bare "90m" is fine.
            if not (h and minutes >= 60) and not ((h or m) and secs >= 60):
                hours = _number(h) if h else 0.0
                return round(hours + minutes / 60 + secs / 3600, 6)
    raise ParseError("bad_hours", f'"{text.strip()}" is not a duration — {_HOURS_FIX}')


def format_hours(hours: float, style: str) -> str:
    """Write hours in one of :data:`HOURS_STYLES`: ``1.5``, ``01:30``, ``01:30:00``, ``1h30m``.

    The clock styles round to the minute (``hh:mm``, ``hm``) or second (``hh:mm:ss``).
    """
    if hours < 0:
        raise ValueError(f"hours must be 0 or more, not {hours}")
    if style == "decimal":
        return f"{round(hours, 6):.6f}".rstrip("0").rstrip(".")
    if style in ("hh:mm", "hm"):
        h, m = divmod(round(hours * 60), 60)
        return f"{h:02d}:{m:02d}" if style == "hh:mm" else f"{h}h{m:02d}m"
    if style == "hh:mm:ss":
        minutes, s = divmod(round(hours * 3600), 60)
        h, m = divmod(minutes, 60)
        return f"{h:02d}:{m:02d}:{s:02d}"
    raise ValueError(f"unknown hours style {style!r}; use one of {', '.join(HOURS_STYLES)}")


# ---------------------------------------------------------------------------------- dates

_MONTHS = {
    name: number
    for number, names in enumerate(
        (
            ("jan", "january"),
            ("feb", "february"),
            ("mar", "march"),
            ("apr", "april"),
            ("may",),
            ("jun", "june"),
            ("jul", "july"),
            ("aug", "august"),
            ("sep", "sept", "september"),
            ("oct", "october"),
            ("nov", "november"),
            ("dec", "december"),
        ),
        start=1,
    )
    for name in names
}
_WEEKDAY = r"(?:(?:mon|tue|tues|wed|thu|thur|thurs|fri|sat|sun)[a-z]*,? )?"
_MONTH = r"(?P<mon>[a-z]{3,9})\.?"
_ISO_DATE = re.compile(
    r"(?P<y>[0-9]{4})[-/](?P<m>[0-9]{1,2})[-/](?P<d>[0-9]{1,2})(?:[t ](?P<time>.+))?", _FLAGS
)
_NUMERIC_DATE = re.compile(r"([0-9]{1,2})([/.-])([0-9]{1,2})\2([0-9]{4}|[0-9]{2})", _FLAGS)
_NAMED_DATE = (
    # 5 Oct 2026, 05-Oct-26, Mon 5 October 2026
    re.compile(
        _WEEKDAY + r"(?P<d>[0-9]{1,2})[ -]" + _MONTH + r",?[ -](?P<y>[0-9]{4}|[0-9]{2})", _FLAGS
    ),
    # Oct 5, 2026
    re.compile(_WEEKDAY + _MONTH + r" (?P<d>[0-9]{1,2})(?:st|nd|rd|th)?,? (?P<y>[0-9]{4})", _FLAGS),
)
_SERIAL = re.compile(r"[0-9]{1,7}(?:\.[0-9]+)?", _FLAGS)
_EXCEL_EPOCH = date(1899, 12, 30)
_DATE_FIX = "use a date like 2026-10-05"


def _year(text: str) -> int:
    """A 4-digit year, or a 2-digit one read as 1970-2069."""
    year = int(text)
    if len(text) == 2:
        year += 2000 if year < 70 else 1900
    return year


def _make_date(text: str, year: int, month: int, day: int, hint: str = "") -> date:
    try:
        return date(year, month, day)
    except ValueError:
        raise ParseError(
            "bad_date", f'"{text.strip()}" is not a real date{hint} — {_DATE_FIX}'
        ) from None


def _serial_date(text: str, serial: float) -> date:
    """An Excel serial day number (1900 date system) as a date."""
    days = int(serial)
    if days == 60:
        # Excel counts the nonexistent 1900-02-29 (kept for Lotus 1-2-3 compatibility).
        raise ParseError(
            "bad_date", f'"{text.strip()}" is 1900-02-29 in Excel, a day that does not exist'
        )
    if days < 1 or days > 2958465:
        raise ParseError("bad_date", f'"{text.strip()}" is not a date — {_DATE_FIX}')
    # Serials before the fake leap day are one day off from the 1899-12-30 epoch.
    return _EXCEL_EPOCH + timedelta(days=days if days > 60 else days + 1)


@_memoised
def parse_date(text: str, *, dayfirst: bool = False) -> date:
    """Read a date: ISO ``2026-10-05`` (a time part is ignored), ``10/5/2026`` (month first,
    or day first with ``dayfirst``), ``05.10.2026`` (always day first), ``5 Oct 2026``,
    ``Oct 5, 2026`` and Excel serial day numbers (``46300``).
    """
    value = _squash(text, "bad_date", "a date")
    if not value:
        raise ParseError("bad_date", f"no date given — {_DATE_FIX}")
    match = _ISO_DATE.fullmatch(value)
    if match:
        if match.group("time"):
            try:
                parse_time(match.group("time"))  # a date with a broken time part is suspect
            except ParseError:
                raise ParseError(
                    "bad_date", f'"{text.strip()}" is not a date — {_DATE_FIX}'
                ) from None
        return _make_date(text, int(match["y"]), int(match["m"]), int(match["d"]))
    match = _NUMERIC_DATE.fullmatch(value)
    if match:
        first, sep, second, year = match.groups()
        if dayfirst or sep == ".":
            return _make_date(text, _year(year), int(second), int(first), " (read day first)")
        hint = " (read month first; if the file has day-first dates use --dayfirst)"
        return _make_date(text, _year(year), int(first), int(second), hint)
    if _SERIAL.fullmatch(value):
        return _serial_date(text, float(value))
    for pattern in _NAMED_DATE:
        match = pattern.fullmatch(value)
        if match and match["mon"] in _MONTHS:
            return _make_date(text, _year(match["y"]), _MONTHS[match["mon"]], int(match["d"]))
    raise ParseError("bad_date", f'"{text.strip()}" is not a date — {_DATE_FIX}')


# ---------------------------------------------------------------------------------- times

_CLOCK = re.compile(
    r"(?P<h>[0-9]{1,2})(?::(?P<m>[0-9]{2})(?::(?P<s>[0-9]{2})(?:\.(?P<f>[0-9]+))?)?)?"
    r"(?: ?(?P<ampm>[ap])\.?m\.?)?",
    _FLAGS,
)
_DATETIME = re.compile(r"[0-9]{1,4}[-/.][0-9]{1,2}[-/.][0-9]{1,4}[t ](.+)", _FLAGS)
_TIME_FIX = "use a time like 13:15 or 1:15 PM"


def _seconds_to_time(text: str, seconds: int) -> time:
    if not 0 <= seconds < 86400:
        raise ParseError("bad_time", f'"{text.strip()}" is not a time of day — {_TIME_FIX}')
    h, rest = divmod(seconds, 3600)
    return time(h, *divmod(rest, 60))


@_memoised
def parse_time(text: str) -> time:
    """Read a time of day: ``13:15``, ``13:15:00``, ``1:15 PM``, ``1:15pm``, decimal hours
    (``13.25`` → 13:15), Excel day fractions below 1 (``0.552083`` → 13:15) and the time part
    of ``2026-10-05 13:15:00``. Fractions of a second are rounded away.
    """
    value = _squash(text, "bad_time", "a time of day")
    if not value:
        raise ParseError("bad_time", f"no time given — {_TIME_FIX}")
    match = _DATETIME.fullmatch(value)
    if match:
        value = match.group(1)
    match = _CLOCK.fullmatch(value)
    if match:
        hour, ampm = int(match["h"]), match["ampm"]
        minute, second = int(match["m"] or 0), int(match["s"] or 0)
        if ampm:
            if not 1 <= hour <= 12:
                raise ParseError(
                    "bad_time", f'"{text.strip()}" mixes a 24-hour time with AM/PM — {_TIME_FIX}'
                )
            hour = hour % 12 + (12 if ampm == "p" else 0)
        if hour < 24 and minute < 60 and second < 60:
            fraction = round(float("0." + match["f"])) if match["f"] else 0
            return _seconds_to_time(text, hour * 3600 + minute * 60 + second + fraction)
    elif _DECIMAL.fullmatch(value):
        number = _number(value)
        # Below 1 it is Excel's fraction of a day; from 1 up it is hours (13.25 = 13:15).
        seconds = round(number * 86400) if number < 1 else round(number * 3600)
        return _seconds_to_time(text, seconds)
    raise ParseError("bad_time", f'"{text.strip()}" is not a time of day — {_TIME_FIX}')


# ----------------------------------------------------------------------------- time zones


@lru_cache(maxsize=65536)
def local_to_utc(day: date, at: time, tz: ZoneInfo, *, ambiguous: str = "raise") -> datetime:
    """The UTC moment of a wall-clock time in ``tz``.

    A time skipped by a DST change raises ``ParseError("nonexistent_local_time")``; a time
    that happens twice raises ``ParseError("ambiguous_local_time")`` unless ``ambiguous`` is
    ``"earlier"`` or ``"later"``, which picks that occurrence.
    """
    if ambiguous not in ("raise", "earlier", "later"):
        raise ValueError(f"ambiguous must be 'raise', 'earlier' or 'later', not {ambiguous!r}")
    wall = datetime.combine(day, at)
    candidates = []
    for fold in (0, 1):
        moment = wall.replace(tzinfo=tz, fold=fold).astimezone(UTC)
        # zoneinfo happily converts times that don't exist; the round trip shows which do.
        if moment.astimezone(tz).replace(tzinfo=None) == wall:
            candidates.append(moment)
    where = f"{at:%H:%M} on {day:%Y-%m-%d} in {tz.key}"
    if not candidates:
        raise ParseError(
            "nonexistent_local_time",
            f"{where} does not exist: the clocks jump forward past it — "
            "use a time after the change, or check the date and --tz",
        )
    if len(candidates) == 2 and candidates[0] != candidates[1]:
        if ambiguous == "raise":
            raise ParseError(
                "ambiguous_local_time",
                f"{where} happens twice: the clocks go back over it — "
                "use --ambiguous earlier or --ambiguous later",
            )
        return min(candidates) if ambiguous == "earlier" else max(candidates)
    return candidates[0]


def format_cw_datetime(moment: datetime) -> str:
    """A moment as ConnectWise wants it: UTC ``YYYY-MM-DDTHH:MM:SSZ`` (seconds truncated)."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{moment!r} has no time zone; convert it with local_to_utc first")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


_CW_DATETIME = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]+)?(?:Z|[+-][0-9]{2}:?[0-9]{2})",
    re.ASCII,
)


@_memoised
def parse_cw_datetime(text: str) -> datetime:
    """Read a ConnectWise datetime (``2026-10-05T17:15:00Z``) as a tz-aware UTC datetime."""
    value = text.strip()
    if _CW_DATETIME.fullmatch(value):
        try:
            return datetime.fromisoformat(value).astimezone(UTC)
        except ValueError:
            pass
    raise ParseError(
        "bad_datetime", f'"{text.strip()}" is not a UTC date and time like 2026-10-05T17:15:00Z'
    )
