"""Tests for cwbulk.parse: hours, dates, times, DST-aware local → UTC, ConnectWise datetimes."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cwbulk.parse import (
    HOURS_STYLES,
    ParseError,
    format_cw_datetime,
    format_hours,
    local_to_utc,
    parse_cw_datetime,
    parse_date,
    parse_hours,
    parse_time,
)

NEW_YORK = ZoneInfo("America/New_York")
BERLIN = ZoneInfo("Europe/Berlin")
UTC_ZONE = ZoneInfo("UTC")

# ---------------------------------------------------------------------------------- hours


@pytest.mark.parametrize(
    ("text", "hours"),
    [
        pytest.param("1.5", 1.5, id="decimal"),
        pytest.param("1,5", 1.5, id="decimal-comma"),
        pytest.param(" 2 ", 2.0, id="integer-padded"),
        pytest.param(".25", 0.25, id="leading-dot"),
        pytest.param("0", 0.0, id="zero"),
        pytest.param("1:30", 1.5, id="h-mm"),
        pytest.param("01:30:00", 1.5, id="hh-mm-ss"),
        pytest.param("0:20", 1 / 3, id="third-of-an-hour"),
        pytest.param("25:30:00", 25.5, id="over-a-day"),
        pytest.param("0:00:36", 0.01, id="seconds"),
        pytest.param("1h30m", 1.5, id="h-m"),
        pytest.param("1h 30m", 1.5, id="h-space-m"),
        pytest.param("1h30", 1.5, id="h-then-bare-minutes"),
        pytest.param("1h", 1.0, id="h-only"),
        pytest.param("1.5h", 1.5, id="decimal-h"),
        pytest.param("1,5 h", 1.5, id="decimal-comma-h"),
        pytest.param("90m", 1.5, id="m-only"),
        pytest.param("90 min", 1.5, id="min"),
        pytest.param("45 mins", 0.75, id="mins"),
        pytest.param("9 hr 00 min", 9.0, id="hr-min"),
        pytest.param("2 hrs 15 mins", 2.25, id="hrs-mins"),
        pytest.param("1 hour 30 minutes", 1.5, id="words"),
        pytest.param("1H30M", 1.5, id="upper-case"),
        pytest.param("PT1H30M", 1.5, id="iso-8601"),
        pytest.param("1h 0m 36s", 0.01 + 1, id="h-m-s"),
        pytest.param("1\u00a0h", 1.0, id="non-breaking-space"),
    ],
)
def test_parse_hours_accepts(text: str, hours: float) -> None:
    assert parse_hours(text) == pytest.approx(hours, abs=1e-6)


def test_parse_hours_rounds_to_a_millionth() -> None:
    assert parse_hours("0:20") == 0.333333


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        pytest.param("", "no hours given", id="blank"),
        pytest.param("   ", "no hours given", id="spaces"),
        pytest.param("-1", '"-1" is negative', id="negative"),
        pytest.param("-0:30", "is negative", id="negative-clock"),
        pytest.param(
            "2:75", '"2:75" is not a duration — use hours like 1.5, 1:30 or 1h30m', id="minutes-75"
        ),
        pytest.param("1:30:75", "is not a duration", id="seconds-75"),
        pytest.param("1h90m", "is not a duration", id="h-with-90m"),
        pytest.param("abc", "is not a duration", id="words"),
        pytest.param("1.5.2", "is not a duration", id="two-dots"),
        pytest.param("1,234.5", "is not a duration", id="thousands"),
        pytest.param("h", "is not a duration", id="unit-only"),
        pytest.param("5 3s", "is not a duration", id="unitless-minutes"),
        pytest.param("nan", "is not a duration", id="nan"),
        pytest.param("inf", "is not a duration", id="inf"),
        pytest.param("1e3", "is not a duration", id="exponent"),
        pytest.param("٣", "is not a duration", id="arabic-digit"),
        pytest.param("9" * 5000, '"999999999999999999999999999999…" is too long', id="5000-digits"),
        pytest.param("1.5" + " " * 80 + "x", "is not a duration", id="long-gap-then-junk"),
    ],
)
def test_parse_hours_rejects(text: str, fragment: str) -> None:
    with pytest.raises(ParseError, match=fragment) as info:
        parse_hours(text)
    assert info.value.code == "bad_hours"


def test_parse_hours_error_repeats_with_a_fresh_exception() -> None:
    first = second = None
    try:
        parse_hours("2:75")
    except ParseError as exc:
        first = exc
    try:
        parse_hours("2:75")
    except ParseError as exc:
        second = exc
    assert first is not None and second is not None
    assert first is not second
    assert (first.code, first.message) == (second.code, second.message)


@pytest.mark.parametrize(
    ("hours", "style", "text"),
    [
        pytest.param(1.5, "decimal", "1.5", id="decimal"),
        pytest.param(8.0, "decimal", "8", id="decimal-whole"),
        pytest.param(0.0, "decimal", "0", id="decimal-zero"),
        pytest.param(1.5, "hh:mm", "01:30", id="hh-mm"),
        pytest.param(1.5, "hh:mm:ss", "01:30:00", id="hh-mm-ss"),
        pytest.param(1.5, "hm", "1h30m", id="hm"),
        pytest.param(0.0833333, "hm", "0h05m", id="hm-five-minutes"),
        pytest.param(26.25, "hh:mm", "26:15", id="over-a-day"),
    ],
)
def test_format_hours(hours: float, style: str, text: str) -> None:
    assert format_hours(hours, style) == text


def test_format_hours_rejects_unknown_style() -> None:
    with pytest.raises(ValueError, match="unknown hours style"):
        format_hours(1.0, "fortnights")


_STYLE_STEP = {"decimal": 1e-6, "hh:mm": 1 / 60, "hm": 1 / 60, "hh:mm:ss": 1 / 3600}


@given(
    hours=st.floats(min_value=0, max_value=1000, allow_nan=False, allow_infinity=False),
    style=st.sampled_from(HOURS_STYLES),
)
def test_formatted_hours_parse_back(hours: float, style: str) -> None:
    step = _STYLE_STEP[style]
    expected = round(hours / step) * step
    assert parse_hours(format_hours(hours, style)) == pytest.approx(expected, abs=1.1e-6)


# ---------------------------------------------------------------------------------- dates


@pytest.mark.parametrize(
    ("text", "dayfirst", "expected"),
    [
        pytest.param("2026-10-05", False, date(2026, 10, 5), id="iso"),
        pytest.param("2026-10-05", True, date(2026, 10, 5), id="iso-dayfirst-ignored"),
        pytest.param("2026/10/05", False, date(2026, 10, 5), id="iso-slashes"),
        pytest.param("2026-10-05 00:00:00", False, date(2026, 10, 5), id="iso-midnight"),
        pytest.param("2026-10-05T13:15:00", False, date(2026, 10, 5), id="iso-with-time"),
        pytest.param("10/5/2026", False, date(2026, 10, 5), id="month-first"),
        pytest.param("10/05/2026", True, date(2026, 5, 10), id="day-first"),
        pytest.param("13/10/2026", True, date(2026, 10, 13), id="day-first-over-12"),
        pytest.param("10-05-2026", False, date(2026, 10, 5), id="month-first-dashes"),
        pytest.param("05.10.2026", False, date(2026, 10, 5), id="dots-always-day-first"),
        pytest.param("10/5/26", False, date(2026, 10, 5), id="two-digit-year"),
        pytest.param("1/2/99", False, date(1999, 1, 2), id="two-digit-year-1900s"),
        pytest.param("46300", False, date(2026, 10, 5), id="excel-serial"),
        pytest.param("46300.5520833", False, date(2026, 10, 5), id="excel-serial-with-time"),
        pytest.param("61", False, date(1900, 3, 1), id="serial-after-fake-leap-day"),
        pytest.param("59", False, date(1900, 2, 28), id="serial-before-fake-leap-day"),
        pytest.param("1", False, date(1900, 1, 1), id="serial-one"),
        pytest.param("5 Oct 2026", False, date(2026, 10, 5), id="day-month-name"),
        pytest.param("5 October 2026", False, date(2026, 10, 5), id="day-full-month"),
        pytest.param("05-Oct-26", False, date(2026, 10, 5), id="excel-d-mmm-yy"),
        pytest.param("Oct 5, 2026", False, date(2026, 10, 5), id="month-name-day"),
        pytest.param("September 30th, 2026", False, date(2026, 9, 30), id="ordinal"),
        pytest.param("Mon, 5 Oct 2026", False, date(2026, 10, 5), id="weekday"),
        pytest.param("  2026-10-05 ", False, date(2026, 10, 5), id="padded"),
    ],
)
def test_parse_date_accepts(text: str, dayfirst: bool, expected: date) -> None:
    assert parse_date(text, dayfirst=dayfirst) == expected


@pytest.mark.parametrize(
    ("text", "dayfirst", "fragment"),
    [
        pytest.param("", False, "no date given", id="blank"),
        pytest.param("2026-02-30", False, '"2026-02-30" is not a real date', id="feb-30"),
        pytest.param("2026-13-01", False, "is not a real date", id="month-13"),
        pytest.param(
            "13/10/2026",
            False,
            '"13/10/2026" is not a real date (read month first; if the file has day-first '
            "dates use --dayfirst)",
            id="month-first-over-12",
        ),
        pytest.param("60", False, "1900-02-29 in Excel", id="excel-fake-leap-day"),
        pytest.param("0", False, "is not a date", id="serial-zero"),
        pytest.param("5 Foo 2026", False, "is not a date", id="bad-month-name"),
        pytest.param("yesterday", False, "is not a date", id="word"),
        pytest.param("2026-10-05T13:15:00Z", False, "is not a date", id="utc-timestamp"),
        pytest.param("2026-10-05 25:00", False, "is not a date", id="bad-time-part"),
        pytest.param("10/5", False, "is not a date", id="no-year"),
        pytest.param("4" * 5000, False, "is too long to be a date", id="5000-digits"),
    ],
)
def test_parse_date_rejects(text: str, dayfirst: bool, fragment: str) -> None:
    with pytest.raises(ParseError, match=fragment.replace("(", r"\(").replace(")", r"\)")) as info:
        parse_date(text, dayfirst=dayfirst)
    assert info.value.code == "bad_date"


_MONTH_NAMES = [date(2026, month, 1).strftime("%b") for month in range(1, 13)]


def _excel_serial(day: date) -> str:
    days = (day - date(1899, 12, 30)).days
    return str(days if day > date(1900, 2, 28) else days - 1)


_DATE_STYLES = {
    "iso": (lambda d: d.isoformat(), False),
    "mdy": (lambda d: f"{d.month}/{d.day}/{d.year}", False),
    "dmy": (lambda d: f"{d.day:02d}/{d.month:02d}/{d.year}", True),
    "dotted": (lambda d: f"{d.day:02d}.{d.month:02d}.{d.year}", False),
    "named": (lambda d: f"{d.day} {_MONTH_NAMES[d.month - 1]} {d.year}", False),
    "us-named": (lambda d: f"{_MONTH_NAMES[d.month - 1]} {d.day}, {d.year}", False),
    "serial": (_excel_serial, False),
    "iso-datetime": (lambda d: f"{d.isoformat()} 00:00:00", False),
}


@given(
    day=st.dates(min_value=date(1900, 1, 1), max_value=date(2099, 12, 31)),
    style=st.sampled_from(sorted(_DATE_STYLES)),
)
def test_formatted_dates_parse_back(day: date, style: str) -> None:
    if style == "serial" and day == date(1900, 2, 28):
        day = date(1900, 3, 1)
    write, dayfirst = _DATE_STYLES[style]
    assert parse_date(write(day), dayfirst=dayfirst) == day


# ---------------------------------------------------------------------------------- times


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("13:15", time(13, 15), id="hh-mm"),
        pytest.param("9:05", time(9, 5), id="h-mm"),
        pytest.param("13:15:00", time(13, 15), id="hh-mm-ss"),
        pytest.param("13:14:59.997", time(13, 15), id="fraction-rounded"),
        pytest.param("1:15 PM", time(13, 15), id="pm"),
        pytest.param("1:15pm", time(13, 15), id="pm-no-space"),
        pytest.param("1:15 p.m.", time(13, 15), id="p-dot-m"),
        pytest.param("12:30 AM", time(0, 30), id="midnight-hour-am"),
        pytest.param("12 PM", time(12, 0), id="noon"),
        pytest.param("9am", time(9, 0), id="bare-am"),
        pytest.param("13.25", time(13, 15), id="decimal-hours"),
        pytest.param("13,25", time(13, 15), id="decimal-comma-hours"),
        pytest.param("9", time(9, 0), id="whole-hour"),
        pytest.param("0.552083", time(13, 15), id="day-fraction"),
        pytest.param("0", time(0, 0), id="zero"),
        pytest.param("2026-10-05 13:15:00", time(13, 15), id="datetime"),
        pytest.param("2026-10-05T08:00", time(8, 0), id="datetime-t"),
        pytest.param("10/5/2026 1:15 PM", time(13, 15), id="us-datetime"),
        pytest.param("00:00", time(0, 0), id="midnight"),
        pytest.param("23:59:59", time(23, 59, 59), id="last-second"),
    ],
)
def test_parse_time_accepts(text: str, expected: time) -> None:
    assert parse_time(text) == expected


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        pytest.param("", "no time given", id="blank"),
        pytest.param("24:00", '"24:00" is not a time of day — use a time like 13:15', id="24-00"),
        pytest.param("13:60", "is not a time of day", id="minute-60"),
        pytest.param("13:15 PM", "mixes a 24-hour time with AM/PM", id="24h-pm"),
        pytest.param("0 AM", "mixes a 24-hour time", id="zero-am"),
        pytest.param("24.5", "is not a time of day", id="decimal-over-24"),
        pytest.param("1315", "is not a time of day", id="military"),
        pytest.param("noon", "is not a time of day", id="word"),
        pytest.param("13:15Z", "is not a time of day", id="utc-suffix"),
        pytest.param("-1:00", "is not a time of day", id="negative"),
        pytest.param("1" * 400, "is too long to be a time of day", id="400-digits"),
    ],
)
def test_parse_time_rejects(text: str, fragment: str) -> None:
    with pytest.raises(ParseError, match=fragment) as info:
        parse_time(text)
    assert info.value.code == "bad_time"


def _twelve_hour(t: time) -> str:
    return f"{(t.hour % 12) or 12}:{t.minute:02d} {'PM' if t.hour >= 12 else 'AM'}"


_TIME_STYLES = {
    "hh:mm:ss": lambda t: t.strftime("%H:%M:%S"),
    "hh:mm": lambda t: t.strftime("%H:%M"),
    "12-hour": _twelve_hour,
    "decimal-hours": lambda t: f"{t.hour + t.minute / 60:.6f}",
    "day-fraction": lambda t: f"{(t.hour * 3600 + t.minute * 60 + t.second) / 86400:.10f}",
    "iso-datetime": lambda t: f"2026-10-05 {t:%H:%M:%S}",
}
_TIME_PRECISION = {"hh:mm:ss": 1, "day-fraction": 1, "iso-datetime": 1}


@given(
    at=st.times().map(lambda t: t.replace(microsecond=0)),
    style=st.sampled_from(sorted(_TIME_STYLES)),
)
def test_formatted_times_parse_back(at: time, style: str) -> None:
    if _TIME_PRECISION.get(style, 60) == 60:
        at = at.replace(second=0)
    if style == "decimal-hours" and at.hour == 0:
        at = at.replace(hour=1)  # below 1 a number is a fraction of a day, not hours
    if style == "day-fraction" and at == time(0):
        at = time(0, 0, 1)
    assert parse_time(_TIME_STYLES[style](at)) == at


# ------------------------------------------------------------------- random text is safe

_NEAR_MISS = st.text(alphabet="0123456789:.,/- hmsaptPMTZ\u00a0", max_size=24)


@given(text=st.one_of(st.text(max_size=40), _NEAR_MISS))
def test_random_text_raises_only_parse_error(text: str) -> None:
    for parse in (
        parse_hours,
        parse_time,
        parse_date,
        lambda value: parse_date(value, dayfirst=True),
        parse_cw_datetime,
    ):
        try:
            parse(text)
        except ParseError as exc:
            assert exc.code.startswith("bad_")
            assert exc.message


# ----------------------------------------------------------------------------- time zones


@pytest.mark.parametrize(
    ("tz", "local", "ambiguous", "expected"),
    [
        pytest.param(NEW_YORK, "2026-01-15 09:00", "raise", "2026-01-15T14:00:00Z", id="ny-winter"),
        pytest.param(NEW_YORK, "2026-07-01 09:00", "raise", "2026-07-01T13:00:00Z", id="ny-summer"),
        pytest.param(
            NEW_YORK, "2026-03-08 01:59", "raise", "2026-03-08T06:59:00Z", id="ny-before-gap"
        ),
        pytest.param(
            NEW_YORK, "2026-03-08 03:00", "raise", "2026-03-08T07:00:00Z", id="ny-after-gap"
        ),
        pytest.param(
            NEW_YORK, "2026-11-01 01:30", "earlier", "2026-11-01T05:30:00Z", id="ny-overlap-earlier"
        ),
        pytest.param(
            NEW_YORK, "2026-11-01 01:30", "later", "2026-11-01T06:30:00Z", id="ny-overlap-later"
        ),
        pytest.param(
            NEW_YORK, "2026-11-01 02:00", "raise", "2026-11-01T07:00:00Z", id="ny-after-overlap"
        ),
        pytest.param(
            NEW_YORK, "2026-11-01 00:59", "raise", "2026-11-01T04:59:00Z", id="ny-before-overlap"
        ),
        pytest.param(
            BERLIN, "2026-07-01 12:00", "raise", "2026-07-01T10:00:00Z", id="berlin-summer"
        ),
        pytest.param(
            BERLIN,
            "2026-01-01 00:30",
            "raise",
            "2025-12-31T23:30:00Z",
            id="berlin-crosses-new-year",
        ),
        pytest.param(
            BERLIN, "2026-03-29 03:00", "raise", "2026-03-29T01:00:00Z", id="berlin-after-gap"
        ),
        pytest.param(
            BERLIN,
            "2026-10-25 02:30",
            "earlier",
            "2026-10-25T00:30:00Z",
            id="berlin-overlap-earlier",
        ),
        pytest.param(
            BERLIN, "2026-10-25 02:30", "later", "2026-10-25T01:30:00Z", id="berlin-overlap-later"
        ),
        pytest.param(
            BERLIN, "2026-10-25 03:00", "raise", "2026-10-25T02:00:00Z", id="berlin-after-overlap"
        ),
        pytest.param(UTC_ZONE, "2026-10-05 13:15", "raise", "2026-10-05T13:15:00Z", id="utc"),
    ],
)
def test_local_to_utc(tz: ZoneInfo, local: str, ambiguous: str, expected: str) -> None:
    wall = datetime.fromisoformat(local)
    moment = local_to_utc(wall.date(), wall.time(), tz, ambiguous=ambiguous)
    assert moment.utcoffset() == timedelta(0)
    assert format_cw_datetime(moment) == expected


@pytest.mark.parametrize(
    ("tz", "day", "at"),
    [
        pytest.param(NEW_YORK, date(2026, 3, 8), time(2, 30), id="new-york"),
        pytest.param(NEW_YORK, date(2026, 3, 8), time(2, 0), id="new-york-gap-start"),
        pytest.param(BERLIN, date(2026, 3, 29), time(2, 0), id="berlin"),
        pytest.param(BERLIN, date(2026, 3, 29), time(2, 59, 59), id="berlin-gap-end"),
    ],
)
@pytest.mark.parametrize("ambiguous", ["raise", "earlier", "later"])
def test_local_to_utc_nonexistent_time(tz: ZoneInfo, day: date, at: time, ambiguous: str) -> None:
    with pytest.raises(ParseError, match="does not exist: the clocks jump forward") as info:
        local_to_utc(day, at, tz, ambiguous=ambiguous)
    assert info.value.code == "nonexistent_local_time"
    assert tz.key in info.value.message


@pytest.mark.parametrize(
    ("tz", "day", "at"),
    [
        pytest.param(NEW_YORK, date(2026, 11, 1), time(1, 0), id="new-york"),
        pytest.param(BERLIN, date(2026, 10, 25), time(2, 59), id="berlin"),
    ],
)
def test_local_to_utc_ambiguous_time(tz: ZoneInfo, day: date, at: time) -> None:
    with pytest.raises(ParseError) as info:
        local_to_utc(day, at, tz)
    assert info.value.code == "ambiguous_local_time"
    assert info.value.message == (
        f"{at:%H:%M} on {day.isoformat()} in {tz.key} happens twice: the clocks go back over it "
        "— use --ambiguous earlier or --ambiguous later"
    )


def test_local_to_utc_rejects_unknown_choice() -> None:
    with pytest.raises(ValueError, match="ambiguous must be"):
        local_to_utc(date(2026, 1, 1), time(9), BERLIN, ambiguous="both")


# -------------------------------------------------------------------- ConnectWise format


def test_format_cw_datetime_converts_to_utc_and_drops_fractions() -> None:
    moment = datetime(2026, 10, 5, 15, 15, 7, 900000, tzinfo=BERLIN)
    assert format_cw_datetime(moment) == "2026-10-05T13:15:07Z"


def test_format_cw_datetime_refuses_naive() -> None:
    with pytest.raises(ValueError, match="has no time zone"):
        format_cw_datetime(datetime(2026, 10, 5, 13, 15))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("2026-10-05T13:15:00Z", "2026-10-05 13:15:00", id="z"),
        pytest.param("2026-10-05T15:15:00+02:00", "2026-10-05 13:15:00", id="offset"),
        pytest.param("2026-10-05T13:15:00.123Z", "2026-10-05 13:15:00.123", id="fraction"),
    ],
)
def test_parse_cw_datetime(text: str, expected: str) -> None:
    parsed = parse_cw_datetime(text)
    assert parsed == datetime.fromisoformat(expected).replace(tzinfo=UTC)
    assert parsed.tzinfo is UTC


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("2026-10-05 13:15:00", id="no-zone"),
        pytest.param("2026-10-05T13:15:00", id="naive-iso"),
        pytest.param("2026-13-05T13:15:00Z", id="month-13"),
        pytest.param("", id="blank"),
    ],
)
def test_parse_cw_datetime_rejects(text: str) -> None:
    with pytest.raises(ParseError, match="is not a UTC date and time like") as info:
        parse_cw_datetime(text)
    assert info.value.code == "bad_datetime"


@given(
    moment=st.datetimes(
        min_value=datetime(1970, 1, 1), max_value=datetime(2099, 12, 31), timezones=st.just(UTC)
    )
)
def test_cw_datetime_round_trip(moment: datetime) -> None:
    moment = moment.replace(microsecond=0)
    assert parse_cw_datetime(format_cw_datetime(moment)) == moment
