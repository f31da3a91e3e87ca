"""Regenerate the sample timesheets in this folder (deterministic: same files every run).

    python samples/make_samples.py

Every person, company and ticket is invented and comes from seed/reference.json, the data
the sandbox is seeded from, so the samples validate, resolve and import against it. The
legacy timesheets use members with no history in the sandbox and tickets that accept time;
the tool exports use people of the old tools that member-map.csv maps onto seed members.
All times are meant to be read in America/New_York (``--tz America/New_York``).
"""

from __future__ import annotations

import csv
import json
import random
from datetime import date, datetime, time, timedelta
from pathlib import Path

import xlsxwriter

HERE = Path(__file__).resolve().parent
SEED = json.loads((HERE / "seed" / "reference.json").read_text(encoding="utf-8"))
MEMBERS = {m["identifier"]: m for m in SEED["members"]}
LEGACY_MEMBERS = [m["identifier"] for m in SEED["members"] if not m["hasHistory"]]
LEGACY_MEMBERS = [m for m in LEGACY_MEMBERS if not MEMBERS[m]["inactive"]]
OPEN_SERVICE = [t for t in SEED["serviceTickets"] if t["status"] not in (">Closed", "Resolved")]
OPEN_PROJECT = [t for t in SEED["projectTickets"] if t["status"] != "Closed"]
COMPANIES = {c["identifier"]: c["name"] for c in SEED["companies"]}
CLIENTS = [c for c in COMPANIES if c != "Cwbulk"]
CHARGE_CODES = [c["name"] for c in SEED["chargeCodes"]]

CANONICAL = [
    "member", "date", "start", "end", "hours", "deduct", "chargeToType", "chargeTo",
    "company", "workType", "workRole", "billableOption", "notes", "internalNotes",
]  # fmt: skip
WEEKDAYS = [
    date(2026, 10, 1) + timedelta(days=n)
    for n in range(61)
    if (date(2026, 10, 1) + timedelta(days=n)).weekday() < 5
]
NOTES = [
    "Replaced toner and printed a test page",
    "Reset password, verified MFA enrolment",
    "Checked backup job logs; re-ran failed job",
    "Patched workstation, rebooted",
    "Called user back, walked through VPN set-up",
    "Reviewed firewall rule request with the client",
    'Updated the "Network refresh" runbook',
    "Onsite: swapped switch in rack 2, labelled ports",
    "Mailbox migration, batch 3",
    "Weekly check-in, notes sent to the client",
    "Investigated slow logins, cleared profile cache",
    "Documented the change, closed the loop with the user",
]


def _hours_text(hours: float, rng: random.Random) -> str:
    """Hours written the way people type them in a legacy sheet."""
    style = rng.choice(["decimal", "decimal", "decimal", "clock", "hm", "minutes"])
    minutes = round(hours * 60)
    if style == "clock":
        return f"{minutes // 60}:{minutes % 60:02d}"
    if style == "hm":
        return f"{minutes // 60}h{minutes % 60:02d}m" if minutes % 60 else f"{minutes // 60}h"
    if style == "minutes":
        return f"{minutes}m"
    return f"{hours:g}"


def _member_text(identifier: str, rng: random.Random) -> str:
    """Mostly the identifier; now and then the full name or the e-mail, as people write."""
    member = MEMBERS[identifier]
    pick = rng.random()
    if pick < 0.1:
        return f"{member['firstName']} {member['lastName']}"
    if pick < 0.15:
        return member["email"]
    return identifier


def _charge(rng: random.Random) -> dict[str, str]:
    pick = rng.random()
    if pick < 0.6:
        ticket = rng.choice(OPEN_SERVICE)
        return {"chargeToType": "ServiceTicket", "chargeTo": str(ticket["id"]), "company": ""}
    if pick < 0.8:
        ticket = rng.choice(OPEN_PROJECT)
        return {"chargeToType": "ProjectTicket", "chargeTo": str(ticket["id"]), "company": ""}
    if pick < 0.9:
        code = rng.choice([c for c in CHARGE_CODES if c != "ONCALL"])
        return {"chargeToType": "ChargeCode", "chargeTo": code, "company": "Cwbulk"}
    if pick < 0.97:
        return {"chargeToType": "Company", "chargeTo": "", "company": rng.choice(CLIENTS)}
    # Neither type nor target: company time, the way a minimal sheet says it.
    return {"chargeToType": "", "chargeTo": "", "company": rng.choice(CLIENTS)}


def legacy_rows(rng: random.Random) -> list[dict[str, object]]:
    """About 330 entries of the six legacy members over October and November 2026."""
    rows: list[dict[str, object]] = []
    for day in WEEKDAYS:
        for member in LEGACY_MEMBERS:
            if rng.random() < 0.55:
                continue
            timed = rng.random() < 0.6
            clock = datetime.combine(day, time(8, rng.choice([0, 30])))
            for _ in range(rng.choice([2, 3, 3, 4])):
                hours = rng.choice([0.5, 0.75, 1.0, 1.25, 1.5, 2.0, 2.5, 3.0, 3.5])
                deduct = rng.choice([0.25, 0.5]) if timed and hours >= 3 else 0.0
                charge = _charge(rng)
                row: dict[str, object] = {
                    "member": member,
                    "memberText": _member_text(member, rng),
                    "day": day,
                    "start": None,
                    "end": None,
                    "hours": hours,
                    "deduct": deduct,
                    **charge,
                    "workType": rng.choice(["Remote", "Remote", "On-site", "Regular", ""]),
                    "workRole": rng.choice(["", "", MEMBERS[member]["workRole"]]),
                    "billableOption": rng.choice(["", "", "", "Billable", "DoNotBill"]),
                    "notes": rng.choice(NOTES),
                    "internalNotes": rng.choice(["", "", "", "follow up next week"]),
                }
                if charge["chargeToType"] == "ChargeCode":
                    row["workType"], row["billableOption"] = "", ""
                if timed:
                    begin = clock
                    finish = begin + timedelta(hours=hours + deduct)
                    row["start"], row["end"] = begin.time(), finish.time()
                    clock = finish + timedelta(minutes=rng.choice([0, 15, 30]))
                rows.append(row)
    # An on-call entry that runs past midnight (an end earlier than the start).
    rows.append(
        {
            "member": "opatel",
            "memberText": "opatel",
            "day": date(2026, 10, 14),
            "start": time(22, 0),
            "end": time(1, 30),
            "hours": 3.5,
            "deduct": 0.0,
            "chargeToType": "ChargeCode",
            "chargeTo": "ONCALL",
            "company": "Cwbulk",
            "workType": "",
            "workRole": "",
            "billableOption": "",
            "notes": "On-call: server alert, restarted services",
            "internalNotes": "",
        }
    )
    rows.sort(key=lambda r: (r["day"], r["member"], r["start"] or time(0)))
    # Quirks of hand-kept sheets: padding, a note over two lines, an exported formula guard.
    rows[3]["notes"] = "  Replaced toner and printed a test page  "
    rows[10]["notes"] = "Rebuilt the user profile.\nUser confirmed all OK."
    rows[20]["notes"] = "'-- called back, left a voicemail"
    return rows


def write_legacy_csv(out: Path, rows: list[dict[str, object]], rng: random.Random) -> list[int]:
    """legacy-timesheet.csv; returns the line numbers left blank (blank rows)."""
    blank_lines = [60, 200]
    lines = []
    for row in rows:
        timed = row["start"] is not None
        hours = ""
        if not timed:
            hours = _hours_text(float(row["hours"]), rng)  # type: ignore[arg-type]
        elif rng.random() < 0.3:
            hours = f"{float(row['hours']):g}"  # type: ignore[arg-type]
        start = f"{row['start']:%H:%M}" if timed else ""
        end = f"{row['end']:%H:%M}" if timed else ""
        if timed and rng.random() < 0.1:
            start = f"{row['start']:%I:%M %p}".lstrip("0")
        values = {
            **{k: row[k] for k in CANONICAL if k in row},
            "member": row["memberText"],
            "date": f"{row['day']:%Y-%m-%d}",
            "start": start,
            "end": end,
            "hours": hours,
            "deduct": f"{row['deduct']:g}" if row["deduct"] else "",
        }
        lines.append([str(values[k]) for k in CANONICAL])
    with (out / "legacy-timesheet.csv").open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(CANONICAL)
        line = 2
        for values in lines:
            while line in blank_lines:
                handle.write("\n")
                line += 1
            writer.writerow(values)
            line += 1
    return blank_lines


def write_legacy_xlsx(out: Path, rows: list[dict[str, object]], blank_lines: list[int]) -> None:
    """legacy-timesheet.xlsx: the CSV's rows with real date and time cells and a formula for
    hours; some times typed as decimal hours (13.25 = 13:15); a second sheet in another
    column order."""
    book = xlsxwriter.Workbook(str(out / "legacy-timesheet.xlsx"))
    book.set_properties({"created": datetime(2026, 12, 1), "author": "cwbulk samples"})
    bold = book.add_format({"bold": True})
    day_format = book.add_format({"num_format": "yyyy-mm-dd"})
    time_format = book.add_format({"num_format": "hh:mm"})
    sheet = book.add_worksheet("Timesheet")
    sheet.write_row(0, 0, CANONICAL, bold)
    col = {name: CANONICAL.index(name) for name in CANONICAL}
    line = 2
    for n, row in enumerate(rows):
        while line in blank_lines:
            line += 1
        r = line - 1
        sheet.write_string(r, col["member"], str(row["memberText"]))
        sheet.write_datetime(r, col["date"], datetime.combine(row["day"], time()), day_format)  # type: ignore[arg-type]
        if row["start"] is not None:
            for name in ("start", "end"):
                at: time = row[name]  # type: ignore[assignment]
                if n % 7 == 0:
                    sheet.write_number(r, col[name], at.hour + at.minute / 60)
                else:
                    sheet.write_datetime(r, col[name], at, time_format)
            c, e, f = (
                xlsxwriter.utility.xl_col_to_name(col[k]) for k in ("start", "end", "deduct")
            )
            if n % 7 == 0:  # decimal-hour times: the formula works in hours
                formula = f"=ROUND(MOD({e}{r + 1}-{c}{r + 1},24)-N({f}{r + 1}),2)"
            else:
                formula = f"=ROUND(MOD({e}{r + 1}-{c}{r + 1},1)*24-N({f}{r + 1}),2)"
            sheet.write_formula(r, col["hours"], formula, None, float(row["hours"]))  # type: ignore[arg-type]
        else:
            sheet.write_number(r, col["hours"], float(row["hours"]))  # type: ignore[arg-type]
        if row["deduct"]:
            sheet.write_number(r, col["deduct"], float(row["deduct"]))  # type: ignore[arg-type]
        for name in CANONICAL[col["chargeToType"] :]:
            if row[name]:
                sheet.write_string(r, col[name], str(row[name]))
        line += 1
    sheet.freeze_panes(1, 0)

    late = book.add_worksheet("Late entries")
    header = ["Date", "Technician", "Client", "Charge type", "Charge to", "Start time",
              "End time", "Break", "Work type", "Notes"]  # fmt: skip
    late.write_row(0, 0, header, bold)
    entries = [
        ("klopez", "ServiceTicket", 1001, 13.25, 14.75, "Remote", "Late entry: printer queue"),
        ("lmuller", "ServiceTicket", 1002, 9.0, 10.5, "Remote", "Late entry: password reset"),
        ("mnguyen", "ProjectTicket", 5001, 15.5, 17.0, "On-site", "Late entry: migration prep"),
        ("nobrien", "ChargeCode", "MTNG", 16.0, 16.5, "", "Team meeting"),
        ("sbaker", "ServiceTicket", 1004, 10.0, 11.25, "Remote", "Late entry: mail sync"),
        ("opatel", "ProjectTicket", 5002, 14.0, 15.0, "Remote", "Late entry: switch config"),
    ]
    for n, (member, kind, target, begin, finish, work_type, note) in enumerate(entries):
        r = n + 1
        late.write_datetime(r, 0, datetime(2026, 11, 28), day_format)
        late.write_string(r, 1, member)
        late.write_string(r, 2, "Cwbulk" if kind == "ChargeCode" else "")
        late.write_string(r, 3, kind)
        late.write(r, 4, target)
        late.write_number(r, 5, begin)
        late.write_number(r, 6, finish)
        late.write_string(r, 8, work_type)
        late.write_string(r, 9, note)
    book.close()


# ------------------------------------------------------------------------- tool exports

TOOL_PEOPLE = {
    # old tool account → seed member (member-map.csv); invented, like everything here
    "kai@brightdesk.example": ("Kai Lopez", "klopez"),
    "logan@brightdesk.example": ("Logan Muller", "lmuller"),
    "morgan@brightdesk.example": ("Morgan Nguyen", "mnguyen"),
    "noel@brightdesk.example": ("Noel OBrien", "nobrien"),
    "oakley.p@fieldcrew.example": ("Oakley Patel", "opatel"),
    "sage.b@fieldcrew.example": ("Sage Baker", "sbaker"),
}
TAGS = ["remote", "on-site", "travel", "billable", "remote, urgent", ""]


def _tool_entries(rng: random.Random, emails: list[str], count: int) -> list[dict[str, object]]:
    """Non-overlapping timed entries on October weekdays for the given people."""
    entries = []
    days = [d for d in WEEKDAYS if d.month == 10]
    for email in emails:
        clock: dict[date, datetime] = {}
        for _ in range(count):
            day = rng.choice(days)
            begin = clock.get(day, datetime.combine(day, time(8, 0)))
            begin += timedelta(minutes=rng.choice([0, 15, 30]))
            span = timedelta(minutes=rng.choice([20, 30, 45, 60, 80, 90, 120]))
            clock[day] = begin + span
            entries.append(
                {
                    "email": email,
                    "start": begin,
                    "end": begin + span,
                    "client": COMPANIES[rng.choice(CLIENTS)],
                    "description": rng.choice(NOTES),
                    "billable": rng.choice(["Yes", "Yes", "No"]),
                    "tags": rng.choice(TAGS),
                }
            )
    entries.sort(key=lambda e: (e["start"], e["email"]))
    return entries


def _duration(span: timedelta) -> str:
    seconds = int(span.total_seconds())
    return f"{seconds // 3600:02d}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


def write_toggl(out: Path, rng: random.Random) -> None:
    """toggl-export.csv: Toggl's detailed export, with the BOM, CRLF line ends and the
    Amount column of older exports; one entry past midnight and one overlapping pair."""
    people = list(TOOL_PEOPLE)[:4]
    entries = _tool_entries(rng, people, 10)
    late = datetime(2026, 10, 21, 23, 0)
    entries.append(
        {
            "email": people[0], "start": late, "end": late + timedelta(hours=1, minutes=30),
            "client": COMPANIES["Northwind"], "description": "Overnight patching window",
            "billable": "Yes", "tags": "remote",
        }
    )  # fmt: skip
    overlap = datetime(2026, 10, 22, 19, 0)
    for minutes, note in ((0, "Evening call with the client"), (30, "Quick fix during call")):
        entries.append(
            {
                "email": people[1], "start": overlap + timedelta(minutes=minutes),
                "end": overlap + timedelta(minutes=minutes + 45), "client": COMPANIES["Contoso"],
                "description": note, "billable": "Yes", "tags": "",
            }
        )  # fmt: skip
    header = ["User", "Email", "Client", "Project", "Task", "Description", "Billable",
              "Start date", "Start time", "End date", "End time", "Duration", "Tags",
              "Amount (USD)"]  # fmt: skip
    with (out / "toggl-export.csv").open("w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\r\n", quoting=csv.QUOTE_ALL)
        writer.writerow(header)
        for e in entries:
            name = TOOL_PEOPLE[str(e["email"])][0]
            span = e["end"] - e["start"]  # type: ignore[operator]
            amount = f"{span.total_seconds() / 3600 * 120:.2f}" if e["billable"] == "Yes" else ""
            writer.writerow(
                [name, e["email"], e["client"], "Managed services", "", e["description"],
                 e["billable"], f"{e['start']:%Y-%m-%d}", f"{e['start']:%H:%M:%S}",
                 f"{e['end']:%Y-%m-%d}", f"{e['end']:%H:%M:%S}", _duration(span), e["tags"],
                 amount]
            )  # fmt: skip


def write_clockify(out: Path, rng: random.Random) -> None:
    """clockify-export.csv: Clockify's detailed export, US date format and 12-hour clock."""
    entries = _tool_entries(rng, list(TOOL_PEOPLE)[2:], 8)
    header = ["Project", "Client", "Description", "Task", "User", "Group", "Email", "Tags",
              "Billable", "Start Date", "Start Time", "End Date", "End Time", "Duration (h)",
              "Duration (decimal)", "Billable Rate (USD)", "Billable Amount (USD)"]  # fmt: skip
    with (out / "clockify-export.csv").open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(header)
        for e in entries:
            name = TOOL_PEOPLE[str(e["email"])][0]
            span = e["end"] - e["start"]  # type: ignore[operator]
            hours = span.total_seconds() / 3600
            rate = "120.00" if e["billable"] == "Yes" else "0.00"
            writer.writerow(
                ["Support", e["client"], e["description"], "", name, "Engineers", e["email"],
                 e["tags"], e["billable"], f"{e['start']:%m/%d/%Y}",
                 f"{e['start']:%I:%M %p}", f"{e['end']:%m/%d/%Y}", f"{e['end']:%I:%M %p}",
                 _duration(span), f"{hours:.2f}", rate, f"{hours * float(rate):.2f}"]
            )  # fmt: skip


def write_harvest(out: Path, rng: random.Random) -> None:
    """harvest-export.csv: Harvest's detailed time report; decimal hours, no times."""
    header = ["Date", "Client", "Project", "Project Code", "Task", "Notes", "Hours",
              "Hours Rounded", "Billable?", "Invoiced?", "Approved?", "First Name",
              "Last Name", "Employee Id", "Roles", "Employee?", "Billable Rate",
              "Billable Amount", "Cost Rate", "Cost Amount", "Currency",
              "External Reference URL"]  # fmt: skip
    tasks = ["Remote support", "On-site support", "Travel", "Project work", "Admin"]
    people = [TOOL_PEOPLE[k][0] for k in list(TOOL_PEOPLE)[1:5]] + ["Sage Baker"]
    days = [d for d in WEEKDAYS if d.month == 11]
    rows = []
    for name in people:
        for day in sorted(rng.sample(days, 3)):
            for _ in range(rng.choice([1, 2])):
                rows.append((day, name, rng.choice([1.0, 1.5, 2.25, 0.75, 3.0, 0.5])))
    rows.sort()
    with (out / "harvest-export.csv").open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(header)
        for day, name, hours in rows:
            first, last = name.split(" ", 1)
            client = COMPANIES[rng.choice(CLIENTS)]
            billable = rng.choice(["Yes", "Yes", "No"])
            rate = 120.0 if billable == "Yes" else 0.0
            writer.writerow(
                [f"{day:%Y-%m-%d}", client, "Managed services", "MS-01", rng.choice(tasks),
                 rng.choice(NOTES), f"{hours:g}", f"{hours:g}", billable, "No", "Yes", first,
                 last, "", "Engineer", "Yes", f"{rate:.2f}", f"{rate * hours:.2f}", "60.00",
                 f"{60 * hours:.2f}", "US Dollar - USD", ""]
            )  # fmt: skip


def write_member_map(out: Path) -> None:
    """member-map.csv: the tool exports' people (e-mails, names) → seed member identifiers."""
    with (out / "member-map.csv").open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["source", "member"])
        for email, (name, member) in TOOL_PEOPLE.items():
            writer.writerow([email, member])
            writer.writerow([name, member])


# One row per common mistake: (what is wrong, the row's cells, the reason codes expected).
# tests/test_samples.py checks each code at its row; rows are 2, 3, … in this order.
BAD_ROWS: list[tuple[dict[str, str], tuple[str, ...]]] = [
    ({"date": "2026-10-32", "start": "09:00", "end": "10:00"}, ("bad_date",)),
    ({"hours": "1..5"}, ("bad_hours",)),
    ({"start": "17:00", "end": "08:00"}, ("end_before_start",)),
    ({"hours": "25"}, ("hours_out_of_range",)),
    ({"start": "09:00", "end": "10:00", "deduct": "1"}, ("deduct_too_large",)),
    ({"hours": "1", "chargeToType": "Ticket"}, ("invalid_choice",)),
    ({"hours": "1", "chargeToType": "ChargeCode", "chargeTo": "MTNG"}, ("missing_company",)),
    ({"member": "", "hours": "1"}, ("missing_value",)),
    ({"date": "2026-03-08", "start": "02:30", "end": "03:30"}, ("nonexistent_local_time",)),
    ({"date": "2026-11-01", "start": "01:30", "end": "03:00"}, ("ambiguous_local_time",)),
    ({"start": "25:00", "end": "26:00"}, ("bad_time", "bad_time")),
    ({"start": "09:00", "end": "10:00", "hours": "2"}, ("hours_mismatch",)),
    ({"hours": "1", "chargeTo": "T-1042"}, ("bad_charge_to",)),
    ({}, ("missing_hours",)),
    ({"start": "09:00"}, ("missing_end",)),
    ({"hours": "1", "billableOption": "Billabel"}, ("invalid_choice",)),
    ({"hours": "0"}, ("hours_out_of_range",)),
    ({"id": "abc", "hours": "1"}, ("bad_integer",)),
    ({"hours": "1", "chargeTo": ""}, ("missing_charge_to",)),
    ({"hours": "1", "chargeToType": ""}, ("missing_charge_to_type",)),
    ({"date": "2026-10-06", "start": "09:00", "end": "10:00", "notes": "copied"}, ()),
    ({"date": "2026-10-06", "start": "09:00", "end": "10:00", "notes": "copied"},
     ("duplicate_row",)),
    ({"date": "2026-10-07", "start": "09:00", "end": "11:00"}, ()),
    ({"date": "2026-10-07", "start": "10:30", "end": "11:30"}, ("overlap",)),
    ({"hours": "1", "lastUpdated": "yesterday"}, ("bad_datetime",)),
    ({"hours": "-2"}, ("bad_hours",)),
    ({"date": "", "hours": "1"}, ("missing_value",)),
    ({"id": "777", "date": "2026-10-08", "hours": "1"}, ()),
    ({"id": "777", "date": "2026-10-09", "hours": "1"}, ("duplicate_id",)),
    ({"member": "mnguyen", "hours": "2", "chargeToType": "ChargeCode", "chargeTo": "PTO",
      "company": "Cwbulk"}, ()),
]  # fmt: skip
BAD_COLUMNS = ["id", "member", "date", "start", "end", "hours", "deduct", "chargeToType",
               "chargeTo", "company", "billableOption", "notes", "lastUpdated"]  # fmt: skip


def write_bad(out: Path) -> None:
    """bad-timesheet.csv: one row per common mistake (see BAD_ROWS)."""
    base = {"id": "", "member": "klopez", "date": "2026-10-05", "start": "", "end": "",
            "hours": "", "deduct": "", "chargeToType": "ServiceTicket", "chargeTo": "1001",
            "company": "", "billableOption": "", "notes": "", "lastUpdated": ""}  # fmt: skip
    with (out / "bad-timesheet.csv").open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(BAD_COLUMNS)
        for n, (cells, _codes) in enumerate(BAD_ROWS):
            # Rows on their own day, so rows without times don't meet by accident.
            row = {**base, "date": f"2026-11-{n % 28 + 2:02d}", **cells}
            writer.writerow([row[c] for c in BAD_COLUMNS])


def main(out: Path = HERE) -> None:
    """Write every sample file into ``out`` (this folder by default)."""
    rng = random.Random(2026)
    rows = legacy_rows(rng)
    blank_lines = write_legacy_csv(out, rows, rng)
    write_legacy_xlsx(out, rows, blank_lines)
    write_toggl(out, rng)
    write_clockify(out, rng)
    write_harvest(out, rng)
    write_member_map(out)
    write_bad(out)


if __name__ == "__main__":
    main()
