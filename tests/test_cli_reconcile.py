"""`cwbulk reconcile` through the CLI, against the in-process sandbox.

The main scenario imports a source sheet, then plants known differences in the sandbox
(through its API, and statuses and a ticket closure straight in its database) and checks
that the report lists exactly those; the totals are recomputed here from the sheet and
from the sandbox's own answers, not from cwbulk's code.
"""

from __future__ import annotations

import csv
import json
import shutil
import sqlite3
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import openpyxl
import pandas as pd
import pytest
from click.testing import CliRunner, Result

from cwbulk.cli import cli
from cwbulk.fields import canonical_columns
from cwbulk.io import read_table
from cwbulk.resources import sample_file

TZ = "Europe/Berlin"
ZONE = ZoneInfo(TZ)
_SOON = date.today() + timedelta(days=35)
FROM = _SOON + timedelta(days=7 - _SOON.weekday())  # a Monday five weeks on: no seed entries
TO = FROM + timedelta(days=13)
MEMBERS = ("abaker", "bchen", "cdiaz")
DAYS = {"abaker": range(10), "bchen": range(10), "cdiaz": range(6)}
TICKET, CLOSING = 1001, 1002  # both open in the seed; the test closes CLOSING
COLUMNS = ("member", "date", "start", "hours", "chargeToType", "chargeTo", "company")
COLUMNS += ("workType", "notes")

# The planted differences: (member, day of the period, start) of the rows they touch.
DELETED = (("abaker", 2, "13:00"), ("cdiaz", 4, "09:00"))
HOURS = ("abaker", 5, "09:00")  # 2 h in the sheet, 2.5 h in ConnectWise
WORK_TYPE = ("bchen", 1, "09:00")  # Regular in the sheet, Remote in ConnectWise
SWAPPED = ("bchen", 8, "09:00")  # bchen's in the sheet, cdiaz's in ConnectWise
MIDNIGHT = ("abaker", 0, "00:15")  # the previous day in UTC
BLANK_NOTES = ("cdiaz", 1, "15:00")
REJECTED = ("cdiaz", 0, "13:00")
LEFT_OPEN = ("bchen", 6, "13:00")
APPROVED = ("abaker", 7, "09:00")


def cwbulk(*args: str) -> Result:
    return CliRunner().invoke(cli, ["--sandbox", *args])


def as_json(result: Result, code: int) -> dict:
    assert result.exit_code == code, result.output
    return json.loads(result.stdout)


ADMIN = ("ChargeCode", "ADMIN", "Cwbulk")


def row(
    member: str, n: int, start: str, hours: str, kind: str, charge: str, company: str = "", **more
) -> dict[str, str]:
    day = FROM + timedelta(days=n)
    cells = {"member": member, "date": day.isoformat(), "start": start, "hours": hours}
    return {"chargeToType": kind, "chargeTo": charge, "company": company, **cells, **more}


def source_rows() -> list[dict[str, str]]:
    rows = []
    for member in MEMBERS:
        for n in DAYS[member]:
            notes = f"{member} ticket work, day {n}"
            rows.append(
                row(member, n, "09:00", "2", "ServiceTicket", str(TICKET), workType="Regular")
                | {"notes": notes}
            )
            rows.append(row(member, n, "13:00", "1.5", *ADMIN, notes="Admin"))
    rows.append(row(*MIDNIGHT, "0.5", "ServiceTicket", str(TICKET), notes="Night call"))
    rows.append(row(*BLANK_NOTES, "0.75", "ServiceTicket", str(TICKET), notes=""))
    rows.append(row("abaker", 17, "09:00", "1", *ADMIN, notes="After the period"))
    return rows


def write_sheet(path: Path, rows: list[dict[str, str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    return path


def row_number(rows: list[dict[str, str]], key: tuple[str, int, str]) -> int:
    member, n, start = key
    day = (FROM + timedelta(days=n)).isoformat()
    found = [
        i
        for i, r in enumerate(rows)
        if (r["member"], r["date"], r["start"]) == (member, day, start)
    ]
    assert len(found) == 1, key
    return found[0] + 2  # header is row 1


def utc_text(n: int, clock: str) -> str:
    local = datetime.combine(FROM + timedelta(days=n), time.fromisoformat(clock), tzinfo=ZONE)
    return local.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def post(http: httpx.Client, member: str, n: int, clock: str, hours: float, ticket: int) -> int:
    body = {
        "member": {"identifier": member},
        "chargeToType": "ServiceTicket",
        "chargeToId": ticket,
        "timeStart": utc_text(n, clock),
        "actualHours": hours,
        "workType": {"name": "Regular"},
        "notes": f"Typed in ConnectWise by {member}",
    }
    response = http.post("/time/entries", json=body)
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


def set_status(db_path: Path, status: str, ids: list[int]) -> None:
    with sqlite3.connect(db_path) as db:
        db.executemany(
            "UPDATE time_entries SET body = json_set(body, '$.status', ?) WHERE id = ?",
            [(status, i) for i in ids],
        )


def read_sheet(path: Path, name: str) -> pd.DataFrame:
    return pd.read_excel(path, sheet_name=name, engine="openpyxl", dtype=object)


@pytest.fixture
def planted(sandbox_db: Path, sandbox_client: httpx.Client, tmp_path: Path) -> dict:
    """The source sheet imported, then the differences and check findings planted."""
    rows = source_rows()
    source = write_sheet(tmp_path / "october.csv", rows)
    with sqlite3.connect(sandbox_db) as db:
        seeded = db.execute("SELECT max(id) FROM time_entries").fetchone()[0]
    imported = cwbulk("-q", "import", str(source), "--tz", TZ, "--yes", "--max-rate", "0")
    assert imported.exit_code == 0, imported.output
    results = pd.read_csv(tmp_path / "october.results.csv", dtype=str)
    assert set(results["outcome"]) == {"created"}
    entry_of = dict(
        zip(results["row"].astype(int), results["connectwiseId"].astype(int), strict=True)
    )

    def entry(key: tuple[str, int, str]) -> int:
        return entry_of[row_number(rows, key)]

    http = sandbox_client
    for key in DELETED:
        assert http.delete(f"/time/entries/{entry(key)}").status_code == 204
    for key, op in (
        (HOURS, {"path": "actualHours", "value": 2.5}),
        (WORK_TYPE, {"path": "workType", "value": {"name": "Remote"}}),
        (SWAPPED, {"path": "member", "value": {"identifier": "cdiaz"}}),
    ):
        patched = http.patch(f"/time/entries/{entry(key)}", json=[{"op": "replace", **op}])
        assert patched.status_code == 200, patched.text
    overlapping = post(http, "bchen", 3, "09:30", 1.0, TICKET)  # inside bchen's 09:00-11:00
    on_closed = post(http, "cdiaz", 2, "17:00", 0.75, CLOSING)
    post(http, "abaker", 14, "00:15", 1.0, TICKET)  # just past midnight after --to
    post(http, "abaker", -1, "23:30", 1.0, TICKET)  # just before midnight before --from
    with sqlite3.connect(sandbox_db) as db:
        db.execute(
            "UPDATE service_tickets SET body = json_set(body, '$.closedFlag', json('true'), "
            "'$.status.name', '>Closed') WHERE id = ?",
            (CLOSING,),
        )
    with sqlite3.connect(sandbox_db) as db:
        new = [i for (i,) in db.execute("SELECT id FROM time_entries WHERE id > ?", (seeded,))]
    set_status(sandbox_db, "PendingApproval", new)
    set_status(sandbox_db, "Rejected", [entry(REJECTED)])
    set_status(sandbox_db, "Open", [entry(LEFT_OPEN)])
    set_status(sandbox_db, "ApprovedByTierTwo", [entry(APPROVED)])
    assert http.get(f"/time/entries/{entry(APPROVED)}").json()["billableOption"] == "Billable"
    return {
        "source": source,
        "rows": rows,
        "entry": entry,
        "extra": {overlapping, on_closed},
        "db": sandbox_db,
    }


def connectwise_hours(http: httpx.Client) -> dict[str, float]:
    """Hours per member in the period, asked of the sandbox with local midnights worked out
    here (Berlin): an independent sum to check the Summary against."""
    start = datetime.combine(FROM, time(0), tzinfo=ZONE).astimezone(UTC)
    end = datetime.combine(TO + timedelta(days=1), time(0), tzinfo=ZONE).astimezone(UTC)
    members = ",".join(f'"{m}"' for m in MEMBERS)
    conditions = (
        f"member/identifier in ({members}) and timeStart >= [{start:%Y-%m-%dT%H:%M:%SZ}] "
        f"and timeStart < [{end:%Y-%m-%dT%H:%M:%SZ}]"
    )
    found = http.get("/time/entries", params={"conditions": conditions, "pageSize": 1000})
    assert found.status_code == 200, found.text
    hours: dict[str, float] = dict.fromkeys(MEMBERS, 0.0)
    for item in found.json():
        hours[item["member"]["identifier"]] += item["actualHours"]
    return hours


def source_hours(rows: list[dict[str, str]]) -> dict[str, float]:
    hours: dict[str, float] = dict.fromkeys(MEMBERS, 0.0)
    for r in rows:
        if FROM.isoformat() <= r["date"] <= TO.isoformat():
            hours[r["member"]] += float(r["hours"])
    return hours


def summary(path: Path) -> pd.DataFrame:
    frame = pd.read_excel(path, sheet_name="Summary", engine="openpyxl")
    return frame.dropna(subset=["member"]).set_index("member")


def reconcile(source: Path, report: Path, *more: str) -> list[str]:
    period = ["--from", FROM.isoformat(), "--to", TO.isoformat(), "--tz", TZ]
    return ["--json", "reconcile", str(source), *period, "-o", str(report), *more]


def test_the_report_lists_exactly_the_planted_differences(
    planted: dict, sandbox_client: httpx.Client, tmp_path: Path
) -> None:
    rows, entry = planted["rows"], planted["entry"]
    report = tmp_path / "report.xlsx"
    out = as_json(cwbulk(*reconcile(planted["source"], report)), 1)

    assert out["counts"] == {"matched": 49, "different": 3, "missing": 2, "extra": 2, "invalid": 0}
    assert out["outsidePeriod"] == 1
    assert out["path"] == str(report)

    different = read_sheet(report, "Different")
    found = dict(zip(different["row"].astype(int), different["differences"], strict=True))
    assert found == {
        row_number(rows, HOURS): "hours",
        row_number(rows, WORK_TYPE): "workType",
        row_number(rows, SWAPPED): "member",
    }
    by_row = different.set_index(different["row"].astype(int))
    hours_row = by_row.loc[row_number(rows, HOURS)]
    assert (float(hours_row["hours"]), float(hours_row["hours (CW)"])) == (2.0, 2.5)
    assert tuple(by_row.loc[row_number(rows, WORK_TYPE), ["workType", "workType (CW)"]]) == (
        "Regular",
        "Remote",
    )
    assert tuple(by_row.loc[row_number(rows, SWAPPED), ["member", "member (CW)"]]) == (
        "bchen",
        "cdiaz",
    )

    missing = read_sheet(report, "Missing")
    assert sorted(missing["row"].astype(int)) == sorted(row_number(rows, k) for k in DELETED)
    extra = read_sheet(report, "Extra")
    assert set(extra["id"].astype(int)) == planted["extra"]

    matched = read_sheet(report, "Matched")
    assert len(matched) == 49
    night = matched[matched["row"].astype(int) == row_number(rows, MIDNIGHT)].iloc[0]
    assert (night["date"], night["start"]) == (FROM.isoformat(), "00:15")

    checks = read_sheet(report, "Checks")
    flagged = {
        code: set(checks.loc[checks["check"] == label, "id"].astype(int))
        for code, label in (
            ("open_or_rejected", "still Open or rejected"),
            ("approved_not_billed", "billable, approved but not billed"),
            ("blank_notes", "blank notes"),
            ("overlap", "overlaps another entry of the member"),
            ("closed_ticket", "on a closed ticket"),
        )
    }
    overlapping = {e for e in planted["extra"] if e != max(planted["extra"])}
    assert flagged == {
        "open_or_rejected": {entry(REJECTED), entry(LEFT_OPEN)},
        "approved_not_billed": {entry(APPROVED)},
        "blank_notes": {entry(BLANK_NOTES)},
        "overlap": overlapping,
        "closed_ticket": planted["extra"] - overlapping,
    }
    assert len(checks) == 6


def test_summary_totals_equal_totals_computed_independently(
    planted: dict, sandbox_client: httpx.Client, tmp_path: Path
) -> None:
    report = tmp_path / "report.xlsx"
    out = as_json(cwbulk(*reconcile(planted["source"], report)), 1)
    table = summary(report)
    ours, theirs = source_hours(planted["rows"]), connectwise_hours(sandbox_client)
    for member in MEMBERS:
        assert table.loc[member, "source hours"] == pytest.approx(ours[member])
        assert table.loc[member, "ConnectWise hours"] == pytest.approx(theirs[member])
        assert table.loc[member, "delta (CW - source)"] == pytest.approx(
            theirs[member] - ours[member]
        )
    total = table.loc["Total"]
    assert total["source hours"] == pytest.approx(sum(ours.values()))
    assert total["ConnectWise hours"] == pytest.approx(sum(theirs.values()))
    assert total["billable hours (CW)"] + total["non-billable hours (CW)"] == pytest.approx(
        sum(theirs.values())
    )
    assert [total[k] for k in ("matched", "different", "missing", "extra")] == [49, 3, 2, 2]
    assert out["totals"] == {
        "sourceHours": pytest.approx(sum(ours.values())),
        "connectwiseHours": pytest.approx(sum(theirs.values())),
        "delta": pytest.approx(sum(theirs.values()) - sum(ours.values())),
    }
    statuses = [c for c in table.columns if c in ("Open", "Rejected", "PendingApproval")]
    assert sorted(statuses) == ["Open", "PendingApproval", "Rejected"]
    assert total[statuses].sum() + total["ApprovedByTierTwo"] == 54 - len(DELETED) + 2

    chart_sheet = openpyxl.load_workbook(report)["Summary"]
    charts = chart_sheet._charts
    assert len(charts) == 1
    chart = charts[0]
    assert (chart.tagname, chart.barDir) == ("barChart", "bar")
    assert [s.val.numRef.f for s in chart.series] == ["Summary!$B$2:$B$4", "Summary!$C$2:$C$4"]
    assert {s.cat.strRef.f for s in chart.series} == {"Summary!$A$2:$A$4"}


def test_different_cells_are_highlighted_on_both_sides_only(planted: dict, tmp_path: Path) -> None:
    report = tmp_path / "report.xlsx"
    as_json(cwbulk(*reconcile(planted["source"], report)), 1)
    sheet = openpyxl.load_workbook(report)["Different"]
    header = [c.value for c in sheet[1]]
    for line in sheet.iter_rows(min_row=2):
        changed = line[header.index("differences")].value
        filled = {
            header[c.column - 1] for c in line if c.fill.fgColor.rgb not in (None, "00000000")
        }
        assert filled == {changed, f"{changed} (CW)"}


def test_by_day_agrees_with_by_entry_on_totals_and_dates_days_locally(
    planted: dict, tmp_path: Path
) -> None:
    by_entry, by_day = tmp_path / "entry.xlsx", tmp_path / "day.xlsx"
    entry_out = as_json(cwbulk(*reconcile(planted["source"], by_entry)), 1)
    day_out = as_json(cwbulk(*reconcile(planted["source"], by_day, "--by", "day")), 1)

    assert day_out["totals"] == entry_out["totals"]
    hours = ["source hours", "ConnectWise hours", "delta (CW - source)"]
    pd.testing.assert_frame_equal(summary(by_day)[hours], summary(by_entry)[hours])

    def days(name: str) -> set[tuple[str, int]]:
        frame = read_sheet(by_day, name)
        return {
            (m, (date.fromisoformat(d) - FROM).days)
            for m, d in zip(frame["member"], frame["date"], strict=True)
        }

    assert days("Different") == {
        ("abaker", 2),  # a row deleted
        ("cdiaz", 4),  # a row deleted
        ("abaker", 5),  # hours changed
        ("bchen", 8),  # an entry moved to cdiaz
        ("bchen", 3),  # an extra entry
        ("cdiaz", 2),  # an extra entry
    }
    assert days("Extra") == {("cdiaz", 8)}
    assert days("Missing") == set()
    matched = read_sheet(by_day, "Matched")
    first = matched[(matched["member"] == "abaker") & (matched["date"] == FROM.isoformat())]
    assert float(first["source hours"].iloc[0]) == 2 + 1.5 + 0.5  # with the 00:15 row
    assert (
        sum(day_out["counts"][k] for k in ("matched", "different", "missing", "extra"))
        == len(matched) + 6 + 1
    )


def test_the_fix_file_imported_makes_a_second_reconcile_clean(
    sandbox_db: Path, sandbox_client: httpx.Client, tmp_path: Path
) -> None:
    source = Path(shutil.copy(sample_file("legacy-timesheet.xlsx"), tmp_path / "legacy.xlsx"))
    read = ["--member-map", str(sample_file("member-map.csv")), "--tz", "America/New_York"]
    imported = cwbulk("-q", "import", str(source), *read, "--yes", "--max-rate", "0")
    assert imported.exit_code == 0, imported.output
    results = pd.read_excel(tmp_path / "legacy.results.xlsx", engine="openpyxl")
    dates = read_table(source)[0].frame["date"]
    october = [
        (number, int(entry_id))
        for number, entry_id in zip(results["row"], results["connectwiseId"], strict=True)
        if str(dates[number]).startswith("2026-10")
    ]
    deleted = october[::25]
    for _number, entry_id in deleted:
        assert sandbox_client.delete(f"/time/entries/{entry_id}").status_code == 204
    period = ["--from", "2026-10-01", "--to", "2026-10-31"]
    fix = tmp_path / "fix.csv"
    report = tmp_path / "report.xlsx"

    first = as_json(
        cwbulk(
            "--json", "reconcile", str(source), *period, *read, "-o", str(report), "--fix", str(fix)
        ),
        1,
    )
    deleted_in_october = len(deleted)
    assert first["counts"]["missing"] == deleted_in_october
    missing = read_sheet(report, "Missing")
    assert sorted(missing["row"].astype(int)) == [number for number, _id in deleted]
    assert first["counts"]["different"] == first["counts"]["extra"] == 0
    assert first["fix"] == str(fix) and first["fixRows"] == deleted_in_october
    written = pd.read_csv(fix, dtype=str, keep_default_na=False)
    assert tuple(written.columns) == canonical_columns()
    assert len(written) == deleted_in_october

    again = cwbulk("-q", "import", str(fix), "--tz", "America/New_York", "--yes", "--max-rate", "0")
    assert again.exit_code == 0, again.output
    second = as_json(
        cwbulk("--json", "reconcile", str(source), *period, *read, "-o", str(report)), 0
    )
    assert second["counts"]["missing"] == 0
    assert second["counts"]["matched"] == first["counts"]["matched"] + deleted_in_october


@pytest.mark.parametrize(
    ("args", "message"),
    [
        pytest.param(
            ["--from", "2026-10-31", "--to", "2026-10-01"],
            "--from 2026-10-31 is after --to 2026-10-01",
            id="from-after-to",
        ),
        pytest.param(
            ["--from", "2026-10-01", "--to", "2026-10-31", "-o", "report.csv"],
            "-o report.csv: the report is a workbook",
            id="report-not-xlsx",
        ),
        pytest.param(
            ["--from", "2026-10-01", "--to", "2026-10-31", "--fix", "fix.json"],
            "--fix fix.json: write .csv or .xlsx",
            id="fix-not-a-sheet",
        ),
        pytest.param(
            ["--from", "2026-10-01", "--to", "2026-10-31", "--tolerance", "-1"],
            "'--tolerance': -1.0 is not in the range x>=0",
            id="negative-tolerance",
        ),
        pytest.param(["--to", "2026-10-31"], "Missing option '--from'", id="no-from"),
    ],
)
def test_bad_options_exit_2_with_the_fix(
    sandbox_db: Path, tmp_path: Path, args: list[str], message: str
) -> None:
    source = write_sheet(tmp_path / "s.csv", source_rows()[:2])
    result = CliRunner().invoke(cli, ["--sandbox", "reconcile", str(source), *args])
    assert result.exit_code == 2, result.output
    assert message in result.output


def test_terminal_summary_names_members_classes_and_checks(planted: dict, tmp_path: Path) -> None:
    report = tmp_path / "report.xlsx"
    period = ["--from", FROM.isoformat(), "--to", TO.isoformat(), "--tz", TZ]
    result = cwbulk("reconcile", str(planted["source"]), *period, "-o", str(report))
    assert result.exit_code == 1, result.output
    text = result.stderr
    assert result.stdout == ""
    for member in MEMBERS:
        assert f"\n  {member} " in text
    assert "\n  Total " in text
    assert "Different (3):" in text and "Missing (2):" in text and "Extra (2):" in text
    assert "hours '2' vs CW '2.5'" in text
    assert "on a closed ticket" in text
    assert f"Report: {report}" in text
    assert "7 items do not match." in text


def test_rows_that_cannot_be_compared_are_listed_and_exit_1(
    sandbox_db: Path, tmp_path: Path
) -> None:
    rows = [row("abaker", 0, "09:00", "1", "ServiceTicket", str(TICKET), workType="Remot")]
    source = write_sheet(tmp_path / "bad.csv", rows)
    report = tmp_path / "report.xlsx"
    period = ["--from", FROM.isoformat(), "--to", TO.isoformat(), "--tz", TZ]
    result = cwbulk("reconcile", str(source), *period, "-o", str(report))
    assert result.exit_code == 1, result.output
    assert "Invalid source rows: 1 could not be compared (problems):" in result.stderr
    assert "row 2, workType: unknown work type 'Remot' in row 2" in result.stderr
    invalid = read_sheet(report, "Invalid")
    assert list(invalid[["row", "column", "code"]].itertuples(index=False, name=None)) == [
        (2, "workType", "unknown_work_type")
    ]
