"""The async ConnectWise PSA client: auth, codebase discovery, retries, pagination, JSON Patch.

``CwClient`` wraps one ``httpx.AsyncClient``. Everything that decides *when to send again*
lives here, as explicit policy:

- 429 is always retried (the request was not processed), after ``Retry-After`` capped by
  ``RetryPolicy.retry_after_max``; every request of the client waits out the pause, so one
  throttled page slows the whole run instead of each worker hammering on its own.
- 5xx and connection failures are retried with exponential backoff and full jitter, up to
  ``RetryPolicy.max_attempts``, for GET/PATCH/PUT/DELETE (they are idempotent).
- A POST is never retried blindly: a 5xx, a dropped connection or a timeout after it was
  sent raises ``WriteOutcomeUnknown``. ``create_time_entry`` is the safe dance on top:
  look the entry up by its ``mobileGuid`` before posting it again.
- Any other 4xx is raised at once as the matching ``ApiError`` subclass.

Lists are read with ``iter_items``: ``/count`` first, then pages of 1,000 fetched
concurrently (a window of ``max_concurrency`` pages) and yielded in page order, or
forward-only pagination (``pageId``) past ``FORWARD_ONLY_THRESHOLD`` items.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import json
import logging
import math
import random
import socket
import ssl
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

import httpx

from cwbulk import __version__
from cwbulk.conditions import cond
from cwbulk.errors import (
    ApiError,
    AuthenticationFailed,
    ConfigError,
    Conflict,
    ConnectionFailed,
    InvalidRequest,
    NotFound,
    PermissionDenied,
    RateLimited,
    ServerError,
    UsageError,
    WriteOutcomeUnknown,
)

log = logging.getLogger(__name__)

#: The API model version cwbulk is written against (ConnectWise keeps old models 12 months).
ACCEPT = "application/vnd.connectwise.com+json; version=2025.1"
#: The largest page ConnectWise serves; anything bigger is silently capped.
PAGE_SIZE = 1000
#: ``max_rate="auto"``: the cap for a real site, just under ConnectWise's documented
#: "over 1,000 requests per minute will likely be rate limited". A loopback site (the
#: served sandbox) has no fixed cap; either way the client learns a lower one from 429s.
AUTO_RATE = "auto"
CONNECTWISE_RATE = 16.0
#: Above this many items a listing switches to forward-only pagination, which stays fast
#: where deep ``page=N`` offsets get slow on the server.
FORWARD_ONLY_THRESHOLD = 50_000
#: Used when ``/login/companyinfo`` gives no codebase; on-premise servers route it anyway.
DEFAULT_CODEBASE = "v4_6_release/"

#: ConnectWise cloud UI hosts and the API host each one needs.
CLOUD_API_HOSTS = {
    "na.myconnectwise.net": "api-na.myconnectwise.net",
    "eu.myconnectwise.net": "api-eu.myconnectwise.net",
    "au.myconnectwise.net": "api-au.myconnectwise.net",
    "aus.myconnectwise.net": "api-aus.myconnectwise.net",
    "za.myconnectwise.net": "api-za.myconnectwise.net",
    "staging.connectwisedev.com": "api-staging.connectwisedev.com",
}

_ERRORS_BY_STATUS: dict[int, type[ApiError]] = {
    400: InvalidRequest,
    401: AuthenticationFailed,
    403: PermissionDenied,
    404: NotFound,
    409: Conflict,
    429: RateLimited,
}

Sleep = Callable[[float], Awaitable[None]]


@dataclass(frozen=True)
class RetryPolicy:
    """When and how long the client waits before sending a request again.

    ``max_attempts`` bounds tries after 5xx and connection failures (the first try
    included); ``max_throttled`` bounds tries after 429s, which cost the server nothing.
    Backoff before retry *n* is uniform in ``[0, min(backoff_max, backoff_base * 2**n)]``
    (full jitter); a ``Retry-After`` longer than ``retry_after_max`` is cut to it.
    ``learn_rate``: after a 429, cap the request rate at a little under what the server
    accepted over the last second.
    """

    max_attempts: int = 5
    max_throttled: int = 20
    backoff_base: float = 0.5
    backoff_max: float = 30.0
    retry_after_max: float = 60.0
    retry_after_default: float = 5.0
    learn_rate: bool = True

    def backoff(self, attempt: int, rng: random.Random) -> float:
        """Seconds to wait after failed try number ``attempt`` (1-based)."""
        return rng.uniform(0, min(self.backoff_max, self.backoff_base * 2 ** (attempt - 1)))

    def throttle_delay(self, retry_after: str | None) -> float:
        """Seconds to wait after a 429 carrying this ``Retry-After`` (seconds or HTTP date)."""
        seconds: float | None = None
        if retry_after is not None:
            try:
                seconds = float(retry_after)
            except ValueError:
                with contextlib.suppress(TypeError, ValueError):
                    when = parsedate_to_datetime(retry_after)
                    seconds = max(0.0, (when - datetime.now(UTC)).total_seconds())
        if seconds is None or not math.isfinite(seconds) or seconds < 0:
            seconds = self.retry_after_default
        return min(seconds, self.retry_after_max)


@dataclass(frozen=True)
class Site:
    """Where a ConnectWise server lives: ``origin`` is ``scheme://host[:port]``."""

    origin: str
    host: str
    is_loopback: bool


def parse_site(site: str, *, allow_http: bool = False) -> Site:
    """Turn a profile's ``site`` (a host or a URL) into the origin the API is served from.

    A cloud UI host (``na.myconnectwise.net``) becomes its ``api-`` host. Plain HTTP is
    refused unless the host is a loopback address (a served sandbox) or ``allow_http``.
    """
    text = (site or "").strip()
    if not text:
        raise ConfigError(
            "No ConnectWise site is set.",
            hint="Give a host such as api-na.myconnectwise.net "
            "(cwbulk config add, or CWBULK_SITE).",
        )
    parts = urlsplit(text if "://" in text else f"https://{text}")
    try:
        port = parts.port
    except ValueError:
        port = None
        host = ""
    else:
        host = (parts.hostname or "").lower()
    if parts.scheme not in ("http", "https") or not host:
        raise ConfigError(
            f"The site {text!r} is not a host name or an http(s) URL.",
            hint="Use a host such as api-na.myconnectwise.net or a URL such as "
            "https://cw.example.com.",
        )
    host = CLOUD_API_HOSTS.get(host, host)
    loopback = is_loopback_host(host)
    if parts.scheme == "http" and not (loopback or allow_http):
        raise ConfigError(
            f"The site {text!r} uses plain HTTP; ConnectWise needs HTTPS.",
            hint="Use https:// (plain http is only allowed on 127.0.0.1 or localhost).",
        )
    netloc = f"[{host}]" if ":" in host else host
    if port is not None:
        netloc = f"{netloc}:{port}"
    return Site(origin=f"{parts.scheme}://{netloc}", host=host, is_loopback=loopback)


def is_loopback_host(host: str) -> bool:
    """True for ``localhost`` and loopback addresses (127.0.0.0/8, ::1)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def patch_ops(changes: Mapping[str, Any]) -> list[dict[str, Any]]:
    """A JSON Patch body for ConnectWise: ``replace`` each set field, ``remove`` each None.

    References are replaced whole (``{"company": {"id": 7}}``): ConnectWise answers a
    false 200 to paths inside an object such as ``company/identifier``, so those are refused.
    """
    ops: list[dict[str, Any]] = []
    for field, value in changes.items():
        if not field or "/" in field:
            raise ValueError(
                f"patch path {field!r}: replace the whole reference "
                "(e.g. 'company' with {'id': 7}), not a field inside it"
            )
        if value is None:
            ops.append({"op": "remove", "path": field})
        else:
            ops.append({"op": "replace", "path": field, "value": value})
    return ops


@dataclass(frozen=True)
class PingResult:
    """What ``CwClient.ping`` found out about a site."""

    site: str
    company: str
    base_url: str
    codebase: str
    version: str | None
    is_cloud: bool | None
    member_count: int

    def to_dict(self) -> dict[str, object]:
        """The result as a plain dict (for ``--json``)."""
        return {
            "site": self.site,
            "company": self.company,
            "reachable": True,
            "authenticated": True,
            "baseUrl": self.base_url,
            "codebase": self.codebase,
            "version": self.version,
            "isCloud": self.is_cloud,
            "memberCount": self.member_count,
        }


class _Gate:
    """Bounded concurrency, a request-rate cap, and a shared pause after a 429.

    The cap is a token bucket. A 429 lowers it to a little under the rate the server
    accepted over the last second, so a client that meets an unknown limit settles just
    under it after a throttle or two instead of being throttled again and again.
    """

    def __init__(self, *, max_concurrency: int, max_rate: float | None, sleep: Sleep) -> None:
        self.semaphore = asyncio.Semaphore(max_concurrency)
        self.rate = max_rate
        self._tokens = max(1.0, max_rate or 1.0)
        self._updated = time.monotonic()
        self._lock = asyncio.Lock()
        self._resume_at = 0.0
        self._accepted: deque[float] = deque()
        self._sleep = sleep

    def pause(self, seconds: float) -> None:
        """Hold every request of the client for ``seconds`` from now."""
        self._resume_at = max(self._resume_at, time.monotonic() + seconds)

    def accepted(self) -> None:
        """Note a response the server did not throttle."""
        now = time.monotonic()
        self._accepted.append(now)
        while self._accepted and self._accepted[0] < now - 1.0:
            self._accepted.popleft()

    def throttled(self, seconds: float, *, learn: bool) -> None:
        """A 429: pause everything for ``seconds`` and lower the cap to what got through."""
        self.pause(seconds)
        if not learn:
            return
        now = time.monotonic()
        got_through = sum(1 for at in self._accepted if at >= now - 1.0)
        if got_through:
            learned = max(1.0, 0.95 * got_through)
            if self.rate is None or learned < self.rate:
                log.info("throttled: keeping under %.1f requests/s from now on", learned)
                self.rate = learned
                self._tokens = min(self._tokens, 1.0)

    async def wait_turn(self) -> None:
        """Wait out a throttle pause and the rate cap (a token bucket)."""
        delay = self._resume_at - time.monotonic()
        if delay > 0:
            await self._sleep(delay)
        if not self.rate:
            return
        async with self._lock:
            while True:
                now = time.monotonic()
                capacity = max(1.0, self.rate)
                self._tokens = min(capacity, self._tokens + (now - self._updated) * self.rate)
                self._updated = now
                if self._tokens >= 1:
                    self._tokens -= 1
                    return
                await self._sleep((1 - self._tokens) / self.rate)


class CwClient:
    """An async ConnectWise PSA REST client (use as ``async with CwClient(...) as client``).

    ``site`` is a host (``api-na.myconnectwise.net``) or URL (``http://127.0.0.1:8765``);
    ``codebase`` skips discovery when given. ``transport`` is passed to httpx (the
    in-process sandbox uses ``httpx.ASGITransport``); ``sleep`` is injectable so tests can
    see the waits the retry policy chose.
    """

    def __init__(
        self,
        *,
        site: str,
        company: str,
        public_key: str,
        private_key: str,
        client_id: str,
        codebase: str | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        retry: RetryPolicy | None = None,
        max_concurrency: int = 8,
        max_rate: float | str | None = None,
        timeout: float = 60.0,
        allow_http: bool = False,
        sleep: Sleep = asyncio.sleep,
        seed: int | None = None,
    ) -> None:
        missing = [
            label
            for label, value in (
                ("company id", company),
                ("public key", public_key),
                ("private key", private_key),
                ("client id", client_id),
            )
            if not (value or "").strip()
        ]
        if missing:
            raise ConfigError(
                f"The connection has no {', no '.join(missing)}.",
                hint="Set it with `cwbulk config add NAME` or the CWBULK_* environment "
                "variables; a client id comes from developer.connectwise.com.",
            )
        if max_concurrency < 1:
            raise UsageError(f"max_concurrency must be at least 1, not {max_concurrency}.")
        self.site = parse_site(site, allow_http=allow_http)
        self.company = company.strip()
        self.retry = retry or RetryPolicy()
        self.max_concurrency = max_concurrency
        self._codebase = _normal_codebase(codebase) if codebase else None
        self._codebase_given = codebase is not None
        self._rediscovered = False
        self._reached = False
        self._company_unknown = False
        self._discover_lock = asyncio.Lock()
        if max_rate == AUTO_RATE:
            max_rate = None if self.site.is_loopback else CONNECTWISE_RATE
        elif isinstance(max_rate, str):
            raise UsageError(f"max_rate must be a number or {AUTO_RATE!r}, not {max_rate!r}.")
        self._gate = _Gate(max_concurrency=max_concurrency, max_rate=max_rate, sleep=sleep)
        self._sleep = sleep
        self._rng = random.Random(seed)
        self._http = httpx.AsyncClient(
            transport=transport,
            timeout=timeout,
            auth=httpx.BasicAuth(f"{self.company}+{public_key.strip()}", private_key.strip()),
            headers={
                "Accept": ACCEPT,
                "clientId": client_id.strip(),
                "User-Agent": f"cwbulk/{__version__}",
            },
            limits=httpx.Limits(max_connections=max_concurrency + 2),
        )

    def __repr__(self) -> str:
        return f"<CwClient site={self.site.origin} company={self.company}>"

    async def __aenter__(self) -> CwClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the connections."""
        await self._http.aclose()

    # -- codebase -------------------------------------------------------------------

    async def codebase(self) -> str:
        """The codebase segment (``v2025_1/``), discovered once per client."""
        if self._codebase is None:
            async with self._discover_lock:
                if self._codebase is None:
                    self._codebase = await self._discover_codebase()
        return self._codebase

    async def base_url(self) -> str:
        """``{origin}/{codebase}apis/3.0/``."""
        return f"{self.site.origin}/{await self.codebase()}apis/3.0/"

    async def _discover_codebase(self) -> str:
        url = f"{self.site.origin}/login/companyinfo/{quote(self.company, safe='')}"
        try:
            response = await self._send("GET", url, path="login/companyinfo", auth=False)
        except NotFound:
            self._company_unknown = True
            return DEFAULT_CODEBASE
        try:
            info = response.json()
        except ValueError:
            info = None
        found = info.get("Codebase") if isinstance(info, dict) else None
        return _normal_codebase(found) if isinstance(found, str) and found else DEFAULT_CODEBASE

    # -- requests -------------------------------------------------------------------

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json_body: Any = None,
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        """Send one API request under the retry policy and return the successful response.

        ``path`` is relative to ``apis/3.0/`` (``time/entries``). Raises the matching
        ``ApiError``, ``ConnectionFailed``, or ``WriteOutcomeUnknown`` for a POST.
        A 404 re-discovers the codebase once per client, as hosted ConnectWise moves it.
        """
        path = path.strip("/")
        query = _query_string(params)
        content = None if json_body is None else _encode(json_body)
        while True:
            url = f"{await self.base_url()}{path}{query}"
            try:
                return await self._send(
                    method, url, path=path, content=content, headers=headers, body=json_body
                )
            except AuthenticationFailed as exc:
                if self._company_unknown:
                    exc.hint = (
                        f"The site does not know the company id {self.company!r}; check it "
                        "(it is the company you log in with)."
                    )
                raise
            except NotFound:
                if self._codebase_given or self._rediscovered:
                    raise
                self._rediscovered = True
                old = self._codebase
                async with self._discover_lock:
                    self._codebase = await self._discover_codebase()
                if self._codebase == old:
                    raise
                log.info("codebase moved from %s to %s; sending again", old, self._codebase)

    async def _send(
        self,
        method: str,
        url: str,
        *,
        path: str,
        content: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        body: Any = None,
        auth: bool = True,
    ) -> httpx.Response:
        idempotent = method.upper() != "POST"
        request_headers = dict(headers or {})
        if content is not None:
            request_headers["Content-Type"] = "application/json"
        failures = 0
        throttled = 0
        while True:
            async with self._gate.semaphore:
                await self._gate.wait_turn()
                try:
                    response = await self._http.request(
                        method,
                        url,
                        content=content,
                        headers=request_headers,
                        auth=httpx.USE_CLIENT_DEFAULT if auth else None,
                    )
                except httpx.TransportError as exc:
                    failures += 1
                    what = _describe_transport_error(exc)
                    if not idempotent and _maybe_sent(exc):
                        raise WriteOutcomeUnknown(
                            f"{method} {path} was sent to {self.site.origin}, but {what}; "
                            "it may or may not have been saved.",
                            method=method,
                            path=path,
                            body=body,
                        ) from exc
                    # Until the site has answered once, a refused or unresolvable
                    # connection is far likelier a wrong site than a blip: fail fast.
                    first_contact = not self._reached and isinstance(
                        exc, httpx.ConnectError | httpx.ConnectTimeout
                    )
                    if first_contact or failures >= self.retry.max_attempts:
                        raise ConnectionFailed(
                            f"Can't reach ConnectWise at {self.site.origin}: {what}.",
                            hint=_connection_hint(exc),
                        ) from exc
                    await self._back_off(failures, f"{method} {path}: {what}")
                    continue
            self._reached = True
            status = response.status_code
            if status != 429:
                self._gate.accepted()
            if status < 400:
                return response
            if status == 429:
                throttled += 1
                if throttled >= self.retry.max_throttled:
                    raise _api_error(response, method, path)
                delay = self.retry.throttle_delay(response.headers.get("Retry-After"))
                log.info("%s %s: throttled (429); every request waits %.1fs", method, path, delay)
                self._gate.throttled(delay, learn=self.retry.learn_rate)
                continue
            if status == 404 and method.upper() == "DELETE" and failures:
                # An earlier try was lost after it deleted the record: that is success.
                return response
            if status < 500:
                raise _api_error(response, method, path)
            failures += 1
            if not idempotent:
                # A 5xx before the write and a 5xx after it look the same from here.
                raise WriteOutcomeUnknown(
                    f"{_api_error(response, method, path).message}; "
                    "it may or may not have been saved.",
                    method=method,
                    path=path,
                    body=body,
                    status=status,
                )
            if failures >= self.retry.max_attempts:
                raise _api_error(response, method, path)
            await self._back_off(failures, f"{method} {path}: {status}")

    async def _back_off(self, failures: int, reason: str) -> None:
        delay = self.retry.backoff(failures, self._rng)
        log.info("%s; try %d in %.1fs", reason, failures + 1, delay)
        await self._sleep(delay)

    async def get(self, path: str, *, params: Mapping[str, Any] | None = None) -> Any:
        """GET and return the decoded JSON body."""
        return _json_of(await self.request("GET", path, params=params))

    async def post(self, path: str, body: Any) -> Any:
        """POST (never retried blindly; see ``create_time_entry``) and return the body."""
        return _json_of(await self.request("POST", path, json_body=body))

    async def patch(self, path: str, ops: list[dict[str, Any]]) -> Any:
        """PATCH with a JSON Patch list (build it with ``patch_ops``)."""
        return _json_of(await self.request("PATCH", path, json_body=ops))

    async def put(self, path: str, body: Any) -> Any:
        """PUT a whole record (fields left out are reset by ConnectWise)."""
        return _json_of(await self.request("PUT", path, json_body=body))

    async def delete(self, path: str) -> None:
        """DELETE a record."""
        await self.request("DELETE", path)

    # -- lists ----------------------------------------------------------------------

    async def count(self, path: str, *, conditions: str | None = None) -> int:
        """How many records of ``path`` match ``conditions`` (``GET {path}/count``)."""
        body = await self.get(f"{path.strip('/')}/count", params={"conditions": conditions})
        return int(body["count"])

    async def iter_items(
        self,
        path: str,
        *,
        conditions: str | None = None,
        fields: Iterable[str] | str | None = None,
        order_by: str | None = None,
        forward_only: bool | None = None,
        page_size: int = PAGE_SIZE,
    ) -> AsyncIterator[dict[str, Any]]:
        """Every record of ``path`` matching ``conditions``, never capped at a page.

        Navigable mode counts while it fetches the first page, then fetches the other
        pages concurrently and yields them in page order (ordered by ``order_by``,
        default ``id asc`` so pages stay stable); if the last page comes back full,
        records were added meanwhile and reading goes on. ``forward_only=True`` (or
        ``None`` with more than ``FORWARD_ONLY_THRESHOLD`` records and no ``order_by``)
        walks ``pageId`` instead, always in id order.
        """
        page_size = max(1, min(page_size, PAGE_SIZE))
        path = path.strip("/")
        field_list = _field_list(fields)
        if forward_only and order_by:
            raise UsageError("Forward-only pagination is always in id order; drop order_by.")
        params = {
            "conditions": conditions,
            "fields": field_list,
            "orderBy": order_by or "id asc",
            "pageSize": page_size,
        }

        async def fetch(page: int) -> list[dict[str, Any]]:
            return await self.get(path, params={**params, "page": page})

        pending: deque[asyncio.Task[list[dict[str, Any]]]] = deque()
        if not forward_only:
            # Most lists fit one page: asking for it beside the count saves a round trip.
            pending.append(asyncio.ensure_future(fetch(1)))
            try:
                total = await self.count(path, conditions=conditions)
            except BaseException:
                await _cancel(pending)
                raise
            if forward_only is None and order_by is None and total > FORWARD_ONLY_THRESHOLD:
                forward_only = True
                await _cancel(pending)
        if forward_only:
            async for item in self._iter_forward_only(path, conditions, field_list, page_size):
                yield item
            return

        pages = max(1, math.ceil(total / page_size))
        next_page = 2
        try:
            while pending or next_page <= pages:
                while next_page <= pages and len(pending) < self.max_concurrency:
                    pending.append(asyncio.ensure_future(fetch(next_page)))
                    next_page += 1
                items = await pending.popleft()
                for item in items:
                    yield item
                if not pending and next_page > pages and len(items) == page_size:
                    pages += 1
        finally:
            await _cancel(pending)

    async def _iter_forward_only(
        self, path: str, conditions: str | None, fields: str | None, page_size: int
    ) -> AsyncIterator[dict[str, Any]]:
        if fields and "id" not in fields.split(","):
            fields = f"id,{fields}"
        page_id = 0
        while True:
            params: dict[str, Any] = {
                "conditions": conditions,
                "fields": fields,
                "pageSize": page_size,
            }
            if page_id:
                params["pageId"] = page_id
            response = await self.request(
                "GET", path, params=params, headers={"pagination-type": "forward-only"}
            )
            items = _json_of(response) or []
            for item in items:
                yield item
            if len(items) < page_size or "next" not in response.links:
                return
            page_id = int(items[-1]["id"])

    async def list_items(self, path: str, **options: Any) -> list[dict[str, Any]]:
        """``iter_items`` collected into a list."""
        return [item async for item in self.iter_items(path, **options)]

    # -- time entries ---------------------------------------------------------------

    async def find_time_entry_by_mobile_guid(self, guid: str) -> dict[str, Any] | None:
        """The time entry carrying ``mobileGuid == guid`` (the lowest id if several), or None."""
        found = await self.get(
            "time/entries",
            params={
                "conditions": cond("mobileGuid", "=", guid),
                "orderBy": "id asc",
                "pageSize": 1,
            },
        )
        return found[0] if found else None

    async def create_time_entry(
        self, body: Mapping[str, Any], *, max_attempts: int = 3
    ) -> dict[str, Any]:
        """POST a time entry exactly once, even when answers get lost.

        ``body`` must carry a ``mobileGuid``. When the outcome of a POST is unknown, the
        entry is looked up by it: found → that entry is returned; not found → posted
        again, at most ``max_attempts`` POSTs in all, then ``WriteOutcomeUnknown``.
        """
        guid = body.get("mobileGuid")
        if not guid:
            raise ValueError("create_time_entry needs a body with a mobileGuid")
        for attempt in range(1, max_attempts + 1):
            try:
                return await self.post("time/entries", dict(body))
            except WriteOutcomeUnknown as exc:
                found = await self.find_time_entry_by_mobile_guid(str(guid))
                if found is not None:
                    log.info(
                        "time entry %s was saved (id %s) though its answer was lost",
                        guid,
                        found.get("id"),
                    )
                    return found
                if attempt == max_attempts:
                    raise
                await self._back_off(attempt, f"time entry {guid} was not saved ({exc.message})")
        raise AssertionError("unreachable")

    # -- connection check -----------------------------------------------------------

    async def ping(self) -> PingResult:
        """Reach the site, authenticate, and read its version and member count."""
        codebase = await self.codebase()
        info = await self.get("system/info")
        members = await self.count("system/members")
        info = info if isinstance(info, dict) else {}
        is_cloud = info.get("isCloud")
        return PingResult(
            site=self.site.origin,
            company=self.company,
            base_url=await self.base_url(),
            codebase=codebase,
            version=info.get("version"),
            is_cloud=is_cloud if isinstance(is_cloud, bool) else None,
            member_count=members,
        )


async def _cancel(tasks: deque[asyncio.Task[Any]]) -> None:
    """Cancel ``tasks`` and wait until they are done."""
    for task in tasks:
        task.cancel()
    if tasks:
        await asyncio.gather(*tasks, return_exceptions=True)
    tasks.clear()


def _normal_codebase(codebase: str) -> str:
    return codebase.strip().strip("/") + "/"


def _field_list(fields: Iterable[str] | str | None) -> str | None:
    if fields is None:
        return None
    if isinstance(fields, str):
        return fields
    return ",".join(fields)


def _query_string(params: Mapping[str, Any] | None) -> str:
    """Every value percent-encoded (``*``, ``%``, ``+``, quotes, brackets), spaces as %20."""
    pairs = [(k, _query_value(v)) for k, v in (params or {}).items() if v is not None]
    return f"?{urlencode(pairs, quote_via=quote, safe='')}" if pairs else ""


def _query_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _encode(body: Any) -> bytes:
    """JSON bytes; numpy scalars (from pandas frames) become plain numbers."""

    def plain(value: Any) -> Any:
        if hasattr(value, "item") and callable(value.item):
            return value.item()
        raise TypeError(f"can't send a {type(value).__name__} as JSON: {value!r}")

    return json.dumps(body, default=plain, ensure_ascii=False).encode("utf-8")


def _json_of(response: httpx.Response) -> Any:
    if response.status_code == 204 or not response.content:
        return None
    return response.json()


def _maybe_sent(error: httpx.TransportError) -> bool:
    """False only when the request certainly never left (no connection was made)."""
    return not isinstance(error, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout)


def _causes(error: BaseException) -> list[BaseException]:
    chain: list[BaseException] = []
    current: BaseException | None = error
    while current is not None and current not in chain:
        chain.append(current)
        current = current.__cause__ or current.__context__
    return chain


def _describe_transport_error(error: httpx.TransportError) -> str:
    """What failed, in words: DNS, refused, TLS, timeout, or a dropped connection."""
    causes = _causes(error)
    if any(isinstance(c, socket.gaierror) for c in causes):
        return "the host name could not be found (DNS)"
    if any(isinstance(c, ConnectionRefusedError) for c in causes):
        return "the connection was refused"
    tls = next((c for c in causes if isinstance(c, ssl.SSLError)), None)
    if tls is not None:
        return f"the TLS (HTTPS) handshake failed ({getattr(tls, 'reason', None) or tls})"
    if isinstance(error, httpx.ConnectTimeout):
        return "timed out while connecting"
    if isinstance(error, httpx.TimeoutException):
        return "timed out waiting for the answer"
    if isinstance(error, httpx.RemoteProtocolError):
        return "the server closed the connection without an answer"
    if isinstance(error, httpx.ReadError | httpx.WriteError):
        return "the connection broke"
    return f"could not connect ({error})"


def _connection_hint(error: httpx.TransportError) -> str:
    if any(isinstance(c, ConnectionRefusedError) for c in _causes(error)):
        return "Is the site (and port) right, and is the server running?"
    return "Check the site in the profile (cwbulk config list) and the network."


def _api_error(response: httpx.Response, method: str, path: str) -> ApiError:
    """The cwbulk exception for an error response, with ConnectWise's code, message, field."""
    status = response.status_code
    try:
        body = response.json()
    except ValueError:
        body = None
    code = message = field = None
    errors: list[dict] = []
    if isinstance(body, dict):
        code = body.get("code") or body.get("error")
        message = body.get("message")
        errors = [e for e in body.get("errors") or [] if isinstance(e, dict)]
    elif response.text.strip():
        message = " ".join(response.text.split())[:200]
    first = errors[0] if errors else {}
    field = first.get("field")
    detail = message or response.reason_phrase or "no details"
    item = first.get("message") or first.get("code")
    if item and item != message:
        detail = f"{detail} — {field + ': ' if field else ''}{item}"
    elif field:
        detail = f"{detail} (field: {field})"
    label = f"{status} {code}" if code else str(status)
    error_class = _ERRORS_BY_STATUS.get(status, ServerError if status >= 500 else InvalidRequest)
    hint = None
    if status == 401:
        text = f"ConnectWise did not accept the credentials ({label}): {detail}"
        hint = (
            "Check the company id, public key and private key (cwbulk config list); "
            "ConnectWise also answers 401 when the client id is missing or not registered."
        )
    elif status == 403:
        text = f"ConnectWise refused {method} {path} ({label}): {detail}"
        hint = "The API member's security role does not allow this; ask a ConnectWise admin."
    elif status == 429:
        text = f"ConnectWise kept throttling {method} {path} ({label}): {detail}"
        hint = "Try again later, or lower the request rate."
    elif status >= 500:
        text = f"ConnectWise failed on {method} {path} ({label}): {detail}"
    else:
        text = f"ConnectWise rejected {method} {path} ({label}): {detail}"
    return error_class(text, status=status, code=code, field=field, errors=errors, hint=hint)
