"""Name resolution: matching rules, suggestions, batching, and every problem of a file at once."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import unicodedata
from collections.abc import Callable
from contextlib import closing
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from cwbulk.cli import cli
from cwbulk.client import CwClient
from cwbulk.resolve import (
    KINDS,
    STATUS_CODES,
    NameIndex,
    Resolution,
    Resolver,
    normalize,
    reference_table,
)
from cwbulk.sandbox import (
    DEFAULT_CLIENT_ID,
    DEFAULT_COMPANY,
    DEFAULT_PRIVATE_KEY,
    DEFAULT_PUBLIC_KEY,
)

MEMBERS = [
    {"id": 1, "identifier": "abaker", "firstName": "Avery", "lastName": "Baker",
     "officeEmail": "avery.baker@example.test", "inactiveFlag": False},
    {"id": 2, "identifier": "fgarcia", "firstName": "Finley", "lastName": "García",
     "officeEmail": "finley.garcia@example.test", "inactiveFlag": False},
    {"id": 3, "identifier": "slee", "firstName": "Sam", "lastName": "Lee",
     "officeEmail": "sam.lee@example.test", "inactiveFlag": False},
    {"id": 4, "identifier": "slee2", "firstName": "Sam", "lastName": "Lee",
     "officeEmail": "sam.lee2@example.test", "inactiveFlag": False},
    {"id": 5, "identifier": "Sam Lee", "firstName": "Other", "lastName": "Person",
     "officeEmail": "", "inactiveFlag": False},
]  # fmt: skip
WORK_TYPES = [{"id": n, "name": name} for n, name in enumerate(["Regular", "Remote", "Travel"])]


@pytest.mark.parametrize(
    ("value", "member_id"),
    [
        pytest.param("abaker", 1, id="identifier"),
        pytest.param("  ABaker ", 1, id="identifier-case-space"),
        pytest.param("Avery Baker", 1, id="full-name"),
        pytest.param("avery   BAKER", 1, id="full-name-spacing"),
        pytest.param("Baker, Avery", 1, id="last-comma-first"),
        pytest.param("AVERY.BAKER@example.test", 1, id="email"),
        pytest.param("Finley García", 2, id="unicode"),
        pytest.param("Finley Garci\u0301a", 2, id="decomposed-accent"),
        pytest.param("Finley Garcia", 2, id="accents-folded-when-no-exact-name"),
        pytest.param("ＦＩＮＬＥＹ García", 2, id="fullwidth-nfkc"),
        pytest.param("sam lee", 5, id="identifier-beats-name"),
    ],
)
def test_members_match_by_identifier_email_or_name(value: str, member_id: int | None) -> None:
    match = NameIndex(KINDS["members"], MEMBERS).find(value)
    if member_id is None:
        assert match.record is None
    else:
        assert match.record is not None, match.message(2)
        assert match.record["id"] == member_id


def test_an_exact_name_beats_the_same_name_without_accents() -> None:
    twins = [
        {"id": 7, "identifier": "jose1", "firstName": "José", "lastName": "Ruiz"},
        {"id": 8, "identifier": "jose2", "firstName": "Jose", "lastName": "Ruiz"},
    ]
    index = NameIndex(KINDS["members"], twins)
    assert index.find("Jose Ruiz").record["id"] == 8
    assert index.find("José Ruiz").record["id"] == 7
    assert index.find("Jôse Ruiz").code == "ambiguous_member"


def test_two_members_alike_are_ambiguous_and_listed() -> None:
    match = NameIndex(KINDS["members"], MEMBERS).find("Lee, Sam")
    assert match.record is None
    assert match.code == "ambiguous_member"
    assert match.message(7) == (
        "member 'Lee, Sam' in row 7 matches 2 members: Sam Lee (slee), Sam Lee (slee2) "
        "— use the identifier or e-mail instead"
    )


@pytest.mark.parametrize(
    ("value", "message"),
    [
        pytest.param(
            "Remot",
            "unknown work type 'Remot' in row 14 — did you mean 'Remote'?",
            id="one-suggestion",
        ),
        pytest.param(
            "Zzzzqx",
            "unknown work type 'Zzzzqx' in row 14 — see `cwbulk lookup work-types`",
            id="no-suggestion",
        ),
    ],
)
def test_unknown_values_come_with_suggestions(value: str, message: str) -> None:
    match = NameIndex(KINDS["work-types"], WORK_TYPES).find(value)
    assert match.code == "unknown_work_type"
    assert match.message(14) == message


def test_at_most_three_suggestions() -> None:
    index = NameIndex(KINDS["work-types"], [{"id": n, "name": f"Remote {n}"} for n in range(9)])
    assert len(index.suggest("Remote")) == 3


@pytest.mark.parametrize(
    ("text", "normal"),
    [
        pytest.param("  Avery \t Baker\n", "avery baker", id="whitespace"),
        pytest.param("STRASSE", "strasse", id="upper"),
        pytest.param("Straße", "strasse", id="casefold"),
        pytest.param("ﬁnley", "finley", id="ligature"),
    ],
)
def test_normalize(text: str, normal: str) -> None:
    assert normalize(text) == normal


# -- against the sandbox ------------------------------------------------------------------

SITE = "http://sandbox.invalid"
COLUMNS = ["sheet", "row", "member", "chargeToType", "chargeTo", "company", "workType", "workRole"]


def client_for(transport: httpx.AsyncBaseTransport | None = None, served: Any = None) -> CwClient:
    """A client for the in-process sandbox (``transport``) or a served one."""
    if served is not None:
        return CwClient(site=served.url, company=served.company, public_key=served.public_key,
                        private_key=served.private_key, client_id=served.client_id)  # fmt: skip
    return CwClient(site=SITE, company=DEFAULT_COMPANY, public_key=DEFAULT_PUBLIC_KEY,
                    private_key=DEFAULT_PRIVATE_KEY, client_id=DEFAULT_CLIENT_ID,
                    transport=transport, allow_http=True)  # fmt: skip


def frame_of(rows: list[tuple[str, ...]], first_row: int = 2) -> pd.DataFrame:
    """A canonical frame: (member, chargeToType, chargeTo, company, workType, workRole) rows."""
    records = [("Sheet1", first_row + n, *row) for n, row in enumerate(rows)]
    frame = pd.DataFrame(records, columns=COLUMNS)
    frame.index = frame["row"]
    return frame


def resolve(
    frame: pd.DataFrame, transport: Any = None, served: Any = None, **options: Any
) -> Resolution:
    async def run() -> Resolution:
        async with client_for(transport, served) as client:
            return await Resolver(client, **options).resolve(frame)

    return asyncio.run(run())


def db_id(db_path: Path, table: str, field: str, value: str) -> int:
    """The id of the record whose ``field`` is ``value``, read straight from the database."""
    with closing(sqlite3.connect(db_path)) as db:
        row = db.execute(
            f"SELECT id FROM {table} WHERE json_extract(body, '$.{field}') = ?", (value,)
        ).fetchone()
    assert row is not None, f"no {table} with {field} = {value!r}"
    return row[0]


def add_member(client: httpx.Client, identifier: str, first: str, last: str) -> int:
    """Create a member through the sandbox API (POST /system/members); its id."""
    response = client.post(
        "/system/members",
        json={
            "identifier": identifier,
            "firstName": first,
            "lastName": last,
            "licenseClass": "F",
            "hireDate": "2024-01-08T00:00:00Z",
            "defaultEmail": "Office",
            "defaultPhone": "Office",
            "securityRole": {"id": 2},
        },
    )
    assert response.status_code == 201, response.text
    return response.json()["id"]


def test_a_clean_file_resolves_to_ids(sandbox_transport: Any, sandbox_db: Path) -> None:
    frame = frame_of(
        [
            ("abaker", "ServiceTicket", "1001", "", "Remote", "Engineer"),
            ("Avery  BAKER", "ProjectTicket", "#5002", "Contoso", "regular", ""),
            ("sage.baker@cwbulk-demo.example", "ChargeCode", "mtng", "", "", ""),
            ("Kai López", "Company", "", "Wingtip Toys & Games", "", "level 1 tech"),
            ("López, Kai", "", "", "wingtip", "", ""),
        ]
    )
    result = resolve(frame, sandbox_transport)
    assert result.problems == []
    assert result.ok

    def company(identifier: str) -> int:
        return db_id(sandbox_db, "companies", "identifier", identifier)

    abaker = db_id(sandbox_db, "members", "identifier", "abaker")
    klopez = db_id(sandbox_db, "members", "identifier", "klopez")
    expected = pd.DataFrame(
        {
            "memberId": [abaker, abaker, db_id(sandbox_db, "members", "identifier", "sbaker"),
                         klopez, klopez],
            "companyId": [company("Northwind"), company("Contoso"), company("Cwbulk"),
                          company("Wingtip"), company("Wingtip")],
            "chargeToId": [1001, 5002, db_id(sandbox_db, "charge_codes", "name", "MTNG"),
                           None, None],
            "workTypeId": [db_id(sandbox_db, "work_types", "name", "Remote"),
                           db_id(sandbox_db, "work_types", "name", "Regular"), None, None, None],
            "workRoleId": [db_id(sandbox_db, "work_roles", "name", "Engineer"), None, None,
                           db_id(sandbox_db, "work_roles", "name", "Level 1 Tech"), None],
        },
        index=frame.index,
        dtype="Int64",
    )  # fmt: skip
    pd.testing.assert_frame_equal(result.ids, expected)
    assert result.tickets[("ServiceTicket", 1001)].company == "Northwind"


def test_every_problem_of_a_file_comes_at_once(
    sandbox_transport: Any, sandbox_client: httpx.Client, sandbox_db: Path
) -> None:
    add_member(sandbox_client, "sbaker2", "Sage", "Baker")
    frame = frame_of(
        [
            ("Avery Bakr", "ServiceTicket", "1001", "", "", ""),
            ("rsilva", "ServiceTicket", "1001", "", "", ""),
            ("abaker", "ServiceTicket", "1012", "", "", ""),
            ("abaker", "ServiceTicket", "99999", "", "", ""),
            ("abaker", "ServiceTicket", "1001", "Contoso", "", ""),
            ("abaker", "Company", "", "", "", ""),
            ("abaker", "ServiceTicket", "1001", "", "Remot", ""),
            ("abaker", "Ticket", "1001", "", "", ""),
            ("abaker", "ProjectTicket", "12a", "", "", ""),
            ("", "ProjectTicket", "5010", "", "", ""),
            ("Sage Baker", "ChargeCode", "NOPE", "", "", "Level 9 Tech"),
        ]
    )
    result = resolve(frame, sandbox_transport)
    assert not result.ok
    assert [(p.row, p.column, p.code) for p in result.problems] == [
        (2, "member", "unknown_member"),
        (3, "member", "inactive_member"),
        (4, "chargeTo", "ticket_closed"),
        (5, "chargeTo", "unknown_ticket"),
        (6, "company", "company_mismatch"),
        (7, "company", "missing_company"),
        (8, "workType", "unknown_work_type"),
        (9, "chargeToType", "bad_charge_to_type"),
        (10, "chargeTo", "bad_ticket_number"),
        (11, "member", "missing_member"),
        (11, "chargeTo", "ticket_closed"),
        (12, "member", "ambiguous_member"),
        (12, "chargeTo", "unknown_charge_code"),
        (12, "workRole", "unknown_work_role"),
    ]
    messages = {(p.row, p.column): p.message for p in result.problems}
    assert messages[2, "member"] == (
        "unknown member 'Avery Bakr' in row 2 — did you mean 'Avery Baker (abaker)'"
        + messages[2, "member"].split("'Avery Baker (abaker)'", 1)[1]
    )
    assert messages[3, "member"] == (
        "member 'rsilva' in row 3 (Reese Silva (rsilva)) is inactive in ConnectWise — "
        "reactivate it, or pass --allow-inactive"
    )
    assert messages[4, "chargeTo"] == (
        "service ticket 1012 in row 4 has status '>Closed', which does not allow time "
        "— change its status in ConnectWise first"
    )
    assert messages[6, "company"] == (
        "company 'Contoso' in row 6 is not the company of service ticket 1001 (Northwind) "
        "— clear the company cell or fix it"
    )
    assert messages[8, "workType"] == "unknown work type 'Remot' in row 8 — did you mean 'Remote'?"
    assert messages[12, "member"] == (
        "member 'Sage Baker' in row 12 matches 2 members: Sage Baker (sbaker), "
        "Sage Baker (sbaker2) — use the identifier or e-mail instead"
    )
    assert all(p.sheet == "Sheet1" and p.severity == "error" for p in result.problems)
    assert pd.isna(result.ids.loc[2, "memberId"]) and result.ids.loc[2, "chargeToId"] == 1001
    # Records that exist but take no new time keep their ids, for rows that change nothing.
    assert {p.code for p in result.problems if p.row in (3, 4, 11)} - {"missing_member"} <= (
        STATUS_CODES
    )
    assert result.ids.loc[3, "memberId"] == db_id(sandbox_db, "members", "identifier", "rsilva")
    assert result.ids.loc[4, "chargeToId"] == 1012
    assert result.ids.loc[4, "companyId"] == db_id(
        sandbox_db, "companies", "identifier", "Northwind"
    )


def test_inactive_members_pass_with_allow_inactive(
    sandbox_transport: Any, sandbox_db: Path
) -> None:
    frame = frame_of([("rsilva", "ServiceTicket", "1001", "", "", "")])
    result = resolve(frame, sandbox_transport, allow_inactive=True)
    assert result.problems == []
    assert result.ids.loc[2, "memberId"] == db_id(sandbox_db, "members", "identifier", "rsilva")


def _names(db_path: Path) -> list[str]:
    """Fifty distinct ways of naming the active seeded members."""
    with closing(sqlite3.connect(db_path)) as db:
        members = db.execute(
            "SELECT json_extract(body, '$.identifier'), json_extract(body, '$.firstName'), "
            "json_extract(body, '$.lastName'), json_extract(body, '$.officeEmail') "
            "FROM members WHERE NOT json_extract(body, '$.inactiveFlag') ORDER BY id"
        ).fetchall()
    forms = [
        form for i, f, last, e in members for form in (i, f"{f} {last}", e.upper(), f"{last}, {f}")
    ]
    assert len(forms) >= 50
    return forms[:50]


def test_requests_grow_with_distinct_values_not_rows(
    served_sandbox: Callable[..., Any],
) -> None:
    served = served_sandbox()
    names = _names(served.db_path)
    tickets = [str(1001 + n) for n in range(0, 230, 3) if (1001 + n) % 3]
    work_types = ["Regular", "Remote", "Travel"]

    def file_of(rows: int) -> pd.DataFrame:
        return frame_of(
            [
                (names[n % 50], "ServiceTicket", tickets[n % len(tickets)], "",
                 work_types[n % 3], "")
                for n in range(rows)
            ]
        )  # fmt: skip

    def requests_for(frame: pd.DataFrame) -> tuple[int, Resolution]:
        served.clear_requests()
        result = resolve(frame, served=served)
        return len(served.requests()), result

    small, small_result = requests_for(file_of(150))
    large, large_result = requests_for(file_of(10_000))
    assert large_result.ids["memberId"].notna().all()
    assert large_result.ids["chargeToId"].notna().sum() > 0
    assert {p.code for p in large_result.problems} <= {"ticket_closed", "ticket_no_time"}
    assert large == small, "10,000 rows must cost what 150 rows with the same values cost"
    # companyinfo + count and page for members and work types + one ticket batch
    # + the statuses of each board of the open tickets
    boards = _open_ticket_boards(served.db_path, "service_tickets", tickets)
    assert large <= 6 + len(boards), served.requests()
    assert {p.code for p in small_result.problems} == {p.code for p in large_result.problems}


def _open_ticket_boards(db_path: Path, table: str, ids: list[str]) -> set[int]:
    """The boards of the tickets among ``ids`` that are not closed, read from the database."""
    with closing(sqlite3.connect(db_path)) as db:
        rows = db.execute(
            f"SELECT json_extract(body, '$.board.id') FROM {table} "
            f"WHERE id IN ({','.join('?' * len(ids))}) AND NOT json_extract(body, '$.closedFlag')",
            [int(i) for i in ids],
        ).fetchall()
    return {board for (board,) in rows}


NASTY_NAMES = ['O"Brien', "d'Arcy", "[x]", "50%", "a*b", "back\\slash", "Zoë", "名前", "x) or (1=1"]


@settings(
    max_examples=50,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    first=st.text(
        st.characters(blacklist_categories=("Cs", "Cc", "Co", "Cn")), min_size=1, max_size=12
    ).filter(lambda s: s.strip() == s and s != "")
)
@example(first='O"Brien')
@example(first="x) or (1=1")
@example(first="50% *off* [sale] \\o/")
@example(first="Zoë 名前 ﬁn")
def test_any_name_round_trips(sandbox_app: Any, sandbox_client: httpx.Client, first: str) -> None:
    ROUND_TRIPS.append(first)
    last = f"Zq{len(ROUND_TRIPS):04d}x"
    member_id = add_member(sandbox_client, f"hyp{len(ROUND_TRIPS):04d}", first, last)
    full = f"{first} {last}"

    async def run() -> tuple[Resolution, pd.DataFrame, pd.DataFrame]:
        async with client_for(httpx.ASGITransport(app=sandbox_app)) as client:
            resolution = await Resolver(client).resolve(
                frame_of([(full, "", "", "Cwbulk", "", "")])
            )
            by_full = await reference_table(client, "members", search=full)
            by_first = await reference_table(client, "members", search=first)
            return resolution, by_full, by_first

    resolution, by_full, by_first = asyncio.run(run())
    assert resolution.problems == []
    assert resolution.ids.loc[2, "memberId"] == member_id
    assert by_full["id"].tolist() == [member_id]
    command = CliRunner().invoke(
        cli, ["--sandbox", "--json", "lookup", "members", "--search", full]
    )
    assert command.exit_code == 0, command.output
    assert [item["id"] for item in json.loads(command.stdout)["items"]] == [member_id]
    assert member_id in by_first["id"].tolist()
    wanted = _fold(first)
    for _, row in by_first.iterrows():
        assert any(wanted in _fold(v) for v in (row["identifier"], row["name"], row["email"])), (
            row.to_dict()
        )


ROUND_TRIPS: list[str] = []


def _fold(text: object) -> str:
    """Case- and whitespace-insensitive form (the rule lookups promise), for checking."""
    return " ".join(unicodedata.normalize("NFKC", str(text)).casefold().split())


def _ticket_in(db_path: Path, board: str, status: str) -> int:
    """The lowest id of a service ticket on ``board`` in ``status``, read from the database."""
    with closing(sqlite3.connect(db_path)) as db:
        row = db.execute(
            "SELECT min(id) FROM service_tickets WHERE json_extract(body, '$.board.name') = ? "
            "AND json_extract(body, '$.status.name') = ?",
            (board, status),
        ).fetchone()
    assert row[0] is not None, f"no service ticket on {board} in {status}"
    return row[0]


@pytest.mark.parametrize(
    ("status", "takes_time"),
    [
        pytest.param("Resolved", False, id="resolved"),
        pytest.param("In Progress", True, id="in-progress"),
        pytest.param("Waiting on Client", True, id="waiting"),
    ],
)
def test_a_ticket_whose_status_takes_no_time_is_a_problem(
    sandbox_transport: Any, sandbox_db: Path, status: str, takes_time: bool
) -> None:
    ticket = _ticket_in(sandbox_db, "Field Service", status)
    other = _ticket_in(sandbox_db, "Help Desk", "New")
    frame = frame_of(
        [
            ("abaker", "ServiceTicket", str(other), "", "", ""),
            ("abaker", "ServiceTicket", f"#{ticket}", "", "", ""),
            ("abaker", "ProjectTicket", "5002", "", "", ""),
        ]
    )
    result = resolve(frame, sandbox_transport)
    problem = (
        ("Sheet1", 3, "chargeTo", f"#{ticket}", "ticket_no_time"),
        f"service ticket {ticket} in row 3 is {status}, a status that takes no time "
        "— reopen it or charge the time elsewhere",
    )
    assert [((p.sheet, p.row, p.column, p.value, p.code), p.message) for p in result.problems] == (
        [] if takes_time else [problem]
    )
    # The id stays, so a row of an exported sheet that leaves its entry there still passes.
    assert "ticket_no_time" in STATUS_CODES
    assert result.ids.loc[3, "chargeToId"] == ticket
    assert result.ids.loc[3, "companyId"] == result.tickets[("ServiceTicket", ticket)].company_id
    assert result.tickets[("ServiceTicket", ticket)].allows_time is takes_time
    assert result.tickets[("ServiceTicket", other)].allows_time


def test_board_statuses_are_read_once_per_distinct_board(
    served_sandbox: Callable[..., Any],
) -> None:
    served = served_sandbox()
    service = [str(n) for n in range(1001, 1241, 7)]
    project = [str(n) for n in range(5001, 5041, 3)]
    boards = _open_ticket_boards(served.db_path, "service_tickets", service)
    boards |= _open_ticket_boards(served.db_path, "project_tickets", project)
    assert len(boards) == 4, "the file should reach every seeded board"

    def file_of(rows: int) -> pd.DataFrame:
        return frame_of(
            [
                ("abaker", "ServiceTicket", service[n % len(service)], "", "", "")
                if n % 2
                else ("abaker", "ProjectTicket", project[n % len(project)], "", "", "")
                for n in range(rows)
            ]
        )

    def statuses_read(frame: pd.DataFrame) -> tuple[list[str], Resolution]:
        served.clear_requests()
        result = resolve(frame, served=served)
        paths = [r["path"] for r in served.requests() if r["path"].endswith("/statuses")]
        return sorted(paths), result

    small, small_result = statuses_read(file_of(120))
    large, large_result = statuses_read(file_of(3000))
    assert (
        small
        == large
        == sorted(f"/v4_6_release/apis/3.0/service/boards/{b}/statuses" for b in boards)
    )
    assert "ticket_no_time" in {p.code for p in large_result.problems}
    assert {p.code for p in small_result.problems} == {p.code for p in large_result.problems}
