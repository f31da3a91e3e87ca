"""Fault injection, throttling, the request log and counters: one ASGI middleware.

For every request outside ``/__sandbox/``, in this order:

1. it is logged (seq, method, path, query, then its status and fault);
2. latency: ``latency_ms`` plus a uniform ``0..jitter_ms``;
3. throttle: over ``rate_limit`` requests/s (a token bucket holding one second's worth)
   the answer is 429 with ``Retry-After`` and ConnectWise's throttle body;
4. failure: a ``fail_rate`` fraction is answered 500 or 503 before anything is done;
5. lost response: a ``lost_response_rate`` fraction of successful writes (POST, PUT,
   PATCH, DELETE) is committed, and then the answer is lost: a 500 (mode ``"500"``) or a
   connection that breaks in the middle of the body (mode ``"drop"``; in-process, through
   httpx's ASGITransport, the client sees :class:`ResponseDropped`, an
   ``httpx.RemoteProtocolError``). Mode ``"mix"`` (the default) picks either at random.

Settings can change at run time through ``PATCH /__sandbox/config``; the dice come from
``random.Random(fault_seed)``, so a seeded run repeats.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import random
import time
from collections import deque
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any, Protocol

import httpx

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

CONTROL_PREFIX = "/__sandbox/"
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
LOST_RESPONSE_MODES = ("500", "drop", "mix")
LOG_LIMIT = 10_000
# The fault settings: name → (type, lower bound, upper bound).
FAULT_SETTINGS: dict[str, tuple[type, float, float]] = {
    "latency_ms": (float, 0, 600_000),
    "jitter_ms": (float, 0, 600_000),
    "fail_rate": (float, 0, 1),
    "lost_response_rate": (float, 0, 1),
    "rate_limit": (float, 0, math.inf),
}
_JSON = [(b"content-type", b"application/json; charset=utf-8")]


class ResponseDropped(httpx.RemoteProtocolError):
    """The sandbox broke the connection after a committed write (a lost-response fault)."""


class FaultSettings(Protocol):
    """The fault fields of a SandboxConfig."""

    latency_ms: float
    jitter_ms: float
    fail_rate: float
    lost_response_rate: float
    lost_response_mode: str
    rate_limit: float | None
    fault_seed: int | None


def check_fault_settings(values: dict[str, Any]) -> dict[str, Any]:
    """Validated fault settings (a subset of FAULT_SETTINGS and ``lost_response_mode``).

    Raises ValueError naming the setting, the value and what is allowed.
    """
    checked: dict[str, Any] = {}
    for name, value in values.items():
        if name == "lost_response_mode":
            if value not in LOST_RESPONSE_MODES:
                allowed = ", ".join(repr(m) for m in LOST_RESPONSE_MODES)
                raise ValueError(f"lost_response_mode must be one of {allowed}, not {value!r}")
            checked[name] = value
            continue
        if name not in FAULT_SETTINGS:
            known = ", ".join([*FAULT_SETTINGS, "lost_response_mode"])
            raise ValueError(f"unknown fault setting {name!r}; the settings are {known}")
        if name == "rate_limit" and value is None:
            checked[name] = None
            continue
        _, low, high = FAULT_SETTINGS[name]
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        if not ok or not (low <= value <= high) or (name == "rate_limit" and value <= 0):
            limits = "above 0 (or null for none)" if name == "rate_limit" else f"{low}..{high:g}"
            raise ValueError(f"{name} must be a number {limits}, not {value!r}")
        checked[name] = float(value)
    return checked


class Faults:
    """The fault state of one app: settings, dice, token bucket, request log and counters."""

    def __init__(self, settings: FaultSettings) -> None:
        self.settings = settings
        self.rng = random.Random(settings.fault_seed)
        self.log: deque[list[Any]] = deque(maxlen=LOG_LIMIT)
        self.seq = 0
        self.counters: dict[str, Any] = {}
        self.reset_counters()
        self._tokens = 0.0
        self._refilled = 0.0
        self._fill_bucket()

    def reset_counters(self) -> None:
        """Zero the counters."""
        self.counters = {
            "requests": 0,
            "reads": 0,
            "writes": 0,
            "throttled": 0,
            "failed": 0,
            "lost": 0,
            "by_status": {},
        }

    def current(self) -> dict[str, Any]:
        """The fault settings now in force."""
        s = self.settings
        return {
            "latency_ms": s.latency_ms,
            "jitter_ms": s.jitter_ms,
            "fail_rate": s.fail_rate,
            "lost_response_rate": s.lost_response_rate,
            "lost_response_mode": s.lost_response_mode,
            "rate_limit": s.rate_limit,
        }

    def update(self, changes: dict[str, Any]) -> dict[str, Any]:
        """Change settings at run time (ValueError if one is invalid; then none change)."""
        for name, value in check_fault_settings(changes).items():
            setattr(self.settings, name, value)
        if "rate_limit" in changes:
            self._fill_bucket()
        return self.current()

    def _fill_bucket(self) -> None:
        self._tokens = max(1.0, self.settings.rate_limit or 0.0)
        self._refilled = time.monotonic()

    def requests(self, since: int = 0) -> list[dict[str, Any]]:
        """The request log after sequence number ``since``."""
        keys = ("seq", "method", "path", "query", "status", "fault")
        return [dict(zip(keys, entry, strict=True)) for entry in self.log if entry[0] > since]

    def retry_after(self) -> int | None:
        """None if a request may pass the rate limit now, else the seconds to wait."""
        rate = self.settings.rate_limit
        if not rate:
            return None
        now = time.monotonic()
        capacity = max(1.0, rate)
        self._tokens = min(capacity, self._tokens + (now - self._refilled) * rate)
        self._refilled = now
        if self._tokens >= 1:
            self._tokens -= 1
            return None
        return max(1, math.ceil((1 - self._tokens) / rate))


class FaultMiddleware:
    """The ASGI middleware that applies :class:`Faults` to every request but the control API."""

    def __init__(self, app: ASGIApp, faults: Faults) -> None:
        self.app = app
        self.faults = faults

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(CONTROL_PREFIX):
            await self.app(scope, receive, send)
            return
        faults, settings = self.faults, self.faults.settings
        faults.seq += 1
        method = scope["method"]
        entry = [faults.seq, method, scope["path"], scope["query_string"].decode("latin-1")]
        entry += [None, None]
        faults.log.append(entry)
        counters = faults.counters
        counters["requests"] += 1
        write = method in WRITE_METHODS
        counters["writes" if write else "reads"] += 1

        def finish(status: int, fault: str | None = None) -> None:
            entry[4], entry[5] = status, fault
            by_status = counters["by_status"]
            by_status[str(status)] = by_status.get(str(status), 0) + 1

        if settings.latency_ms or settings.jitter_ms:
            jitter = faults.rng.uniform(0, settings.jitter_ms) if settings.jitter_ms else 0.0
            await asyncio.sleep((settings.latency_ms + jitter) / 1000)
        wait = faults.retry_after()
        if wait is not None:
            counters["throttled"] += 1
            finish(429, "throttled")
            body = {
                "error": "ConnectWiseAPI",
                "message": f"Too many requests. Please try again in {wait} seconds.",
            }
            await _send_json(send, 429, body, [(b"retry-after", str(wait).encode())])
            return
        if settings.fail_rate and faults.rng.random() < settings.fail_rate:
            status = faults.rng.choice((500, 503))
            counters["failed"] += 1
            finish(status, "failed")
            code = "InternalServerError" if status == 500 else "ServiceUnavailable"
            message = "The server failed before doing anything (sandbox fault injection)."
            await _send_json(send, status, {"code": code, "message": message, "errors": []})
            return
        lose = write and settings.lost_response_rate > 0
        if not (lose and faults.rng.random() < settings.lost_response_rate):

            async def send_through(message: Message) -> None:
                if message["type"] == "http.response.start":
                    finish(message["status"])
                await send(message)

            await self.app(scope, receive, send_through)
            return

        held: list[Message] = []

        async def hold(message: Message) -> None:
            held.append(message)

        await self.app(scope, receive, hold)
        status = held[0]["status"] if held else 500
        if status >= 400:  # nothing was committed, so there is nothing to lose
            finish(status)
            for message in held:
                await send(message)
            return
        mode = settings.lost_response_mode
        if mode == "mix":
            mode = faults.rng.choice(("500", "drop"))
        counters["lost"] += 1
        if mode == "500":
            finish(500, "lost-500")
            message = "The write was done, but the answer was lost (sandbox fault injection)."
            body = {"code": "InternalServerError", "message": message, "errors": []}
            await _send_json(send, 500, body)
            return
        finish(status, "lost-drop")
        content = b"".join(m.get("body", b"") for m in held[1:])
        await send(held[0])
        await send(
            {"type": "http.response.body", "body": content[: len(content) // 2], "more_body": True}
        )
        raise ResponseDropped("the sandbox dropped the connection after the write was committed")


async def _send_json(
    send: Send, status: int, body: dict[str, Any], headers: list[tuple[bytes, bytes]] | None = None
) -> None:
    content = json.dumps(body).encode()
    head = [*_JSON, (b"content-length", str(len(content)).encode()), *(headers or [])]
    await send({"type": "http.response.start", "status": status, "headers": head})
    await send({"type": "http.response.body", "body": content})


class QuietDrops(logging.Filter):
    """Turns uvicorn's traceback for a deliberately dropped response into one line."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite the record if it is about a :class:`ResponseDropped`."""
        if record.exc_info and isinstance(record.exc_info[1], ResponseDropped):
            record.msg = "Sandbox fault injection dropped a response after committing the write."
            record.args = ()
            record.exc_info = None
            record.exc_text = None
        return True


def quiet_dropped_responses() -> None:
    """Install :class:`QuietDrops` on uvicorn's error logger (once)."""
    logger = logging.getLogger("uvicorn.error")
    if not any(isinstance(f, QuietDrops) for f in logger.filters):
        logger.addFilter(QuietDrops())
