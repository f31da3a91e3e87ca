"""plan.py: desired rows vs existing entries → one plan item per row (pure, no HTTP)."""

from __future__ import annotations

import json
from dataclasses import replace
from zoneinfo import ZoneInfo

import pytest

from cwbulk.plan import (
    DesiredRow,
    create_body,
    make_plan,
    mobile_guid,
    natural_key,
)
from cwbulk.problems import RowProblem

TZ = ZoneInfo("Europe/Amsterdam")


def row(n: int, **changes: object) -> DesiredRow:
    """A row of sheet "S" for member 7 on ticket 1001: 1.5 h from 09:00 local (07:00Z)."""
    base = DesiredRow(
        sheet="S",
        row=n,
        member_id=7,
        date="2024-06-03",
        time_start="2024-06-03T07:00:00Z",
        actual_hours=1.5,
        charge_to_type="ServiceTicket",
        charge_to_id=1001,
        company_id=3,
        start_given=True,
        work_type_id=11,
        notes="Fixed the printer",
        display={"member": "abaker", "chargeTo": "1001", "workType": "Remote"},
    )
    return replace(base, **changes)


def entry(entry_id: int, **changes: object) -> dict:
    """An existing ConnectWise entry equal to ``row(...)``, unless changed."""
    found = {
        "id": entry_id,
        "member": {"id": 7, "identifier": "abaker"},
        "company": {"id": 3, "identifier": "Northwind"},
        "chargeToType": "ServiceTicket",
        "chargeToId": 1001,
        "timeStart": "2024-06-03T07:00:00Z",
        "timeEnd": "2024-06-03T08:30:00Z",
        "actualHours": 1.5,
        "workType": {"id": 11, "name": "Remote"},
        "notes": "Fixed the printer",
        "_info": {"lastUpdated": "2024-06-04T10:00:00Z"},
    }
    found.update(changes)
    return found


def only(plan):
    assert len(plan.items) == 1
    return plan.items[0]


def test_a_new_row_is_a_create_with_a_deterministic_mobile_guid() -> None:
    item = only(make_plan([row(2)], [], tz=TZ))
    key = natural_key(
        member_id=7,
        date="2024-06-03",
        charge_to_type="ServiceTicket",
        charge_to_id=1001,
        hours=1.5,
        start="09:00",
        occurrence=1,
    )
    assert (item.action, item.key) == ("create", key)
    assert (
        item.mobile_guid == mobile_guid(key) == make_plan([row(9)], [], tz=TZ).items[0].mobile_guid
    )
    assert item.body == {
        "member": {"id": 7},
        "chargeToType": "ServiceTicket",
        "chargeToId": 1001,
        "company": {"id": 3},
        "timeStart": "2024-06-03T07:00:00Z",
        "actualHours": 1.5,
        "workType": {"id": 11},
        "notes": "Fixed the printer",
        "mobileGuid": item.mobile_guid,
    }


@pytest.mark.parametrize(
    ("changes", "same"),
    [
        pytest.param({"actual_hours": 1.501}, True, id="hours-rounded-to-0.01"),
        pytest.param({"notes": "other notes"}, True, id="notes-are-not-in-the-key"),
        pytest.param({"actual_hours": 1.51}, False, id="other-hours"),
        pytest.param({"member_id": 8}, False, id="other-member"),
        pytest.param({"date": "2024-06-04"}, False, id="other-date"),
        pytest.param({"charge_to_id": 1002}, False, id="other-ticket"),
        pytest.param({"time_start": "2024-06-03T08:00:00Z"}, False, id="other-start"),
        pytest.param(
            {"time_start": "2024-06-03T08:00:00Z", "start_given": False},
            False,
            id="start-left-out-when-not-given",
        ),
    ],
)
def test_the_natural_key_and_guid_depend_on_member_date_charge_to_hours_and_start(
    changes: dict, same: bool
) -> None:
    first = only(make_plan([row(2)], [], tz=TZ))
    other = only(make_plan([row(2, **changes)], [], tz=TZ))
    assert (first.mobile_guid == other.mobile_guid) is same


def test_identical_keys_get_occurrence_numbers_in_file_order() -> None:
    plan = make_plan([row(2), row(3, notes="second visit"), row(4, notes="third")], [], tz=TZ)
    keys = [i.key for i in plan.items]
    assert [k.rsplit("|", 1)[1] for k in keys] == ["1", "2", "3"]
    assert len({i.mobile_guid for i in plan.items}) == 3


def test_an_entry_matched_by_id_gets_only_its_changed_fields() -> None:
    desired = row(2, entry_id=501, notes="Replaced the toner", work_type_id=12)
    desired = replace(desired, display={**desired.display, "workType": "On-site"})
    item = only(make_plan([desired], [entry(501)], tz=TZ))
    assert (item.action, item.entry_id, item.match) == ("update", 501, "id")
    assert [(c.field, c.before, c.after) for c in item.changes] == [
        ("workType", "Remote", "On-site"),
        ("notes", "Fixed the printer", "Replaced the toner"),
    ]
    assert item.patch_ops() == [
        {"op": "replace", "path": "workType", "value": {"id": 12}},
        {"op": "replace", "path": "notes", "value": "Replaced the toner"},
    ]


def test_an_entry_matched_by_mobile_guid_is_unchanged() -> None:
    guid = only(make_plan([row(2)], [], tz=TZ)).mobile_guid
    moved = entry(77, mobileGuid=guid)
    item = only(make_plan([row(2)], [moved], tz=TZ))
    assert (item.action, item.entry_id, item.match) == ("unchanged", 77, "mobileGuid")


def test_an_entry_a_person_typed_is_matched_by_natural_key() -> None:
    typed = entry(88, mobileGuid="6fd34162-0856-4bc1-80ae-c3dccd89357a", notes="printer")
    item = only(make_plan([row(2)], [typed], tz=TZ))
    assert (item.action, item.entry_id, item.match) == ("update", 88, "key")
    assert [c.field for c in item.changes] == ["notes"]


def test_a_row_without_start_matches_whatever_time_the_entry_has() -> None:
    stacked = row(2, start_given=False, time_start="2024-06-03T07:00:00Z")
    at_two = entry(90, timeStart="2024-06-03T12:00:00Z", timeEnd="2024-06-03T13:30:00Z")
    item = only(make_plan([stacked], [at_two], tz=TZ))
    assert (item.action, item.match) == ("unchanged", "key")
    with_start = only(make_plan([row(2)], [at_two], tz=TZ))
    assert with_start.action == "create"


def test_the_local_date_decides_the_key_not_the_utc_date() -> None:
    # 00:30 in Amsterdam on 4 June is 22:30Z on 3 June.
    late = row(2, date="2024-06-04", time_start="2024-06-03T22:30:00Z")
    found = entry(91, timeStart="2024-06-03T22:30:00Z", timeEnd="2024-06-04T00:00:00Z")
    assert only(make_plan([late], [found], tz=TZ)).action == "unchanged"


def test_a_rows_own_entry_is_not_taken_by_an_earlier_rows_key_match() -> None:
    rows = [row(2), row(3, notes="second visit")]
    second_guid = make_plan(rows, [], tz=TZ).items[1].mobile_guid
    existing = [entry(95, mobileGuid=second_guid, notes="second visit")]
    first, second = make_plan(rows, existing, tz=TZ).items
    assert (second.action, second.entry_id, second.match) == ("unchanged", 95, "mobileGuid")
    assert first.action == "create"


def made(entry_id: int, desired: DesiredRow, key_of: list[DesiredRow], n: int) -> dict:
    """The entry cwbulk made for ``desired`` as row ``n`` of the file ``key_of``."""
    guid = make_plan(key_of, [], tz=TZ).items[n].mobile_guid
    return entry(entry_id, mobileGuid=guid, notes=desired.notes)


def test_a_fixed_errors_only_row_gets_its_own_entry_not_its_twins() -> None:
    # Row 2 was invalid, its twin (same member, date, ticket, hours and start) in row 3
    # was created; the fixed row 2 comes back alone in the errors-only file.
    invalid = RowProblem("S", 2, "workType", "Remot", "unknown_work_type", "unknown")
    first = make_plan([row(2), row(3, notes="twin")], [], tz=TZ, problems=[invalid])
    twin = first.items[1]
    assert twin.key.endswith("|2"), "an invalid row keeps its occurrence"
    existing = [entry(60, mobileGuid=twin.mobile_guid, notes="twin")]
    fixed = only(make_plan([row(2)], existing, tz=TZ))
    assert fixed.action == "create"
    assert fixed.mobile_guid != twin.mobile_guid


def test_a_failed_row_sent_again_alone_does_not_take_its_twins_entry() -> None:
    # Row 2 failed at POST and row 3 (its twin by natural key) was created.
    rows = [row(2), row(3, notes="twin")]
    existing = [made(61, rows[1], rows, 1)]
    again = only(make_plan([row(2)], existing, tz=TZ))
    assert (again.action, again.entry_id) == ("create", None)
    assert again.mobile_guid != existing[0]["mobileGuid"]
    assert again.message.startswith("ConnectWise already has entry 61 with this member")


def test_a_row_without_notes_does_not_take_its_twins_entry_that_has_notes() -> None:
    rows = [row(2, notes=None), row(3, notes="twin")]
    existing = [made(67, rows[1], rows, 1)]
    again = only(make_plan([row(2, notes=None)], existing, tz=TZ))
    assert (again.action, again.entry_id) == ("create", None)
    own = [made(68, rows[0], rows, 0) | {"notes": ""}, *existing]
    assert only(make_plan([row(2, notes=None)], own, tz=TZ)).entry_id == 68


def test_a_row_of_another_file_with_other_content_does_not_take_an_entry_by_guid() -> None:
    # Entry 69 was made from row 2 of an earlier file; a new file's first twin has its key.
    earlier = made(69, row(2), [row(2)], 0)
    supplement = row(5, notes="a third visit")
    edit = only(make_plan([supplement], [earlier], tz=TZ))
    assert (edit.action, edit.entry_id, edit.match) == ("update", 69, "mobileGuid")
    new = only(make_plan([supplement], [earlier], tz=TZ, other_files=[earlier["mobileGuid"]]))
    assert (new.action, new.entry_id) == ("create", None)
    assert new.mobile_guid != earlier["mobileGuid"] and new.key.endswith("|2")
    assert "entry 69" in new.message
    same = only(make_plan([row(5)], [earlier], tz=TZ, other_files=[earlier["mobileGuid"]]))
    assert (same.action, same.entry_id) == ("unchanged", 69)


def test_reordered_twins_find_their_own_entries_unchanged() -> None:
    rows = [row(2), row(3, notes="twin")]
    existing = [made(62, rows[0], rows, 0), made(63, rows[1], rows, 1)]
    swapped = [row(2, notes="twin"), row(3)]
    plan = make_plan(swapped, existing, tz=TZ)
    assert [(i.action, i.entry_id, i.match) for i in plan.items] == [
        ("unchanged", 63, "content"),
        ("unchanged", 62, "content"),
    ]


def test_a_twin_inserted_above_is_created_with_a_guid_nothing_carries() -> None:
    existing = [made(64, row(2, notes="twin"), [row(2, notes="twin")], 0)]
    plan = make_plan([row(2), row(3, notes="twin")], existing, tz=TZ)
    inserted, old = plan.items
    assert (old.action, old.entry_id) == ("unchanged", 64)
    assert (inserted.action, inserted.message) == ("create", ""), "its twin is in the file"
    assert inserted.mobile_guid not in {existing[0]["mobileGuid"], old.mobile_guid}
    assert inserted.body["mobileGuid"] == inserted.mobile_guid == mobile_guid(inserted.key)
    rerun = make_plan(
        [row(2), row(3, notes="twin")],
        [*existing, entry(65, mobileGuid=inserted.mobile_guid)],
        tz=TZ,
    )
    assert [(i.action, i.entry_id) for i in rerun.items] == [("unchanged", 65), ("unchanged", 64)]


def test_a_row_that_made_an_entry_now_edited_by_id_elsewhere_is_a_duplicate() -> None:
    guid = only(make_plan([row(2)], [], tz=TZ)).mobile_guid
    existing = [entry(66, mobileGuid=guid)]
    plan = make_plan([row(2), row(3, notes="edited", entry_id=66)], existing, tz=TZ)
    assert [(i.action, i.code) for i in plan.items] == [
        ("duplicate", "duplicate_row"),
        ("update", None),
    ]


@pytest.mark.parametrize(
    ("sheet_value", "changed", "action"),
    [
        pytest.param("2024-06-01T08:00:00Z", True, "conflict", id="changed-since-export"),
        pytest.param("2024-06-04T10:00:00Z", True, "update", id="same-lastUpdated"),
        pytest.param("2024-06-04T12:00:00+02:00", True, "update", id="same-moment-other-zone"),
        pytest.param("2024-06-01T08:00:00Z", False, "unchanged", id="no-edit-no-conflict"),
        pytest.param(None, True, "update", id="no-lastUpdated-column"),
    ],
)
def test_a_conflict_is_an_edit_of_an_entry_changed_since_the_export(
    sheet_value: str | None, changed: bool, action: str
) -> None:
    notes = "Edited in the sheet" if changed else "Fixed the printer"
    desired = row(2, entry_id=501, last_updated=sheet_value, notes=notes)
    item = only(make_plan([desired], [entry(501)], tz=TZ))
    assert item.action == action
    if action == "conflict":
        assert item.code == "changed_in_connectwise"
        assert "501" in item.message and "--on-conflict overwrite" in item.message


def test_an_entry_changed_after_the_plan_the_user_saw_is_a_conflict() -> None:
    desired = row(2, entry_id=501, notes="Edited")
    seen = {501: "2024-06-04T09:00:00Z"}
    item = only(make_plan([desired], [entry(501)], tz=TZ, seen_last_updated=seen))
    assert (item.action, item.code) == ("conflict", "changed_since_plan")
    same = {501: "2024-06-04T10:00:00Z"}
    assert only(make_plan([desired], [entry(501)], tz=TZ, seen_last_updated=same)).action == (
        "update"
    )


STACKED = {"start_given": False}


@pytest.mark.parametrize(
    ("first", "second", "why"),
    [
        pytest.param(row(2), row(3), "same content", id="same-content"),
        pytest.param(
            row(2, **STACKED),
            row(3, **STACKED, time_start="2024-06-03T08:30:00Z"),
            "same content",
            id="stacked-start-is-not-content",
        ),
        pytest.param(row(2, entry_id=501), row(3, entry_id=501, notes="b"), "same id 501", id="id"),
    ],
)
def test_duplicates_in_the_file(first: DesiredRow, second: DesiredRow, why: str) -> None:
    items = make_plan([first, second], [entry(501)], tz=TZ).items
    assert [i.action for i in items][1] == "duplicate"
    assert items[1].message.startswith(f"repeats row 2 ({why})")


def test_rows_that_differ_in_content_are_not_duplicates() -> None:
    items = make_plan([row(2), row(3, notes="other")], [], tz=TZ).items
    assert [i.action for i in items] == ["create", "create"]


def test_rows_with_errors_are_invalid_and_warnings_are_not() -> None:
    problems = [
        RowProblem("S", 3, "workType", "Remot", "unknown_work_type", "unknown work type"),
        RowProblem("S", 3, "hours", "x", "bad_hours", "bad hours"),
        RowProblem("S", 2, None, None, "overlap", "overlaps row 4", severity="warning"),
        RowProblem("S", 5, "member", "zz", "unknown_member", "unknown member 'zz'"),
    ]
    plan = make_plan([row(2), row(3, notes="x")], [], tz=TZ, problems=problems)
    assert [(i.row, i.action, i.code) for i in plan.items] == [
        (2, "create", None),
        (3, "invalid", "unknown_work_type"),
        (5, "invalid", "unknown_member"),
    ]
    assert plan.items[1].message == "unknown work type; bad hours"
    assert plan.counts() == {
        "create": 1,
        "update": 0,
        "unchanged": 0,
        "conflict": 0,
        "duplicate": 0,
        "invalid": 2,
    }


def test_an_id_that_does_not_exist_is_invalid() -> None:
    item = only(make_plan([row(2, entry_id=404)], [], tz=TZ))
    assert (item.action, item.code) == ("invalid", "unknown_entry_id")
    assert "404" in item.message and "clear the id" in item.message


def test_items_come_in_file_order_across_sheets() -> None:
    rows = [row(5, sheet="B"), row(3, sheet="A", notes="a"), row(2, sheet="B", notes="b")]
    plan = make_plan(rows, [], tz=TZ, sheet_order=["A", "B"])
    assert [(i.sheet, i.row) for i in plan.items] == [("A", 3), ("B", 2), ("B", 5)]


def test_company_time_without_a_charge_to_id_matches_on_the_company() -> None:
    desired = row(2, charge_to_type="Company", charge_to_id=None)
    body = create_body(desired, "g")
    assert "chargeToId" not in body and body["company"] == {"id": 3}
    typed = entry(60, chargeToType="Company", chargeToId=None)
    assert only(make_plan([desired], [typed], tz=TZ)).action == "unchanged"


def test_the_plan_is_json_ready() -> None:
    plan = make_plan([row(2), row(3, entry_id=501, notes="n")], [entry(501)], tz=TZ)
    data = json.loads(json.dumps(plan.to_dict()))
    assert data["counts"]["create"] == 1 and data["counts"]["update"] == 1
    assert data["items"][1]["changes"][0]["field"] == "notes"


@pytest.mark.parametrize(
    ("hours_given", "action"),
    [
        pytest.param(True, "update", id="hours-given-are-compared"),
        pytest.param(False, "unchanged", id="hours-from-start-and-end-are-not"),
    ],
)
def test_hours_worked_out_from_start_and_end_say_nothing_about_a_deduct(
    hours_given: bool, action: str
) -> None:
    # The entry ran 07:00-08:30 with half an hour deducted: 1.0 h, where the row says 1.5.
    deducted = entry(501, actualHours=1.0, hoursDeduct=0.5)
    desired = row(2, entry_id=501, hours_given=hours_given, time_end="2024-06-03T08:30:00Z")
    item = only(make_plan([desired], [deducted], tz=TZ))
    assert item.action == action
    if action == "update":
        assert [c.field for c in item.changes] == ["actualHours"]


@pytest.mark.parametrize(
    ("status", "action", "code"),
    [
        pytest.param("Billed", "invalid", "entry_billed", id="billed"),
        pytest.param("WrittenOff", "invalid", "entry_billed", id="written-off"),
        pytest.param("PendingApproval", "update", None, id="submitted-connectwise-decides"),
        pytest.param("ApprovedByTierOne", "update", None, id="approved-connectwise-decides"),
        pytest.param("Open", "update", None, id="open"),
        pytest.param("ErrorsCorrected", "update", None, id="errors-corrected"),
    ],
)
def test_an_edit_of_a_billed_entry_is_refused_in_the_plan(
    status: str, action: str, code: str | None
) -> None:
    item = only(
        make_plan([row(2, entry_id=501, notes="late edit")], [entry(501, status=status)], tz=TZ)
    )
    assert (item.action, item.code) == (action, code)
    if code:
        assert item.message.startswith(f"entry 501 is {status}: ")
        assert "(it would change notes)" in item.message
    unchanged = only(make_plan([row(2, entry_id=501)], [entry(501, status=status)], tz=TZ))
    assert unchanged.action == "unchanged", "an unedited row of such an entry is fine"
