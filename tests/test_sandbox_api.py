"""The sandbox's API over HTTP: every endpoint, auth, pagination, and ConnectWise's rules.

Every response these tests receive is checked against the OpenAPI spec by the clients'
response hook (see sandbox_fixtures.py).
"""

from __future__ import annotations

import re
import sqlite3
from contextlib import closing
from datetime import date, timedelta
from typing import Any

import httpx
import pytest
from sandbox_fixtures import auth_headers, in_process_client

from cwbulk.sandbox.store import BLOCKED_TICKET_MESSAGE

MONDAY = date.today() - timedelta(days=date.today().weekday())
API = "http://sandbox.invalid/v4_6_release/apis/3.0"


def at(hour: int, minute: int = 0, day: date = MONDAY) -> str:
    """A ConnectWise datetime on ``day`` (this week's Monday by default)."""
    return f"{day.isoformat()}T{hour:02d}:{minute:02d}:00Z"


def new_entry(**changes: Any) -> dict[str, Any]:
    """A valid new time entry body: abaker, 1.5 h on an open service ticket, this week."""
    body = {
        "member": {"identifier": "abaker"},
        "chargeToType": "ServiceTicket",
        "chargeToId": 1001,
        "timeStart": at(6),
        "timeEnd": at(7, 30),
        "notes": "Replaced the toner",
    }
    return {**body, **changes}


def first(client: httpx.Client, path: str, conditions: str) -> dict[str, Any]:
    """The first record matching a condition."""
    found = client.get(path, params={"conditions": conditions, "pageSize": 1})
    assert found.status_code == 200, found.text
    assert found.json(), f"no {path} matches {conditions}"
    return found.json()[0]


def links(response: httpx.Response) -> dict[str, str]:
    """The Link header as rel → URL."""
    return {
        rel: url for url, rel in re.findall(r'<([^>]+)>; rel="(\w+)"', response.headers["Link"])
    }


# --- every endpoint, over HTTP ----------------------------------------------------------------

READ_PATHS = [
    "time/entries",
    "time/sheets",
    "time/workTypes",
    "time/workRoles",
    "time/chargeCodes",
    "system/members",
    "company/companies",
    "service/tickets",
    "project/tickets",
]


@pytest.mark.parametrize("path", [pytest.param(p, id=p) for p in READ_PATHS])
def test_list_count_and_get_over_http(served_sandbox, openapi_validator, path: str) -> None:
    sandbox = served_sandbox()
    with sandbox.client(event_hooks={"response": [openapi_validator.check_response]}) as client:
        listed = client.get(path, params={"pageSize": 1000})
        count = client.get(f"{path}/count").json()["count"]
        one = client.get(f"{path}/{listed.json()[-1]['id']}")
        missing = client.get(f"{path}/987654")
    assert listed.status_code == 200
    assert len(listed.json()) == min(count, 1000) > 0
    assert one.status_code == 200 and one.json() == listed.json()[-1]
    assert missing.status_code == 404 and missing.json()["code"] == "NotFound"
    assert listed.headers["content-type"].startswith("application/json")


REFERENCE_POSTS = [
    pytest.param(
        "system/members",
        {
            "identifier": "zz-tester",
            "firstName": "Zora",
            "lastName": "Testperson",
            "licenseClass": "F",
            "hireDate": "2024-01-08T00:00:00Z",
            "defaultEmail": "Office",
            "defaultPhone": "Office",
            "officeEmail": "zora@cwbulk-demo.example",
            "securityRole": {"id": 2},
            "workRole": {"name": "Engineer"},
        },
        id="member",
    ),
    pytest.param("company/companies", {"identifier": "NewCo", "name": "New Co Ltd"}, id="company"),
    pytest.param(
        "time/workTypes",
        {"name": "Weekend", "billTime": "Billable", "rateType": "Multiplier", "rate": 2},
        id="work-type",
    ),
    pytest.param("time/workRoles", {"name": "Architect", "hourlyRate": 190}, id="work-role"),
    pytest.param(
        "time/chargeCodes",
        {"name": "SALES", "company": {"identifier": "Cwbulk"}, "timeEntryFlag": True},
        id="charge-code",
    ),
    pytest.param(
        "service/tickets",
        {
            "summary": "New laptop",
            "company": {"identifier": "Contoso"},
            "board": {"name": "Help Desk"},
        },
        id="service-ticket",
    ),
    pytest.param(
        "project/tickets",
        {"summary": "Extra task", "phase": {"name": "Execution"}, "project": {"id": 301}},
        id="project-ticket",
    ),
]


@pytest.mark.parametrize(("path", "body"), REFERENCE_POSTS)
def test_post_a_reference_record_over_http(
    served_sandbox, openapi_validator, path: str, body: dict
) -> None:
    sandbox = served_sandbox()
    with sandbox.client(event_hooks={"response": [openapi_validator.check_response]}) as client:
        created = client.post(path, json=body)
        again = client.post(path, json=body)
        fetched = client.get(f"{path}/{created.json()['id']}")
    assert created.status_code == 201, created.text
    assert created.headers["Location"] == f"{sandbox.api}/{path}/{created.json()['id']}"
    assert fetched.json() == created.json()
    for name, value in body.items():
        if not isinstance(value, dict):
            assert created.json()[name] == value
    assert created.json()["_info"]["lastUpdated"]
    if path in ("service/tickets", "project/tickets"):
        assert again.status_code == 201  # summaries need not be unique
    else:
        assert again.status_code == 400
        assert again.json()["errors"][0]["code"] == "ObjectExists"


def test_time_entry_lifecycle_over_http(served_sandbox, openapi_validator) -> None:
    sandbox = served_sandbox()
    with sandbox.client(event_hooks={"response": [openapi_validator.check_response]}) as client:
        created = client.post("time/entries", json=new_entry())
        entry_id = created.json()["id"]
        patched = client.patch(
            f"time/entries/{entry_id}", json=[{"op": "replace", "path": "notes", "value": "x"}]
        )
        put = client.put(f"time/entries/{entry_id}", json=new_entry(notes="put"))
        fetched = client.get(f"time/entries/{entry_id}")
        deleted = client.delete(f"time/entries/{entry_id}")
        gone = client.get(f"time/entries/{entry_id}")
    assert created.status_code == 201
    assert patched.status_code == 200 and patched.json()["notes"] == "x"
    assert put.status_code == 200 and fetched.json()["notes"] == "put"
    assert deleted.status_code == 204 and deleted.content == b""
    assert gone.status_code == 404


def test_time_sheet_actions_over_http(served_sandbox, openapi_validator) -> None:
    sandbox = served_sandbox()
    with sandbox.client(event_hooks={"response": [openapi_validator.check_response]}) as client:
        sheet = first(client, "time/sheets", 'status = "Open"')
        answers = [
            client.post(f"time/sheets/{sheet['id']}/{action}")
            for action in ("submit", "approve", "reject", "submit", "reverse")
        ]
        entry = first(client, "time/entries", f"timeSheet/id = {sheet['id']}")
        client.post(f"time/sheets/{sheet['id']}/submit")
        rejected = client.post(f"time/entries/{entry['id']}/reject", json={"comment": "why?"})
    assert [a.status_code for a in answers] == [200] * 5
    assert all(a.json()["success"] is True for a in answers)
    assert rejected.status_code == 204


def test_site_endpoints_over_http(served_sandbox, openapi_validator) -> None:
    sandbox = served_sandbox()
    hooks = {"response": [openapi_validator.check_response]}
    with sandbox.client(event_hooks=hooks) as client:
        info = client.get("system/info")
        ticket_time = client.get("service/tickets/1001/timeentries", params={"pageSize": 1000})
        ticket_count = client.get("service/tickets/1001/timeentries/count")
        direct = client.get(
            "time/entries/count",
            params={"conditions": 'chargeToType = "ServiceTicket" and chargeToId = 1001'},
        )
        project_time = client.get("project/tickets/5001/timeentries/count")
        no_ticket = client.get("service/tickets/4/timeentries")
    with httpx.Client(event_hooks=hooks) as anonymous:
        company = anonymous.get(f"{sandbox.url}/login/companyinfo/{sandbox.company}")
        unknown = anonymous.get(f"{sandbox.url}/login/companyinfo/someone_else")
    assert info.status_code == 200 and info.json()["isCloud"] is False
    assert ticket_count.json()["count"] == direct.json()["count"] == len(ticket_time.json())
    assert all(set(t) == {"id", "_info"} for t in ticket_time.json())
    assert project_time.status_code == 200
    assert no_ticket.status_code == 404
    assert company.json()["Codebase"] == "v4_6_release/"
    assert company.json()["CompanyID"] == sandbox.company
    assert unknown.status_code == 404


# --- auth ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param({}, id="no-headers"),
        pytest.param({"clientId": auth_headers()["clientId"]}, id="no-authorization"),
        pytest.param({"Authorization": auth_headers()["Authorization"]}, id="no-client-id"),
        pytest.param(auth_headers(private_key="wrong"), id="wrong-private-key"),
        pytest.param(auth_headers(public_key="wrong"), id="wrong-public-key"),
        pytest.param(auth_headers(company="other"), id="wrong-company"),
        pytest.param(
            auth_headers(client_id="00000000-0000-0000-0000-000000000000"), id="wrong-client"
        ),
        pytest.param(
            {"Authorization": "Basic !!!", "clientId": auth_headers()["clientId"]}, id="garbage"
        ),
        pytest.param(
            {"Authorization": "Bearer abc", "clientId": auth_headers()["clientId"]}, id="bearer"
        ),
    ],
)
def test_requests_without_valid_credentials_get_401(sandbox_client, headers) -> None:
    bare = httpx.Client(transport=sandbox_client._transport, event_hooks=sandbox_client.event_hooks)
    with bare:
        answer = bare.get(f"{API}/time/entries", headers=headers)
    assert answer.status_code == 401
    assert answer.json()["code"] == "Unauthorized" and answer.json()["message"]


def test_the_company_id_is_not_case_sensitive(sandbox_client) -> None:
    answer = sandbox_client.get("/system/info", headers=auth_headers(company="CWBULK_Sandbox"))
    assert answer.status_code == 200


def test_paths_are_not_case_sensitive(sandbox_client) -> None:
    lower = sandbox_client.get("/time/worktypes")
    mixed = sandbox_client.get(f"{API.replace('apis', 'APIs')}/Time/WorkTypes")
    assert lower.status_code == mixed.status_code == 200
    assert lower.json() == mixed.json()


def test_unknown_paths_and_methods_get_a_connectwise_error_body(sandbox_client) -> None:
    missing = sandbox_client.get("/time/nothing")
    wrong_method = sandbox_client.delete("/system/members/150")
    assert missing.status_code == 404 and missing.json()["code"] == "NotFound"
    assert wrong_method.status_code == 405 and wrong_method.json()["code"] == "MethodNotAllowed"


# --- lists: pagination, conditions, orderBy, fields -------------------------------------------


def test_2500_entries_come_back_once_each_over_three_pages(served_sandbox) -> None:
    sandbox = served_sandbox()
    query = {"conditions": "id <= 2500", "pageSize": 1000}
    seen: list[int] = []
    pages = []
    with sandbox.client() as client:
        url: str | None = f"{sandbox.api}/time/entries?{httpx.QueryParams(query)}"
        while url:
            page = client.get(url)
            assert page.status_code == 200
            pages.append(page)
            seen += [e["id"] for e in page.json()]
            url = links(page).get("next")
    assert [len(p.json()) for p in pages] == [1000, 1000, 500]
    assert sorted(seen) == list(range(1, 2501))
    first_links, middle_links, last_links = (links(p) for p in pages)
    assert set(first_links) == {"first", "next", "last"}
    assert set(middle_links) == {"first", "prev", "next", "last"}
    assert set(last_links) == {"first", "prev", "last"}
    for rel, number in (("first", 1), ("prev", 2), ("last", 3)):
        target = httpx.URL(last_links[rel])
        assert str(target).startswith(f"{sandbox.api}/time/entries?")
        assert target.params["page"] == str(number)
        assert target.params["pageSize"] == "1000"
        assert target.params["conditions"] == "id <= 2500"


def test_2500_entries_come_back_once_each_forward_only(served_sandbox) -> None:
    sandbox = served_sandbox()
    headers = {"pagination-type": "forward-only"}
    seen: list[int] = []
    sizes = []
    with sandbox.client(headers={**sandbox.auth_headers(), **headers}) as client:
        url: str | None = f"{sandbox.api}/time/entries?conditions=id%20<=%202500&pageSize=1000"
        while url:
            page = client.get(url)
            assert page.status_code == 200
            sizes.append(len(page.json()))
            seen += [e["id"] for e in page.json()]
            url = links(page).get("next") if "Link" in page.headers else None
            if url:
                assert httpx.URL(url).params["pageId"] == str(seen[-1])
    assert sizes == [1000, 1000, 500]
    assert seen == list(range(1, 2501))


def test_forward_only_ends_with_an_empty_page_when_the_last_page_is_full(sandbox_client) -> None:
    headers = {"pagination-type": "forward-only"}
    params = {"conditions": "id <= 20", "pageSize": 10}
    full = sandbox_client.get("/time/entries", params=params, headers=headers)
    after = httpx.URL(links(full)["next"]).params["pageId"]
    last = sandbox_client.get("/time/entries", params={**params, "pageId": 20}, headers=headers)
    assert after == "10"
    assert last.json() == [] and "Link" not in last.headers


def test_forward_only_refuses_order_by(sandbox_client) -> None:
    answer = sandbox_client.get(
        "/time/entries",
        params={"orderBy": "timeStart"},
        headers={"pagination-type": "forward-only"},
    )
    assert answer.status_code == 400
    assert answer.json()["errors"][0]["field"] == "orderBy"


@pytest.mark.parametrize(
    ("page_size", "expected"),
    [
        pytest.param(None, 25, id="default-25"),
        pytest.param(7, 7, id="seven"),
        pytest.param(5000, 1000, id="capped-at-1000"),
    ],
)
def test_page_size(sandbox_client, page_size, expected) -> None:
    params = {} if page_size is None else {"pageSize": page_size}
    answer = sandbox_client.get("/time/entries", params=params)
    assert len(answer.json()) == expected
    assert httpx.URL(links(answer)["next"]).params["pageSize"] == str(expected)


def test_a_page_past_the_end_is_empty(sandbox_client) -> None:
    answer = sandbox_client.get("/company/companies", params={"page": 99})
    assert answer.status_code == 200 and answer.json() == []


def test_conditions_filter_with_paths_as_written(sandbox_client) -> None:
    conditions = (
        'Member/Identifier = "ABAKER" and lastUpdated > [2000-01-01T00:00:00Z] '
        'and (chargeToType = "ServiceTicket" or chargeToType = "ProjectTicket")'
    )
    answer = sandbox_client.get(
        "/time/entries", params={"conditions": conditions, "pageSize": 1000}
    )
    count = sandbox_client.get("/time/entries/count", params={"conditions": conditions})
    assert answer.json(), "abaker has ticket time in the seed"
    assert len(answer.json()) == count.json()["count"]
    assert {e["member"]["identifier"] for e in answer.json()} == {"abaker"}
    assert {e["chargeToType"] for e in answer.json()} <= {"ServiceTicket", "ProjectTicket"}


@pytest.mark.parametrize(
    "conditions",
    [
        pytest.param("member/identifier = ", id="no-value"),
        pytest.param('notes contains "unclosed', id="unclosed-string"),
        pytest.param("nosuchfield = 1", id="unknown-field"),
        pytest.param("member/nosuch = 1", id="unknown-subfield"),
        pytest.param("member = 1", id="object-field"),
        pytest.param("(id = 1", id="unbalanced"),
        pytest.param("customFields = 1", id="list-field"),
    ],
)
def test_malformed_conditions_are_a_400_not_an_unfiltered_list(sandbox_client, conditions) -> None:
    for path in ("/time/entries", "/time/entries/count"):
        answer = sandbox_client.get(path, params={"conditions": conditions})
        assert answer.status_code == 400
        assert answer.json()["code"] == "InvalidRequest"
        assert answer.json()["errors"][0]["field"] == "conditions"


def test_order_by(sandbox_client) -> None:
    answer = sandbox_client.get(
        "/time/entries", params={"orderBy": "timeStart desc, id asc", "pageSize": 50}
    )
    starts = [e["timeStart"] for e in answer.json()]
    assert starts == sorted(starts, reverse=True)
    bad = sandbox_client.get("/time/entries", params={"orderBy": "timeStart sideways"})
    assert bad.status_code == 400 and bad.json()["errors"][0]["field"] == "orderBy"


def test_fields_gives_a_partial_response_with_nested_paths(sandbox_client) -> None:
    listed = sandbox_client.get(
        "/time/entries", params={"fields": "id,member/identifier,_info/lastUpdated"}
    )
    single = sandbox_client.get("/time/entries/5", params={"fields": "id,timeStart"})
    for entry in listed.json():
        assert set(entry) == {"id", "member", "_info"}
        assert set(entry["member"]) == {"identifier"}
        assert set(entry["_info"]) == {"lastUpdated"}
    assert set(single.json()) == {"id", "timeStart"}
    unknown = sandbox_client.get("/time/entries", params={"fields": "id,bogus"})
    assert unknown.status_code == 400 and unknown.json()["errors"][0]["field"] == "fields"


def test_references_carry_hrefs_on_the_requests_own_base_url(served_sandbox) -> None:
    sandbox = served_sandbox()
    with sandbox.client() as client:
        entry = client.get("time/entries/1").json()
    assert entry["member"]["_info"]["member_href"] == (
        f"{sandbox.api}/system/members/{entry['member']['id']}"
    )
    assert entry["timeSheet"]["_info"]["timeSheet_href"].startswith(f"{sandbox.api}/time/sheets/")


# --- time entries: what the server derives -----------------------------------------------------


def test_a_new_entry_gets_hours_sheet_and_bookkeeping(sandbox_client) -> None:
    guid = "6fd34162-0856-4bc1-80ae-c3dccd89357a"
    body = new_entry(hoursDeduct=0.25, mobileGuid=guid.upper())
    created = sandbox_client.post("/time/entries", json=body).json()
    sunday = MONDAY + timedelta(days=6)
    assert created["actualHours"] == 1.25
    assert created["timeSheet"]["name"] == f"{MONDAY} to {sunday}"
    assert created["status"] == "Open"
    assert created["enteredBy"] and created["dateEntered"]
    assert created["_info"]["lastUpdated"] and created["_info"]["updatedBy"]
    assert created["company"]["identifier"] == "Northwind"  # the ticket's company
    assert created["ticket"]["id"] == 1001 and created["ticketBoard"] == "Help Desk"
    assert created["mobileGuid"] == guid
    assert "internalNotes" not in created, "null fields are left out"
    by_guid = sandbox_client.get("/time/entries", params={"conditions": f'mobileGuid = "{guid}"'})
    assert [e["id"] for e in by_guid.json()] == [created["id"]]


def test_time_end_is_derived_from_actual_hours(sandbox_client) -> None:
    body = new_entry(timeEnd=None, actualHours=2.5, hoursDeduct=0.5)
    created = sandbox_client.post("/time/entries", json=body).json()
    assert created["timeEnd"] == at(9)
    assert created["actualHours"] == 2.5


def test_actual_hours_follow_start_and_end_when_both_are_sent(sandbox_client) -> None:
    created = sandbox_client.post("/time/entries", json=new_entry(actualHours=9)).json()
    assert created["actualHours"] == 1.5


def test_patching_hours_moves_the_end_and_patching_the_end_moves_the_hours(sandbox_client) -> None:
    entry_id = sandbox_client.post("/time/entries", json=new_entry()).json()["id"]
    hours = sandbox_client.patch(
        f"/time/entries/{entry_id}", json=[{"op": "replace", "path": "actualHours", "value": 3}]
    ).json()
    end = sandbox_client.patch(
        f"/time/entries/{entry_id}",
        json=[{"op": "replace", "path": "/timeEnd", "value": at(6, 45)}],
    ).json()
    assert hours["timeEnd"] == at(9) and hours["actualHours"] == 3
    assert end["actualHours"] == 0.75


def test_a_new_week_gets_a_new_monday_to_sunday_sheet(sandbox_client) -> None:
    day = date(2031, 1, 1)  # a Wednesday
    created = sandbox_client.post(
        "/time/entries", json=new_entry(timeStart=at(9, day=day), timeEnd=at(10, day=day))
    ).json()
    sheet = sandbox_client.get(f"/time/sheets/{created['timeSheet']['id']}").json()
    assert created["timeSheet"]["name"] == "2030-12-30 to 2031-01-05"
    assert sheet["dateStart"].startswith("2030-12-30") and sheet["dateEnd"].startswith("2031-01-05")
    assert sheet["status"] == "Open" and sheet["hours"] == 1.0
    assert sheet["member"]["identifier"] == "abaker"


def test_every_change_moves_last_updated(sandbox_client) -> None:
    created = sandbox_client.post("/time/entries", json=new_entry()).json()
    stamps = [created["_info"]["lastUpdated"]]
    for text in ("a", "b", "c"):
        patched = sandbox_client.patch(
            f"/time/entries/{created['id']}",
            json=[{"op": "replace", "path": "notes", "value": text}],
        ).json()
        stamps.append(patched["_info"]["lastUpdated"])
    assert stamps == sorted(set(stamps)), "each change gets a later lastUpdated"
    assert patched["dateEntered"] == created["dateEntered"]


def test_put_replaces_the_fields_it_does_not_mention(sandbox_client) -> None:
    created = sandbox_client.post("/time/entries", json=new_entry(internalNotes="secret")).json()
    body = new_entry()
    del body["notes"]
    replaced = sandbox_client.put(f"/time/entries/{created['id']}", json=body).json()
    assert "notes" not in replaced and "internalNotes" not in replaced
    assert replaced["id"] == created["id"] and replaced["dateEntered"] == created["dateEntered"]


def test_patch_remove_clears_a_field(sandbox_client) -> None:
    entry_id = sandbox_client.post("/time/entries", json=new_entry()).json()["id"]
    patched = sandbox_client.patch(
        f"/time/entries/{entry_id}", json=[{"op": "remove", "path": "notes"}]
    )
    assert "notes" not in patched.json()


@pytest.mark.parametrize(
    ("ops", "field"),
    [
        pytest.param(
            [{"op": "replace", "path": "company/id", "value": 251}], "company", id="nested"
        ),
        pytest.param([{"op": "replace", "path": "Notes", "value": "x"}], "Notes", id="wrong-case"),
        pytest.param(
            [{"op": "replace", "path": "status", "value": "Open"}], "status", id="read-only"
        ),
        pytest.param([{"op": "move", "path": "notes", "value": "x"}], "op", id="unknown-op"),
        pytest.param([{"op": "replace", "path": "notes"}], "notes", id="no-value"),
        pytest.param(["replace notes"], "op", id="not-an-object"),
        pytest.param([], "", id="empty"),
    ],
)
def test_bad_patches_are_refused(sandbox_client, ops, field) -> None:
    entry_id = sandbox_client.post("/time/entries", json=new_entry()).json()["id"]
    answer = sandbox_client.patch(f"/time/entries/{entry_id}", json=ops)
    assert answer.status_code == 400
    assert answer.json()["code"] == "InvalidObject"
    assert answer.json()["errors"][0]["field"] == field


# --- time entries: what the server refuses -----------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        pytest.param("2024-05-06T09:00:00", id="no-zone"),
        pytest.param("2024-05-06T09:00:00.000Z", id="fractional"),
        pytest.param("2024-05-06 09:00:00Z", id="space"),
        pytest.param("2024-05-06T09:00:00+02:00", id="offset"),
        pytest.param("2024-02-30T09:00:00Z", id="no-such-day"),
        pytest.param("06/05/2024 09:00", id="local-format"),
    ],
)
def test_datetimes_must_be_utc_seconds(sandbox_client, value) -> None:
    answer = sandbox_client.post("/time/entries", json=new_entry(timeStart=value))
    assert answer.status_code == 400
    assert answer.json()["code"] == "UnsupportedFormat"
    assert answer.json()["errors"][0]["field"] == "timeStart"


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        pytest.param(
            {"member": {"identifier": "nobody"}}, "member", "member nobody not found", id="member"
        ),
        pytest.param({"member": {"id": 9999}}, "member", "member 9999 not found", id="member-id"),
        pytest.param(
            {"workRole": {"name": "Wizard"}}, "workRole", "workRole Wizard not found", id="role"
        ),
        pytest.param(
            {"workType": {"name": "Remot"}}, "workType", "workType Remot not found", id="type"
        ),
        pytest.param(
            {"company": {"identifier": "Nope"}}, "company", "company Nope not found", id="company"
        ),
        pytest.param({"chargeToId": 999}, "chargeToId", "ServiceTicket 999 not found", id="ticket"),
        pytest.param(
            {"chargeToType": "ProjectTicket", "chargeToId": 1001},
            "chargeToId",
            "ProjectTicket 1001 not found",
            id="service-ticket-as-project",
        ),
        pytest.param(
            {"chargeToType": "Activity", "chargeToId": 5},
            "chargeToId",
            "Activity 5 not found",
            id="activity",
        ),
    ],
)
def test_references_must_exist(sandbox_client, change, field, message) -> None:
    answer = sandbox_client.post("/time/entries", json=new_entry(**change))
    assert answer.status_code == 400
    assert answer.json()["code"] == "InvalidObject"
    assert {"code": "NotFound", "field": field, "message": message}.items() <= (
        answer.json()["errors"][0].items()
    )


def test_references_by_name_resolve(sandbox_client) -> None:
    body = new_entry(
        member={"name": "Blake Chen"}, workType={"name": "remote"}, workRole={"name": "Engineer"}
    )
    created = sandbox_client.post("/time/entries", json=body).json()
    assert created["member"]["identifier"] == "bchen"
    assert created["workType"]["name"] == "Remote" and created["workRole"]["name"] == "Engineer"


def test_charge_code_time_needs_a_company(sandbox_client) -> None:
    code = first(sandbox_client, "/time/chargeCodes", 'name = "MTNG"')
    body = new_entry(chargeToType="ChargeCode", chargeToId=code["id"])
    without = sandbox_client.post("/time/entries", json=body)
    with_company = sandbox_client.post(
        "/time/entries", json={**body, "company": {"identifier": "Cwbulk"}}
    )
    assert without.status_code == 400
    assert without.json()["errors"][0] == {
        "code": "MissingRequiredField",
        "message": "company is required for time charged to charge code MTNG",
        "resource": "timeEntry",
        "field": "company",
    }
    assert with_company.status_code == 201
    assert with_company.json()["workType"]["name"] == "Administrative", "the code's work type"


def test_company_time(sandbox_client) -> None:
    body = new_entry(chargeToType=None, chargeToId=None, company={"identifier": "Contoso"})
    created = sandbox_client.post("/time/entries", json=body).json()
    assert created["chargeToType"] == "Company" and created["company"]["identifier"] == "Contoso"
    alone = sandbox_client.post("/time/entries", json={**body, "company": None})
    assert alone.status_code == 400 and alone.json()["errors"][0]["field"] == "company"


@pytest.mark.parametrize("status", [pytest.param(">Closed"), pytest.param("Resolved")])
def test_a_ticket_whose_status_forbids_time_is_refused(sandbox_client, status) -> None:
    ticket = first(sandbox_client, "/service/tickets", f'status/name = "{status}"')
    answer = sandbox_client.post("/time/entries", json=new_entry(chargeToId=ticket["id"]))
    assert answer.status_code == 400
    assert answer.json()["code"] == "TimeEntryApi"
    assert answer.json()["message"] == BLOCKED_TICKET_MESSAGE


def test_a_closed_project_ticket_is_refused(sandbox_client) -> None:
    ticket = first(sandbox_client, "/project/tickets", 'status/name = "Closed"')
    body = new_entry(chargeToType="ProjectTicket", chargeToId=ticket["id"])
    answer = sandbox_client.post("/time/entries", json=body)
    assert answer.status_code == 400 and answer.json()["code"] == "TimeEntryApi"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        pytest.param({"timeEnd": at(5)}, "timeEnd", id="end-before-start"),
        pytest.param({"timeEnd": at(6)}, "timeEnd", id="end-at-start"),
        pytest.param({"timeEnd": at(7), "hoursDeduct": 2}, "hoursDeduct", id="deduct-too-big"),
        pytest.param({"hoursDeduct": -1}, "hoursDeduct", id="negative-deduct"),
        pytest.param({"timeEnd": None}, "timeEnd", id="no-end-or-hours"),
        pytest.param({"timeEnd": None, "actualHours": -1}, "actualHours", id="negative-hours"),
        pytest.param({"timeEnd": None, "actualHours": 30}, "timeEnd", id="over-24-hours"),
        pytest.param({"timeStart": None}, "timeStart", id="no-start"),
        pytest.param({"member": None}, "member", id="no-member"),
        pytest.param({"chargeToType": None}, "chargeToType", id="id-without-type"),
        pytest.param({"chargeToId": None}, "chargeToId", id="type-without-id"),
    ],
)
def test_times_and_required_fields(sandbox_client, change, field) -> None:
    answer = sandbox_client.post("/time/entries", json=new_entry(**change))
    assert answer.status_code == 400
    assert answer.json()["code"] == "InvalidObject"
    assert field in [e["field"] for e in answer.json()["errors"]]


def test_an_inactive_member_cannot_enter_time(sandbox_client) -> None:
    answer = sandbox_client.post("/time/entries", json=new_entry(member={"identifier": "pquinn"}))
    assert answer.status_code == 400
    assert answer.json()["errors"][0]["field"] == "member"
    assert "inactive" in answer.json()["errors"][0]["message"]


@pytest.mark.parametrize("status", ["Billed", "BilledAgreement", "WrittenOff"])
def test_billed_entries_cannot_be_changed_or_deleted(sandbox_client, status) -> None:
    entry = first(sandbox_client, "/time/entries", f'status = "{status}"')
    path = f"/time/entries/{entry['id']}"
    answers = [
        sandbox_client.patch(path, json=[{"op": "replace", "path": "notes", "value": "x"}]),
        sandbox_client.put(path, json=new_entry()),
        sandbox_client.delete(path),
        sandbox_client.post(f"{path}/reject"),
    ]
    assert [a.status_code for a in answers] == [400] * 4
    assert all(a.json()["code"] == "TimeEntryApi" for a in answers)
    assert sandbox_client.get(path).json() == entry


# --- time sheets: the approval cycle locks and unlocks entries --------------------------------


def test_submitting_locks_and_rejecting_unlocks(sandbox_client) -> None:
    entry = sandbox_client.post("/time/entries", json=new_entry()).json()
    sheet_id = entry["timeSheet"]["id"]
    path = f"/time/entries/{entry['id']}"
    note = [{"op": "replace", "path": "notes", "value": "edited"}]

    submitted = sandbox_client.post(f"/time/sheets/{sheet_id}/submit")
    locked = sandbox_client.patch(path, json=note)
    added = sandbox_client.post("/time/entries", json=new_entry(timeStart=at(12), timeEnd=at(13)))
    deleted = sandbox_client.delete(path)
    status_submitted = sandbox_client.get(path).json()["status"]

    sandbox_client.post(f"/time/sheets/{sheet_id}/reject")
    status_rejected = sandbox_client.get(path).json()["status"]
    edited = sandbox_client.patch(path, json=note)

    assert submitted.json()["success"] is True
    assert status_submitted == "PendingApproval"
    assert [locked.status_code, added.status_code, deleted.status_code] == [400, 400, 400]
    assert {locked.json()["code"], added.json()["code"], deleted.json()["code"]} == {"TimeEntryApi"}
    assert status_rejected == "Rejected"
    assert edited.status_code == 200 and edited.json()["status"] == "ErrorsCorrected"


@pytest.mark.parametrize(
    ("actions", "body", "sheet_status"),
    [
        pytest.param(["submit"], None, "PendingApproval", id="submit"),
        pytest.param(["submit", "approve"], None, "ApprovedByTierOne", id="approve"),
        pytest.param(
            ["submit", "approve"], {"approvalType": "Tier2Update"}, "ApprovedByTierTwo", id="tier2"
        ),
        pytest.param(["submit", "approve", "approve"], None, "ApprovedByTierTwo", id="twice"),
        pytest.param(["submit", "reject"], None, "Rejected", id="reject"),
        pytest.param(
            ["submit", "approve", "reject"], None, "RejectBySecondTier", id="tier2-reject"
        ),
        pytest.param(["submit", "approve", "reverse"], None, "Open", id="reverse"),
    ],
)
def test_sheet_actions_move_the_sheet_and_its_entries(
    sandbox_client, actions, body, sheet_status
) -> None:
    entry = sandbox_client.post("/time/entries", json=new_entry()).json()
    sheet_id = entry["timeSheet"]["id"]
    for action in actions:
        answer = sandbox_client.post(f"/time/sheets/{sheet_id}/{action}", json=body)
        assert answer.status_code == 200, answer.text
    sheet = sandbox_client.get(f"/time/sheets/{sheet_id}").json()
    entries = sandbox_client.get(
        "/time/entries", params={"conditions": f"timeSheet/id = {sheet_id}", "pageSize": 1000}
    ).json()
    assert sheet["status"] == sheet_status
    assert {e["status"] for e in entries} == {sheet_status}


@pytest.mark.parametrize(
    ("status", "action"),
    [
        pytest.param("Open", "approve", id="approve-open"),
        pytest.param("Open", "reject", id="reject-open"),
        pytest.param("Open", "reverse", id="reverse-open"),
        pytest.param("PendingApproval", "submit", id="submit-twice"),
        pytest.param("ApprovedByTierTwo", "approve", id="approve-final"),
    ],
)
def test_sheet_actions_out_of_order_are_refused(sandbox_client, status, action) -> None:
    sheet = first(sandbox_client, "/time/sheets", f'status = "{status}"')
    answer = sandbox_client.post(f"/time/sheets/{sheet['id']}/{action}")
    assert answer.status_code == 400
    assert answer.json()["errors"][0]["code"] == "InvalidStatus"
    assert sandbox_client.get(f"/time/sheets/{sheet['id']}").json()["status"] == status


def test_billed_entries_keep_their_status_when_their_sheet_is_reversed(sandbox_client) -> None:
    billed = first(sandbox_client, "/time/entries", 'status = "Billed"')
    sheet_id = billed["timeSheet"]["id"]
    answer = sandbox_client.post(f"/time/sheets/{sheet_id}/reverse")
    statuses = {
        e["status"]
        for e in sandbox_client.get(
            "/time/entries", params={"conditions": f"timeSheet/id = {sheet_id}", "pageSize": 1000}
        ).json()
    }
    assert answer.status_code == 200
    assert sandbox_client.get(f"/time/entries/{billed['id']}").json()["status"] == "Billed"
    assert statuses <= {"Open", "Billed", "BilledAgreement", "WrittenOff"}


def test_rejecting_one_entry(sandbox_client) -> None:
    entry = first(sandbox_client, "/time/entries", 'status = "PendingApproval"')
    answer = sandbox_client.post(
        f"/time/entries/{entry['id']}/reject",
        json={"id": entry["id"], "approvalType": "Tier1Update", "comment": "wrong ticket"},
    )
    again = sandbox_client.post(f"/time/entries/{entry['id']}/reject")
    assert answer.status_code == 204
    assert sandbox_client.get(f"/time/entries/{entry['id']}").json()["status"] == "Rejected"
    assert again.status_code == 400 and again.json()["errors"][0]["code"] == "InvalidStatus"


def test_sheet_hours_follow_their_entries(sandbox_client) -> None:
    day = date(2032, 6, 2)
    created = sandbox_client.post(
        "/time/entries", json=new_entry(timeStart=at(9, day=day), timeEnd=at(11, day=day))
    ).json()
    sheet_path = f"/time/sheets/{created['timeSheet']['id']}"
    before = sandbox_client.get(sheet_path).json()["hours"]
    sandbox_client.delete(f"/time/entries/{created['id']}")
    after = sandbox_client.get(sheet_path).json()["hours"]
    assert (before, after) == (2.0, 0.0)


# --- other records ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        pytest.param("system/members", {"identifier": "x"}, "firstName", id="member"),
        pytest.param("company/companies", {"name": "No Identifier"}, "identifier", id="company"),
        pytest.param("time/workTypes", {"name": "X"}, "billTime", id="work-type"),
        pytest.param("time/chargeCodes", {"name": "X"}, "company", id="charge-code"),
        pytest.param("service/tickets", {"summary": "X"}, "company", id="service-ticket"),
        pytest.param("project/tickets", {"summary": "X"}, "phase", id="project-ticket"),
    ],
)
def test_reference_records_need_their_spec_required_fields(sandbox_client, path, body, field):
    answer = sandbox_client.post(f"/{path}", json=body)
    assert answer.status_code == 400
    assert {"code": "MissingRequiredField", "field": field}.items() <= {
        k: v for e in answer.json()["errors"] if e["field"] == field for k, v in e.items()
    }.items()


def test_a_new_member_can_enter_time(sandbox_client) -> None:
    member = sandbox_client.post(
        "/system/members",
        json={
            "identifier": "newbie",
            "firstName": "New",
            "lastName": "Person",
            "licenseClass": "F",
            "hireDate": "2025-01-06T00:00:00Z",
            "defaultEmail": "Office",
            "defaultPhone": "Office",
            "securityRole": {"name": "Technician"},
            "workRole": {"name": "Consultant"},
        },
    ).json()
    entry = sandbox_client.post("/time/entries", json=new_entry(member={"id": member["id"]}))
    assert entry.status_code == 201
    assert entry.json()["workRole"]["name"] == "Consultant", "the member's default role"
    assert entry.json()["hourlyRate"] == 175.0


def test_a_new_ticket_on_a_closed_status_refuses_time(sandbox_client) -> None:
    ticket = sandbox_client.post(
        "/service/tickets",
        json={
            "summary": "Done already",
            "company": {"identifier": "Fabrikam"},
            "board": {"name": "Network Ops"},
            "status": {"name": ">Closed"},
        },
    ).json()
    answer = sandbox_client.post("/time/entries", json=new_entry(chargeToId=ticket["id"]))
    assert ticket["closedFlag"] is True and ticket["board"]["name"] == "Network Ops"
    assert answer.status_code == 400 and answer.json()["code"] == "TimeEntryApi"


def test_a_listing_sees_writes_made_between_its_pages(sandbox_client, sandbox_db) -> None:
    params = {"orderBy": "id desc", "pageSize": 5, "conditions": 'member/identifier = "abaker"'}
    before = sandbox_client.get("/time/entries", params=params).json()
    made = sandbox_client.post("/time/entries", json=new_entry()).json()
    after = sandbox_client.get("/time/entries", params=params).json()
    assert [e["id"] for e in after] == [made["id"], *(e["id"] for e in before[:4])]

    # A write by another process (another connection to the file) is seen too.
    with closing(sqlite3.connect(sandbox_db)) as other, other:
        other.execute("DELETE FROM time_entries WHERE id = ?", (made["id"],))
    again = sandbox_client.get("/time/entries", params=params).json()
    assert [e["id"] for e in again] == [e["id"] for e in before]


# --- board statuses (not in the trimmed spec: shaped after cw-api-notes.md) --------------------


@pytest.mark.parametrize(
    ("board", "expected"),
    [
        pytest.param(
            "Field Service",
            {
                "New": (False, False),
                "In Progress": (False, False),
                "Waiting on Client": (False, False),
                "Scheduled": (False, False),
                "Resolved": (False, True),
                ">Closed": (True, True),
            },
            id="service-board",
        ),
        pytest.param(
            "Professional Services",
            {
                "Open": (False, False),
                "In Progress": (False, False),
                "On Hold": (False, False),
                "Closed": (True, True),
            },
            id="project-board",
        ),
    ],
)
def test_a_boards_statuses_say_which_take_time(sandbox_app, board, expected) -> None:
    path = "/project/tickets" if board == "Professional Services" else "/service/tickets"
    # No spec validation here: the trimmed spec has no boards paths.
    with in_process_client(sandbox_app) as client:
        ticket = first(client, path, f'board/name = "{board}"')
        board_ref = ticket["board"]
        answer = client.get(f"/service/boards/{board_ref['id']}/statuses")
        paged = client.get(f"/service/boards/{board_ref['id']}/statuses", params={"pageSize": 2})
    assert answer.status_code == 200, answer.text
    statuses = answer.json()
    assert {s["name"]: (s["closedStatus"], s["timeEntryNotAllowed"]) for s in statuses} == (
        expected
    )
    assert all(s["board"] == {"id": board_ref["id"], "name": board} for s in statuses)
    assert [s["name"] for s in statuses] == list(expected)
    # The ticket's status is one of its board's, by id and name.
    assert {"id": ticket["status"]["id"], "name": ticket["status"]["name"]} in [
        {"id": s["id"], "name": s["name"]} for s in statuses
    ]
    assert paged.json() == statuses[:2] and 'rel="next"' in paged.headers["Link"]


def test_board_statuses_need_credentials_and_a_board(sandbox_client) -> None:
    unknown = sandbox_client.get("/service/boards/987654/statuses")
    filtered = sandbox_client.get("/service/boards/1/statuses", params={"conditions": "id > 1"})
    bare = httpx.Client(transport=sandbox_client._transport, event_hooks=sandbox_client.event_hooks)
    with bare:
        anonymous = bare.get(f"{API}/service/boards/1/statuses")
    assert anonymous.status_code == 401 and anonymous.json()["code"] == "Unauthorized"
    assert unknown.status_code == 404 and unknown.json()["code"] == "NotFound"
    assert filtered.status_code == 400
    assert filtered.json()["errors"][0]["field"] == "conditions"
