"""apply.py: batches sent concurrently, exactly once, journaled; failures, stops and Ctrl-C.

Plans come from real dry runs against the sandbox; the writes go to a sandbox served on
a loopback port, whose request log shows what was sent.
"""

from __future__ import annotations

import asyncio
import csv
import os
import signal
import threading
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path

import pytest

from cwbulk.apply import ApplyResult, apply_plan, chunks
from cwbulk.config import Profile
from cwbulk.connect import Connection
from cwbulk.importer import ImportOptions, import_file
from cwbulk.journal import Journal, RowRecord
from cwbulk.plan import PlanItem
from cwbulk.validate import ReadOptions

COLUMNS = ("id", "member", "date", "start", "end", "chargeToType", "chargeTo", "company", "notes")
FIRST_DAY = date.today() + timedelta(days=21)


def connect(served) -> Connection:
    """A connection to a served sandbox."""
    profile = Profile(
        "served",
        served.url,
        served.company,
        served.public_key,
        served.private_key,
        served.client_id,
    )
    return Connection(profile)


def new_rows(count: int, *, notes: str = "apply test") -> list[dict[str, str]]:
    """``count`` new charge-code rows, one hour each, on distinct member/day/start keys."""
    members = ("abaker", "bchen", "cdiaz", "devans")
    rows = []
    for n in range(count):
        day = FIRST_DAY + timedelta(days=n // 24)
        hour = 7 + (n % 24) // 4
        rows.append(
            {
                "member": members[n % 4],
                "date": day.isoformat(),
                "start": f"{hour:02d}:00",
                "end": f"{hour:02d}:45",
                "chargeToType": "ChargeCode",
                "chargeTo": "ADMIN",
                "company": "Cwbulk",
                "notes": f"{notes} {n}",
            }
        )
    return rows


def update_row(entry: dict, notes: str) -> dict[str, str]:
    """A row that names an existing service-ticket entry by id and changes its notes."""
    return {
        "id": str(entry["id"]),
        "member": entry["member"]["identifier"],
        "date": entry["timeStart"][:10],
        "start": entry["timeStart"][11:16],
        "end": entry["timeEnd"][11:16],
        "chargeToType": "ServiceTicket",
        "chargeTo": str(entry["chargeToId"]),
        "notes": notes,
    }


def write_sheet(path: Path, rows: list[dict[str, str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    return path


def plan_of(path: Path, conn: Connection) -> list[PlanItem]:
    """The plan of a dry run of ``path``, as the list of items."""
    options = ImportOptions(read=ReadOptions(tz="UTC"), dry_run=True)
    result = import_file(path, options, connection=conn, confirm=lambda _: False)
    return list(result.plan.items)


def entries(served, conditions: str) -> list[dict]:
    with served.client() as http:
        found = http.get("/time/entries", params={"conditions": conditions, "pageSize": 1000})
    found.raise_for_status()
    return found.json()


def one_entry(served, conditions: str) -> dict:
    """An existing single-day service-ticket entry without deduct matching ``conditions``."""
    for entry in entries(served, f'chargeToType = "ServiceTicket" and {conditions}'):
        if entry["timeStart"][:10] == entry["timeEnd"][:10] and not entry.get("hoursDeduct"):
            return entry
    raise AssertionError(f"the sandbox seed has no entry where {conditions}")


def run(
    items, served, journal: Journal, connection: Connection | None = None, **options
) -> ApplyResult:
    """``apply_plan`` against the served sandbox, in a fresh journal run."""
    records = [RowRecord(i.sheet, i.row, i.key, i.action, i.mobile_guid) for i in items]
    run_id = journal.start_run(
        source="t.csv",
        source_sha256="x",
        sheets=["t"],
        site=served.url,
        company=served.company,
        options={},
        rows=records,
    )

    async def go() -> ApplyResult:
        async with (connection or connect(served)).client(max_rate=None) as client:
            return await apply_plan(
                items, client=client, journal=journal, run_id=run_id, progress=False, **options
            )

    return asyncio.run(go())


def writes(served) -> list[tuple[str, str]]:
    return [(r["method"], r["path"]) for r in served.requests() if r["method"] != "GET"]


@pytest.fixture
def journal(tmp_path: Path):
    with Journal(tmp_path / "journal.sqlite") as opened:
        yield opened


def test_creates_and_updates_are_sent_once_each_and_journaled(
    served_sandbox, tmp_path: Path, journal: Journal
) -> None:
    served = served_sandbox()
    target = one_entry(served, 'status = "Open"')
    sheet = write_sheet(tmp_path / "t.csv", [*new_rows(5), update_row(target, "patched notes")])
    items = plan_of(sheet, connect(served))
    assert [i.action for i in items] == ["create"] * 5 + ["update"]
    served.clear_requests()

    result = run(items, served, journal, batch_size=2, concurrency=3)

    assert [o.outcome for o in result.outcomes] == ["created"] * 5 + ["updated"]
    assert sorted(writes(served)) == sorted(
        [("POST", "/v4_6_release/apis/3.0/time/entries")] * 5
        + [("PATCH", f"/v4_6_release/apis/3.0/time/entries/{target['id']}")]
    )
    for item, outcome in zip(items[:5], result.outcomes[:5], strict=True):
        [created] = entries(served, f'mobileGuid = "{item.mobile_guid}"')
        assert created["id"] == outcome.entry_id
        assert created["notes"] == item.body["notes"]
    [patched] = entries(served, f"id = {target['id']}")
    assert patched["notes"] == "patched notes"
    assert patched["workType"] == target["workType"], "only the notes were sent"
    recorded = {r.row: r for r in journal.rows(1)}
    assert {r.outcome for r in recorded.values()} == {"created", "updated"}
    assert all(r.sent and r.finished for r in recorded.values())
    assert recorded[items[0].row].entry_id == result.outcomes[0].entry_id


def on_submitted_sheets(served, count: int) -> list[dict[str, str]]:
    """New rows on the weeks of submitted time sheets: ConnectWise refuses to add them."""
    with served.client() as http:
        sheets = http.get(
            "/time/sheets", params={"conditions": 'status = "PendingApproval"', "pageSize": count}
        ).json()
    assert len(sheets) == count, "the seed has submitted time sheets"
    return [
        {
            "member": sheet["member"]["identifier"],
            "date": sheet["dateStart"][:10],
            "start": "22:00",
            "end": "22:30",
            "chargeToType": "ChargeCode",
            "chargeTo": "ADMIN",
            "company": "Cwbulk",
            "notes": "late",
        }
        for sheet in sheets
    ]


def test_a_row_connectwise_refuses_fails_alone_with_its_code(
    served_sandbox, tmp_path: Path, journal: Journal
) -> None:
    served = served_sandbox()
    rows = [*on_submitted_sheets(served, 1), *new_rows(3)]
    items = plan_of(write_sheet(tmp_path / "t.csv", rows), connect(served))
    assert [i.action for i in items] == ["create"] * 4

    result = run(items, served, journal)

    first, *rest = result.outcomes
    assert (first.outcome, first.entry_id, first.error_code) == ("failed", None, "TimeEntryApi")
    assert "PendingApproval, so no time can be added to it" in first.message
    assert [o.outcome for o in rest] == ["created"] * 3
    assert journal.rows(1)[0].error_code == "TimeEntryApi"
    assert not entries(served, f'mobileGuid = "{items[0].mobile_guid}"')


def test_max_failures_stops_after_the_batch_and_says_how_to_resume(
    served_sandbox, tmp_path: Path, journal: Journal
) -> None:
    served = served_sandbox()
    rows = [*on_submitted_sheets(served, 2), *new_rows(4)]
    items = plan_of(write_sheet(tmp_path / "t.csv", rows), connect(served))
    served.clear_requests()

    result = run(items, served, journal, batch_size=3, max_failures=2)

    assert [o.outcome for o in result.outcomes] == ["failed", "failed", "created"] + ["skipped"] * 3
    assert result.stopped.startswith("2 rows failed (--max-failures 2); the most common error")
    assert "TimeEntryApi" in result.stopped and "run the same command again" in result.stopped
    assert len(writes(served)) == 3, "nothing of the second batch was sent"
    unsent = [r for r in journal.rows(1) if r.outcome is None]
    assert len(unsent) == 3 and not any(r.sent for r in unsent)


def test_rejected_keys_stop_the_run_after_the_batch(
    served_sandbox, tmp_path: Path, journal: Journal
) -> None:
    served = served_sandbox()
    items = plan_of(write_sheet(tmp_path / "t.csv", new_rows(6)), connect(served))
    revoked = Connection(replace(connect(served).profile, private_key="revoked"))

    result = run(items, served, journal, batch_size=3, connection=revoked)

    assert [o.outcome for o in result.outcomes] == ["failed"] * 3 + ["skipped"] * 3
    assert result.stopped.startswith("ConnectWise did not accept the credentials")
    assert result.stopped.endswith("fix that and run the same command again")
    assert "revoked" not in result.stopped


@pytest.mark.parametrize(
    "overwrite", [pytest.param(False, id="skip"), pytest.param(True, id="overwrite")]
)
def test_an_entry_changed_after_the_plan_is_left_alone_unless_overwrite(
    served_sandbox, tmp_path: Path, journal: Journal, overwrite: bool
) -> None:
    served = served_sandbox()
    target = one_entry(served, 'status = "Open"')
    items = plan_of(write_sheet(tmp_path / "t.csv", [update_row(target, "mine")]), connect(served))
    with served.client() as http:
        changed = http.patch(
            f"/time/entries/{target['id']}",
            json=[{"op": "replace", "path": "internalNotes", "value": "someone else"}],
        )
    changed.raise_for_status()

    [outcome] = run(items, served, journal, overwrite=overwrite).outcomes

    [now] = entries(served, f"id = {target['id']}")
    if overwrite:
        assert outcome.outcome == "updated" and now["notes"] == "mine"
    else:
        assert (outcome.outcome, outcome.error_code) == ("skipped", "changed_since_plan")
        assert now["notes"] == target["notes"]
        assert "after the plan was made" in outcome.message


def test_lost_answers_never_make_a_duplicate(
    served_sandbox, tmp_path: Path, journal: Journal
) -> None:
    served = served_sandbox(lost_response_rate=1.0, fault_seed=3)
    items = plan_of(write_sheet(tmp_path / "t.csv", new_rows(6)), connect(served))

    result = run(items, served, journal)

    assert [o.outcome for o in result.outcomes] == ["created"] * 6
    for item, outcome in zip(items, result.outcomes, strict=True):
        found = entries(served, f'mobileGuid = "{item.mobile_guid}"')
        assert [e["id"] for e in found] == [outcome.entry_id]
    assert served.counters()["lost"] == 6


def test_ctrl_c_finishes_the_requests_in_flight_records_them_and_sends_nothing_more(
    served_sandbox, tmp_path: Path, journal: Journal
) -> None:
    served = served_sandbox(latency_ms=40)
    items = plan_of(write_sheet(tmp_path / "t.csv", new_rows(60)), connect(served))
    served.clear_requests()

    def interrupt_after_some_posts() -> None:
        while sum(r["method"] == "POST" for r in served.requests()) < 10:
            threading.Event().wait(0.01)
        os.kill(os.getpid(), signal.SIGINT)

    threading.Thread(target=interrupt_after_some_posts, daemon=True).start()
    result = run(items, served, journal, batch_size=20, concurrency=4)

    assert result.interrupted
    created = [o for o in result.outcomes if o.outcome == "created"]
    skipped = [o for o in result.outcomes if o.outcome == "skipped"]
    assert 10 <= len(created) < 60 and len(created) + len(skipped) == 60
    assert {o.error_code for o in skipped} == {"not_sent"}
    posts = [r for r in served.requests() if r["method"] == "POST"]
    assert len(posts) == len(created), "every request sent was finished and recorded"
    recorded = journal.rows(1)
    assert sum(r.outcome == "created" for r in recorded) == len(created)
    assert all(r.sent is None for r in recorded if r.outcome is None)


@pytest.mark.parametrize(
    ("size", "lengths"),
    [
        pytest.param(2, [2, 2, 1], id="last-shorter"),
        pytest.param(0, [1, 1, 1, 1, 1], id="at-least-one"),
        pytest.param(10_000, [5], id="clamped"),
    ],
)
def test_chunks(size: int, lengths: list[int]) -> None:
    items = [PlanItem("s", n, "create") for n in range(5)]
    assert [len(c) for c in chunks(items, size)] == lengths


def test_the_client_is_not_used_when_there_is_nothing_to_send(
    served_sandbox, journal: Journal
) -> None:
    served = served_sandbox()
    served.clear_requests()
    assert run([], served, journal).outcomes == ()
    assert served.requests() == []
