"""Build ConnectWise ``conditions`` texts that mean exactly what the caller's values say.

Every value goes through :func:`quote`, so a name holding quotes, brackets, backslashes,
``%``, ``*`` or any unicode cannot change the query; :func:`in_chunks` splits a long
``in (...)`` list so that each request's URL stays under about 1,800 characters.

Wildcards: ``cond(path, "like", pattern)`` sends the pattern as written, so ``%`` and
``*`` in it are wildcards (the bundled sandbox treats every other character as literal).
A ``like`` pattern cannot hold a literal ``%`` or ``*``: search for literal text with
``=`` (whole value) or ``contains`` (substring), where the sandbox treats ``%``, ``*`` and
``_`` as plain characters. Whether a real ConnectWise server reads ``%``, ``_`` or ``[..]``
inside a ``contains`` value (if it compiles to SQL Server ``LIKE``) is unknown, so treat
``contains``/``like`` results as candidates and compare exactly on this side.

The builder refuses what it cannot say safely (NUL characters, lone surrogates, naive
datetimes, numbers ConnectWise can't hold) with ``ValueError``/``TypeError``: these are
caller bugs, or bad input the caller should report with its own context.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from datetime import UTC, date, datetime
from decimal import Decimal
from urllib.parse import quote as url_quote

OPERATORS = (
    "=",
    "!=",
    "<",
    "<=",
    ">",
    ">=",
    "contains",
    "like",
    "in",
    "not contains",
    "not like",
    "not in",
)
URL_LIMIT = 1800
# Scheme, host, codebase, endpoint, "?conditions=", pageSize, page, orderBy, fields.
URL_ROOM = 300
MAX_CONDITIONS_LENGTH = URL_LIMIT - URL_ROOM

_PATH = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:/[A-Za-z_][A-Za-z0-9_]*)*")
_SURROGATE = re.compile("[\ud800-\udfff]")
_INT64 = range(-(2**63), 2**63)


def quote(value: str | int | float | bool | datetime | date | Decimal | None) -> str:
    """The conditions literal for ``value``.

    Strings are double-quoted with ``\\`` and ``"`` escaped; datetimes become ``[...Z]``
    in UTC (whole seconds; a naive datetime is refused); a date is its midnight UTC;
    booleans ``true``/``false``; None ``null``; numbers plain decimals.
    """
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        if value not in _INT64:
            raise ValueError(f"{value} is out of range for a ConnectWise number")
        return str(value)
    if isinstance(value, float | Decimal):
        if not math.isfinite(float(value)):
            raise ValueError(f"{value} is not a number ConnectWise can compare")
        text = format(Decimal(repr(value)) if isinstance(value, float) else value, "f")
        return text if "." in text else text + ".0"
    if isinstance(value, datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value.isoformat()}: give it a time zone")
        moment = value.astimezone(UTC)
        return f"[{_datetime_text(moment)}]"
    if isinstance(value, date):
        return f"[{_datetime_text(datetime(value.year, value.month, value.day))}]"
    if isinstance(value, str):
        if "\x00" in value or _SURROGATE.search(value):
            raise ValueError(f"cannot send NUL or a lone surrogate in a condition: {value!r}")
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    raise TypeError(f"cannot use a {type(value).__name__} in a condition: {value!r}")


def _datetime_text(moment: datetime) -> str:
    # f-string, not strftime: strftime("%Y") drops the zero padding of years before 1000.
    return (
        f"{moment.year:04d}-{moment.month:02d}-{moment.day:02d}"
        f"T{moment.hour:02d}:{moment.minute:02d}:{moment.second:02d}Z"
    )


def cond(path: str, op: str, value: object) -> str:
    """One comparison, e.g. ``cond("member/identifier", "=", name)``.

    ``op`` is one of :data:`OPERATORS`; ``in`` and ``not in`` take an iterable of values;
    ``contains`` and ``like`` take a string; None goes only with ``=`` and ``!=``.
    """
    _check_path(path)
    normal = " ".join(str(op).lower().split())
    if normal not in OPERATORS:
        raise ValueError(f"unknown operator {op!r}; use one of {', '.join(OPERATORS)}")
    if normal.endswith("in"):
        if isinstance(value, str | bytes) or not isinstance(value, Iterable):
            raise TypeError(f"{normal} needs a list of values, not {value!r}")
        return _in_text(path, normal, [_list_item(v) for v in value])
    if normal.endswith(("contains", "like")) and not isinstance(value, str):
        raise TypeError(f"{normal} needs a string, not {value!r}")
    if value is None and normal not in ("=", "!="):
        raise ValueError(f"null can only be compared with = or !=, not {normal}")
    return f"{path} {normal} {quote(value)}"  # type: ignore[arg-type]


def _check_path(path: str) -> None:
    if not isinstance(path, str) or not _PATH.fullmatch(path):
        raise ValueError(f"not a field path: {path!r} (names of letters, digits, _ joined by /)")


def _list_item(value: object) -> str:
    if value is None:
        raise ValueError("null cannot be in an in (...) list; use cond(path, '=', None)")
    return quote(value)  # type: ignore[arg-type]


def _in_text(path: str, op: str, literals: list[str]) -> str:
    if not literals:
        raise ValueError(f"{op} needs at least one value")
    return f"{path} {op} ({','.join(literals)})"


def and_(*parts: str) -> str:
    """Join conditions with ``and``, skipping empty parts and bracketing any ``or`` part."""
    kept = [p.strip() for p in parts if p and p.strip()]
    if len(kept) == 1:
        return kept[0]
    return " and ".join(f"({p})" if _has_top_level_or(p) else p for p in kept)


def or_(*parts: str) -> str:
    """Join conditions with ``or``, skipping empty parts (``and`` binds tighter already)."""
    return " or ".join(p.strip() for p in parts if p and p.strip())


def not_(part: str) -> str:
    """Negate a condition: ``not (part)``."""
    if not part.strip():
        raise ValueError("cannot negate an empty condition")
    return f"not ({part.strip()})"


def _has_top_level_or(text: str) -> bool:
    """Whether ``or`` appears outside quotes, brackets and parentheses."""
    depth, i = 0, 0
    while i < len(text):
        ch = text[i]
        if ch in "\"'":
            i += 1
            while i < len(text) and text[i] != ch:
                i += 2 if text[i] == "\\" else 1
        elif ch == "[":
            end = text.find("]", i)
            i = end if end >= 0 else len(text)
        elif ch in "()":
            depth += 1 if ch == "(" else -1
        elif (
            depth == 0
            and text[i : i + 2].lower() == "or"
            and not _is_word_char(text[i - 1 : i])
            and not _is_word_char(text[i + 2 : i + 3])
        ):
            return True
        i += 1
    return False


def _is_word_char(ch: str) -> bool:
    return bool(ch) and (ch.isalnum() or ch in "_/")


def encoded_length(text: str) -> int:
    """Length of ``text`` percent-encoded as a query value (an upper bound for httpx's)."""
    return len(url_quote(text, safe=""))


def in_chunks(
    path: str,
    values: Iterable[object],
    *,
    base: str = "",
    max_length: int = MAX_CONDITIONS_LENGTH,
) -> list[str]:
    """Split ``path in (values)`` into complete conditions, each ``and``-ed with ``base``.

    Each returned text, percent-encoded, is at most ``max_length`` characters (default:
    the ~1,800-character URL budget less room for the rest of the URL); together they
    name every distinct value exactly once, in first-seen order. No values give ``[]``
    (nothing to ask for). ``ValueError`` if ``base`` and a single value cannot fit.
    """
    _check_path(path)
    literals = list(dict.fromkeys(_list_item(v) for v in values))
    if not literals:
        return []
    fixed = encoded_length(and_(base, f"{path} in ()"))
    separator = encoded_length(",")
    chunks: list[list[str]] = [[]]
    length = fixed
    for literal in literals:
        size = encoded_length(literal)
        if fixed + size > max_length:
            raise ValueError(
                f"{literal[:60]} does not fit in a {max_length}-character condition"
                + (" with its base condition" if base.strip() else "")
            )
        extra = size + (separator if chunks[-1] else 0)
        if length + extra > max_length:
            chunks.append([])
            length, extra = fixed, size
        chunks[-1].append(literal)
        length += extra
    return [and_(base, _in_text(path, "in", chunk)) for chunk in chunks]
