"""Fault injection, throttling and the control API of a served sandbox."""

from __future__ import annotations

import time
import uuid
from datetime import date, timedelta

import httpx
import pytest
from sandbox_fixtures import in_process_client

from cwbulk.sandbox import ResponseDropped, SandboxConfig, create_app

MONDAY = date.today() - timedelta(days=date.today().weekday())


def entry(guid: str) -> dict:
    """A valid new time entry carrying ``guid``."""
    return {
        "member": {"identifier": "bchen"},
        "chargeToType": "ServiceTicket",
        "chargeToId": 1002,
        "timeStart": f"{MONDAY}T05:00:00Z",
        "actualHours": 0.5,
        "mobileGuid": guid,
    }


def by_guid(client: httpx.Client, guid: str) -> list[dict]:
    """The entries with a mobileGuid."""
    answer = client.get("time/entries", params={"conditions": f'mobileGuid = "{guid}"'})
    assert answer.status_code == 200
    return answer.json()


@pytest.mark.parametrize("mode", ["500", "drop", "mix"])
def test_a_lost_response_fails_the_post_yet_the_entry_exists(served_sandbox, mode) -> None:
    sandbox = served_sandbox(lost_response_rate=1.0, lost_response_mode=mode)
    guid = str(uuid.uuid4())
    with sandbox.client() as client:
        try:
            answer = client.post("time/entries", json=entry(guid))
        except httpx.RemoteProtocolError:
            outcome = "dropped"
        else:
            outcome = answer.status_code
        sandbox.set_faults(lost_response_rate=0)
        found = by_guid(client, guid)
    assert outcome in ({"500": [500], "drop": ["dropped"]}.get(mode) or [500, "dropped"])
    assert len(found) == 1, "the write was committed before the answer was lost"
    log = sandbox.requests()
    assert log[0]["method"] == "POST"
    assert log[0]["fault"] == ("lost-500" if outcome == 500 else "lost-drop")
    assert sandbox.counters()["lost"] == 1


def test_a_lost_response_in_process_raises_a_protocol_error(sandbox_db) -> None:
    app = create_app(
        SandboxConfig(db_path=sandbox_db, lost_response_rate=1.0, lost_response_mode="drop")
    )
    guid = str(uuid.uuid4())
    try:
        with in_process_client(app) as client:
            with pytest.raises(ResponseDropped) as raised:
                client.post("time/entries", json=entry(guid))
            found = by_guid(client, guid)
    finally:
        app.state.store.close()
    assert isinstance(raised.value, httpx.RemoteProtocolError)
    assert len(found) == 1


def test_a_refused_write_is_not_lost(served_sandbox) -> None:
    sandbox = served_sandbox(lost_response_rate=1.0, lost_response_mode="500")
    with sandbox.client() as client:
        answer = client.post("time/entries", json={**entry(str(uuid.uuid4())), "chargeToId": 4})
    assert answer.status_code == 400 and answer.json()["code"] == "InvalidObject"
    assert sandbox.requests()[0]["fault"] is None
    assert sandbox.counters()["lost"] == 0


def test_reads_are_never_lost(served_sandbox) -> None:
    sandbox = served_sandbox(lost_response_rate=1.0)
    with sandbox.client() as client:
        answers = [client.get("time/entries/1").status_code for _ in range(5)]
    assert answers == [200] * 5


def test_over_the_rate_limit_a_burst_gets_429_with_retry_after(served_sandbox) -> None:
    sandbox = served_sandbox(rate_limit=5)
    with sandbox.client() as client:
        answers = [client.get("system/info") for _ in range(50)]
    throttled = [a for a in answers if a.status_code == 429]
    assert [a.status_code for a in answers[:5]] == [200] * 5, "a second's worth passes"
    assert len(throttled) >= 30
    assert {a.status_code for a in answers} == {200, 429}
    for answer in throttled:
        wait = answer.headers["Retry-After"]
        assert wait.isdigit() and int(wait) >= 1
        assert answer.json() == {
            "error": "ConnectWiseAPI",
            "message": f"Too many requests. Please try again in {wait} seconds.",
        }
    assert sandbox.counters()["throttled"] == len(throttled)
    assert {r["fault"] for r in sandbox.requests() if r["status"] == 429} == {"throttled"}


def test_the_rate_limit_can_be_lifted_at_run_time(served_sandbox) -> None:
    sandbox = served_sandbox(rate_limit=1)
    with sandbox.client() as client:
        before = [client.get("system/info").status_code for _ in range(5)]
        sandbox.set_faults(rate_limit=None)
        after = [client.get("system/info").status_code for _ in range(5)]
    assert 429 in before
    assert after == [200] * 5


def test_failures_are_answered_before_anything_is_written(served_sandbox) -> None:
    sandbox = served_sandbox(fail_rate=1.0)
    guid = str(uuid.uuid4())
    with sandbox.client() as client:
        read = client.get("time/entries")
        write = client.post("time/entries", json=entry(guid))
        sandbox.set_faults(fail_rate=0.0)
        found = by_guid(client, guid)
    for answer in (read, write):
        assert answer.status_code in (500, 503)
        assert set(answer.json()) == {"code", "message", "errors"}
    assert found == []
    assert sandbox.counters()["failed"] == 2


def test_a_fault_seed_makes_failures_repeat(served_sandbox) -> None:
    runs = []
    for _ in range(2):
        sandbox = served_sandbox(fail_rate=0.5, fault_seed=7)
        with sandbox.client() as client:
            runs.append([client.get("system/info").status_code for _ in range(20)])
    assert runs[0] == runs[1]
    assert 200 in runs[0] and {500, 503} & set(runs[0])


def test_latency_delays_every_api_request(served_sandbox) -> None:
    sandbox = served_sandbox(latency_ms=150)
    with sandbox.client() as client:
        began = time.perf_counter()
        client.get("system/info")
        slowed = time.perf_counter() - began
    with httpx.Client() as control:
        began = time.perf_counter()
        control.get(f"{sandbox.url}/__sandbox/counters")
        unslowed = time.perf_counter() - began
    assert slowed >= 0.15
    assert unslowed < 0.15, "the control API is not slowed"


def test_the_control_api_reads_and_changes_the_settings(served_sandbox) -> None:
    sandbox = served_sandbox(latency_ms=5)
    changed = sandbox.set_faults(fail_rate=0.25, lost_response_mode="drop", rate_limit=100)
    with httpx.Client(base_url=sandbox.url) as control:
        shown = control.get("/__sandbox/config").json()
    assert (
        changed
        == shown
        == {
            "latency_ms": 5.0,
            "jitter_ms": 0.0,
            "fail_rate": 0.25,
            "lost_response_rate": 0.0,
            "lost_response_mode": "drop",
            "rate_limit": 100.0,
        }
    )


@pytest.mark.parametrize(
    "change",
    [
        pytest.param({"fail_rate": 2}, id="rate-over-1"),
        pytest.param({"latency_ms": -1}, id="negative-latency"),
        pytest.param({"rate_limit": 0}, id="zero-rate-limit"),
        pytest.param({"lost_response_mode": "sometimes"}, id="unknown-mode"),
        pytest.param({"fail_rate": "0.5"}, id="string"),
        pytest.param({"nonsense": 1}, id="unknown-setting"),
    ],
)
def test_the_control_api_refuses_bad_settings(served_sandbox, change) -> None:
    sandbox = served_sandbox()
    with httpx.Client(base_url=sandbox.url) as control:
        before = control.get("/__sandbox/config").json()
        answer = control.patch("/__sandbox/config", json=change)
        after = control.get("/__sandbox/config").json()
    assert answer.status_code == 400
    assert answer.json()["code"] == "InvalidObject" and answer.json()["message"]
    assert before == after


def test_the_request_log_and_counters(served_sandbox) -> None:
    sandbox = served_sandbox()
    with sandbox.client() as client:
        client.get("time/entries", params={"pageSize": 2})
        client.post("time/entries", json=entry(str(uuid.uuid4())))
        client.get("time/entries/999999")
    log = sandbox.requests()
    counters = sandbox.counters()
    sandbox.clear_requests()
    assert [(r["seq"], r["method"], r["status"]) for r in log] == [
        (1, "GET", 200),
        (2, "POST", 201),
        (3, "GET", 404),
    ]
    assert log[0]["path"] == "/v4_6_release/apis/3.0/time/entries"
    assert log[0]["query"] == "pageSize=2"
    assert {r["fault"] for r in log} == {None}
    assert counters["requests"] == 3 and counters["reads"] == 2 and counters["writes"] == 1
    assert counters["by_status"] == {"200": 1, "201": 1, "404": 1}
    assert sandbox.requests() == []
