"""cwbulk.reconcile: matching, tolerance, by-day totals, checks and the fix rows, against the
in-process sandbox (and one served sandbox, to count requests)."""

from __future__ import annotations

import csv
import json
import sqlite3
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from urllib.parse import unquote
from zoneinfo import ZoneInfo

import httpx
import pytest
from click.testing import CliRunner

from cwbulk.cli import cli
from cwbulk.config import Profile
from cwbulk.connect import Connection, connection
from cwbulk.errors import UsageError
from cwbulk.fields import canonical_columns
from cwbulk.reconcile import ReconcileOptions, ReconcileResult, fix_frame, reconcile_file
from cwbulk.validate import ReadOptions

TZ = "America/Chicago"
ZONE = ZoneInfo(TZ)
_SOON = date.today() + timedelta(days=35)
FROM = _SOON + timedelta(days=7 - _SOON.weekday())  # a Monday five weeks on: no seed entries
TO = FROM + timedelta(days=6)
TICKET = 1001


def day(n: int) -> str:
    return (FROM + timedelta(days=n)).isoformat()


def ticket_row(member: str, n: int, start: str, hours: str, **more: str) -> dict[str, str]:
    row = {"member": member, "date": day(n), "start": start, "hours": hours}
    return row | {"chargeToType": "ServiceTicket", "chargeTo": str(TICKET), "notes": "Work"} | more


def write_sheet(path: Path, rows: list[dict[str, str]]) -> Path:
    columns = list(dict.fromkeys(k for r in rows for k in r))
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
    return path


def run(path: Path, **options: object) -> ReconcileResult:
    read = ReadOptions(tz=TZ)
    settings = ReconcileOptions(FROM, TO, read=read, **options)  # type: ignore[arg-type]
    return reconcile_file(path, settings, connection=connection(sandbox=True))


def import_sheet(path: Path) -> None:
    args = ["--sandbox", "-q", "import", str(path), "--tz", TZ, "--yes", "--max-rate", "0"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output


def post(http: httpx.Client, member: str, n: int, clock: str, hours: float, **more) -> int:
    local = datetime.combine(FROM + timedelta(days=n), time.fromisoformat(clock), tzinfo=ZONE)
    body = {
        "member": {"identifier": member},
        "chargeToType": "ServiceTicket",
        "chargeToId": TICKET,
        "timeStart": local.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "actualHours": hours,
        "notes": "Work",
        **more,
    }
    response = http.post("/time/entries", json=body)
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


def entry_id_by_notes(http: httpx.Client, notes: str) -> int:
    found = http.get("/time/entries", params={"conditions": f'notes = "{notes}"'}).json()
    assert len(found) == 1, found
    return int(found[0]["id"])


def kinds(result: ReconcileResult) -> list[tuple[str, int | None, int | None, str | None]]:
    return [(i.kind, i.row, i.entry_id, i.match) for i in result.items]


# ------------------------------------------------------------------------------ matching


@pytest.mark.parametrize(
    ("imported", "typed_hours", "patched_hours", "tolerance", "expected"),
    [
        pytest.param(False, 1.0, None, 0.05, [("matched", "key")], id="natural-key"),
        pytest.param(False, 1.03, None, 0.05, [("matched", "hours")], id="hours-within"),
        pytest.param(
            False, 1.03, None, 0.01, [("missing", None), ("extra", None)], id="hours-beyond"
        ),
        pytest.param(True, None, 1.5, 0.05, [("different", "mobileGuid")], id="guid-different"),
        pytest.param(True, None, 1.02, 0.05, [("matched", "mobileGuid")], id="guid-within"),
    ],
)
def test_rows_find_entries_by_guid_then_key_then_hours_within_the_tolerance(
    sandbox_client: httpx.Client,
    tmp_path: Path,
    imported: bool,
    typed_hours: float | None,
    patched_hours: float | None,
    tolerance: float,
    expected: list[tuple[str, str | None]],
) -> None:
    source = write_sheet(tmp_path / "s.csv", [ticket_row("abaker", 1, "10:00", "1")])
    if imported:
        import_sheet(source)
        entry_id = entry_id_by_notes(sandbox_client, "Work")
        op = {"op": "replace", "path": "actualHours", "value": patched_hours}
        assert sandbox_client.patch(f"/time/entries/{entry_id}", json=[op]).status_code == 200
    else:
        post(sandbox_client, "abaker", 1, "10:00", typed_hours or 0.0)

    result = run(source, tolerance=tolerance)

    assert [(i.kind, i.match) for i in result.items] == expected
    assert result.exit_code == (0 if expected[0][0] == "matched" else 1)
    if expected == [("different", "mobileGuid")]:
        (diff,) = result.items[0].diffs
        assert (diff.field, diff.source, diff.connectwise) == ("hours", "1", "1.5")


def test_an_exported_row_matches_its_entry_by_id_and_lists_each_differing_field(
    sandbox_client: httpx.Client, tmp_path: Path
) -> None:
    entry_id = post(sandbox_client, "bchen", 2, "08:30", 2.0, workType={"name": "Remote"})
    row = ticket_row("bchen", 2, "09:00", "2", id=str(entry_id), workType="Regular")
    source = write_sheet(tmp_path / "exported.csv", [row])

    result = run(source)

    (item,) = result.items
    assert (item.kind, item.entry_id, item.match, item.row) == ("different", entry_id, "id", 2)
    assert [(d.field, d.source, d.connectwise) for d in item.diffs] == [
        ("start", "09:00", "08:30"),
        ("workType", "Regular", "Remote"),
    ]
    assert item.source["member"] == item.connectwise["member"] == "bchen"


def test_start_and_end_within_the_tolerance_are_not_differences(
    sandbox_client: httpx.Client, tmp_path: Path
) -> None:
    entry_id = post(sandbox_client, "bchen", 2, "09:02", 1.0)
    row = ticket_row("bchen", 2, "09:00", "1", id=str(entry_id))
    source = write_sheet(tmp_path / "s.csv", [row])
    assert [i.kind for i in run(source).items] == ["matched"]
    assert [i.kind for i in run(source, tolerance=0.01).items] == ["different"]


# -------------------------------------------------------------------------------- by day


def test_by_day_sums_each_member_and_local_day_and_keeps_the_totals(
    sandbox_client: httpx.Client, tmp_path: Path
) -> None:
    rows = [
        ticket_row("cdiaz", 0, "09:00", "2"),  # two entries of 1 h in ConnectWise
        ticket_row("cdiaz", 1, "09:00", "1"),  # nothing in ConnectWise
        ticket_row("cdiaz", 3, "09:00", "3"),  # 2.5 h in ConnectWise
        ticket_row("cdiaz", 4, "23:30", "0.25"),  # 23:30 in Chicago is the next day in UTC
    ]
    source = write_sheet(tmp_path / "s.csv", rows)
    for n, clock, hours in ((0, "09:00", 1.0), (0, "11:00", 1.0), (2, "09:00", 1.0)):
        post(sandbox_client, "cdiaz", n, clock, hours)
    post(sandbox_client, "cdiaz", 3, "09:00", 2.5)
    post(sandbox_client, "cdiaz", 4, "23:30", 0.25)

    by_day, by_entry = run(source, by="day"), run(source)

    assert [(i.kind, i.date, i.source_hours, i.connectwise_hours) for i in by_day.items] == [
        ("matched", day(0), 2.0, 2.0),
        ("missing", day(1), 1.0, None),
        ("extra", day(2), None, 1.0),
        ("different", day(3), 3.0, 2.5),
        ("matched", day(4), 0.25, 0.25),
    ]
    assert [(i.rows, i.entries) for i in by_day.items] == [(1, 2), (1, 0), (0, 1), (1, 1), (1, 1)]
    assert (
        by_day.totals()
        == by_entry.totals()
        == {
            "sourceHours": 6.25,
            "connectwiseHours": 5.75,
            "delta": -0.5,
        }
    )
    assert by_entry.counts() == {
        "matched": 1,
        "different": 0,
        "missing": 3,
        "extra": 4,
        "invalid": 0,
    }
    assert [m["date"] for m in fix_frame(by_day).to_dict("records")] == [day(1)]


# ---------------------------------------------------------------------- source problems


def test_rows_that_cannot_be_compared_are_invalid_and_rows_outside_are_left_out(
    sandbox_db: Path, tmp_path: Path
) -> None:
    rows = [
        ticket_row("abaker", 1, "09:00", "1", workType="Remot"),
        ticket_row("abaker", 2, "09:00", "1") | {"date": "31/02/2030"},
        ticket_row("abaker", 3, "09:00", "1"),
        ticket_row("abaker", 30, "09:00", "1"),
    ]
    result = run(write_sheet(tmp_path / "s.csv", rows))

    assert result.counts() == {"matched": 0, "different": 0, "missing": 1, "extra": 0, "invalid": 2}
    assert sorted({(p.row, p.column) for p in result.invalid}) == [(2, "workType"), (3, "date")]
    assert "'Remot'" in next(p.message for p in result.invalid if p.row == 2)
    assert result.outside == 1
    assert any("1 rows of s.csv are outside" in note for note in result.notes)
    assert result.exit_code == 1


def test_time_on_a_ticket_closed_since_is_compared_and_flagged(
    sandbox_db: Path, sandbox_client: httpx.Client, tmp_path: Path
) -> None:
    rows = [ticket_row("abaker", 1, "09:00", "1"), ticket_row("abaker", 1, "11:00", "1.5")]
    source = write_sheet(tmp_path / "s.csv", rows)
    import_sheet(write_sheet(tmp_path / "first.csv", rows[:1]))
    with sqlite3.connect(sandbox_db) as db:
        db.execute(
            "UPDATE service_tickets SET body = json_set(body, '$.closedFlag', json('true'), "
            "'$.status.name', '>Closed') WHERE id = ?",
            (TICKET,),
        )

    result = run(source)

    assert [(i.kind, i.row) for i in result.items] == [("matched", 2), ("missing", 3)]
    assert result.counts()["invalid"] == 0
    assert [(c.code, c.detail) for c in result.checks if c.code == "closed_ticket"] == [
        ("closed_ticket", f"ServiceTicket {TICKET} is >Closed")
    ]
    assert any("1 missing rows can't be imported as they are" in n for n in result.notes)


# ----------------------------------------------------------------------- checks, output


def test_checks_flag_overlaps_per_member_only(sandbox_client: httpx.Client, tmp_path: Path) -> None:
    first = post(sandbox_client, "abaker", 1, "09:00", 2.0)
    inside = post(sandbox_client, "abaker", 1, "09:30", 0.5)
    after_inside = post(sandbox_client, "abaker", 1, "10:30", 0.5)  # still inside the first
    post(sandbox_client, "abaker", 1, "11:00", 1.0)  # starts as the first ends
    post(sandbox_client, "bchen", 1, "09:00", 2.0)  # another member at the same time
    rows = [ticket_row("bchen", 1, "09:00", "2"), ticket_row("abaker", 3, "09:00", "1")]
    source = write_sheet(tmp_path / "s.csv", rows)

    overlaps = [(c.entry_id, c.detail) for c in run(source).checks if c.code == "overlap"]

    assert [entry for entry, _detail in overlaps] == [inside, after_inside]
    assert all(f"overlaps entry {first} " in detail for _entry, detail in overlaps)


def test_fix_rows_are_canonical_with_member_identifiers(sandbox_db: Path, tmp_path: Path) -> None:
    rows = [
        ticket_row("Avery Baker", 1, "09:00", "1:30", workType="regular"),
        ticket_row("blake.chen@cwbulk-demo.example", 2, "", "0.75") | {"deduct": ""},
    ]
    result = run(write_sheet(tmp_path / "s.csv", rows))
    frame = fix_frame(result)
    assert tuple(frame.columns) == canonical_columns()
    records = frame[["member", "date", "start", "hours", "chargeTo", "workType"]].to_dict("records")
    assert records == [
        {
            "member": "abaker",
            "date": day(1),
            "start": "09:00",
            "hours": 1.5,
            "chargeTo": "1001",
            "workType": "regular",
        },
        {
            "member": "bchen",
            "date": day(2),
            "start": "",
            "hours": 0.75,
            "chargeTo": "1001",
            "workType": "",
        },
    ]


def test_to_dict_is_json_with_counts_path_and_at_most_the_limit_of_items(
    sandbox_db: Path, tmp_path: Path
) -> None:
    rows = [ticket_row("abaker", n, "09:00", "1") for n in range(5)]
    result = run(write_sheet(tmp_path / "s.csv", rows))
    data = json.loads(json.dumps(result.to_dict(item_limit=2)))
    assert data["counts"] == {"matched": 0, "different": 0, "missing": 5, "extra": 0, "invalid": 0}
    assert (len(data["items"]), data["itemsTruncated"]) == (2, True)
    assert data["items"][0] | {"differences": []} == data["items"][0]
    assert data["path"] is None and data["from"] == FROM.isoformat() and data["by"] == "entry"


@pytest.mark.parametrize(
    ("options", "message"),
    [
        pytest.param({"date_from": TO, "date_to": FROM}, "is after --to", id="from-after-to"),
        pytest.param({"tolerance": -0.5}, "--tolerance -0.5", id="negative-tolerance"),
        pytest.param({"by": "week"}, "--by 'week'", id="unknown-by"),
    ],
)
def test_options_that_make_no_sense_are_usage_errors(options: dict, message: str) -> None:
    settings = {"date_from": FROM, "date_to": TO} | options
    with pytest.raises(UsageError, match=message):
        ReconcileOptions(**settings).check()


def test_entries_are_fetched_in_pages_never_per_row(served_sandbox, tmp_path: Path) -> None:
    served = served_sandbox()
    profile = Profile(
        name="served",
        site=served.url,
        company=served.company,
        public_key=served.public_key,
        private_key=served.private_key,
        client_id=served.client_id,
    )
    rows = [
        ticket_row(member, n, f"{8 + k}:00", "1", notes=f"{member} {n} {k}")
        for member in ("abaker", "bchen", "cdiaz")
        for n in range(7)
        for k in range(4)
    ]
    source = write_sheet(tmp_path / "s.csv", rows)
    with served.client() as http:
        for n in range(7):
            post(http, "bchen", n, "08:00", 1.0, notes=f"bchen {n} 0")
    settings = ReconcileOptions(FROM, TO, read=ReadOptions(tz=TZ))
    served.clear_requests()

    result = reconcile_file(source, settings, connection=Connection(profile=profile))

    assert result.counts()["matched"] == 7
    assert result.counts()["missing"] == len(rows) - 7 == 77
    requests = served.requests()
    entries = [r for r in requests if r["path"].lower().endswith("/time/entries")]
    counts = [r for r in requests if r["path"].lower().endswith("/time/entries/count")]
    assert (len(entries), len(counts)) == (1, 1)
    assert "member/id in (" in unquote(entries[0]["query"])
    assert len(requests) <= 10
