"""Names in a timesheet → ConnectWise ids, cached and batched, with suggestions.

A ``Resolver`` reads each reference list (members, work types, work roles, companies,
charge codes) at most once per run and checks tickets in batches of ``id in (...)``, then
reads the statuses of each distinct board those tickets sit on (once per run) to learn
whether a ticket's status takes time, so a file costs requests in proportion to its
*distinct* values, not its rows. Every problem of
the file comes back at once as ``RowProblem``s (sheet, row, column, value, fix).

Matching is case-, whitespace- and unicode-insensitive (NFKC + casefold). Members match
by identifier, then e-mail, then full name ("First Last" or "Last, First"); companies by
identifier, then name; the rest by name (charge codes also by id).
"""

from __future__ import annotations

import asyncio
import logging
import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import pandas as pd
from rapidfuzz import fuzz, process

from cwbulk.client import CwClient
from cwbulk.conditions import MAX_CONDITIONS_LENGTH, and_, cond, encoded_length, in_chunks, or_
from cwbulk.errors import NotFound, PermissionDenied, UsageError
from cwbulk.problems import RowProblem

Record = dict[str, Any]
log = logging.getLogger(__name__)

#: The id columns ``Resolution.ids`` holds, on the frame's index.
ID_COLUMNS = ("memberId", "companyId", "chargeToId", "workTypeId", "workRoleId")
TICKET_TYPES = {"ServiceTicket": "service/tickets", "ProjectTicket": "project/tickets"}
CHARGE_TO_TYPES = ("ServiceTicket", "ProjectTicket", "ChargeCode", "Activity", "Company")


@dataclass(frozen=True)
class Kind:
    """A reference list: where it lives, what to read, and how its records are named."""

    name: str
    noun: str
    path: str
    fields: tuple[str, ...]
    search: tuple[str, ...]

    def label(self, record: Record) -> str:
        """How a record is shown in messages."""
        if self.name == "members":
            full = _full_name(record)
            return f"{full} ({record.get('identifier')})" if full else str(record["identifier"])
        if self.name == "companies":
            return f"{record.get('name')} ({record.get('identifier')})"
        return str(record.get("name"))


KINDS: dict[str, Kind] = {
    kind.name: kind
    for kind in (
        Kind(
            "members",
            "member",
            "system/members",
            (
                "id",
                "identifier",
                "firstName",
                "lastName",
                "officeEmail",
                "primaryEmail",
                "inactiveFlag",
            ),
            ("identifier", "firstName", "lastName", "officeEmail"),
        ),
        Kind(
            "work-types",
            "work type",
            "time/workTypes",
            ("id", "name", "billTime", "inactiveFlag"),
            ("name",),
        ),
        Kind(
            "work-roles",
            "work role",
            "time/workRoles",
            ("id", "name", "inactiveFlag"),
            ("name",),
        ),
        Kind(
            "companies",
            "company",
            "company/companies",
            ("id", "identifier", "name", "deletedFlag"),
            ("identifier", "name"),
        ),
        Kind(
            "charge-codes",
            "charge code",
            "time/chargeCodes",
            ("id", "name", "company", "workType", "timeEntryFlag"),
            ("name",),
        ),
    )
}


def normalize(text: object) -> str:
    """The form names are compared in: NFKC, casefolded, inner whitespace collapsed."""
    return " ".join(unicodedata.normalize("NFKC", str(text)).casefold().split())


def fold(text: object) -> str:
    """``normalize`` without accents, so that "Garcia" in a legacy sheet finds "García"."""
    decomposed = unicodedata.normalize("NFKD", normalize(text))
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def _full_name(record: Record) -> str:
    return " ".join(p for p in (record.get("firstName"), record.get("lastName")) if p)


def _keys(kind: Kind, record: Record) -> list[list[str]]:
    """The names a record answers to, by tier (an earlier tier wins over a later one)."""
    if kind.name == "members":
        first, last = record.get("firstName") or "", record.get("lastName") or ""
        emails = [record.get(k) for k in ("officeEmail", "primaryEmail") if record.get(k)]
        names = [f"{first} {last}", f"{last}, {first}", f"{last},{first}"]
        return [[record.get("identifier") or ""], emails, names]
    if kind.name == "companies":
        return [[record.get("identifier") or ""], [record.get("name") or ""]]
    if kind.name == "charge-codes":
        return [[record.get("name") or ""], [str(record.get("id"))]]
    return [[record.get("name") or ""]]


@dataclass(frozen=True)
class Match:
    """The outcome of looking one value up: a record, a problem (code and message), or both.

    Both: the record exists but refuses new time (``STATUS_CODES``). The message of a
    problem is ``head + <row number> + tail``.
    """

    record: Record | None = None
    code: str = ""
    head: str = ""
    tail: str = ""

    def message(self, row: int) -> str:
        """The problem worded for spreadsheet row ``row``."""
        return f"{self.head}{row}{self.tail}"


def _failure(code: str, head: str, tail: str, record: Record | None = None) -> Match:
    return Match(record=record, code=code, head=head, tail=tail)


#: Problems of a record that exists but takes no new time (inactive, closed, no time
#: allowed). The resolver still fills in its id, so a caller may let through rows that
#: neither add nor move time (an unchanged row of an exported sheet).
STATUS_CODES = frozenset(
    {
        "inactive_member",
        "inactive_work_type",
        "inactive_work_role",
        "ticket_closed",
        "ticket_no_time",
        "charge_code_without_time",
    }
)


class NameIndex:
    """One reference list indexed by its normalised names, with "did you mean" help."""

    def __init__(self, kind: Kind, records: Iterable[Record]) -> None:
        self.kind = kind
        self.records = list(records)
        self._tiers: list[dict[str, list[Record]]] = []
        self._choices: list[str] = []
        self._choice_records: list[Record] = []
        for record in self.records:
            for depth, names in enumerate(_keys(kind, record)):
                while len(self._tiers) <= depth:
                    self._tiers.append({})
                for name in {normalize(n) for n in names if n and normalize(n)}:
                    bucket = self._tiers[depth].setdefault(name, [])
                    if record not in bucket:
                        bucket.append(record)
                    self._choices.append(name)
                    self._choice_records.append(record)
        # Last, and only when no exact name matched: the same names without accents.
        folded: dict[str, list[Record]] = {}
        for tier in self._tiers:
            for name, records in tier.items():
                bucket = folded.setdefault(fold(name), [])
                bucket.extend(r for r in records if r not in bucket)
        self._folded = folded

    def find(self, value: str) -> Match:
        """The record ``value`` names, or why there is none (unknown or ambiguous)."""
        key = normalize(value)
        noun = self.kind.noun
        code_noun = noun.replace(" ", "_")
        lookups = [(tier, key) for tier in self._tiers] + [(self._folded, fold(value))]
        for tier, key in lookups:
            found = tier.get(key)
            if found and len(found) == 1:
                return Match(record=found[0])
            if found:
                labels = ", ".join(self.kind.label(r) for r in found)
                plural = self.kind.name.replace("-", " ")
                instead = "identifier or e-mail" if self.kind.name == "members" else "identifier"
                return _failure(
                    f"ambiguous_{code_noun}",
                    f"{noun} {_q(value)} in row ",
                    f" matches {len(found)} {plural}: {labels} — use the {instead} instead",
                )
        suggestions = self.suggest(value)
        fix = (
            f"did you mean {_or_list(suggestions)}?"
            if suggestions
            else f"see `cwbulk lookup {self.kind.name}`"
        )
        return _failure(f"unknown_{code_noun}", f"unknown {noun} {_q(value)} in row ", f" — {fix}")

    def suggest(self, value: str, limit: int = 3) -> list[str]:
        """Up to ``limit`` labels of records whose names look like ``value``."""
        found = process.extract(
            normalize(value), self._choices, scorer=fuzz.WRatio, limit=limit * 4, score_cutoff=60
        )
        labels: list[str] = []
        for _choice, _score, position in found:
            label = self.kind.label(self._choice_records[position])
            if label not in labels:
                labels.append(label)
        return labels[:limit]


@dataclass(frozen=True)
class Ticket:
    """What the resolver learnt about one service or project ticket.

    ``allows_time`` is False for a closed ticket; in a ``Resolution`` also for one whose
    board status forbids time (``timeEntryNotAllowed``).
    """

    type: str
    id: int
    company_id: int | None
    company: str | None
    status: str | None
    allows_time: bool
    board_id: int | None = None
    status_id: int | None = None


@dataclass(frozen=True)
class Resolution:
    """Ids on the frame's index (``ID_COLUMNS``, nullable ints) and every problem found."""

    ids: pd.DataFrame
    problems: list[RowProblem]
    tickets: dict[tuple[str, int], Ticket] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """True when no problem is an error."""
        return not any(p.severity == "error" for p in self.problems)


class Resolver:
    """Turns the names of a canonical frame into ConnectWise ids (one per run: it caches)."""

    def __init__(self, client: CwClient, *, allow_inactive: bool = False) -> None:
        self.client = client
        self.allow_inactive = allow_inactive
        self._indexes: dict[str, asyncio.Task[NameIndex]] = {}
        self._tickets: dict[tuple[str, int], Ticket | None] = {}
        self._boards: dict[int, asyncio.Task[dict[int, Record]]] = {}

    async def index(self, kind: str) -> NameIndex:
        """The named reference list (read from ConnectWise the first time only)."""
        if kind not in self._indexes:
            self._indexes[kind] = asyncio.ensure_future(self._read_index(KINDS[kind]))
        return await self._indexes[kind]

    async def _read_index(self, kind: Kind) -> NameIndex:
        return NameIndex(kind, await self.client.list_items(kind.path, fields=kind.fields))

    async def tickets(self, ticket_type: str, ids: Iterable[int]) -> dict[int, Ticket]:
        """The tickets of ``ticket_type`` among ``ids`` that exist (batched, cached)."""
        wanted = sorted({int(i) for i in ids})
        todo = [i for i in wanted if (ticket_type, i) not in self._tickets]
        if todo:
            path = TICKET_TYPES[ticket_type]
            chunks = in_chunks("id", todo)
            pages = await asyncio.gather(
                *(
                    self.client.get(
                        path,
                        params={
                            "conditions": chunk,
                            "fields": "id,company,board,status,closedFlag",
                            "pageSize": 1000,
                        },
                    )
                    for chunk in chunks
                )
            )
            for i in todo:
                self._tickets[(ticket_type, i)] = None
            for record in (r for page in pages for r in page):
                ticket = _ticket(ticket_type, record)
                self._tickets[(ticket_type, ticket.id)] = ticket
        found = {i: self._tickets[(ticket_type, i)] for i in wanted}
        return {i: t for i, t in found.items() if t is not None}

    async def board_statuses(self, board_id: int) -> dict[int, Record]:
        """A board's statuses by id (read from ConnectWise the first time only).

        Empty when ConnectWise won't list them (no such board, or no permission to read
        board setup): the ticket then goes unchecked, and a POST still reports it.
        """
        if board_id not in self._boards:
            self._boards[board_id] = asyncio.ensure_future(self._read_board(board_id))
        return await self._boards[board_id]

    async def _read_board(self, board_id: int) -> dict[int, Record]:
        try:
            records = await self.client.get(
                f"service/boards/{board_id}/statuses", params={"pageSize": 1000}
            )
        except (NotFound, PermissionDenied) as exc:
            log.warning("can't read the statuses of board %s: %s", board_id, exc)
            return {}
        return {int(r["id"]): r for r in records or []}

    async def resolve(self, frame: pd.DataFrame) -> Resolution:
        """Ids for every row of ``frame`` (the canonical columns plus ``sheet``, ``row``).

        Blank work types and roles stay empty (ConnectWise defaults them); a blank
        company is taken from the row's ticket or charge code; a company that
        contradicts it is a problem. A blank chargeToType means time against a company.
        A record with a ``STATUS_CODES`` problem (inactive, closed, a ticket status that
        takes no time) still gets its id.
        """
        text = {col: _column(frame, col) for col in _INPUT_COLUMNS}
        charge_types = text["chargeToType"].map(_charge_to_type)
        needed = ["members"] + [
            kind for column, kind in _NAMED_COLUMNS.items() if (text[column] != "").any()
        ]
        if (charge_types == "ChargeCode").any():
            needed.append("charge-codes")
        needed = list(dict.fromkeys(needed))
        found_indexes = await asyncio.gather(*(self.index(k) for k in needed))
        indexes = dict(zip(needed, found_indexes, strict=True))

        ids = pd.DataFrame(index=frame.index, columns=list(ID_COLUMNS), dtype="Int64")
        problems: list[RowProblem] = []
        owners = pd.Series(None, index=frame.index, dtype=object)

        def take(
            column: str, values: pd.Series, matches: Mapping[str, Match], target: str
        ) -> pd.Series:
            found = {v: m.record for v, m in matches.items() if m.record is not None}
            ids.loc[values.index, target] = values.map(
                {v: int(r["id"]) for v, r in found.items()}
            ).astype("Int64")
            problems.extend(_problems_of(frame, values, column, matches))
            return values.map(found)

        for column, kind in _NAMED_COLUMNS.items():
            if kind in indexes:
                take(
                    column,
                    text[column],
                    self._match_all(indexes[kind], text[column]),
                    _ID_OF[column],
                )
        no_member = _failure(
            "missing_member", "no member in row ", " — give an identifier, name or e-mail"
        )
        problems.extend(
            _problem(frame, index, "member", "", no_member)
            for index in frame.index[text["member"] == ""]
        )

        tickets: dict[tuple[str, int], Ticket] = {}
        for ticket_type in TICKET_TYPES:
            values = text["chargeTo"][charge_types == ticket_type]
            if values.empty:
                continue
            matches, found = await self._match_tickets(ticket_type, values.unique())
            tickets.update(found)
            owners.update(take("chargeTo", values, matches, "chargeToId"))
        values = text["chargeTo"][charge_types == "ChargeCode"]
        if not values.empty:
            owners.update(
                take(
                    "chargeTo",
                    values,
                    self._match_all(indexes["charge-codes"], values),
                    "chargeToId",
                )
            )
        values = text["chargeTo"][charge_types == "Activity"]
        take("chargeTo", values, {v: _activity(v) for v in values.unique()}, "chargeToId")

        problems.extend(self._check_companies(frame, ids, text["company"], owners))
        company_time = (charge_types == "Company") & ids["companyId"].isna()
        no_company = _failure(
            "missing_company", "time against a company in row ", " needs a company"
        )
        problems.extend(
            _problem(frame, index, "company", "", no_company)
            for index in frame.index[company_time & (text["company"] == "")]
        )
        for index, raw in text["chargeToType"][charge_types.isna()].items():
            bad_type = _failure(
                "bad_charge_to_type",
                f"chargeToType {_q(raw)} in row ",
                f" is not one of {', '.join(CHARGE_TO_TYPES)}",
            )
            problems.append(_problem(frame, index, "chargeToType", raw, bad_type))
        problems.sort(key=lambda p: (p.sheet, p.row, _COLUMN_ORDER.get(p.column or "", 99)))
        return Resolution(ids=ids, problems=problems, tickets=tickets)

    def _match_all(self, index: NameIndex, values: pd.Series) -> dict[str, Match]:
        """One lookup per distinct value; inactive records and closed codes are problems."""
        matches = {}
        for value in values.unique():
            if value == "":
                continue
            match = index.find(value)
            record = match.record
            noun = index.kind.noun
            if record is not None and not self.allow_inactive and record.get("inactiveFlag"):
                label = index.kind.label(record)
                match = _failure(
                    f"inactive_{noun.replace(' ', '_')}",
                    f"{noun} {_q(value)} in row ",
                    f" ({label}) is inactive in ConnectWise — reactivate it, "
                    "or pass --allow-inactive",
                    record,
                )
            elif record is not None and record.get("timeEntryFlag") is False:
                match = _failure(
                    "charge_code_without_time",
                    f"charge code {_q(value)} in row ",
                    " does not allow time entries — pick another, or allow time on it "
                    "in ConnectWise",
                    record,
                )
            matches[value] = match
        return matches

    async def _match_tickets(
        self, ticket_type: str, values: Iterable[str]
    ) -> tuple[dict[str, Match], dict[tuple[str, int], Ticket]]:
        noun = _TICKET_NOUN[ticket_type]
        numbers = {value: _ticket_number(value) for value in values}
        found = await self.tickets(ticket_type, (n for n in numbers.values() if n is not None))
        no_time = await self._no_time_tickets(found.values())
        matches: dict[str, Match] = {}
        for value, number in numbers.items():
            ticket = found.get(number) if number is not None else None
            if number is None:
                matches[value] = _failure(
                    "bad_ticket_number", f"{noun} {_q(value)} in row ", " is not a ticket number"
                )
            elif ticket is None:
                matches[value] = _failure(
                    "unknown_ticket",
                    f"{noun} {number} in row ",
                    " does not exist — check the number and the chargeToType "
                    "(ServiceTicket or ProjectTicket)",
                )
            else:
                record = {
                    "id": ticket.id,
                    "company": {"id": ticket.company_id, "identifier": ticket.company},
                    "_owner": f"{noun} {ticket.id}",
                }
                matches[value] = Match(record=record)
                if not ticket.allows_time:
                    matches[value] = _failure(
                        "ticket_closed",
                        f"{noun} {number} in row ",
                        f" has status {_q(ticket.status or '')}, which does not allow time "
                        "— change its status in ConnectWise first",
                        record,
                    )
                elif ticket.id in no_time:
                    matches[value] = _failure(
                        "ticket_no_time",
                        f"{noun} {number} in row ",
                        f" is {ticket.status}, a status that takes no time — reopen it "
                        "or charge the time elsewhere",
                        record,
                    )
        return matches, {
            (ticket_type, t.id): replace(t, allows_time=False) if t.id in no_time else t
            for t in found.values()
        }

    async def _no_time_tickets(self, tickets: Iterable[Ticket]) -> set[int]:
        """The ids of open ``tickets`` whose board status forbids time (one read per board)."""
        open_tickets = [t for t in tickets if t.allows_time and t.board_id is not None]
        boards = sorted({t.board_id for t in open_tickets if t.board_id is not None})
        found = await asyncio.gather(*(self.board_statuses(b) for b in boards))
        statuses = dict(zip(boards, found, strict=True))
        return {
            t.id
            for t in open_tickets
            if t.board_id is not None
            and t.status_id is not None
            and statuses[t.board_id].get(t.status_id, {}).get("timeEntryNotAllowed")
        }

    @staticmethod
    def _check_companies(
        frame: pd.DataFrame, ids: pd.DataFrame, company: pd.Series, owners: pd.Series
    ) -> list[RowProblem]:
        """Fill a blank company from the ticket/charge code; flag one that contradicts it."""
        owner_company = owners.map(
            lambda r: (r.get("company") or {}).get("id") if isinstance(r, dict) else None
        ).astype("Int64")
        given = ids["companyId"]
        fill = given.isna() & (company == "") & owner_company.notna()
        ids.loc[fill, "companyId"] = owner_company[fill]
        clash = given.notna() & owner_company.notna() & (given != owner_company)
        problems = []
        for index in frame.index[clash.fillna(False).astype(bool)]:
            raw, owner = company[index], owners[index]
            whose = owner.get("_owner") or f"charge code {_q(owner.get('name', ''))}"
            belongs = (owner.get("company") or {}).get("identifier")
            clash_problem = _failure(
                "company_mismatch",
                f"company {_q(raw)} in row ",
                f" is not the company of {whose} ({belongs}) — clear the company cell or fix it",
            )
            problems.append(_problem(frame, index, "company", raw, clash_problem))
        return problems


_INPUT_COLUMNS = ("member", "chargeToType", "chargeTo", "company", "workType", "workRole")
_NAMED_COLUMNS = {
    "member": "members",
    "company": "companies",
    "workType": "work-types",
    "workRole": "work-roles",
}
_ID_OF = {
    "member": "memberId",
    "company": "companyId",
    "workType": "workTypeId",
    "workRole": "workRoleId",
}
_TICKET_NOUN = {"ServiceTicket": "service ticket", "ProjectTicket": "project ticket"}
_COLUMN_ORDER = {
    c: n
    for n, c in enumerate(("member", "chargeToType", "chargeTo", "company", "workType", "workRole"))
}
_CHARGE_TYPE_BY_KEY = {t.casefold(): t for t in CHARGE_TO_TYPES}


def _column(frame: pd.DataFrame, name: str) -> pd.Series:
    if name not in frame.columns:
        return pd.Series("", index=frame.index, dtype=object)
    return frame[name].fillna("").astype(str).str.strip().astype(object)


def _charge_to_type(value: str) -> str | None:
    """The canonical chargeToType; blank means company time."""
    if value == "":
        return "Company"
    return _CHARGE_TYPE_BY_KEY.get(value.replace(" ", "").casefold())


def _ticket_number(value: str) -> int | None:
    match = re.fullmatch(r"#?\s*(\d{1,10})", value)
    return int(match.group(1)) if match else None


def _ticket(ticket_type: str, record: Record) -> Ticket:
    company = record.get("company") or {}
    status = record.get("status") or {}
    return Ticket(
        type=ticket_type,
        id=int(record["id"]),
        company_id=company.get("id"),
        company=company.get("identifier") or company.get("name"),
        status=status.get("name"),
        allows_time=not record.get("closedFlag"),
        board_id=(record.get("board") or {}).get("id"),
        status_id=status.get("id"),
    )


def _activity(value: str) -> Match:
    if value.isdigit():
        return Match(record={"id": int(value)})
    return _failure(
        "bad_activity", f"activity {_q(value)} in row ", " is not an activity id — give its number"
    )


def _problems_of(
    frame: pd.DataFrame, values: pd.Series, column: str, matches: Mapping[str, Match]
) -> list[RowProblem]:
    bad = {v: m for v, m in matches.items() if m.code}
    if not bad:
        return []
    return [
        _problem(frame, index, column, value, bad[value])
        for index, value in values[values.isin(list(bad))].items()
    ]


def _problem(frame: pd.DataFrame, index: Any, column: str, value: str, match: Match) -> RowProblem:
    row = int(frame.at[index, "row"]) if "row" in frame.columns else int(index)
    sheet = str(frame.at[index, "sheet"]) if "sheet" in frame.columns else ""
    return RowProblem(
        sheet=sheet,
        row=row,
        column=column,
        value=value,
        code=match.code,
        message=match.message(row),
    )


def _q(value: str) -> str:
    return f"'{value}'"


def _or_list(items: list[str]) -> str:
    quoted = [_q(i) for i in items]
    return quoted[0] if len(quoted) == 1 else f"{', '.join(quoted[:-1])} or {quoted[-1]}"


# -- lookup tables ---------------------------------------------------------------------

#: What ``cwbulk lookup`` can list: the reference lists plus tickets.
LOOKUP_KINDS = (*KINDS, "tickets")
_TICKET_FIELDS = ("id", "summary", "company", "status", "closedFlag")
_TICKET_SEARCH = ("summary", "company/identifier", "company/name")


async def reference_table(
    client: CwClient, kind: str, *, search: str | None = None
) -> pd.DataFrame:
    """A reference list as a table for people, optionally filtered by ``search``.

    ``search`` is a case-insensitive substring of any name field (for members also
    "First Last"; for tickets also the exact number), sent to ConnectWise as
    ``contains`` conditions and re-checked here, since a real server may read wildcards
    inside ``contains``.
    """
    text = (search or "").strip()
    if kind == "tickets":
        frames = []
        for ticket_type, path in TICKET_TYPES.items():
            conditions = _search_conditions(_TICKET_SEARCH, text, by_id=True) if text else None
            records = await client.list_items(path, conditions=conditions, fields=_TICKET_FIELDS)
            frames.append(_ticket_rows(ticket_type, records))
        table = pd.concat([f for f in frames if not f.empty] or frames[:1], ignore_index=True)
    else:
        spec = KINDS[kind]
        conditions = (
            _search_conditions(spec.search, text, names=kind == "members") if text else None
        )
        records = await client.list_items(spec.path, conditions=conditions, fields=spec.fields)
        columns = [*_TABLE_COLUMNS[kind], *(c for c in _SEARCHED_COLUMNS[kind] if c[0] == "_")]
        table = pd.DataFrame([_row(kind, r) for r in records], columns=columns)
    if text:
        wanted = normalize(text)
        searched = [c for c in _SEARCHED_COLUMNS[kind] if c in table.columns]
        hit = pd.Series(False, index=table.index)
        for column in searched:
            hit |= table[column].map(lambda v: wanted in normalize(v) if v else False)
        if kind == "tickets" and text.isdigit():
            hit |= table["id"] == int(text)
        table = table[hit].reset_index(drop=True)
    return table[_TABLE_COLUMNS[kind]]


_TABLE_COLUMNS = {
    "members": ["id", "identifier", "name", "email", "inactive"],
    "work-types": ["id", "name", "billTime", "inactive"],
    "work-roles": ["id", "name", "inactive"],
    "companies": ["id", "identifier", "name"],
    "charge-codes": ["id", "name", "company", "workType", "timeEntry"],
    "tickets": ["type", "id", "summary", "company", "status", "closed"],
}
_SEARCHED_COLUMNS = {
    "members": ["identifier", "name", "email", "_first", "_last"],
    "work-types": ["name"],
    "work-roles": ["name"],
    "companies": ["identifier", "name"],
    "charge-codes": ["name"],
    "tickets": ["summary", "company", "_company_name"],
}


def _search_conditions(
    fields: Iterable[str], text: str, *, names: bool = False, by_id: bool = False
) -> str:
    parts = [cond(f, "contains", text) for f in fields]
    words = text.split()
    if names and len(words) > 1:
        # A match across "First Last" has its first word inside firstName and its last
        # word inside lastName; the exact check happens on this side.
        parts.append(
            and_(cond("firstName", "contains", words[0]), cond("lastName", "contains", words[-1]))
        )
    if by_id and text.isdigit() and len(text) < 10:
        parts.append(cond("id", "=", int(text)))
    conditions = or_(*parts)
    if encoded_length(conditions) > MAX_CONDITIONS_LENGTH:
        raise UsageError(
            f"The search text is too long to send ({len(text)} characters).",
            hint="Search for a shorter part of the name.",
        )
    return conditions


def _row(kind: str, record: Record) -> dict[str, Any]:
    if kind == "members":
        return {
            "id": record.get("id"),
            "identifier": record.get("identifier"),
            "name": _full_name(record),
            "email": record.get("officeEmail") or record.get("primaryEmail") or "",
            "inactive": bool(record.get("inactiveFlag")),
            "_first": record.get("firstName") or "",
            "_last": record.get("lastName") or "",
        }
    if kind == "charge-codes":
        return {
            "id": record.get("id"),
            "name": record.get("name"),
            "company": (record.get("company") or {}).get("identifier") or "",
            "workType": (record.get("workType") or {}).get("name") or "",
            "timeEntry": bool(record.get("timeEntryFlag")),
        }
    row = {key: record.get(key) for key in ("id", "identifier", "name", "billTime")}
    row["inactive"] = bool(record.get("inactiveFlag"))
    return row


def _ticket_rows(ticket_type: str, records: list[Record]) -> pd.DataFrame:
    rows = [
        {
            "type": ticket_type,
            "id": r.get("id"),
            "summary": r.get("summary") or "",
            "company": (r.get("company") or {}).get("identifier") or "",
            "status": (r.get("status") or {}).get("name") or "",
            "closed": bool(r.get("closedFlag")),
            "_company_name": (r.get("company") or {}).get("name") or "",
        }
        for r in records
    ]
    return pd.DataFrame(rows, columns=[*_TABLE_COLUMNS["tickets"], "_company_name"])
