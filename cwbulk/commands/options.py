"""Click options shared by the commands that read timesheets (validate, import, reconcile).

``read_options`` adds them all and hands the command one ``read: ReadOptions`` argument;
the single decorators are there for commands that need only some.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path
from typing import Any, TypeVar

import click

from cwbulk.client import AUTO_RATE, CONNECTWISE_RATE
from cwbulk.errors import UsageError
from cwbulk.mapping import BUILTIN_PROFILES
from cwbulk.parse import ParseError, parse_time
from cwbulk.validate import DEFAULT_DAY_START, ReadOptions, resolve_zone

__all__ = [
    "ambiguous_option",
    "day_start_option",
    "dayfirst_option",
    "mapping_option",
    "member_map_option",
    "read_options",
    "sheet_option",
    "tz_option",
]

F = TypeVar("F", bound=Callable[..., Any])


def _check_tz(_ctx: click.Context, _param: click.Parameter, value: str | None) -> str | None:
    if value:
        try:
            resolve_zone(value)
        except UsageError as exc:
            raise click.BadParameter(str(exc)) from None
    return value


def _check_time(_ctx: click.Context, _param: click.Parameter, value: str | None) -> str | None:
    if value:
        try:
            parse_time(value)
        except ParseError as exc:
            raise click.BadParameter(exc.message) from None
    return value


mapping_option = click.option(
    "--mapping",
    metavar="NAME|FILE.yaml",
    help=f"Column mapping: a built-in profile ({', '.join(BUILTIN_PROFILES)}) or your own "
    "YAML file (docs/mapping.md). Detected from the header when left out.",
)
sheet_option = click.option(
    "--sheet",
    metavar="NAME|INDEX|all",
    help="Workbook sheet to read: its name, its position from 0, or all. Default: the first.",
)
tz_option = click.option(
    "--tz",
    metavar="ZONE",
    callback=_check_tz,
    help="Time zone of the sheet's times (IANA name, e.g. Europe/London). "
    "Default: the mapping's, else this computer's.",
)
dayfirst_option = click.option(
    "--dayfirst/--monthfirst",
    default=None,
    help="Read 05/10/2026 as 5 October (day first) or May 10 (month first, the default).",
)
member_map_option = click.option(
    "--member-map",
    type=click.Path(dir_okay=False, path_type=Path),
    metavar="FILE.csv",
    help="CSV/XLSX with columns source,member: names or e-mails in the sheet → member identifiers.",
)
day_start_option = click.option(
    "--day-start",
    metavar="HH:MM",
    callback=_check_time,
    help=f"Start time for rows with hours but no start; they are stacked one after "
    f"another per member and day. Default: {DEFAULT_DAY_START}.",
)
ambiguous_option = click.option(
    "--ambiguous",
    type=click.Choice(["error", "earlier", "later"]),
    default="error",
    show_default=True,
    help="A local time that happens twice when clocks go back: a row error, or take the "
    "earlier or later one.",
)

_OPTIONS = (
    mapping_option,
    sheet_option,
    tz_option,
    dayfirst_option,
    member_map_option,
    day_start_option,
    ambiguous_option,
)


def read_options(func: F) -> F:
    """Add every reading/mapping option; the command receives them as ``read: ReadOptions``."""

    @functools.wraps(func)
    def wrapper(
        *args: Any,
        mapping: str | None,
        sheet: str | None,
        tz: str | None,
        dayfirst: bool | None,
        member_map: Path | None,
        day_start: str | None,
        ambiguous: str,
        **kwargs: Any,
    ) -> Any:
        kwargs["read"] = ReadOptions(
            sheet=sheet,
            mapping=mapping,
            tz=tz,
            dayfirst=dayfirst,
            member_map=member_map,
            day_start=day_start,
            ambiguous="raise" if ambiguous == "error" else ambiguous,
        )
        return func(*args, **kwargs)

    for option in reversed(_OPTIONS):
        wrapper = option(wrapper)
    return wrapper  # type: ignore[return-value]


def _max_rate(_ctx: click.Context, _param: click.Parameter, value: str) -> float | str | None:
    if value.strip().lower() == AUTO_RATE:
        return AUTO_RATE
    try:
        rate = float(value)
    except ValueError:
        raise click.BadParameter(f"{value!r}: give requests per second, 0 or 'auto'.") from None
    if rate < 0 or rate != rate:
        raise click.BadParameter(f"{value!r}: give a rate of 0 or more requests per second.")
    return rate or None


#: ``--max-rate``: "auto", a number of requests per second, or 0 for no cap.
max_rate_option = click.option(
    "--max-rate",
    default=AUTO_RATE,
    show_default=True,
    metavar="REQ_PER_S|auto",
    callback=_max_rate,
    help=f"Requests per second at most. auto: {CONNECTWISE_RATE:g}/s on a ConnectWise site "
    "(it throttles above ~1,000 a minute), no cap on the sandbox; 0: no cap. A 429 lowers "
    "the cap to what the server accepts.",
)


def _as_day(_ctx: click.Context, _param: click.Parameter, value: datetime | None) -> date | None:
    return value.date() if value is not None else None


def period_options(*, required: bool = False) -> Callable[[F], F]:
    """``--from``/``--to`` as dates: inclusive local days in ``--tz``, in every command."""

    def decorate(func: F) -> F:
        for name, dest, text in (
            ("--to", "date_to", "Last day of the period, included (local, in --tz)."),
            ("--from", "date_from", "First day of the period (local, in --tz)."),
        ):
            func = click.option(
                name,
                dest,
                type=click.DateTime(["%Y-%m-%d"]),
                callback=_as_day,
                required=required,
                metavar="YYYY-MM-DD",
                help=text,
            )(func)
        return func

    return decorate


#: ``--member``, repeatable: members by identifier, e-mail or name.
member_option = click.option(
    "--member",
    "members",
    multiple=True,
    metavar="NAME",
    help="Only this member (identifier, e-mail or name); repeat for several.",
)
