"""Bad input never gets a 500 from the sandbox: it gets a 4xx with ConnectWise's error body.

The client's response hook checks every error body against ErrorResponseMessage.
"""

from __future__ import annotations

import json
from datetime import date, timedelta

import httpx
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

MONDAY = date.today() - timedelta(days=date.today().weekday())
VALID = {
    "member": {"identifier": "cdiaz"},
    "chargeToType": "ServiceTicket",
    "chargeToId": 1003,
    "timeStart": f"{MONDAY}T04:00:00Z",
    "actualHours": 1,
}
FUZZ = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@pytest.fixture
def open_entry(sandbox_client: httpx.Client) -> int:
    """The id of a new, editable entry."""
    answer = sandbox_client.post("/time/entries", json=VALID)
    assert answer.status_code == 201, answer.text
    return answer.json()["id"]


def assert_client_error(answer: httpx.Response, status: int = 400) -> dict:
    """The answer is ``status`` with a ConnectWise error body; returns the body."""
    assert answer.status_code == status, answer.text
    body = answer.json()
    assert isinstance(body["code"], str) and body["code"]
    assert isinstance(body["message"], str) and body["message"]
    return body


@pytest.mark.parametrize(
    "content",
    [
        pytest.param(b"{not json", id="not-json"),
        pytest.param(b'{"member":', id="truncated"),
        pytest.param(b"", id="empty"),
        pytest.param(b"   ", id="blank"),
        pytest.param(b"[1, 2]", id="array"),
        pytest.param(b'"text"', id="string"),
        pytest.param(b"null", id="null"),
        pytest.param(b'{"actualHours": NaN}', id="nan"),
        pytest.param(b'{"actualHours": Infinity}', id="infinity"),
        pytest.param(b'{"notes": "\xff\xfe"}', id="not-utf8"),
        pytest.param(b"[" * 50_000 + b"]" * 50_000, id="deeply-nested"),
    ],
)
@pytest.mark.parametrize(
    "path",
    [pytest.param("/time/entries", id="entries"), pytest.param("/system/members", id="members")],
)
def test_unreadable_bodies_are_400(sandbox_client, content, path) -> None:
    answer = sandbox_client.post(
        path, content=content, headers={"content-type": "application/json"}
    )
    assert assert_client_error(answer)["code"] == "InvalidObject"


@pytest.mark.parametrize(
    "content",
    [
        pytest.param(b'{"op": "replace", "path": "notes", "value": "x"}', id="object"),
        pytest.param(b"{not json", id="not-json"),
        pytest.param(b"[1, 2]", id="numbers"),
    ],
)
def test_unreadable_patches_are_400(sandbox_client, open_entry, content) -> None:
    answer = sandbox_client.patch(f"/time/entries/{open_entry}", content=content)
    assert_client_error(answer)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        pytest.param("actualHours", "two", id="hours-string"),
        pytest.param("actualHours", True, id="hours-bool"),
        pytest.param("hoursDeduct", [1], id="deduct-list"),
        pytest.param("timeStart", 1714986000, id="start-number"),
        pytest.param("member", "abaker", id="member-string"),
        pytest.param("member", {"id": "150"}, id="member-id-string"),
        pytest.param("member", {"identifier": 150}, id="member-identifier-number"),
        pytest.param("chargeToId", "1001", id="charge-id-string"),
        pytest.param("chargeToId", 1001.5, id="charge-id-fraction"),
        pytest.param("chargeToId", 2**40, id="charge-id-too-big"),
        pytest.param("notes", 12, id="notes-number"),
        pytest.param("addToDetailDescriptionFlag", "yes", id="flag-string"),
        pytest.param("mobileGuid", "not-a-guid", id="guid"),
        pytest.param("workType", [], id="work-type-list"),
        pytest.param("billableOption", "Sometimes", id="unknown-billable-option"),
        pytest.param("chargeToType", "Ticket", id="unknown-charge-type"),
    ],
)
def test_wrong_types_and_unknown_enum_values_are_400(sandbox_client, field, value) -> None:
    answer = sandbox_client.post("/time/entries", json={**VALID, field: value})
    body = assert_client_error(answer)
    assert body["code"] in ("InvalidObject", "UnsupportedFormat")
    assert field in [e["field"] for e in body["errors"]]


def test_every_bad_field_is_reported_at_once(sandbox_client) -> None:
    body = {**VALID, "actualHours": "x", "notes": 5, "billableOption": "Maybe"}
    errors = assert_client_error(sandbox_client.post("/time/entries", json=body))["errors"]
    assert {e["field"] for e in errors} == {"actualHours", "notes", "billableOption"}


def test_enum_values_match_without_regard_to_case(sandbox_client) -> None:
    answer = sandbox_client.post("/time/entries", json={**VALID, "billableOption": "donotbill"})
    assert answer.status_code == 201 and answer.json()["billableOption"] == "DoNotBill"


def test_unknown_approval_type_is_400(sandbox_client) -> None:
    sheet = sandbox_client.get("/time/sheets", params={"conditions": 'status = "Open"'}).json()[0]
    answer = sandbox_client.post(
        f"/time/sheets/{sheet['id']}/submit", json={"approvalType": "Boss"}
    )
    assert assert_client_error(answer)["errors"][0]["field"] == "approvalType"


@pytest.mark.parametrize("over", [pytest.param(1, id="just-over"), pytest.param(500_000, id="far")])
def test_a_body_over_the_limit_is_413(sandbox_client, over) -> None:
    notes = "x" * (1_000_000 + over)
    answer = sandbox_client.post("/time/entries", json={**VALID, "notes": notes})
    body = assert_client_error(answer, 413)
    assert body["code"] == "RequestTooLarge"


def test_a_body_over_the_limit_is_413_over_http(served_sandbox) -> None:
    sandbox = served_sandbox()
    with sandbox.client() as client:
        answer = client.post("time/entries", json={**VALID, "notes": "x" * 1_100_000})
        after = client.get("system/info")
    assert_client_error(answer, 413)
    assert after.status_code == 200


def test_the_body_limit_is_configurable(served_sandbox) -> None:
    sandbox = served_sandbox(max_body_bytes=100)
    with sandbox.client() as client:
        answer = client.post("time/entries", json={**VALID, "notes": "x" * 100})
    assert_client_error(answer, 413)


@pytest.mark.parametrize(
    ("method", "path"),
    [
        pytest.param("GET", "/time/entries/999999", id="get-entry"),
        pytest.param("PUT", "/time/entries/999999", id="put-entry"),
        pytest.param("PATCH", "/time/entries/999999", id="patch-entry"),
        pytest.param("DELETE", "/time/entries/999999", id="delete-entry"),
        pytest.param("POST", "/time/entries/999999/reject", id="reject-entry"),
        pytest.param("GET", "/time/sheets/999999", id="get-sheet"),
        pytest.param("POST", "/time/sheets/999999/submit", id="submit-sheet"),
        pytest.param("POST", "/time/sheets/1/fly", id="unknown-action"),
        pytest.param("GET", "/system/members/abc", id="non-numeric-id"),
        pytest.param("GET", "/system/members/-1", id="negative-id"),
        pytest.param("GET", "/company/companies/99999999999999999999", id="huge-id"),
        pytest.param("GET", "/company/companies/9999999999", id="ten-digit-id"),
        pytest.param("GET", "/service/tickets/5001", id="project-ticket-as-service"),
        pytest.param("GET", "/project/tickets/1001", id="service-ticket-as-project"),
    ],
)
def test_ids_that_do_not_exist_are_404(sandbox_client, method, path) -> None:
    body = {
        "PUT": {"content": json.dumps(VALID)},
        "PATCH": {"content": b'[{"op": "replace", "path": "notes", "value": "x"}]'},
    }.get(method, {})
    answer = sandbox_client.request(method, path, **body)
    assert assert_client_error(answer, 404)["code"] == "NotFound"


@pytest.mark.parametrize(
    ("params", "field"),
    [
        pytest.param({"page": "abc"}, "page", id="page-text"),
        pytest.param({"page": "0"}, "page", id="page-zero"),
        pytest.param({"pageSize": "0"}, "pageSize", id="page-size-zero"),
        pytest.param({"pageSize": "-5"}, "pageSize", id="page-size-negative"),
        pytest.param({"pageSize": "1e3"}, "pageSize", id="page-size-float"),
        pytest.param({"childConditions": "x = 1"}, "childConditions", id="child-conditions"),
        pytest.param({"customFieldConditions": 'caption = "x"'}, "customFieldConditions", id="cf"),
        pytest.param({"fields": "id,member/nothing"}, "fields", id="fields"),
        pytest.param({"orderBy": "id; drop table"}, "orderBy", id="order-by"),
    ],
)
def test_bad_query_parameters_are_400(sandbox_client, params, field) -> None:
    answer = sandbox_client.get("/time/entries", params=params)
    assert assert_client_error(answer)["errors"][0]["field"] == field


def test_a_bad_page_id_is_400(sandbox_client) -> None:
    answer = sandbox_client.get(
        "/time/entries", params={"pageId": "-1"}, headers={"pagination-type": "forward-only"}
    )
    assert assert_client_error(answer)["errors"][0]["field"] == "pageId"


JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=12,
)
ENTRY_FIELDS = st.sampled_from(
    [
        *("member", "company", "chargeToId", "chargeToType", "timeStart", "timeEnd"),
        *("actualHours", "hoursDeduct", "workType", "workRole", "billableOption", "notes"),
        *("mobileGuid", "status"),
    ]
)


@FUZZ
@given(changes=st.dictionaries(ENTRY_FIELDS, JSON_VALUES, max_size=4))
@example(changes={"actualHours": 69890804.0})  # once overflowed the date: a 500
def test_random_entry_bodies_never_get_a_500(sandbox_client, changes) -> None:
    answer = sandbox_client.post("/time/entries", json={**VALID, **changes})
    assert answer.status_code in (201, 400), answer.text


@FUZZ
@given(
    ops=st.lists(st.dictionaries(st.sampled_from(["op", "path", "value"]), JSON_VALUES), max_size=3)
)
def test_random_patches_never_get_a_500(sandbox_client, open_entry, ops) -> None:
    answer = sandbox_client.patch(f"/time/entries/{open_entry}", json=ops)
    assert answer.status_code in (200, 400), answer.text


CONDITION_PIECES = st.sampled_from(
    [*"ab/=!<>\"()[] 01.,*%'", " and ", " or ", "id", "not ", "notes", "member/id", "[2024-01-01]"]
)


@FUZZ
@given(text=st.lists(CONDITION_PIECES, max_size=12).map("".join))
def test_random_conditions_never_get_a_500(sandbox_client, text) -> None:
    answer = sandbox_client.get("/time/entries/count", params={"conditions": text})
    assert answer.status_code in (200, 400), answer.text
