"""The ConnectWise client: sites, JSON Patch, retry policy, errors, pagination, safe creates.

Everything that talks HTTP talks to the sandbox: in-process (ASGI) or served on 127.0.0.1
with faults (rate limit, 5xx before the write, lost responses).
"""

from __future__ import annotations

import asyncio
import random
import re
import socket
import sqlite3
import uuid
from collections.abc import Callable
from contextlib import closing
from pathlib import Path
from typing import Any

import httpx
import pytest
from sandbox_fixtures import ServedSandbox

from cwbulk.client import (
    AUTO_RATE,
    CONNECTWISE_RATE,
    CwClient,
    RetryPolicy,
    parse_site,
    patch_ops,
)
from cwbulk.conditions import and_, cond
from cwbulk.errors import (
    ApiError,
    AuthenticationFailed,
    ConfigError,
    ConnectionFailed,
    InvalidRequest,
    NotFound,
    RateLimited,
    ServerError,
    WriteOutcomeUnknown,
)
from cwbulk.sandbox import (
    DEFAULT_CLIENT_ID,
    DEFAULT_COMPANY,
    DEFAULT_PRIVATE_KEY,
    DEFAULT_PUBLIC_KEY,
    SandboxConfig,
    create_app,
)

# -- pure parts ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("site", "origin"),
    [
        pytest.param("api-na.myconnectwise.net", "https://api-na.myconnectwise.net", id="api-host"),
        pytest.param("na.myconnectwise.net", "https://api-na.myconnectwise.net", id="cloud-ui-na"),
        pytest.param(
            "https://EU.myconnectwise.net/v4_6_release/",
            "https://api-eu.myconnectwise.net",
            id="cloud-ui-url",
        ),
        pytest.param("cw.example.com:8443", "https://cw.example.com:8443", id="port"),
        pytest.param("http://127.0.0.1:8765", "http://127.0.0.1:8765", id="loopback-http"),
        pytest.param("http://localhost:8765", "http://localhost:8765", id="localhost-http"),
        pytest.param("http://[::1]:8765", "http://[::1]:8765", id="ipv6-loopback"),
    ],
)
def test_parse_site(site: str, origin: str) -> None:
    assert parse_site(site).origin == origin


@pytest.mark.parametrize(
    ("site", "message"),
    [
        pytest.param("http://cw.example.com", "uses plain HTTP", id="http-remote"),
        pytest.param("http://10.0.0.5:8080", "uses plain HTTP", id="http-private-ip"),
        pytest.param("ftp://cw.example.com", "is not a host name or an http(s) URL", id="ftp"),
        pytest.param("https://", "is not a host name or an http(s) URL", id="no-host"),
        pytest.param("https://cw.example.com:99999", "is not a host name", id="bad-port"),
        pytest.param("  ", "No ConnectWise site is set.", id="blank"),
    ],
)
def test_parse_site_refuses(site: str, message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        parse_site(site)


def test_parse_site_allows_http_only_when_asked() -> None:
    assert parse_site("http://sandbox.invalid", allow_http=True).origin == "http://sandbox.invalid"


def test_patch_ops_replace_and_remove() -> None:
    assert patch_ops({"notes": "fixed", "workType": {"id": 3}, "workRole": None}) == [
        {"op": "replace", "path": "notes", "value": "fixed"},
        {"op": "replace", "path": "workType", "value": {"id": 3}},
        {"op": "remove", "path": "workRole"},
    ]


def test_patch_ops_refuse_paths_inside_references() -> None:
    with pytest.raises(ValueError, match="replace the whole reference"):
        patch_ops({"company/identifier": "Contoso"})


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        pytest.param("3", 3.0, id="seconds"),
        pytest.param("0", 0.0, id="zero"),
        pytest.param("600", 60.0, id="capped"),
        pytest.param(None, 5.0, id="missing"),
        pytest.param("soon", 5.0, id="garbage"),
        pytest.param("-4", 5.0, id="negative"),
        pytest.param("nan", 5.0, id="nan"),
        pytest.param("Wed, 21 Oct 2015 07:28:00 GMT", 0.0, id="http-date-in-the-past"),
    ],
)
def test_throttle_delay_honours_retry_after_up_to_the_cap(
    header: str | None, expected: float
) -> None:
    assert RetryPolicy().throttle_delay(header) == expected


def test_backoff_is_full_jitter_under_an_exponential_ceiling() -> None:
    policy = RetryPolicy(backoff_base=0.5, backoff_max=4.0)
    rng = random.Random(7)
    for attempt, ceiling in [(1, 0.5), (2, 1.0), (3, 2.0), (4, 4.0), (9, 4.0)]:
        waits = [policy.backoff(attempt, rng) for _ in range(200)]
        assert all(0 <= w <= ceiling for w in waits)
        assert max(waits) > ceiling * 0.8, "jitter should use the whole range"


# -- against the sandbox ------------------------------------------------------------------

SITE = "http://sandbox.invalid"


class Waits:
    """An injected ``sleep`` that records every wait the client chose (real sleeps optional)."""

    def __init__(self, *, real: bool = False) -> None:
        self.seen: list[float] = []
        self.real = real

    async def __call__(self, seconds: float) -> None:
        self.seen.append(seconds)
        await asyncio.sleep(seconds if self.real else 0)


def in_process(transport: httpx.AsyncBaseTransport, **options: Any) -> CwClient:
    """A client for the in-process sandbox with its default credentials."""
    credentials = {
        "company": DEFAULT_COMPANY,
        "public_key": DEFAULT_PUBLIC_KEY,
        "private_key": DEFAULT_PRIVATE_KEY,
        "client_id": DEFAULT_CLIENT_ID,
    }
    return CwClient(site=SITE, transport=transport, allow_http=True, **{**credentials, **options})


def over_http(served: ServedSandbox, **options: Any) -> CwClient:
    """A client for a served sandbox."""
    return CwClient(
        site=served.url,
        company=served.company,
        public_key=served.public_key,
        private_key=served.private_key,
        client_id=served.client_id,
        **options,
    )


def ids_in(db_path: Path, table: str = "time_entries", where: str = "") -> list[int]:
    """Record ids read straight from a sandbox database."""
    with closing(sqlite3.connect(db_path)) as db:
        return [row[0] for row in db.execute(f"SELECT id FROM {table} {where} ORDER BY id")]


def entry_body(**changes: Any) -> dict[str, Any]:
    """A valid new time entry (Kai López has no history, so his week is open)."""
    body = {
        "mobileGuid": str(uuid.uuid4()),
        "member": {"identifier": "klopez"},
        "chargeToType": "ServiceTicket",
        "chargeToId": 1001,
        "timeStart": "2026-11-26T09:00:00Z",
        "actualHours": 1.25,
        "notes": "client test",
    }
    return {**body, **changes}


def with_guid(db_path: Path, guid: str) -> list[int]:
    """Ids of entries carrying ``mobileGuid == guid``."""
    return ids_in(db_path, where=f"WHERE json_extract(body, '$.mobileGuid') = '{guid}'")


def logged(served: ServedSandbox, method: str, path_end: str) -> list[dict[str, Any]]:
    """Logged requests of ``method`` whose path ends with ``path_end``."""
    return [
        r
        for r in served.requests()
        if r["method"] == method and r["path"].lower().endswith(path_end.lower())
    ]


def test_ping_discovers_the_codebase_and_reads_the_site(
    sandbox_transport: httpx.ASGITransport, sandbox_db: Path
) -> None:
    async def ping() -> Any:
        async with in_process(sandbox_transport) as client:
            return await client.ping()

    result = asyncio.run(ping())
    assert result.codebase == "v4_6_release/"
    assert result.base_url == f"{SITE}/v4_6_release/apis/3.0/"
    assert result.version == "v2026.4"
    assert result.member_count == len(ids_in(sandbox_db, "members"))


@pytest.mark.parametrize(
    "options",
    [
        pytest.param({}, id="concurrent-pages"),
        pytest.param({"page_size": 700}, id="uneven-pages"),
        pytest.param({"forward_only": True}, id="forward-only"),
        pytest.param({"order_by": "timeStart desc"}, id="ordered"),
    ],
)
def test_iter_items_returns_every_entry_once(
    sandbox_transport: httpx.ASGITransport, sandbox_db: Path, options: dict[str, Any]
) -> None:
    async def listing() -> list[dict[str, Any]]:
        async with in_process(sandbox_transport) as client:
            return await client.list_items("time/entries", fields="id,timeStart", **options)

    items = asyncio.run(listing())
    ids = [item["id"] for item in items]
    assert len(ids) == len(set(ids))
    assert sorted(ids) == ids_in(sandbox_db)
    if "order_by" in options:
        starts = [item["timeStart"] for item in items]
        assert starts == sorted(starts, reverse=True)
    else:
        assert ids == sorted(ids), "pages come back in page order"


def test_iter_items_keeps_the_filter_on_every_page(
    sandbox_transport: httpx.ASGITransport, sandbox_db: Path
) -> None:
    conditions = and_(cond("member/identifier", "=", "abaker"), cond("status", "!=", "Billed"))

    async def listing() -> list[dict[str, Any]]:
        async with in_process(sandbox_transport) as client:
            count = await client.count("time/entries", conditions=conditions)
            items = await client.list_items(
                "time/entries", conditions=conditions, fields="id", page_size=10
            )
            assert len(items) == count
            return items

    expected = ids_in(
        sandbox_db,
        where="WHERE json_extract(body, '$.member.identifier') = 'abaker' "
        "AND json_extract(body, '$.status') != 'Billed'",
    )
    assert len(expected) > 10, "the filter should span several pages"
    assert sorted(i["id"] for i in asyncio.run(listing())) == expected


def test_listing_survives_throttling_and_failures(
    served_sandbox: Callable[..., ServedSandbox],
) -> None:
    served = served_sandbox(rate_limit=5, fail_rate=0.2, fault_seed=4)

    async def listing() -> list[int]:
        async with over_http(served, retry=RetryPolicy(backoff_base=0.05)) as client:
            return [item["id"] async for item in client.iter_items("time/entries", fields="id")]

    ids = asyncio.run(listing())
    counters = served.counters()
    assert counters["throttled"] > 0 and counters["failed"] > 0, counters
    assert len(ids) == len(set(ids))
    assert sorted(ids) == ids_in(served.db_path)


@pytest.mark.parametrize(
    ("cap", "expected"),
    [pytest.param(5.0, 1.0, id="retry-after"), pytest.param(0.3, 0.3, id="capped")],
)
def test_429_waits_retry_after_up_to_the_cap(
    served_sandbox: Callable[..., ServedSandbox], cap: float, expected: float
) -> None:
    served = served_sandbox(rate_limit=1)
    waits = Waits(real=True)

    async def counts() -> list[int]:
        retry = RetryPolicy(retry_after_max=cap, learn_rate=False)
        async with over_http(served, retry=retry, sleep=waits) as client:
            return [await client.count("time/workTypes") for _ in range(2)]

    assert asyncio.run(counts()) == [len(ids_in(served.db_path, "work_types"))] * 2
    assert served.counters()["throttled"] >= 1
    assert waits.seen, "the client should have waited"
    # Each wait is what is left of the pause, so load can shorten it but never lengthen it.
    assert max(waits.seen) == pytest.approx(expected, abs=0.05), waits.seen
    assert all(w <= expected + 0.001 for w in waits.seen), waits.seen


def test_throttled_on_every_try_is_rate_limited(
    served_sandbox: Callable[..., ServedSandbox],
) -> None:
    served = served_sandbox(rate_limit=0.01)
    retry = RetryPolicy(max_throttled=3, retry_after_max=0.01, learn_rate=False)

    async def count() -> int:
        async with over_http(served, retry=retry, codebase="v4_6_release/") as client:
            await client.count("time/workTypes")
            return await client.count("time/workTypes")

    with pytest.raises(RateLimited) as caught:
        asyncio.run(count())
    assert (caught.value.status, caught.value.code) == (429, "ConnectWiseAPI")
    assert str(caught.value).startswith(
        "ConnectWise kept throttling GET time/workTypes/count (429 ConnectWiseAPI): "
        "Too many requests. Please try again in 100 seconds."
    )
    assert len(logged(served, "GET", "/count")) == 1 + 3


def test_get_is_retried_after_5xx_with_backoff(
    served_sandbox: Callable[..., ServedSandbox],
) -> None:
    served = served_sandbox(fail_rate=1.0, fault_seed=3)
    waits = Waits()
    retry = RetryPolicy(max_attempts=4, backoff_base=0.5, backoff_max=8)

    async def count() -> int:
        async with over_http(served, retry=retry, sleep=waits, codebase="v4_6_release") as client:
            return await client.count("time/workTypes")

    with pytest.raises(ServerError) as caught:
        asyncio.run(count())
    assert caught.value.status in (500, 503)
    assert len(logged(served, "GET", "/count")) == 4
    assert len(waits.seen) == 3
    assert all(0 <= w <= 0.5 * 2**n for n, w in enumerate(waits.seen)), waits.seen

    served.set_faults(fail_rate=0.5)
    assert asyncio.run(count()) == len(ids_in(served.db_path, "work_types"))


@pytest.mark.parametrize(
    ("faults", "saved"),
    [
        pytest.param({"fail_rate": 1.0}, 0, id="5xx-before-the-write"),
        pytest.param({"lost_response_rate": 1.0, "lost_response_mode": "500"}, 1, id="lost-as-500"),
        pytest.param(
            {"lost_response_rate": 1.0, "lost_response_mode": "drop"}, 1, id="lost-as-drop"
        ),
    ],
)
def test_a_post_is_never_retried_blindly(
    served_sandbox: Callable[..., ServedSandbox], faults: dict[str, Any], saved: int
) -> None:
    served = served_sandbox()
    body = entry_body()

    async def post() -> Any:
        async with over_http(served, codebase="v4_6_release/") as client:
            served.set_faults(**faults)
            return await client.post("time/entries", body)

    with pytest.raises(WriteOutcomeUnknown) as caught:
        asyncio.run(post())
    assert caught.value.body == body
    assert "it may or may not have been saved" in str(caught.value)
    assert len(logged(served, "POST", "/time/entries")) == 1
    assert len(with_guid(served.db_path, body["mobileGuid"])) == saved


def test_create_time_entry_finds_the_entry_whose_answer_was_lost(
    served_sandbox: Callable[..., ServedSandbox],
) -> None:
    served = served_sandbox(lost_response_rate=1.0, fault_seed=1)
    body = entry_body()

    async def create() -> dict[str, Any]:
        async with over_http(served) as client:
            return await client.create_time_entry(body)

    entry = asyncio.run(create())
    assert with_guid(served.db_path, body["mobileGuid"]) == [entry["id"]]
    assert entry["mobileGuid"] == body["mobileGuid"]
    assert len(logged(served, "POST", "/time/entries")) == 1


def test_create_time_entry_posts_again_only_when_nothing_was_saved(
    served_sandbox: Callable[..., ServedSandbox],
) -> None:
    served = served_sandbox(fail_rate=0.6, fault_seed=2)
    bodies = [entry_body(timeStart=f"2026-11-26T{9 + n:02d}:00:00Z") for n in range(4)]

    async def create() -> list[dict[str, Any]]:
        retry = RetryPolicy(max_attempts=10)
        async with over_http(served, retry=retry, sleep=Waits()) as client:
            return [await client.create_time_entry(b, max_attempts=10) for b in bodies]

    entries = asyncio.run(create())
    for body, entry in zip(bodies, entries, strict=True):
        assert with_guid(served.db_path, body["mobileGuid"]) == [entry["id"]]
    posts = logged(served, "POST", "/time/entries")
    assert len(posts) > len(bodies), "some POSTs should have failed and been sent again"
    assert sum(p["status"] == 201 for p in posts) == len(bodies)


def test_in_process_dropped_response_is_an_unknown_outcome(sandbox_db: Path) -> None:
    config = SandboxConfig(db_path=sandbox_db, lost_response_rate=1.0, lost_response_mode="drop")
    app = create_app(config)
    body = entry_body()

    async def create() -> dict[str, Any]:
        async with in_process(httpx.ASGITransport(app=app)) as client:
            with pytest.raises(WriteOutcomeUnknown) as caught:
                await client.post("time/entries", entry_body())
            assert "the server closed the connection without an answer" in str(caught.value)
            return await client.create_time_entry(body)

    try:
        entry = asyncio.run(create())
    finally:
        app.state.store.close()
    assert with_guid(sandbox_db, body["mobileGuid"]) == [entry["id"]]


def test_patch_put_and_delete(sandbox_transport: httpx.ASGITransport) -> None:
    async def edit() -> None:
        async with in_process(sandbox_transport) as client:
            entry = await client.create_time_entry(entry_body(internalNotes="private"))
            path = f"time/entries/{entry['id']}"
            patched = await client.patch(
                path, patch_ops({"notes": "edited", "internalNotes": None})
            )
            assert (patched["notes"], patched.get("internalNotes")) == ("edited", None)
            whole = {k: v for k, v in patched.items() if k not in ("_info",)}
            replaced = await client.put(path, {**whole, "notes": "replaced"})
            assert replaced["notes"] == "replaced"
            await client.delete(path)
            with pytest.raises(NotFound):
                await client.get(path)

    asyncio.run(edit())


@pytest.mark.parametrize(
    ("credentials", "message"),
    [
        pytest.param(
            {"private_key": "wrong-key"},
            "ConnectWise did not accept the credentials (401 Unauthorized): Authorization has "
            "been denied for this request",
            id="wrong-private-key",
        ),
        pytest.param(
            {"company": "nosuchco"},
            "The site does not know the company id 'nosuchco'",
            id="wrong-company",
        ),
        pytest.param(
            {"client_id": "not-our-client"},
            "ConnectWise did not accept the credentials (401 Unauthorized): The clientId "
            "'not-our-client' is not registered with this site.",
            id="wrong-client-id",
        ),
    ],
)
def test_authentication_failures_say_what_was_refused(
    sandbox_transport: httpx.ASGITransport, credentials: dict[str, str], message: str
) -> None:
    async def ping() -> Any:
        async with in_process(sandbox_transport, **credentials) as client:
            return await client.ping()

    with pytest.raises(AuthenticationFailed) as caught:
        asyncio.run(ping())
    assert message in str(caught.value)
    assert caught.value.status == 401
    assert "wrong-key" not in str(caught.value) + repr(caught.value)


def test_a_missing_client_id_is_refused_before_sending() -> None:
    with pytest.raises(ConfigError, match="The connection has no client id"):
        CwClient(site="api-na.myconnectwise.net", company="c", public_key="p",
                 private_key="k", client_id=" ")  # fmt: skip


@pytest.mark.parametrize(
    ("send", "error", "code", "field", "text"),
    [
        pytest.param(
            ("GET", "time/entries", {"conditions": 'notes = "unclosed'}, None),
            InvalidRequest,
            "InvalidRequest",
            "conditions",
            "ConnectWise rejected GET time/entries (400 InvalidRequest): The conditions are "
            "invalid: unterminated string",
            id="bad-conditions",
        ),
        pytest.param(
            ("POST", "time/entries", None, entry_body(timeStart="2026-11-26 09:00")),
            InvalidRequest,
            "UnsupportedFormat",
            "timeStart",
            "ConnectWise rejected POST time/entries (400 UnsupportedFormat): timeStart "
            '"2026-11-26 09:00" is not in a supported format',
            id="bad-datetime",
        ),
        pytest.param(
            ("GET", "time/entries/99999999", None, None),
            NotFound,
            "NotFound",
            None,
            "ConnectWise rejected GET time/entries/99999999 (404 NotFound):",
            id="not-found",
        ),
    ],
)
def test_api_errors_carry_code_message_and_field(
    sandbox_transport: httpx.ASGITransport,
    send: tuple[str, str, dict[str, str] | None, dict[str, Any] | None],
    error: type[ApiError],
    code: str,
    field: str | None,
    text: str,
) -> None:
    method, path, params, body = send

    async def call() -> None:
        async with in_process(sandbox_transport) as client:
            await client.request(method, path, params=params, json_body=body)

    with pytest.raises(error) as caught:
        asyncio.run(call())
    assert (caught.value.code, caught.value.field) == (code, field)
    assert str(caught.value).startswith(text)
    assert "{" not in caught.value.message, "a readable message, not a JSON blob"


def test_a_404_rediscovers_the_codebase_once(sandbox_app: Any) -> None:
    async def twice() -> None:
        async with in_process(httpx.ASGITransport(app=sandbox_app)) as client:
            for _ in range(2):
                with pytest.raises(NotFound):
                    await client.get("time/entries/99999999")

    asyncio.run(twice())
    paths = [r["path"].lower() for r in sandbox_app.state.faults.requests()]
    assert paths.count("/login/companyinfo/cwbulk_sandbox") == 2
    assert paths.count("/v4_6_release/apis/3.0/time/entries/99999999") == 2


def closed_port() -> int:
    """A loopback port nobody listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_an_unreachable_site_is_a_connection_failure() -> None:
    port = closed_port()

    async def ping() -> Any:
        client = CwClient(site=f"http://127.0.0.1:{port}", company="c", public_key="p",
                          private_key="k", client_id="i")  # fmt: skip
        async with client:
            return await client.ping()

    with pytest.raises(ConnectionFailed) as caught:
        asyncio.run(ping())
    assert str(caught.value).startswith(
        f"Can't reach ConnectWise at http://127.0.0.1:{port}: the connection was refused."
    )


def test_the_private_key_stays_out_of_repr() -> None:
    client = CwClient(site="api-na.myconnectwise.net", company="c", public_key="p",
                      private_key="s3cr3t-key", client_id="i")  # fmt: skip
    assert "s3cr3t-key" not in repr(client)
    asyncio.run(client.aclose())


@pytest.mark.parametrize(
    ("max_rate", "throttled"),
    [pytest.param(None, True, id="no-cap"), pytest.param(4.0, False, id="capped-under-limit")],
)
def test_max_rate_keeps_the_client_under_the_server_limit(
    served_sandbox: Callable[..., ServedSandbox], max_rate: float | None, throttled: bool
) -> None:
    served = served_sandbox(rate_limit=5)

    async def burst() -> list[int]:
        retry = RetryPolicy(retry_after_max=0.2)
        async with over_http(served, max_rate=max_rate, retry=retry, codebase="v4_6_release/") as c:
            return await asyncio.gather(*(c.count("time/workRoles") for _ in range(10)))

    assert set(asyncio.run(burst())) == {len(ids_in(served.db_path, "work_roles"))}
    assert (served.counters()["throttled"] > 0) is throttled


def test_a_429_teaches_the_client_the_server_limit(
    served_sandbox: Callable[..., ServedSandbox],
) -> None:
    served = served_sandbox(rate_limit=10)
    throttled_after: list[int] = []

    async def sustained() -> float | None:
        retry = RetryPolicy(retry_after_max=1.0)
        async with over_http(served, retry=retry, codebase="v4_6_release/") as c:
            for _ in range(4):
                await asyncio.gather(*(c.count("time/workRoles") for _ in range(15)))
                throttled_after.append(served.counters()["throttled"])
            return c._gate.rate

    learned = asyncio.run(sustained())
    assert learned is not None and learned <= 10
    # The first burst is throttled (at most the requests in flight then); once the client
    # has learned the limit, it is not throttled again.
    assert 1 <= throttled_after[0] <= 8
    assert throttled_after[-1] == throttled_after[1], throttled_after


@pytest.mark.parametrize(
    ("site", "expected"),
    [
        pytest.param("api-na.myconnectwise.net", CONNECTWISE_RATE, id="connectwise-capped"),
        pytest.param("http://127.0.0.1:8765", None, id="loopback-sandbox-uncapped"),
    ],
)
def test_auto_rate_caps_connectwise_but_not_the_sandbox(site: str, expected: float | None) -> None:
    client = CwClient(site=site, company="c", public_key="p", private_key="k", client_id="i",
                      max_rate=AUTO_RATE)  # fmt: skip
    assert client._gate.rate == expected
    asyncio.run(client.aclose())


def test_a_timeout_is_retried_for_reads_and_unknown_for_writes(
    served_sandbox: Callable[..., ServedSandbox],
) -> None:
    served = served_sandbox(latency_ms=400)
    retry = RetryPolicy(max_attempts=2, backoff_base=0.01)

    async def call(method: str) -> None:
        async with over_http(served, timeout=0.1, retry=retry, codebase="v4_6_release/") as c:
            if method == "GET":
                await c.count("time/workRoles")
            else:
                await c.post("time/entries", entry_body())

    with pytest.raises(ConnectionFailed) as read:
        asyncio.run(call("GET"))
    assert str(read.value).startswith(
        f"Can't reach ConnectWise at {served.url}: timed out waiting for the answer."
    )
    with pytest.raises(WriteOutcomeUnknown, match="timed out waiting for the answer"):
        asyncio.run(call("POST"))
    assert len(logged(served, "GET", "/count")) == 2
    assert len(logged(served, "POST", "/time/entries")) == 1


def test_a_delete_whose_answer_was_lost_is_done(
    served_sandbox: Callable[..., ServedSandbox],
) -> None:
    served = served_sandbox()

    async def create_then_delete() -> int:
        async with over_http(served, sleep=Waits()) as client:
            entry = await client.create_time_entry(entry_body())
            served.set_faults(lost_response_rate=1.0, lost_response_mode="500")
            await client.delete(f"time/entries/{entry['id']}")
            return entry["id"]

    entry_id = asyncio.run(create_then_delete())
    assert entry_id not in ids_in(served.db_path)
    deletes = logged(served, "DELETE", f"/time/entries/{entry_id}")
    assert [d["status"] for d in deletes][-1] == 404 and len(deletes) == 2, deletes
