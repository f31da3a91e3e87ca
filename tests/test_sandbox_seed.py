"""The seeded sandbox: deterministic, and the data the issue asks for."""

from __future__ import annotations

import json
import sqlite3
from collections import Counter, defaultdict
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest

from cwbulk.errors import ConfigError
from cwbulk.sandbox import SandboxConfig, create_app, default_db_path, reset
from cwbulk.sandbox.seed import load_reference
from cwbulk.sandbox.store import BILLED, RESOURCES, SPEC_FIELDS, TIME_ENTRY, TIME_SHEET, Store

# Every status of the spec's TimeEntry.status enum (test_sandbox_openapi checks the table).
STATUSES = SPEC_FIELDS["TimeEntry"]["status"].values


def bodies(path: Path, table: str) -> list[dict]:
    """Every body in a table of a sandbox database, by id."""
    with sqlite3.connect(path) as db:
        rows = db.execute(f"SELECT body FROM {table} ORDER BY id").fetchall()
    db.close()
    return [json.loads(body) for (body,) in rows]


def dump(path: Path) -> dict[str, list[tuple[int, str]]]:
    """Every API table's rows."""
    with sqlite3.connect(path) as db:
        tables = {
            r.table: db.execute(f"SELECT id, body FROM {r.table} ORDER BY id").fetchall()
            for r in RESOURCES.values()
        }
    db.close()
    return tables


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, date]:
    """A database seeded for a fixed Thursday."""
    today = date(2025, 3, 13)
    path = tmp_path_factory.mktemp("seed") / "seeded.sqlite"
    reset(path, today=today)
    return path, today


def test_seeding_is_deterministic_for_a_given_day(seeded, tmp_path) -> None:
    path, today = seeded
    again = tmp_path / "again.sqlite"
    reset(again, today=today)
    other = tmp_path / "other.sqlite"
    reset(other, today=today + timedelta(days=7))
    assert dump(again) == dump(path)
    assert dump(other)["time_entries"] != dump(path)["time_entries"]


def test_reference_data(seeded) -> None:
    path, _ = seeded
    members = bodies(path, "members")
    assert len(bodies(path, "companies")) >= 8
    assert len(members) >= 15
    assert any(m["inactiveFlag"] for m in members) and not all(m["inactiveFlag"] for m in members)
    assert all(
        m["identifier"] and m["firstName"] and m["lastName"] and m["officeEmail"] for m in members
    )
    assert {w["name"] for w in bodies(path, "work_types")} >= {
        "Regular",
        "Overtime",
        "Training",
        "Travel",
        "Remote",
        "On-site",
        "Administrative",
    }
    assert {w["name"] for w in bodies(path, "work_roles")} >= {
        "Level 1 Tech",
        "Level 2 Tech",
        "Level 3 Tech",
        "Engineer",
        "Consultant",
        "Project Manager",
    }
    assert {c["name"] for c in bodies(path, "charge_codes")} >= {
        "MTNG",
        "TRNG",
        "ADMIN",
        "PTO",
        "PROJ",
        "ONCALL",
    }


def test_tickets_some_of_which_forbid_time(seeded) -> None:
    path, _ = seeded
    service, project = bodies(path, "service_tickets"), bodies(path, "project_tickets")
    with sqlite3.connect(path) as db:
        no_time = {row[0] for row in db.execute("SELECT id FROM statuses WHERE no_time = 1")}
    db.close()
    assert len(service) >= 200 and len(project) >= 40
    assert [t["id"] for t in service] == list(range(1001, 1241))
    assert [t["id"] for t in project] == list(range(5001, 5041))
    for tickets in (service, project):
        blocked = [t for t in tickets if t["status"]["id"] in no_time]
        assert 0 < len(blocked) < len(tickets)


def test_time_entries_cover_the_three_months_before_today_in_every_status(seeded) -> None:
    path, today = seeded
    entries = bodies(path, "time_entries")
    days = {date.fromisoformat(e["timeStart"][:10]) for e in entries}
    assert len(entries) >= 3000
    assert min(days) >= today - timedelta(days=92) and max(days) < today
    assert min(days) <= today - timedelta(days=85)
    assert set(Counter(e["status"] for e in entries)) == set(STATUSES)


def test_statuses_follow_the_week(seeded) -> None:
    path, today = seeded
    monday = today - timedelta(days=today.weekday())
    by_week: dict[int, set[str]] = defaultdict(set)
    for entry in bodies(path, "time_entries"):
        start = date.fromisoformat(entry["timeStart"][:10])
        by_week[(monday - (start - timedelta(days=start.weekday()))).days // 7].add(entry["status"])
    assert by_week[0] == by_week[1] == {"Open"}, "the last two weeks are open"
    assert "PendingApproval" in by_week[2] and "ApprovedByTierOne" in by_week[3]
    assert all(by_week[w] <= BILLED | {"ApprovedByTierTwo"} for w in range(6, 14))
    assert all("Billed" in by_week[w] for w in range(6, 13))


def test_weekly_sheets_hold_their_entries(seeded) -> None:
    path, _ = seeded
    sheets = {s["id"]: s for s in bodies(path, "time_sheets")}
    hours: dict[int, float] = defaultdict(float)
    for entry in bodies(path, "time_entries"):
        sheet = sheets[entry["timeSheet"]["id"]]
        start = datetime.fromisoformat(entry["timeStart"].replace("Z", "+00:00"))
        end = datetime.fromisoformat(entry["timeEnd"].replace("Z", "+00:00"))
        assert sheet["member"]["id"] == entry["member"]["id"]
        assert sheet["dateStart"][:10] <= entry["timeStart"][:10] <= sheet["dateEnd"][:10]
        assert entry["actualHours"] == round(
            (end - start).total_seconds() / 3600 - entry["hoursDeduct"], 2
        )
        hours[sheet["id"]] += entry["actualHours"]
    for sheet in sheets.values():
        start, end = (
            date.fromisoformat(sheet["dateStart"][:10]),
            date.fromisoformat(sheet["dateEnd"][:10]),
        )
        assert start.weekday() == 0 and end - start == timedelta(days=6)
        assert sheet["hours"] == pytest.approx(hours[sheet["id"]])


def test_members_with_history_have_time_and_the_others_do_not(seeded) -> None:
    path, _ = seeded
    with_time = {e["member"]["identifier"] for e in bodies(path, "time_entries")}
    expected = {m["identifier"] for m in load_reference()["members"] if m["hasHistory"]}
    assert with_time == expected


def test_some_entries_carry_a_mobile_guid(seeded) -> None:
    entries = bodies(seeded[0], "time_entries")
    with_guid = [e for e in entries if "mobileGuid" in e]
    assert 0 < len(with_guid) < len(entries)
    assert len({e["mobileGuid"] for e in with_guid}) == len(with_guid)


def test_create_app_seeds_a_new_database(tmp_path) -> None:
    path = tmp_path / "new" / "sandbox.sqlite"
    app = create_app(SandboxConfig(db_path=path, today=date(2025, 1, 8)))
    store: Store = app.state.store
    try:
        assert store.count(TIME_ENTRY) >= 3000 and store.count(TIME_SHEET) > 0
        assert store.meta("seeded_for") == "2025-01-08"
    finally:
        store.close()


def test_create_app_keeps_an_existing_database(sandbox_db) -> None:
    first = create_app(SandboxConfig(db_path=sandbox_db))
    entry = first.state.store.create_time_entry(
        {
            "member": {"id": 150},
            "company": {"id": 251},
            "timeStart": "2030-01-07T09:00:00Z",
            "actualHours": 1,
        }
    )
    first.state.store.close()
    second = create_app(SandboxConfig(db_path=sandbox_db))
    try:
        assert second.state.store.fetch(TIME_ENTRY, entry["id"]) == entry
    finally:
        second.state.store.close()


def test_reset_reseeds_an_existing_database(sandbox_db) -> None:
    store = Store(sandbox_db)
    entry = store.create_time_entry(
        {
            "member": {"id": 150},
            "company": {"id": 251},
            "timeStart": "2030-01-07T09:00:00Z",
            "actualHours": 1,
        }
    )
    store.close()
    counts = reset(sandbox_db)
    store = Store(sandbox_db)
    try:
        assert store.fetch(TIME_ENTRY, entry["id"]) is None
        assert store.count(TIME_ENTRY) == counts["time_entries"]
    finally:
        store.close()


def test_a_database_from_another_version_is_refused(tmp_path) -> None:
    path = tmp_path / "old.sqlite"
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA user_version = 99")
    db.close()
    with pytest.raises(ConfigError) as raised:
        create_app(SandboxConfig(db_path=path))
    assert "cwbulk sandbox reset" in str(raised.value)


def test_the_default_database_path(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("CWBULK_SANDBOX_DB", str(tmp_path / "mine.sqlite"))
    assert default_db_path() == tmp_path / "mine.sqlite"
    monkeypatch.delenv("CWBULK_SANDBOX_DB")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    assert default_db_path() == tmp_path / "data" / "cwbulk" / "sandbox.sqlite"


@pytest.mark.parametrize(
    ("setting", "value"),
    [
        pytest.param("fail_rate", 1.5, id="fail-rate"),
        pytest.param("lost_response_mode", "sometimes", id="mode"),
        pytest.param("rate_limit", 0, id="rate-limit"),
    ],
)
def test_a_bad_config_is_refused(tmp_path, setting, value) -> None:
    with pytest.raises(ValueError, match=setting):
        SandboxConfig(db_path=tmp_path / "x.sqlite", **{setting: value})
