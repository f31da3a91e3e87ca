"""The ConnectWise ``conditions`` language: parser, SQL translation and evaluation.

Grammar (keywords are case-insensitive; ``and`` binds tighter than ``or``)::

    conditions := or_expr END
    or_expr    := and_expr ("or" and_expr)*
    and_expr   := unary ("and" unary)*
    unary      := "not" unary | "(" or_expr ")" | comparison
    comparison := path ["not"] op operand        ("not" only before contains, like, in)
    op         := "=" | "!=" | "<" | "<=" | ">" | ">=" | "contains" | "like" | "in"
    operand    := literal | "(" literal ("," literal)* ")"      (the list only after in)
    literal    := "text" | 'text' | [datetime] | number | true | false | null
    path       := name ("/" name)*                 (name: letters, digits, _)

Semantics, the same in :func:`to_sql` and :func:`matches` (the tests hold them to it):

- Every expression is true or false. A missing field and a JSON null are both null.
  ``not X`` is true exactly when ``X`` is false, so ``summary != "x"``,
  ``summary not contains "x"`` and ``not (summary = "x")`` all include entries whose
  summary is null. (Whether ConnectWise follows SQL's three-valued logic here is unknown.)
- A comparison holds only between values of one kind: strings with strings, numbers and
  booleans (true = 1, false = 0, as SQLite's json_extract returns them) with numbers,
  datetimes with datetime text. ``summary > 5`` and ``id = "5"`` match nothing.
- Strings compare without regard to case. Assumption: ConnectWise runs on SQL Server with
  a case-insensitive collation. SQLite folds only ASCII letters, so ``É`` ≠ ``é`` here.
- ``contains`` is a literal substring test: ``%``, ``*`` and ``_`` are plain characters.
- ``like`` matches the whole value; ``%`` and ``*`` each match any run of characters
  (none included); every other character, ``_`` too, is literal. (SQL Server would also
  read ``_`` and ``[...]`` as wildcards; we don't, so ``like "cw_sandbox*"`` means what
  it says.)
- Datetimes compare as instants: a literal is normalised to UTC ``YYYY-MM-DDTHH:MM:SSZ``,
  the text the store keeps, so text order is time order. ``[YYYY-MM-DD]`` is midnight
  UTC, an offset such as ``+02:00`` is converted, no offset means UTC.
- ``field = null`` and ``field != null`` test for null; null takes no other operator and
  may not appear in an ``in`` list.
- Strings take double or single quotes. ``\\"``, ``\\'`` and ``\\\\`` are escapes; a
  backslash before any other character is kept (``"C:\\temp"``). NUL is refused
  (SQLite's JSON and collation functions stop at it), and so are lone surrogates.
- Paths name scalar fields; the ``column`` function given to :func:`to_sql` should
  refuse paths to objects or arrays.

Anything malformed raises :class:`ConditionError` with what went wrong and where. Depth
and size are bounded (:data:`MAX_DEPTH`, :data:`MAX_LITERALS`) so that no condition can
reach Python's recursion limit or SQLite's expression-depth and parameter limits.
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from typing import NamedTuple

MAX_DEPTH = 100
MAX_LITERALS = 10_000

KEYWORDS = frozenset({"and", "or", "not", "contains", "like", "in", "true", "false", "null"})
WORD_OPERATORS = ("contains", "like", "in")
PATH = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:/[A-Za-z_][A-Za-z0-9_]*)*")


class ConditionError(ValueError):
    """A malformed ``conditions`` or ``orderBy`` text; ``position`` is a 0-based offset."""

    def __init__(self, message: str, position: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.position = position

    def __str__(self) -> str:
        if self.position is None:
            return self.message
        return f"{self.message} (at position {self.position})"


Value = str | int | float | bool | datetime | None


@dataclass(frozen=True)
class Comparison:
    """``path op value``; for ``in`` the value is a tuple of literals."""

    path: str
    op: str
    value: Value | tuple[Value, ...]
    position: int = field(default=0, compare=False)


@dataclass(frozen=True)
class Not:
    """``not operand``."""

    operand: Expr


@dataclass(frozen=True)
class And:
    """All operands hold."""

    operands: tuple[Expr, ...]


@dataclass(frozen=True)
class Or:
    """At least one operand holds."""

    operands: tuple[Expr, ...]


Expr = Comparison | Not | And | Or


# --- tokenizer ---------------------------------------------------------------------------


class _Token(NamedTuple):
    kind: str  # "(", ")", ",", "op", "word", "literal", "end"
    text: str
    pos: int
    value: Value = None


_SPACE = re.compile(r"\s+")
_OPERATOR = re.compile(r"<=|>=|!=|=|<|>")
_NUMBER = re.compile(r"-?[0-9]+(?:\.[0-9]+)?(?![A-Za-z0-9_.])")
_WORD = re.compile(PATH.pattern + r"(?![A-Za-z0-9_/])")
_JUNK = re.compile(r"[^\s(),=<>!\"'\[\]]+")
_DATETIME = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}(?:T[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.0{1,6})?(?:Z|[+-][0-9]{2}:[0-9]{2})?)?"
)
_ESCAPABLE = "\"'\\"


def _tokenize(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    i = 0
    while i < len(text):
        ch = text[i]
        if m := _SPACE.match(text, i):
            i = m.end()
        elif ch in "(),":
            tokens.append(_Token(ch, ch, i))
            i += 1
        elif m := _OPERATOR.match(text, i):
            tokens.append(_Token("op", m.group(), i))
            i = m.end()
        elif ch in "\"'":
            value, end = _read_string(text, i)
            tokens.append(_Token("literal", text[i:end], i, value))
            i = end
        elif ch == "[":
            end = text.find("]", i)
            if end < 0:
                raise ConditionError("unterminated datetime: '[' without a closing ']'", i)
            tokens.append(_Token("literal", text[i : end + 1], i, _read_datetime(text, i, end)))
            i = end + 1
        elif m := _NUMBER.match(text, i):
            tokens.append(_Token("literal", m.group(), i, _read_number(m.group(), i)))
            i = m.end()
        elif m := _WORD.match(text, i):
            tokens.append(_Token("word", m.group(), i))
            i = m.end()
        elif m := _JUNK.match(text, i):
            raise ConditionError(
                f"cannot read {_show(m.group())}: expected a field path (names joined by '/'),"
                " a keyword, or a number such as 12 or -1.5",
                i,
            )
        else:
            raise ConditionError(f"unexpected character {ch!r}", i)
    tokens.append(_Token("end", "", len(text)))
    return tokens


def _read_string(text: str, start: int) -> tuple[str, int]:
    quote = text[start]
    out: list[str] = []
    i = start + 1
    while i < len(text):
        ch = text[i]
        if ch == quote:
            return "".join(out), i + 1
        if ch == "\x00" or "\ud800" <= ch <= "\udfff":
            raise ConditionError(f"character {ch!r} is not allowed in a string", i)
        if ch == "\\" and i + 1 < len(text) and text[i + 1] in _ESCAPABLE:
            out.append(text[i + 1])
            i += 2
        else:
            out.append(ch)
            i += 1
    raise ConditionError(f"unterminated string: the {quote} that opens it is never closed", start)


def _read_datetime(text: str, start: int, end: int) -> datetime:
    inner = text[start + 1 : end]
    problem = f"not a datetime: [{inner}]; write [YYYY-MM-DDTHH:MM:SSZ] or [YYYY-MM-DD]"
    if not _DATETIME.fullmatch(inner):
        raise ConditionError(problem, start)
    try:
        moment = datetime.fromisoformat(inner)
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return moment.astimezone(UTC)
    except (ValueError, OverflowError) as exc:
        raise ConditionError(problem, start) from exc


def _read_number(text: str, start: int) -> int | float:
    if "." not in text:
        number = int(text)
        if -(2**63) <= number < 2**63:
            return number
    else:
        decimal = float(text)
        if math.isfinite(decimal):
            return decimal
    raise ConditionError(f"number out of range: {_show(text)}", start)


def _show(text: str) -> str:
    return repr(text if len(text) <= 40 else text[:37] + "...")


def _describe(token: _Token) -> str:
    return "the end of the conditions" if token.kind == "end" else _show(token.text)


def datetime_text(moment: datetime) -> str:
    """The stored text of a UTC instant: ``YYYY-MM-DDTHH:MM:SSZ``."""
    return (
        f"{moment.year:04d}-{moment.month:02d}-{moment.day:02d}"
        f"T{moment.hour:02d}:{moment.minute:02d}:{moment.second:02d}Z"
    )


# --- parser -------------------------------------------------------------------------------


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = _tokenize(text)
        self.index = 0
        self.depth = 0
        self.literals = 0

    def peek(self) -> _Token:
        return self.tokens[self.index]

    def take(self) -> _Token:
        token = self.tokens[self.index]
        self.index = min(self.index + 1, len(self.tokens) - 1)
        return token

    @staticmethod
    def keyword(token: _Token) -> str | None:
        word = token.text.lower()
        return word if token.kind == "word" and word in KEYWORDS else None

    def parse(self) -> Expr:
        if self.peek().kind == "end":
            raise ConditionError("the conditions are empty", 0)
        expr = self.or_expr()
        token = self.peek()
        if token.kind == ")":
            raise ConditionError("unbalanced ')': there is no '(' for it to close", token.pos)
        if token.kind != "end":
            raise ConditionError(
                f"expected 'and', 'or' or the end of the conditions, found {_describe(token)}",
                token.pos,
            )
        return expr

    def or_expr(self) -> Expr:
        parts = [self.and_expr()]
        while self.keyword(self.peek()) == "or":
            self.take()
            parts.append(self.and_expr())
        return parts[0] if len(parts) == 1 else Or(tuple(parts))

    def and_expr(self) -> Expr:
        parts = [self.unary()]
        while self.keyword(self.peek()) == "and":
            self.take()
            parts.append(self.unary())
        return parts[0] if len(parts) == 1 else And(tuple(parts))

    def unary(self) -> Expr:
        token = self.peek()
        if self.keyword(token) == "not" or token.kind == "(":
            self.take()
            self.depth += 1
            if self.depth > MAX_DEPTH:
                raise ConditionError(f"nested more than {MAX_DEPTH} levels deep", token.pos)
            if token.kind == "(":
                expr = self.or_expr()
                close = self.take()
                if close.kind != ")":
                    raise ConditionError(
                        f"expected ')' to close the '(' at position {token.pos},"
                        f" found {_describe(close)}",
                        close.pos,
                    )
            else:
                expr = Not(self.unary())
            self.depth -= 1
            return expr
        return self.comparison()

    def comparison(self) -> Expr:
        token = self.take()
        if token.kind != "word" or self.keyword(token):
            raise ConditionError(f"expected a field name, found {_describe(token)}", token.pos)
        path = token.text
        op_token = self.take()
        negated = self.keyword(op_token) == "not"
        if negated:
            op_token = self.take()
            if self.keyword(op_token) not in WORD_OPERATORS:
                raise ConditionError(
                    f"expected contains, like or in after '{path} not',"
                    f" found {_describe(op_token)}",
                    op_token.pos,
                )
        if op_token.kind == "op":
            op = op_token.text
        elif self.keyword(op_token) in WORD_OPERATORS:
            op = op_token.text.lower()
        else:
            raise ConditionError(
                f"expected an operator (= != < <= > >= contains like in) after '{path}',"
                f" found {_describe(op_token)}",
                op_token.pos,
            )
        value = self.in_list(op_token) if op == "in" else self.literal(op_token, op)
        comparison = Comparison(path, op, value, token.pos)
        return Not(comparison) if negated else comparison

    def literal(self, after: _Token, op: str) -> Value:
        token = self.take()
        self.literals += 1
        if self.literals > MAX_LITERALS:
            raise ConditionError(f"more than {MAX_LITERALS} values", token.pos)
        word = self.keyword(token)
        if token.kind == "literal":
            value = token.value
        elif word in ("true", "false", "null"):
            value = {"true": True, "false": False, "null": None}[word]
        else:
            hint = " (strings must be quoted)" if token.kind == "word" else ""
            raise ConditionError(
                f"expected a value after {_show(after.text)}, found {_describe(token)}{hint}",
                token.pos,
            )
        if value is None and op not in ("=", "!=", "in"):
            raise ConditionError(f"null can only follow = or !=, not {op}", token.pos)
        if op in ("contains", "like") and not isinstance(value, str):
            raise ConditionError(
                f"{op} needs a quoted string, found {_show(token.text)}", token.pos
            )
        return value

    def in_list(self, after: _Token) -> tuple[Value, ...]:
        opening = self.take()
        if opening.kind != "(":
            raise ConditionError(
                f"expected '(' after {_show(after.text)}, found {_describe(opening)}", opening.pos
            )
        if self.peek().kind == ")":
            raise ConditionError("empty list: in () needs at least one value", self.peek().pos)
        values = []
        while True:
            values.append(self.literal(after, "in"))
            if values[-1] is None:
                raise ConditionError(
                    "null cannot be in an in (...) list; use 'field = null'",
                    self.tokens[self.index - 1].pos,
                )
            token = self.take()
            if token.kind == ")":
                return tuple(values)
            if token.kind != ",":
                raise ConditionError(
                    f"expected ',' or ')' in the in (...) list, found {_describe(token)}",
                    token.pos,
                )


def parse_conditions(text: str) -> Expr:
    """Parse a ``conditions`` text into an expression tree; :class:`ConditionError` if malformed.

    An empty text is an error: a caller that treats a blank parameter as "no filter"
    should check for it before calling.
    """
    return _Parser(text).parse()


_ORDER_ITEM = re.compile(rf"\s*({PATH.pattern})(?:\s+(asc|desc))?\s*", re.IGNORECASE)


def parse_order_by(text: str) -> list[tuple[str, bool]]:
    """``"member/identifier asc, timeStart desc"`` → ``[(path, descending), ...]``.

    A blank text gives ``[]``; a malformed one raises :class:`ConditionError`.
    """
    if not text.strip():
        return []
    order: list[tuple[str, bool]] = []
    start = 0
    for part in text.split(","):
        match = _ORDER_ITEM.fullmatch(part)
        if not match:
            raise ConditionError(
                f"cannot read orderBy item {_show(part.strip())}: write 'field' or"
                " 'field asc' or 'field desc', separated by commas",
                start + len(part) - len(part.lstrip()),
            )
        order.append((match.group(1), (match.group(2) or "asc").lower() == "desc"))
        start += len(part) + 1
    return order


# --- SQL ------------------------------------------------------------------------------------


def to_sql(expr: Expr, column: Callable[[str], str]) -> tuple[str, list[object]]:
    """Translate to an SQLite boolean expression and its ``?`` parameters.

    ``column(path)`` maps a path as written to an SQL expression; it may raise
    :class:`ConditionError` for an unknown field (given the comparison's position here
    when it has none). Values are always bound, never put into the SQL text.
    """
    params: list[object] = []
    return _sql(expr, column, params, negate=False), params


def _sql(expr: Expr, column: Callable[[str], str], params: list[object], negate: bool) -> str:
    # Negation is pushed down to the comparisons, where it becomes an exact two-valued
    # complement; above them NULL can then only ever act as false.
    if isinstance(expr, Not):
        return _sql(expr.operand, column, params, not negate)
    if isinstance(expr, And | Or):
        joiner = "AND" if isinstance(expr, And) != negate else "OR"
        return _balanced(joiner, [_sql(e, column, params, negate) for e in expr.operands])
    try:
        x = column(expr.path)
    except ConditionError as exc:
        if exc.position is None:
            raise ConditionError(exc.message, expr.position) from exc
        raise
    op, value = expr.op, expr.value
    if op == "!=":
        op, negate = "=", not negate
    if value is None:
        return f"{x} IS NOT NULL" if negate else f"{x} IS NULL"
    sql = _positive_sql(x, op, value, params)
    return f"NOT COALESCE({sql}, 0)" if negate else sql


def _balanced(joiner: str, parts: list[str]) -> str:
    # A balanced tree keeps a long chain of ors under SQLite's expression-depth limit.
    if len(parts) == 1:
        return parts[0]
    middle = len(parts) // 2
    return f"({_balanced(joiner, parts[:middle])} {joiner} {_balanced(joiner, parts[middle:])})"


def _positive_sql(x: str, op: str, value: object, params: list[object]) -> str:
    if op == "in":
        assert isinstance(value, tuple)
        texts = [v for v in value if isinstance(v, str)]
        others = [_param(v) for v in value if not isinstance(v, str)]
        parts = []
        if others:
            parts.append(f"{x} IN ({', '.join('?' * len(others))})")
            params.extend(others)
        if texts:
            parts.append(f"{x} COLLATE NOCASE IN ({', '.join('?' * len(texts))})")
            params.extend(texts)
        return _balanced("OR", parts)
    if op == "contains":
        params.append(value)
        return f"(typeof({x}) = 'text' AND instr(lower({x}), lower(?)) > 0)"
    if op == "like":
        assert isinstance(value, str)
        params.append(_like_pattern(value))
        return f"(typeof({x}) = 'text' AND {x} LIKE ? ESCAPE '\\')"
    params.append(_param(value))
    if isinstance(value, str):
        collate, kind = " COLLATE NOCASE", "= 'text'"
    elif isinstance(value, datetime):
        collate, kind = "", "= 'text'"
    else:
        collate, kind = "", "IN ('integer', 'real')"
    if op == "=":
        return f"{x} = ?{collate}"
    return f"(typeof({x}) {kind} AND {x} {op} ?{collate})"


def _param(value: object) -> object:
    if isinstance(value, datetime):
        return datetime_text(value)
    if isinstance(value, bool):
        return int(value)
    return value


def _like_pattern(pattern: str) -> str:
    """The SQLite LIKE pattern (escape character ``\\``) for a ConnectWise ``like`` value."""
    out = []
    for ch in pattern:
        if ch in "%*":
            out.append("%")
        elif ch in "_\\":
            out.append("\\" + ch)
        else:
            out.append(ch)
    return "".join(out)


# --- evaluation in Python -----------------------------------------------------------------

_ASCII_FOLD = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")
_ORDERING = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge}


def _fold(text: str) -> str:
    return text.translate(_ASCII_FOLD)


@lru_cache(maxsize=256)
def _like_regex(pattern: str) -> re.Pattern[str]:
    parts = ["(?s)"]
    for ch in _fold(pattern):
        parts.append(".*" if ch in "%*" else re.escape(ch))
    return re.compile("".join(parts))


def matches(expr: Expr, record: dict) -> bool:
    """Whether ``record`` (a JSON object as a dict) satisfies ``expr``; same rules as to_sql.

    Path names are matched exactly first, then without regard to case.
    """
    if isinstance(expr, Not):
        return not matches(expr.operand, record)
    if isinstance(expr, And):
        return all(matches(e, record) for e in expr.operands)
    if isinstance(expr, Or):
        return any(matches(e, record) for e in expr.operands)
    return _compare(_lookup(record, expr.path), expr.op, expr.value)


def _lookup(record: object, path: str) -> object:
    value = record
    for name in path.split("/"):
        if not isinstance(value, dict):
            return None
        if name in value:
            value = value[name]
        else:
            lowered = name.lower()
            value = next((v for k, v in value.items() if k.lower() == lowered), None)
    return value


def _compare(found: object, op: str, value: object) -> bool:
    if op == "!=":
        return not _compare(found, "=", value)
    if value is None:
        return found is None
    if op == "in":
        assert isinstance(value, tuple)
        return any(_compare(found, "=", v) for v in value)
    if op in ("contains", "like"):
        if not isinstance(found, str):
            return False
        assert isinstance(value, str)
        if op == "contains":
            return _fold(value) in _fold(found)
        return _like_regex(value).fullmatch(_fold(found)) is not None
    pair = _same_kind(found, value)
    if pair is None:
        return False
    return pair[0] == pair[1] if op == "=" else _ORDERING[op](*pair)


def _same_kind(found: object, value: object) -> tuple | None:
    """The field and the literal as two values of one comparable kind, or None."""
    if isinstance(value, datetime):
        return (found, datetime_text(value)) if isinstance(found, str) else None
    if isinstance(value, str):
        return (_fold(found), _fold(value)) if isinstance(found, str) else None
    if isinstance(found, int | float):
        return found, value
    return None
