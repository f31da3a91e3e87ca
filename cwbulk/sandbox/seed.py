"""Deterministic seed data: reference records from samples/seed/reference.json, plus time.

For a given ``today`` the result is always the same: weekly time sheets and a few thousand
time entries for the members with ``hasHistory``, on every weekday of the 13 weeks before
``today``. The status follows the week, as a real approval cycle would leave it:

- this week and last week: Open;
- two weeks ago: PendingApproval (one member's sheet Rejected, with some entries
  ErrorsCorrected; one member's project time PendingProjectApproval);
- three weeks ago: ApprovedByTierOne (one member's sheet RejectBySecondTier);
- four weeks ago: ApprovedByTierTwo; five weeks ago: ReadyToBill;
- older: billable time Billed, BilledAgreement or WrittenOff, the rest ApprovedByTierTwo.

Entries are inserted directly (not through the API rules) for speed, but their bodies come
from the same builders the API uses, so they look exactly like entries made through it.
"""

from __future__ import annotations

import json
import random
import sqlite3
import uuid
from collections import defaultdict
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from cwbulk.resources import sample_file
from cwbulk.sandbox.store import (
    RESOURCES,
    SCHEMA_VERSION,
    Charge,
    build_time_entry,
    build_time_sheet,
    dumps,
    format_datetime,
    ordered,
    phase_reference,
    project_reference,
    record_info,
    reference,
    status_reference,
)

WEEKS = 13
PROJECT_BOARD = "Professional Services"
PHASES = ("Planning", "Execution", "Closeout")
_DURATIONS = (0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 2.0, 2.5, 3.0)
_DURATION_WEIGHTS = (4, 10, 8, 14, 8, 10, 8, 4, 3)
_TICKET_WORK_TYPES = (("Regular", 60), ("Remote", 20), ("On-site", 10), ("Travel", 4))
_TICKET_WORK_TYPES += (("Overtime", 6),)
_TICKET_NOTES = (
    "Investigated the reported problem",
    "Remote session with the user",
    "Called the client with an update",
    "Applied the fix and tested it",
    "Reviewed logs and event history",
    "Documented the change",
    "Followed up by e-mail",
    "Escalated to the vendor",
)
_CODE_NOTES = {
    "MTNG": "Weekly team meeting",
    "TRNG": "Training course",
    "ADMIN": "Timesheets and admin",
    "PTO": "Paid time off",
    "PROJ": "Internal project work",
    "ONCALL": "On-call cover",
}
# (service, project, charge code, company) weights by work role.
_CHARGE_MIX = {
    "Project Manager": (25, 55, 10, 10),
    "Engineer": (45, 35, 10, 10),
    "Consultant": (45, 35, 10, 10),
}
_TECH_MIX = (80, 5, 10, 5)
REJECTED_MEMBER = "hito"
SECOND_TIER_MEMBER = "jkowalski"
PROJECT_APPROVAL_MEMBER = "fgarcia"
APPROVER = "fgarcia"


def load_reference() -> dict[str, Any]:
    """The invented reference data the sandbox is seeded from."""
    return json.loads(sample_file("seed/reference.json").read_text(encoding="utf-8"))


def _stamp(day: date, hour: int = 8, minute: int = 0) -> str:
    return format_datetime(datetime.combine(day, time(hour, minute), tzinfo=UTC))


def seed(db: sqlite3.Connection, today: date) -> dict[str, int]:
    """Fill an empty schema (inside a write transaction); returns rows per table."""
    data = load_reference()
    rng = random.Random(f"cwbulk-sandbox-{today.isoformat()}")
    created = _stamp(today - timedelta(days=400))
    info = record_info(created, "cwbulk", created, "cwbulk")
    rows: dict[str, list[dict[str, Any]]] = defaultdict(list)

    def add(key: str, body: dict[str, Any]) -> dict[str, Any]:
        body = ordered(RESOURCES[key], {**body, "_info": info})
        rows[key].append(body)
        return body

    companies = {
        c["identifier"]: add("company", {"id": 250 + i, **c, "status": {"id": 1, "name": "Active"}})
        for i, c in enumerate(data["companies"])
    }
    work_types = {
        w["name"]: add(
            "workType",
            {
                "id": 1 + i,
                **w,
                "rateType": "Multiplier",
                "rate": 1.5 if w["name"] == "Overtime" else 1.0,
                "inactiveFlag": False,
            },
        )
        for i, w in enumerate(data["workTypes"])
    }
    work_roles = {
        r["name"]: add("workRole", {"id": 11 + i, **r, "inactiveFlag": False})
        for i, r in enumerate(data["workRoles"])
    }
    members = {}
    for i, m in enumerate(data["members"]):
        role = work_roles[m["workRole"]]
        members[m["identifier"]] = add(
            "member",
            {
                "id": 150 + i,
                "identifier": m["identifier"],
                "firstName": m["firstName"],
                "lastName": m["lastName"],
                "officeEmail": m["email"],
                "primaryEmail": m["email"],
                "defaultEmail": "Office",
                "defaultPhone": "Office",
                "licenseClass": "F",
                "hireDate": _stamp(date(2019, 1, 7) + timedelta(days=61 * i), 0),
                "inactiveFlag": m["inactive"],
                "inactiveDate": _stamp(today - timedelta(days=60), 0) if m["inactive"] else None,
                "securityRole": {"id": 2, "name": "Technician"},
                "title": m["workRole"],
                "workRole": reference("workRole", role),
                "workType": reference("workType", work_types["Regular"]),
                "dailyCapacity": 8.0,
                "hourlyRate": role["hourlyRate"],
                "enterTimeAgainstCompanyFlag": True,
            },
        )
    charge_codes = {
        c["name"]: add(
            "chargeCode",
            {
                "id": 21 + i,
                "name": c["name"],
                "company": reference("company", companies[c["company"]]),
                "billTime": c.get("billTime", "DoNotBill"),
                "timeEntryFlag": c["timeEntryFlag"],
                "expenseEntryFlag": False,
                "workType": reference("workType", work_types[c["workType"]]),
            },
        )
        for i, c in enumerate(data["chargeCodes"])
    }

    boards = [(1 + i, "service", name) for i, name in enumerate(data["boards"])]
    boards.append((len(boards) + 1, "project", PROJECT_BOARD))
    statuses: dict[tuple[int, str], tuple[int, str, int, bool, bool]] = {}
    for board_id, kind, _ in boards:
        listed = data["serviceStatuses"] if kind == "service" else data["projectStatuses"]
        for sort, s in enumerate(listed):
            no_time = s.get("timeEntryNotAllowed", s.get("noTimeFlag", False))
            closed = s.get("closedStatus", s["name"] == "Closed")
            status = (100 * board_id + sort + 1, s["name"], sort, closed, no_time)
            statuses[board_id, s["name"]] = status
    board_ids = {name: board_id for board_id, _, name in boards}

    for t in data["serviceTickets"]:
        board_id = board_ids[t["board"]]
        status = statuses[board_id, t["status"]]
        add(
            "serviceTicket",
            {
                "id": t["id"],
                "summary": t["summary"],
                "recordType": "ServiceTicket",
                "board": {"id": board_id, "name": t["board"]},
                "status": status_reference(*status[:3]),
                "company": reference("company", companies[t["company"]]),
                "closedFlag": status[3],
            },
        )
    projects: dict[str, tuple[int, str, int]] = {}
    phases: dict[tuple[str, str], int] = {}
    for t in data["projectTickets"]:
        if t["project"] not in projects:
            project_id = 301 + len(projects)
            projects[t["project"]] = (project_id, t["project"], companies[t["company"]]["id"])
            for phase in PHASES:
                phases[t["project"], phase] = 401 + len(phases)
    project_board = board_ids[PROJECT_BOARD]
    for t in data["projectTickets"]:
        project_id = projects[t["project"]][0]
        status = statuses[project_board, t["status"]]
        company = next(c for c in companies.values() if c["id"] == projects[t["project"]][2])
        add(
            "projectTicket",
            {
                "id": t["id"],
                "summary": t["summary"],
                "isIssueFlag": False,
                "board": {"id": project_board, "name": PROJECT_BOARD},
                "status": status_reference(*status[:3]),
                "project": project_reference(project_id, t["project"]),
                "phase": phase_reference(project_id, phases[t["project"], t["phase"]], t["phase"]),
                "company": reference("company", company),
                "closedFlag": status[3],
            },
        )

    open_status = {s[0]: not s[4] for s in statuses.values()}
    entries, sheets = _history(
        data=data,
        today=today,
        rng=rng,
        members=members,
        companies=companies,
        work_types=work_types,
        work_roles=work_roles,
        charge_codes=charge_codes,
        tickets=(rows["serviceTicket"], rows["projectTicket"]),
        time_allowed=open_status,
    )
    rows["timeSheet"] = sheets
    rows["timeEntry"] = entries

    for key, bodies in rows.items():
        db.executemany(
            f"INSERT INTO {RESOURCES[key].table} (id, body) VALUES (?, ?)",
            [(b["id"], dumps(b)) for b in bodies],
        )
    db.executemany("INSERT INTO boards VALUES (?, ?, ?)", boards)
    db.executemany(
        "INSERT INTO statuses VALUES (?, ?, ?, ?, ?, ?)",
        [(s[0], board_id, s[1], s[2], s[3], s[4]) for (board_id, _), s in statuses.items()],
    )
    db.executemany(
        "INSERT INTO projects VALUES (?, ?, ?, ?)",
        [(*p, project_board) for p in projects.values()],
    )
    db.executemany(
        "INSERT INTO phases VALUES (?, ?, ?)",
        [(phase_id, projects[p][0], name) for (p, name), phase_id in phases.items()],
    )
    db.executemany(
        "INSERT INTO meta VALUES (?, ?)",
        [("seeded_for", today.isoformat()), ("schema_version", str(SCHEMA_VERSION))],
    )
    return {RESOURCES[key].table: len(bodies) for key, bodies in rows.items()}


def _history(
    *,
    data: dict[str, Any],
    today: date,
    rng: random.Random,
    members: dict[str, dict[str, Any]],
    companies: dict[str, dict[str, Any]],
    work_types: dict[str, dict[str, Any]],
    work_roles: dict[str, dict[str, Any]],
    charge_codes: dict[str, dict[str, Any]],
    tickets: tuple[list[dict[str, Any]], list[dict[str, Any]]],
    time_allowed: dict[int, bool],
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Time entries and time sheets for the members with history."""
    this_monday = today - timedelta(days=today.weekday())
    first_day = today - timedelta(days=7 * WEEKS)
    internal = companies[data["chargeCodes"][0]["company"]]
    client_companies = [c for c in companies.values() if c is not internal]
    open_tickets = tuple([t for t in group if time_allowed[t["status"]["id"]]] for group in tickets)

    planned = []  # (start, end, deduct, hours, member, charge, work type, inputs)
    for spec in data["members"]:
        if not spec["hasHistory"]:
            continue
        member = members[spec["identifier"]]
        last_day = today - timedelta(days=1)
        if spec["inactive"]:
            last_day = today - timedelta(days=7 * 7)
        mix = _CHARGE_MIX.get(spec["workRole"], _TECH_MIX)
        day = first_day
        while day <= last_day:
            week = (this_monday - (day - timedelta(days=day.weekday()))).days // 7
            pool = open_tickets if week < 4 else tickets
            if day.weekday() < 5:
                planned += _day(
                    rng, day, member, mix, pool, internal, client_companies, charge_codes
                )
            elif rng.random() < 0.04:
                start = datetime.combine(day, time(10), tzinfo=UTC)
                charge = _code_charge(charge_codes, internal, "ONCALL")
                planned.append((start, 2.0, 0.0, member, charge, None, _CODE_NOTES["ONCALL"]))
            day += timedelta(days=1)

    planned.sort(key=lambda p: (p[0], p[3]["id"]))
    weeks = {(p[3]["id"], p[0].date() - timedelta(days=p[0].weekday())) for p in planned}

    sheet_by_key: dict[tuple[int, date], dict[str, Any]] = {}
    by_id = {m["id"]: m for m in members.values()}
    for number, (member_id, monday) in enumerate(sorted(weeks, key=lambda k: (k[1], k[0])), 1):
        member = by_id[member_id]
        status = _sheet_status((this_monday - monday).days // 7, member["identifier"])
        approved = _approval_stamp(monday, today, rng)
        sheet_by_key[member_id, monday] = build_time_sheet(
            sheet_id=number,
            member=member,
            monday=monday,
            status=status,
            hours=0.0,
            updated=(approved, APPROVER if status != "Open" else member["identifier"]),
        )

    entries = []
    hours_by_sheet: dict[int, float] = defaultdict(float)
    for entry_id, (start, hours, deduct, member, charge, work_type, notes) in enumerate(planned, 1):
        monday = start.date() - timedelta(days=start.weekday())
        sheet = sheet_by_key[member["id"], monday]
        code_type = (charge.charge_code or {}).get("workType", {}).get("name")
        work_type = work_types[work_type or code_type or "Regular"]
        work_role = work_roles[member["workRole"]["name"]]
        billable = (charge.charge_code or {}).get("billTime") or work_type["billTime"]
        if charge.ticket is not None and rng.random() < 0.05:
            billable = "NoCharge"
        status = _entry_status(sheet["status"], (this_monday - monday).days // 7, member, charge)
        status = _settle(status, billable, rng)
        end = start + timedelta(hours=hours + deduct)
        entered = format_datetime(end + timedelta(minutes=rng.randint(2, 240)))
        entered = min(entered, _stamp(today, 0))
        updated = (entered, member["identifier"])
        if status != "Open":
            updated = (max(entered, sheet["_info"]["lastUpdated"]), APPROVER)
        inputs: dict[str, Any] = {"notes": notes, "addToDetailDescriptionFlag": True}
        if rng.random() < 0.35:
            inputs["mobileGuid"] = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        if rng.random() < 0.1:
            inputs["internalNotes"] = "Check with the account manager before invoicing"
        entries.append(
            build_time_entry(
                entry_id=entry_id,
                inputs=inputs,
                member=member,
                charge=charge,
                work_type=work_type,
                work_role=work_role,
                start=format_datetime(start),
                end=format_datetime(end),
                deduct=deduct,
                hours=hours,
                billable=billable,
                sheet=sheet,
                status=status,
                hourly_rate=work_role["hourlyRate"],
                entered=(entered, member["identifier"]),
                updated=updated,
            )
        )
        hours_by_sheet[sheet["id"]] += hours
    sheets = list(sheet_by_key.values())
    for sheet in sheets:
        sheet["hours"] = round(hours_by_sheet[sheet["id"]], 2)
    sheets.sort(key=lambda s: s["id"])
    return entries, sheets


def _code_charge(charge_codes: dict[str, dict[str, Any]], internal: dict, name: str) -> Charge:
    code = charge_codes[name]
    return Charge("ChargeCode", code["id"], internal, charge_code=code)


def _day(
    rng: random.Random,
    day: date,
    member: dict[str, Any],
    mix: tuple[int, int, int, int],
    tickets: tuple[list[dict[str, Any]], list[dict[str, Any]]],
    internal: dict[str, Any],
    clients: list[dict[str, Any]],
    charge_codes: dict[str, dict[str, Any]],
) -> list[tuple]:
    """One member's entries for one weekday: (start, hours, deduct, member, charge, ...)."""

    def code(name: str) -> Charge:
        return _code_charge(charge_codes, internal, name)

    clock = datetime.combine(day, time(8), tzinfo=UTC)
    clock += timedelta(minutes=rng.choice((0, 15, 30, 45, 60)))
    if rng.random() < 0.03:
        return [(clock, 8.0, 0.0, member, code("PTO"), None, _CODE_NOTES["PTO"])]
    planned = []
    if day.weekday() == 0:
        planned.append((clock, 0.5, 0.0, member, code("MTNG"), None, _CODE_NOTES["MTNG"]))
        clock += timedelta(minutes=30)
    stop = datetime.combine(day, time(17, 30), tzinfo=UTC)
    for _ in range(rng.randint(4, 6)):
        if clock >= stop:
            break
        hours = rng.choices(_DURATIONS, _DURATION_WEIGHTS)[0]
        deduct = 0.5 if hours >= 2.5 and rng.random() < 0.3 else 0.0
        kind = rng.choices(("service", "project", "code", "company"), mix)[0]
        work_type = None
        if kind in ("service", "project"):
            group = tickets[0] if kind == "service" else tickets[1]
            ticket = rng.choice(group)
            company = next(c for c in [*clients, internal] if c["id"] == ticket["company"]["id"])
            label = "ServiceTicket" if kind == "service" else "ProjectTicket"
            charge = Charge(label, ticket["id"], company, ticket=ticket)
            notes = f"{rng.choice(_TICKET_NOTES)}: {ticket['summary']}"
            work_type = rng.choices(_TICKET_WORK_TYPE_NAMES, _TICKET_WORK_TYPE_WEIGHTS)[0]
        elif kind == "code":
            name = rng.choice(("ADMIN", "TRNG", "PROJ", "MTNG"))
            charge, notes = code(name), _CODE_NOTES[name]
        else:
            company = rng.choice(clients)
            charge = Charge("Company", company["id"], company)
            notes = f"Account review with {company['name']}"
        planned.append((clock, hours, deduct, member, charge, work_type, notes))
        clock += timedelta(hours=hours + deduct, minutes=rng.choice((0, 5, 10, 15)))
    return planned


_TICKET_WORK_TYPE_NAMES = [name for name, _ in _TICKET_WORK_TYPES]
_TICKET_WORK_TYPE_WEIGHTS = [weight for _, weight in _TICKET_WORK_TYPES]


def _sheet_status(weeks_ago: int, member: str) -> str:
    if weeks_ago <= 1:
        return "Open"
    if weeks_ago == 2:
        return "Rejected" if member == REJECTED_MEMBER else "PendingApproval"
    if weeks_ago == 3:
        return "RejectBySecondTier" if member == SECOND_TIER_MEMBER else "ApprovedByTierOne"
    return "ApprovedByTierTwo"


def _entry_status(sheet_status: str, weeks_ago: int, member: dict, charge: Charge) -> str:
    project_time = sheet_status == "PendingApproval" and charge.type == "ProjectTicket"
    if project_time and member["identifier"] == PROJECT_APPROVAL_MEMBER:
        return "PendingProjectApproval"
    if sheet_status != "ApprovedByTierTwo":
        return sheet_status
    if weeks_ago == 4:
        return "ApprovedByTierTwo"
    if weeks_ago == 5:
        return "ReadyToBill"
    return "Billed"


def _settle(status: str, billable: str, rng: random.Random) -> str:
    """Older approved time: billable entries billed (some by agreement, a few written off)."""
    if status == "Rejected" and rng.random() < 0.3:
        return "ErrorsCorrected"
    if status != "Billed":
        return status
    if billable != "Billable":
        return "ApprovedByTierTwo"
    roll = rng.random()
    return "Billed" if roll < 0.84 else "BilledAgreement" if roll < 0.96 else "WrittenOff"


def _approval_stamp(monday: date, today: date, rng: random.Random) -> str:
    moment = datetime.combine(monday + timedelta(days=7 + rng.randint(0, 2)), time(10), tzinfo=UTC)
    moment += timedelta(minutes=rng.randint(0, 300))
    return format_datetime(min(moment, datetime.combine(today, time(0), tzinfo=UTC)))
