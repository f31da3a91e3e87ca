"""The approval workflow (cwbulk.approval) against the sandbox: the sheet cycle, locks,
entry rejection, planning, ids files, and a bulk approve that stays exactly-once under
injected failures and lost answers."""

from __future__ import annotations

import asyncio
import re
from collections import Counter
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest

from cwbulk.approval import (
    ActionOptions,
    Selection,
    Target,
    entry_reject,
    execute,
    plan_steps,
    read_ids,
    select,
    sheet_action,
)
from cwbulk.client import CwClient, RetryPolicy
from cwbulk.conditions import cond
from cwbulk.errors import InputError, InvalidRequest, UsageError
from cwbulk.sandbox import (
    DEFAULT_CLIENT_ID,
    DEFAULT_COMPANY,
    DEFAULT_PRIVATE_KEY,
    DEFAULT_PUBLIC_KEY,
)

FAST_RETRY = RetryPolicy(max_attempts=10, backoff_base=0.005, backoff_max=0.05)


def sandbox_client(
    *, transport: httpx.AsyncBaseTransport | None = None, site: str = "http://sandbox.invalid"
) -> CwClient:
    """A cwbulk client for the in-process sandbox (``transport``) or a served one (``site``)."""
    return CwClient(
        site=site,
        company=DEFAULT_COMPANY,
        public_key=DEFAULT_PUBLIC_KEY,
        private_key=DEFAULT_PRIVATE_KEY,
        client_id=DEFAULT_CLIENT_ID,
        transport=transport,
        allow_http=True,
        retry=FAST_RETRY,
    )


def write_ids(path: Path, ids: list[int]) -> Path:
    pd.DataFrame({"id": ids}).to_csv(path, index=False)
    return path


async def entry_statuses(client: CwClient, sheet_id: int) -> set[str]:
    entries = await client.list_items(
        "time/entries", conditions=cond("timeSheet/id", "=", sheet_id), fields=("id", "status")
    )
    assert entries, f"time sheet {sheet_id} has no entries"
    return {e["status"] for e in entries}


async def sheet_status(client: CwClient, sheet_id: int) -> str:
    return (await client.get(f"time/sheets/{sheet_id}"))["status"]


# --- the cycle of one sheet ------------------------------------------------------------


def test_a_sheet_walks_through_submit_approve_reverse_and_reject(
    sandbox_transport: httpx.ASGITransport, tmp_path: Path
) -> None:
    async def scenario() -> None:
        async with sandbox_client(transport=sandbox_transport) as client:
            open_sheets = await select(
                client, "sheets", Selection(members=("abaker",), statuses=("Open",))
            )
            sheet = max(open_sheets, key=lambda t: t.details["period"])
            ids = write_ids(tmp_path / "sheet.csv", [sheet.id])
            entries = await client.list_items(
                "time/entries",
                conditions=cond("timeSheet/id", "=", sheet.id),
                fields=("id", "timeStart", "member", "company"),
            )
            entry = entries[0]

            async def act(action: str) -> tuple[str, str, str]:
                run = await execute(
                    client,
                    sheet_action(action),
                    Selection(ids_file=ids),
                    ActionOptions(results=tmp_path / f"{action}.csv"),
                )
                (outcome,) = run.outcomes
                return outcome.outcome, outcome.status_after, outcome.reason

            async def edit(notes: str) -> dict[str, Any]:
                ops = [{"op": "replace", "path": "notes", "value": notes}]
                return await client.patch(f"time/entries/{entry['id']}", ops)

            assert await entry_statuses(client, sheet.id) == {"Open"}
            outcome, after, reason = await act("approve")
            assert (outcome, after) == ("skipped", "Open")
            assert "must be submitted first" in reason

            assert (await act("submit"))[:2] == ("done", "PendingApproval")
            assert await entry_statuses(client, sheet.id) == {"PendingApproval"}
            with pytest.raises(InvalidRequest) as locked:
                await edit("changed while submitted")
            assert "TimeEntryApi" in str(locked.value)
            assert f"Time entry {entry['id']} is PendingApproval" in str(locked.value)
            assert "reject or reverse the time sheet first" in str(locked.value)
            with pytest.raises(InvalidRequest, match="can't be deleted"):
                await client.delete(f"time/entries/{entry['id']}")
            with pytest.raises(InvalidRequest, match="no time can be added to it"):
                await client.post(
                    "time/entries",
                    {
                        "member": {"id": entry["member"]["id"]},
                        "company": {"id": entry["company"]["id"]},
                        "timeStart": entry["timeStart"],
                        "actualHours": 0.5,
                    },
                )
            outcome, after, reason = await act("submit")
            assert (outcome, after, reason) == (
                "skipped",
                "PendingApproval",
                "PendingApproval: already submitted",
            )

            assert (await act("approve"))[:2] == ("done", "ApprovedByTierOne")
            assert await entry_statuses(client, sheet.id) == {"ApprovedByTierOne"}
            with pytest.raises(InvalidRequest, match="is ApprovedByTierOne on time sheet"):
                await edit("changed while approved")
            # Approving twice would make it tier two in ConnectWise: it must be skipped.
            outcome, after, reason = await act("approve")
            assert (outcome, after) == ("skipped", "ApprovedByTierOne")
            assert "already approved" in reason
            assert await sheet_status(client, sheet.id) == "ApprovedByTierOne"

            assert (await act("reverse"))[:2] == ("done", "Open")
            assert await entry_statuses(client, sheet.id) == {"Open"}
            assert (await edit("fixed after reversal"))["notes"] == "fixed after reversal"

            assert (await act("submit"))[:2] == ("done", "PendingApproval")
            assert (await act("reject"))[:2] == ("done", "Rejected")
            assert await entry_statuses(client, sheet.id) == {"Rejected"}
            assert (await act("reject"))[::2] == ("skipped", "Rejected: already rejected")
            edited = await edit("corrected after rejection")
            assert edited["status"] == "ErrorsCorrected"
            assert (await act("submit"))[:2] == ("done", "PendingApproval")
            assert await entry_statuses(client, sheet.id) == {"PendingApproval"}

    asyncio.run(scenario())


# --- planning: which statuses each action applies to -----------------------------------

PLAN_CASES = [
    pytest.param("submit", "Open", None, id="submit-open"),
    pytest.param("submit", "Rejected", None, id="submit-rejected"),
    pytest.param("submit", "ErrorsCorrected", None, id="submit-corrected"),
    pytest.param("submit", "PendingApproval", "already submitted", id="submit-pending"),
    pytest.param("submit", "ApprovedByTierTwo", "already submitted and", id="submit-approved"),
    pytest.param("submit", "Billed", "nothing can be submitted", id="submit-billed"),
    pytest.param("approve", "PendingApproval", None, id="approve-pending"),
    pytest.param("approve", "Open", "must be submitted first", id="approve-open"),
    pytest.param("approve", "Rejected", "submitted again", id="approve-rejected"),
    pytest.param("approve", "ApprovedByTierOne", "--tier 2", id="approve-tier-one"),
    pytest.param("approve", "ApprovedByTierTwo", "already approved", id="approve-tier-two"),
    pytest.param("approve", "ReadyToBill", "in billing", id="approve-ready-to-bill"),
    pytest.param(
        "approve", "PendingProjectApproval", "project approval", id="approve-project-approval"
    ),
    pytest.param("reject", "PendingApproval", None, id="reject-pending"),
    pytest.param("reject", "ApprovedByTierTwo", None, id="reject-approved"),
    pytest.param("reject", "RejectBySecondTier", "already rejected", id="reject-rejected"),
    pytest.param("reject", "Open", "nothing to reject", id="reject-open"),
    pytest.param("reverse", "ApprovedByTierOne", None, id="reverse-approved"),
    pytest.param("reverse", "Open", "already open", id="reverse-open"),
    pytest.param("reverse", "Rejected", "nothing to reverse", id="reverse-rejected"),
    pytest.param("reverse", "Billed", "nothing can be reversed", id="reverse-billed"),
]


@pytest.mark.parametrize(("action", "status", "skip_reason"), PLAN_CASES)
def test_sheet_plan_sends_or_skips_with_the_reason(
    action: str, status: str, skip_reason: str | None
) -> None:
    (step,) = plan_steps([Target(7, status)], sheet_action(action))
    assert step.send is (skip_reason is None)
    if skip_reason is None:
        assert step.reason == ""
    else:
        assert step.reason.startswith(f"{status}: ")
        assert skip_reason in step.reason


def test_approve_tier_two_applies_to_tier_one_sheets_and_asks_for_tier_two() -> None:
    spec = sheet_action("approve", tier=2)
    steps = plan_steps([Target(1, "ApprovedByTierOne"), Target(2, "ApprovedByTierTwo")], spec)
    assert [s.send for s in steps] == [True, False]
    assert spec.request_body(1) == {"id": 1, "approvalType": "Tier2Update"}
    assert sheet_action("approve").request_body(1) == {"id": 1, "approvalType": "Tier1Update"}


@pytest.mark.parametrize(
    ("status", "send", "reason"),
    [
        pytest.param("PendingApproval", True, "", id="submitted"),
        pytest.param("ApprovedByTierTwo", True, "", id="approved"),
        pytest.param("Rejected", False, "Rejected: already rejected", id="rejected"),
        pytest.param("Open", False, "Open: not submitted", id="open"),
        pytest.param("Billed", False, "Billed: refused: billed time", id="billed"),
        pytest.param("WrittenOff", False, "WrittenOff: refused: billed time", id="written-off"),
        pytest.param("", False, "no such time entry", id="unknown-id"),
    ],
)
def test_entry_reject_plan(status: str, send: bool, reason: str) -> None:
    (step,) = plan_steps([Target(7, status)], entry_reject("wrong ticket"))
    assert step.send is send
    assert step.reason.startswith(reason)


def test_entry_reject_needs_a_comment() -> None:
    with pytest.raises(UsageError, match="--comment is empty"):
        entry_reject("   ")


# --- selections and ids files ------------------------------------------------------------


@pytest.mark.parametrize(
    ("selection", "message"),
    [
        pytest.param(Selection(), "at least one filter", id="nothing"),
        pytest.param(
            Selection(ids_file=Path("x.csv"), members=("abaker",)),
            "--ids can't be combined",
            id="ids-and-filter",
        ),
        pytest.param(
            Selection(date_from=date(2026, 3, 9), date_to=date(2026, 3, 1)),
            "--from 2026-03-09 is after --to 2026-03-01",
            id="backwards",
        ),
        pytest.param(Selection(statuses=("Aproved",)), "'Aproved' is not a", id="bad-status"),
    ],
)
def test_selection_check_refuses(selection: Selection, message: str) -> None:
    with pytest.raises(UsageError, match=re.escape(message)):
        selection.check()


def test_read_ids_keeps_file_order_once_each_and_reads_workbooks(tmp_path: Path) -> None:
    path = tmp_path / "ids.xlsx"
    pd.DataFrame({"member": ["a", "b", "c", "d"], "ID": [12, 5, 12, 7]}).to_excel(path, index=False)
    assert read_ids(path) == [12, 5, 7]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param("sheet\n12\n", "ids.csv has no 'id' column (columns: sheet)", id="no-column"),
        pytest.param("id\n12\nabc\n-3\n", "row 3: 'abc'; row 4: '-3'", id="bad-values"),
        pytest.param("id\n\n", "ids.csv lists no ids", id="empty"),
    ],
)
def test_read_ids_names_the_file_row_and_value(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "ids.csv"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(InputError, match=re.escape(message)):
        read_ids(path)


def test_sheet_filters_pick_overlapping_weeks_of_the_members(
    sandbox_transport: httpx.ASGITransport,
) -> None:
    async def scenario() -> None:
        async with sandbox_client(transport=sandbox_transport) as client:
            everything = await select(client, "sheets", Selection(members=("abaker", "bchen")))
            assert {t.details["member"] for t in everything} == {"abaker", "bchen"}
            wednesday = date.fromisoformat(everything[-1].details["period"][:10]) + timedelta(2)
            week = await select(client, "sheets", Selection(date_from=wednesday, date_to=wednesday))
            periods = {t.details["period"] for t in week}
            assert periods == {everything[-1].details["period"]}
            assert len(week) > 2
            pending = await select(client, "sheets", Selection(statuses=("PendingApproval",)))
            assert pending and {t.status for t in pending} == {"PendingApproval"}
            with pytest.raises(UsageError, match="there is no such member in ConnectWise"):
                await select(client, "sheets", Selection(members=("abakr",)))

    asyncio.run(scenario())


# --- rejecting entries ---------------------------------------------------------------------


def test_reject_entries_rejects_submitted_time_and_refuses_billed_time(
    sandbox_transport: httpx.ASGITransport, tmp_path: Path
) -> None:
    async def scenario() -> None:
        async with sandbox_client(transport=sandbox_transport) as client:
            pending = await client.list_items(
                "time/entries", conditions=cond("status", "=", "PendingApproval"), fields="id"
            )
            billed = await client.get(
                "time/entries", params={"conditions": 'status = "Billed"', "pageSize": 1}
            )
            opened = await client.get(
                "time/entries", params={"conditions": 'status = "Open"', "pageSize": 1}
            )
            ids = [999_999, pending[0]["id"], billed[0]["id"], opened[0]["id"]]
            run = await execute(
                client,
                entry_reject("Charge this to the project ticket"),
                Selection(ids_file=write_ids(tmp_path / "entries.csv", ids)),
                ActionOptions(),
            )
            missing, submitted, billed_id, open_id = ids
            by_id = {o.target.id: o for o in run.outcomes}
            assert [o.target.id for o in run.outcomes] == ids
            assert (by_id[submitted].outcome, by_id[submitted].status_after) == (
                "done",
                "Rejected",
            )
            assert by_id[billed_id].outcome == "skipped"
            assert by_id[billed_id].reason == "Billed: refused: billed time can't be rejected"
            assert by_id[open_id].outcome == "skipped"
            assert by_id[missing].outcome == "failed"
            assert by_id[missing].error == "no such time entry in ConnectWise"
            assert run.counts() == {"done": 1, "skipped": 2, "failed": 1}
            assert run.exit_code == 1
            assert run.results_path == tmp_path / "entries.reject-results.csv"
            results = pd.read_csv(run.results_path, dtype=str, keep_default_na=False)
            assert list(results.columns) == [
                *("id", "member", "date", "hours", "chargeTo", "timeSheet"),
                *("statusBefore", "statusAfter", "outcome", "reason", "error"),
            ]
            assert results["member"].tolist()[0] == ""
            assert all(results["member"].tolist()[1:])
            now = {i: (await client.get(f"time/entries/{i}"))["status"] for i in ids[1:]}
            assert now == {submitted: "Rejected", billed_id: "Billed", open_id: "Open"}
            with pytest.raises(InvalidRequest, match="billed time can't be changed"):
                await client.patch(
                    f"time/entries/{billed_id}", [{"op": "replace", "path": "notes", "value": "x"}]
                )

    asyncio.run(scenario())


# --- bulk, under faults ------------------------------------------------------------------

APPROVE_PATH = re.compile(r"/time/sheets/(\d+)/approve$")


async def make_open_sheets(client: CwClient, count: int) -> list[int]:
    """Open time sheets for ``count`` member-weeks the seed leaves empty (a year back)."""
    members = await client.list_items(
        "system/members", conditions="inactiveFlag = false", fields=("id",)
    )
    company = (await client.get("company/companies", params={"pageSize": 1}))[0]
    monday = date.today() - timedelta(days=date.today().weekday(), weeks=52)
    weeks = [(m["id"], monday - timedelta(weeks=w)) for w in range(40) for m in members][:count]

    async def post(member_id: int, week: date) -> int:
        entry = await client.post(
            "time/entries",
            {
                "member": {"id": member_id},
                "company": {"id": company["id"]},
                "timeStart": f"{week + timedelta(days=1)}T14:00:00Z",
                "actualHours": 2,
                "notes": "bulk approval test",
            },
        )
        return int(entry["timeSheet"]["id"])

    sheet_ids = await asyncio.gather(*(post(m, w) for m, w in weeks))
    assert len(set(sheet_ids)) == count
    return list(sheet_ids)


def test_bulk_approve_of_200_sheets_is_exactly_once_despite_failures_and_lost_answers(
    served_sandbox: Any, tmp_path: Path
) -> None:
    served = served_sandbox()
    ids_file = tmp_path / "to-approve.csv"

    async def prepare() -> None:
        async with sandbox_client(site=served.url) as client:
            sheet_ids = await make_open_sheets(client, 200)
            write_ids(ids_file, sheet_ids)
            submitted = await execute(
                client,
                sheet_action("submit"),
                Selection(ids_file=ids_file),
                ActionOptions(results=tmp_path / "submit.csv"),
            )
            assert submitted.counts() == {"done": 200, "skipped": 0, "failed": 0}

    async def approve() -> Any:
        async with sandbox_client(site=served.url) as client:
            return await execute(
                client,
                sheet_action("approve"),
                Selection(ids_file=ids_file),
                ActionOptions(concurrency=8),
            )

    asyncio.run(prepare())
    served.clear_requests()
    served.set_faults(fail_rate=0.2, lost_response_rate=0.15)
    run = asyncio.run(approve())
    served.set_faults(fail_rate=0, lost_response_rate=0)
    log = served.requests()

    sheet_ids = read_ids(ids_file)
    assert run.counts() == {"done": 200, "skipped": 0, "failed": 0}
    attempts = [
        (int(m.group(1)), entry)
        for entry in log
        if entry["method"] == "POST" and (m := APPROVE_PATH.search(entry["path"]))
    ]
    committed = Counter(
        sheet
        for sheet, entry in attempts
        if (entry["status"] == 200 and entry["fault"] is None)
        or (entry["fault"] or "").startswith("lost")
    )
    assert committed == Counter(dict.fromkeys(sheet_ids, 1)), "each sheet approved exactly once"
    faults = Counter(entry["fault"] for _sheet, entry in attempts)
    assert faults["failed"] > 10, "the failure injection did not bite"
    assert faults["lost-500"] + faults["lost-drop"] > 5, "no answer was lost"
    assert not [e for _s, e in attempts if e["status"] == 400], "an approve was refused"

    results = pd.read_csv(run.results_path, dtype=str, keep_default_na=False)
    assert run.results_path == tmp_path / "to-approve.approve-results.csv"
    assert results["id"].astype(int).tolist() == sheet_ids
    assert set(results["outcome"]) == {"done"}
    assert set(results["statusBefore"]) == {"PendingApproval"}
    assert set(results["statusAfter"]) == {"ApprovedByTierOne"}
    with httpx.Client(base_url=served.api, headers=served.auth_headers()) as check:
        statuses = Counter(
            check.get(f"/time/sheets/{i}", params={"fields": "status"}).json()["status"]
            for i in sheet_ids
        )
    assert statuses == {"ApprovedByTierOne": 200}
