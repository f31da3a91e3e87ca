"""The sandbox's HTTP face: a Starlette app that answers like ConnectWise PSA's REST API.

Routes live under ``/v4_6_release/apis/3.0/`` (paths match without regard to case, as on
ConnectWise), plus ``/login/companyinfo/{companyId}`` (no auth) and the control API under
``/__sandbox/`` (no auth; see faults.py). The records and their rules are in store.py.

Where ConnectWise's behaviour is not documented ([NOT FOUND] in cw-api-notes.md), the
sandbox assumes:

- Bad query parameters (``conditions``, ``orderBy``, ``fields``, ``page``, ``pageSize``,
  ``pageId``) → 400 ``{"code": "InvalidRequest", ...}`` with ``errors[0].field`` naming
  the parameter. ``childConditions`` and ``customFieldConditions`` are not supported: a
  non-empty one is a 400 rather than being ignored. ``page`` and ``pageSize`` below 1 are
  400; a ``pageSize`` over 1,000 is capped silently, as documented.
- An unknown field in ``fields`` is a 400, like one in ``conditions``.
- Forward-only pagination: ``orderBy`` is a 400; ``next`` is left out of the Link header
  once a page has fewer rows than ``pageSize`` (no Link header at all then).
- Bodies: invalid JSON, a non-object body, or a value of the wrong type → 400
  ``InvalidObject`` with one ``errors`` entry per field (``InvalidField``,
  ``MissingRequiredField``, ``NotFound``, ``ObjectExists``); a datetime in any other form
  than ``YYYY-MM-DDTHH:MM:SSZ`` → 400 ``UnsupportedFormat``; a body over
  ``max_body_bytes`` → 413 ``RequestTooLarge``. Unknown fields and read-only fields
  (status, timeSheet, _info …) in a POST or PUT body are ignored; in a PATCH they are a 400.
- PATCH paths are top-level field names, case-sensitive; a path inside an object
  (``company/id``) is a 400 rather than ConnectWise's reported false 200.
- Time entries: ``member`` is required (ConnectWise would default to the API member);
  ``timeEnd`` or ``actualHours`` is required; ``timeEnd`` must be after ``timeStart`` and
  an entry may span at most 24 hours; when both ``timeEnd`` and ``actualHours`` are sent,
  ``actualHours`` is recomputed from the times. A PATCH of ``actualHours`` alone moves
  ``timeEnd``. Overlapping entries are allowed. The week (and time sheet) of an entry is
  that of ``timeStart``'s UTC date. ``chargeToType: "Company"`` stores the company id in
  ``chargeToId``. Activities are not modelled: charging one is a 400 ``NotFound``.
- Time entry business rules → 400 ``TimeEntryApi``: a ticket whose status forbids time
  (checked when an entry is created or moved to another ticket); changing or deleting an
  entry that is Billed, BilledAgreement or WrittenOff; changing, deleting or adding time
  on a submitted or approved entry or time sheet. An inactive member → 400 InvalidObject.
- Time sheets: submit (Open, Rejected, ErrorsCorrected, RejectBySecondTier →
  PendingApproval), approve (→ ApprovedByTierOne, or ApprovedByTierTwo from tier one or
  with approvalType Tier2Update), reject (→ Rejected, or RejectBySecondTier once approved),
  reverse (submitted or approved → Open). Each entry on the sheet follows, except billed
  ones. Other transitions → 400 InvalidObject with ``errors[0].code`` ``InvalidStatus``.
  Editing a Rejected entry makes it ErrorsCorrected.
- ``_info.lastUpdated`` moves forward by at least a second on every change, so two quick
  changes never share a stamp. ``updatedBy``/``enteredBy`` is ``ApiMember``.
- 401: a missing or wrong Authorization header, a missing clientId, or a clientId other
  than the configured one. ``/login/companyinfo/{companyId}`` answers 404 for any company
  but the sandbox's.
- Responses are ``application/json; charset=utf-8``; POST answers 201 with a ``Location``
  header.
- Board statuses: ``GET /service/boards/{id}/statuses`` lists one board's statuses
  (``id``, ``name``, ``board``, ``sortOrder``, ``closedStatus``, ``timeEntryNotAllowed``),
  shaped after the notes since the trimmed spec has no boards paths; 404 for an unknown
  board. Only ``page``/``pageSize`` are understood (``conditions``, ``fields``,
  ``orderBy``, ``pageId`` … → 400); the ``/count`` and single-status routes are not
  modelled. Project tickets sit on a board too ("Professional Services"), served by the
  same route: ConnectWise keeps project boards among the service boards
  (``Board.projectFlag``), and the seed's project statuses' ``noTimeFlag`` is that
  board's statuses' ``timeEntryNotAllowed``.
- Not modelled (404 or 405): ``/time/entries/defaults``, ``cancelReject``, ``detach``,
  audits, accruals, DELETE of time sheets, and PUT/PATCH/DELETE of the reference records
  (members, companies, work types and roles, charge codes, tickets), which can only be
  listed, read and created.

Control API: ``GET|PATCH /__sandbox/config`` (fault settings), ``GET /__sandbox/requests``
(the request log; ``?since=SEQ`` for the entries after one) and ``DELETE`` to clear it,
``GET /__sandbox/counters`` and ``DELETE`` to zero them.
"""

from __future__ import annotations

import base64
import binascii
import functools
import json
import math
import os
import socket
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import platformdirs
import uvicorn
from starlette.applications import Starlette
from starlette.convertors import Convertor, register_url_convertor
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from cwbulk.errors import ConfigError
from cwbulk.sandbox.conditions import ConditionError, parse_conditions, parse_order_by, to_sql
from cwbulk.sandbox.faults import (
    ASGIApp,
    FaultMiddleware,
    Faults,
    Receive,
    Scope,
    Send,
    check_fault_settings,
    quiet_dropped_responses,
)
from cwbulk.sandbox.seed import seed
from cwbulk.sandbox.store import (
    API_MEMBER,
    HREF_BASE,
    RESOURCES,
    SCHEMA_VERSION,
    TICKETS,
    TIME_ENTRY,
    TIME_SHEET,
    ApiProblem,
    Resource,
    Store,
    UnknownField,
    canonical_path,
    column_sql,
    dumps,
    field_error,
    not_found,
)

API_PREFIX = "/v4_6_release/apis/3.0"
CODEBASE = "v4_6_release/"
VERSION = "2026.4"
JSON_TYPE = "application/json; charset=utf-8"
DEFAULT_COMPANY = "cwbulk_sandbox"
DEFAULT_PUBLIC_KEY = "sandbox-public"
DEFAULT_PRIVATE_KEY = "sandbox-private"
DEFAULT_CLIENT_ID = "5a1db0c5-0000-4000-8000-00000000c0de"
DEFAULT_PAGE_SIZE = 25
MAX_PAGE_SIZE = 1000
# Past the body limit the rest is still read (and dropped) so that the client gets its 413
# instead of a reset connection, but only up to this much.
_DRAIN_LIMIT = 64 * 1024 * 1024


class _RecordId(Convertor[int]):
    """A record id in a path: digits, at most ten of them (so that SQLite can hold it)."""

    regex = "[0-9]{1,10}"

    def convert(self, value: str) -> int:
        return int(value)

    def to_string(self, value: int) -> str:
        return str(value)


register_url_convertor("cwid", _RecordId())


@dataclass
class SandboxConfig:
    """Where the sandbox keeps its data, the credentials it accepts and the faults it injects.

    ``lost_response_mode`` is ``"500"``, ``"drop"`` or ``"mix"`` (either, at random);
    ``rate_limit`` is requests per second (None: no limit); ``today`` is the date the seed
    data is laid out before when the database is new (default: the real today).
    """

    db_path: Path | str
    company: str = DEFAULT_COMPANY
    public_key: str = DEFAULT_PUBLIC_KEY
    private_key: str = DEFAULT_PRIVATE_KEY
    client_id: str = DEFAULT_CLIENT_ID
    latency_ms: float = 0
    jitter_ms: float = 0
    fail_rate: float = 0.0
    lost_response_rate: float = 0.0
    lost_response_mode: str = "mix"
    rate_limit: float | None = None
    max_body_bytes: int = 1_000_000
    fault_seed: int | None = None
    today: date | None = None

    def __post_init__(self) -> None:
        self.db_path = Path(self.db_path)
        names = ("latency_ms", "jitter_ms", "fail_rate", "lost_response_rate")
        values = {name: getattr(self, name) for name in (*names, "lost_response_mode")}
        values["rate_limit"] = self.rate_limit
        for name, value in check_fault_settings(values).items():
            setattr(self, name, value)


def default_db_path() -> Path:
    """``CWBULK_SANDBOX_DB`` if set, else ``sandbox.sqlite`` in cwbulk's user data folder."""
    configured = os.environ.get("CWBULK_SANDBOX_DB")
    if configured:
        return Path(configured).expanduser()
    return Path(platformdirs.user_data_dir("cwbulk", appauthor=False)) / "sandbox.sqlite"


def reset(db_path: Path | str, *, today: date | None = None) -> dict[str, int]:
    """Empty the sandbox database and seed it again; returns the rows per table.

    Deterministic for a given ``today`` (default: the real today).
    """
    store = Store(db_path)
    try:
        with store.write() as db:
            store.rebuild(db)
            counts = seed(db, today or date.today())
        store.checkpoint()
    finally:
        store.close()
    return counts


def open_store(config: SandboxConfig) -> Store:
    """The store at ``config.db_path``, seeded first if the file is new or empty."""
    store = Store(config.db_path)
    version = store.version
    if version == 0:
        with store.write() as db:
            if db.execute("PRAGMA user_version").fetchone()[0] == 0:
                store.rebuild(db)
                seed(db, config.today or date.today())
    elif version != SCHEMA_VERSION:
        store.close()
        raise ConfigError(
            f"The sandbox database {config.db_path} was made by another version of cwbulk.",
            hint="Start it afresh with `cwbulk sandbox reset`.",
        )
    return store


def create_app(config: SandboxConfig) -> Starlette:
    """The sandbox as an ASGI app (seeding its database first if the file is new or empty).

    ``app.state`` holds ``config``, ``store`` and ``faults``.
    """
    store = open_store(config)
    faults = Faults(config)
    api = _Api(config, store, faults)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        store.close()

    app = Starlette(
        routes=api.routes(),
        middleware=[Middleware(FaultMiddleware, faults=faults), Middleware(_LowerCasePaths)],
        exception_handlers={404: _route_error, 405: _route_error},
        lifespan=lifespan,
    )
    app.state.config = config
    app.state.store = store
    app.state.faults = faults
    return app


class _LowerCasePaths:
    """ConnectWise's paths are case-insensitive: ``/time/workTypes`` = ``/time/worktypes``."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not scope["path"].islower():
            scope = {**scope, "path": scope["path"].lower()}
        await self.app(scope, receive, send)


async def _route_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 405:
        problem = ApiProblem(
            405, "MethodNotAllowed", f"{request.method} is not allowed on {request.url.path}."
        )
    else:
        problem = ApiProblem(404, "NotFound", f"There is no API resource at {request.url.path}.")
    return _error_response(problem, exc.headers)


def _error_response(problem: ApiProblem, headers: dict[str, str] | None = None) -> Response:
    return Response(
        dumps(problem.body()),
        problem.status,
        {**problem.headers, **(headers or {})},
        media_type=JSON_TYPE,
    )


def _bad_parameter(resource: Resource | str, name: str, message: str) -> ApiProblem:
    key = resource if isinstance(resource, str) else resource.key
    error = field_error("InvalidField", message, key, name)
    return ApiProblem(400, "InvalidRequest", message, [error])


@functools.lru_cache(maxsize=512)
def _conditions_sql(resource_key: str, text: str) -> tuple[str, tuple[object, ...]]:
    sql, params = to_sql(parse_conditions(text), lambda path: column_sql(resource_key, path))
    return sql, tuple(params)


@functools.lru_cache(maxsize=256)
def _order_sql(resource_key: str, text: str) -> str:
    order = [
        f"{column_sql(resource_key, path)} {'DESC' if descending else 'ASC'}"
        for path, descending in parse_order_by(text)
    ]
    return ", ".join([*order, "id"])


@functools.lru_cache(maxsize=256)
def _field_paths(resource_key: str, text: str) -> tuple[tuple[str, ...], ...]:
    resource = RESOURCES[resource_key]
    return tuple(canonical_path(resource, p.strip()) for p in text.split(",") if p.strip())


def _project(body: dict[str, Any], paths: tuple[tuple[str, ...], ...]) -> dict[str, Any]:
    """Partial response: only the fields named by ``paths``."""
    out: dict[str, Any] = {}
    for path in paths:
        source: Any = body
        for name in path:
            if not isinstance(source, dict) or name not in source:
                break
            source = source[name]
        else:
            target = out
            for name in path[:-1]:
                target = target.setdefault(name, {})
            target[path[-1]] = source
    return out


Handler = Callable[[Request], Awaitable[Response]]
#: Query parameters of lists that the board statuses route does not understand (→ 400).
_STATUS_UNSUPPORTED = (
    "conditions",
    "orderBy",
    "fields",
    "childConditions",
    "customFieldConditions",
    "pageId",
)


class _Api:
    """The route handlers of one app."""

    def __init__(self, config: SandboxConfig, store: Store, faults: Faults) -> None:
        self.config = config
        self.store = store
        self.faults = faults
        self._accepted: set[str] = set()

    def routes(self) -> list[Route]:
        """Every route, API and control."""
        routes = [
            Route("/login/companyinfo/{company}", self.company_info, methods=["GET"]),
            Route(f"{API_PREFIX}/system/info", self._api(self.system_info), methods=["GET"]),
            Route("/__sandbox/config", self.control_config, methods=["GET", "PATCH"]),
            Route("/__sandbox/requests", self.control_requests, methods=["GET", "DELETE"]),
            Route("/__sandbox/counters", self.control_counters, methods=["GET", "DELETE"]),
        ]
        for resource in RESOURCES.values():
            base = f"{API_PREFIX}/{resource.path.lower()}"
            collection = {"GET": self._list(resource)}
            if resource is not TIME_SHEET:
                collection["POST"] = self._create(resource)
            one = {"GET": self._get(resource)}
            if resource is TIME_ENTRY:
                one |= {"PUT": self.replace_entry, "PATCH": self.patch_entry}
                one["DELETE"] = self.delete_entry
            routes += [
                Route(base, self._dispatch(collection), methods=list(collection)),
                Route(f"{base}/count", self._api(self._count(resource)), methods=["GET"]),
                Route(f"{base}/{{id:cwid}}", self._dispatch(one), methods=list(one)),
            ]
        for kind, resource in (("ServiceTicket", "service"), ("ProjectTicket", "project")):
            base = f"{API_PREFIX}/{resource}/tickets/{{parent:cwid}}/timeentries"
            routes += [
                Route(base, self._api(self._list(TIME_ENTRY, parent=kind)), methods=["GET"]),
                Route(f"{base}/count", self._api(self._count(TIME_ENTRY, kind)), methods=["GET"]),
            ]
        entries = f"{API_PREFIX}/time/entries/{{id:cwid}}"
        routes.append(Route(f"{entries}/reject", self._api(self.reject_entry), methods=["POST"]))
        sheet_action = f"{API_PREFIX}/time/sheets/{{id:cwid}}/{{action:str}}"
        routes.append(Route(sheet_action, self._api(self.sheet_action), methods=["POST"]))
        statuses = f"{API_PREFIX}/service/boards/{{id:cwid}}/statuses"
        routes.append(Route(statuses, self._api(self.board_statuses), methods=["GET"]))
        return routes

    def _dispatch(self, handlers: dict[str, Handler]) -> Handler:
        wrapped = {method: self._api(handler) for method, handler in handlers.items()}

        async def dispatch(request: Request) -> Response:
            return await wrapped.get(request.method, wrapped["GET"])(request)

        return dispatch

    def _api(self, handler: Handler) -> Handler:
        """Auth first; an :class:`ApiProblem` becomes ConnectWise's error body."""

        async def endpoint(request: Request) -> Response:
            try:
                self._authenticate(request)
                return await handler(request)
            except ApiProblem as problem:
                return _error_response(problem)

        return endpoint

    # --- plumbing ---------------------------------------------------------------------

    def _authenticate(self, request: Request) -> None:
        headers = request.headers
        authorization = headers.get("authorization", "")
        if authorization not in self._accepted:
            if not self._credentials_match(authorization):
                raise ApiProblem(
                    401,
                    "Unauthorized",
                    "Authorization has been denied for this request: send "
                    "'Authorization: Basic base64(companyId+publicKey:privateKey)' with the "
                    "sandbox's company and API keys.",
                )
            self._accepted.add(authorization)
        client_id = headers.get("clientid", "").strip()
        if not client_id:
            message = "A clientId header is required on every request."
            raise ApiProblem(401, "Unauthorized", message)
        if client_id.lower() != self.config.client_id.lower():
            message = f"The clientId {client_id!r} is not registered with this site."
            raise ApiProblem(401, "Unauthorized", message)

    def _credentials_match(self, authorization: str) -> bool:
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            decoded = base64.b64decode(token.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return False
        user, colon, password = decoded.partition(":")
        company, plus, public = user.partition("+")
        config = self.config
        return (
            bool(colon and plus)
            and company.lower() == config.company.lower()
            and public == config.public_key
            and password == config.private_key
        )

    @staticmethod
    def _base(request: Request) -> str:
        host = request.headers.get("host") or "sandbox.invalid"
        return f"{request.url.scheme}://{host}"

    def _send(
        self,
        request: Request,
        text: str,
        status: int = 200,
        headers: dict[str, str] | None = None,
    ) -> Response:
        text = text.replace(HREF_BASE, self._base(request) + API_PREFIX)
        return Response(text, status, headers, media_type=JSON_TYPE)

    async def _body(self, request: Request, expect: type, what: str) -> Any:
        limit = self.config.max_body_bytes
        declared = request.headers.get("content-length", "")
        too_big = declared.isdigit() and int(declared) > limit
        chunks, size = [], 0
        if not (too_big and int(declared) > _DRAIN_LIMIT):
            async for chunk in request.stream():
                size += len(chunk)
                if size > limit:
                    too_big = True
                if not too_big:
                    chunks.append(chunk)
                elif size > _DRAIN_LIMIT:
                    break
        if too_big:
            size = max(size, int(declared) if declared.isdigit() else 0)
            message = f"The request body is {size:,} bytes; the limit is {limit:,} bytes."
            raise ApiProblem(413, "RequestTooLarge", message)
        raw = b"".join(chunks)
        if not raw.strip():
            raise ApiProblem(400, "InvalidObject", f"The request body is empty: send {what}.")
        try:
            data = json.loads(raw, parse_constant=_reject_constant)
        except (ValueError, RecursionError) as exc:
            message = f"The request body is not valid JSON ({exc}): send {what}."
            raise ApiProblem(400, "InvalidObject", message) from exc
        if not isinstance(data, expect):
            message = f"The request body must be {what}, not {type(data).__name__}."
            raise ApiProblem(400, "InvalidObject", message)
        return data

    async def _optional_body(self, request: Request) -> dict[str, Any] | None:
        if request.headers.get("content-length", "0") == "0" and "chunked" not in (
            request.headers.get("transfer-encoding", "")
        ):
            return None
        return await self._body(request, dict, "a JSON object")

    @staticmethod
    def _params(request: Request) -> dict[str, str]:
        return {key.lower(): value for key, value in request.query_params.multi_items()}

    @staticmethod
    def _int(
        resource: Resource | str, params: dict[str, str], name: str, default: int, low: int
    ) -> int:
        text = params.get(name.lower(), "").strip()
        if not text:
            return default
        try:
            value = int(text)
        except ValueError:
            value = None
        if value is None or value < low:
            message = f"{name} must be a whole number of at least {low}, not {text!r}."
            raise _bad_parameter(resource, name, message)
        return value

    def _where(
        self, resource: Resource, params: dict[str, str], parent: tuple[str, int] | None
    ) -> tuple[str, tuple[object, ...]]:
        clauses, values = [], []
        text = params.get("conditions", "").strip()
        if text:
            try:
                sql, bound = _conditions_sql(resource.key, text)
            except ConditionError as exc:
                message = f"The conditions are invalid: {exc}."
                raise _bad_parameter(resource, "conditions", message) from exc
            clauses.append(f"({sql})")
            values += bound
        for name in ("childConditions", "customFieldConditions"):
            if params.get(name.lower(), "").strip():
                message = f"{name} is not supported by the sandbox; use conditions."
                raise _bad_parameter(resource, name, message)
        if parent is not None:
            clauses.append("charge_to_type = ? AND charge_to_id = ?")
            values += parent
        return " AND ".join(clauses) or "1", tuple(values)

    def _paths(self, resource: Resource, params: dict[str, str]) -> tuple[tuple[str, ...], ...]:
        text = params.get("fields", "")
        try:
            return _field_paths(resource.key, text) if text.strip() else ()
        except UnknownField as exc:
            raise _bad_parameter(resource, "fields", f"The fields are invalid: {exc}.") from exc

    def _parent(self, request: Request, kind: str | None) -> tuple[str, int] | None:
        if kind is None:
            return None
        parent = request.path_params["parent"]
        if self.store.fetch_text(TICKETS[kind], parent) is None:
            raise not_found(TICKETS[kind].key, parent)
        return kind, parent

    # --- generic resource handlers ------------------------------------------------------

    def _list(self, resource: Resource, parent: str | None = None) -> Handler:
        async def handler(request: Request) -> Response:
            params = self._params(request)
            where, values = self._where(resource, params, self._parent(request, parent))
            paths = self._paths(resource, params)
            size = min(self._int(resource, params, "pageSize", DEFAULT_PAGE_SIZE, 1), MAX_PAGE_SIZE)
            headers = {}
            if request.headers.get("pagination-type", "").lower() == "forward-only":
                if params.get("orderby", "").strip():
                    message = "orderBy can't be used with forward-only pagination (it is by id)."
                    raise _bad_parameter(resource, "orderBy", message)
                after = self._int(resource, params, "pageId", 0, 0)
                rows = self.store.rows(
                    resource, f"{where} AND id > ?", (*values, after), "id", size
                )
                if len(rows) == size:
                    link = self._link(request, {"pageSize": size, "pageId": rows[-1][0]}, "page")
                    headers["Link"] = f'<{link}>; rel="next"'
            else:
                page = self._int(resource, params, "page", 1, 1)
                try:
                    order = _order_sql(resource.key, params.get("orderby", "").strip() or "id")
                except ConditionError as exc:
                    message = f"The orderBy is invalid: {exc}."
                    raise _bad_parameter(resource, "orderBy", message) from exc
                total, rows = self.store.page(
                    resource, where, values, order, size, (page - 1) * size
                )
                headers["Link"] = self._links(request, page, size, max(1, math.ceil(total / size)))
            if parent is not None:
                href = f"{self._base(request)}{API_PREFIX}/time/entries/"
                items = [
                    dumps({"id": i, "_info": {"timeEntry_href": f"{href}{i}"}}) for i, _ in rows
                ]
            elif paths:
                items = [dumps(_project(json.loads(body), paths)) for _, body in rows]
            else:
                items = [body for _, body in rows]
            return self._send(request, f"[{','.join(items)}]", headers=headers)

        return handler

    def _link(self, request: Request, changes: dict[str, object], drop: str) -> str:
        skip = {name.lower() for name in (*changes, drop)}
        pairs = [(k, v) for k, v in request.query_params.multi_items() if k.lower() not in skip]
        pairs += [(k, str(v)) for k, v in changes.items()]
        return f"{self._base(request)}{request.url.path}?{urlencode(pairs, quote_via=quote)}"

    def _links(self, request: Request, page: int, size: int, last: int) -> str:
        pages = [("first", 1)]
        if page > 1:
            pages.append(("prev", min(page - 1, last)))
        if page < last:
            pages.append(("next", page + 1))
        pages.append(("last", last))
        return ", ".join(
            f'<{self._link(request, {"pageSize": size, "page": number}, "pageId")}>; rel="{rel}"'
            for rel, number in pages
        )

    def _count(self, resource: Resource, parent: str | None = None) -> Handler:
        async def handler(request: Request) -> Response:
            params = self._params(request)
            where, values = self._where(resource, params, self._parent(request, parent))
            return self._send(request, dumps({"count": self.store.count(resource, where, values)}))

        return handler

    def _get(self, resource: Resource) -> Handler:
        async def handler(request: Request) -> Response:
            record_id = request.path_params["id"]
            paths = self._paths(resource, self._params(request))
            text = self.store.fetch_text(resource, record_id)
            if text is None:
                raise not_found(resource.key, record_id)
            if paths:
                text = dumps(_project(json.loads(text), paths))
            return self._send(request, text)

        return handler

    def _create(self, resource: Resource) -> Handler:
        async def handler(request: Request) -> Response:
            raw = await self._body(request, dict, f"a {resource.schema} JSON object")
            if resource is TIME_ENTRY:
                body = self.store.create_time_entry(raw, actor=API_MEMBER)
            else:
                body = self.store.create_record(resource.key, raw, actor=API_MEMBER)
            location = f"{self._base(request)}{API_PREFIX}/{resource.path}/{body['id']}"
            return self._send(request, dumps(body), 201, {"Location": location})

        return handler

    # --- time entries and sheets --------------------------------------------------------

    async def replace_entry(self, request: Request) -> Response:
        """PUT /time/entries/{id}."""
        raw = await self._body(request, dict, "a TimeEntry JSON object")
        body = self.store.replace_time_entry(request.path_params["id"], raw)
        return self._send(request, dumps(body))

    async def patch_entry(self, request: Request) -> Response:
        """PATCH /time/entries/{id} with a JSON Patch array."""
        ops = await self._body(
            request, list, 'a JSON array of operations such as [{"op": "replace", ...}]'
        )
        body = self.store.patch_time_entry(request.path_params["id"], ops)
        return self._send(request, dumps(body))

    async def delete_entry(self, request: Request) -> Response:
        """DELETE /time/entries/{id}."""
        self.store.delete_time_entry(request.path_params["id"])
        return Response(status_code=204)

    async def reject_entry(self, request: Request) -> Response:
        """POST /time/entries/{id}/reject (body: TimeEntryTierReject, optional)."""
        raw = await self._optional_body(request)
        self.store.reject_time_entry(request.path_params["id"], raw)
        return Response(status_code=204)

    async def sheet_action(self, request: Request) -> Response:
        """POST /time/sheets/{id}/submit|approve|reject|reverse."""
        action = request.path_params["action"]
        if action not in ("submit", "approve", "reject", "reverse"):
            raise ApiProblem(404, "NotFound", f"There is no API resource at {request.url.path}.")
        raw = await self._optional_body(request)
        message = self.store.act_on_sheet(request.path_params["id"], action, raw)
        return self._send(request, dumps({"success": True, "message": message}))

    # --- boards ---------------------------------------------------------------------------

    async def board_statuses(self, request: Request) -> Response:
        """``GET /service/boards/{id}/statuses``: a board's ``BoardStatus`` records.

        The trimmed spec has no boards paths, so these answers are shaped after the notes
        (``id``, ``name``, ``board``, ``sortOrder``, ``closedStatus``,
        ``timeEntryNotAllowed``) and not validated against a schema. Only ``page`` and
        ``pageSize`` are understood; ``conditions``, ``fields`` and the like are a 400.
        """
        params = self._params(request)
        for name in _STATUS_UNSUPPORTED:
            if params.get(name.lower(), "").strip():
                message = f"{name} is not supported on board statuses by the sandbox."
                raise _bad_parameter("boardStatus", name, message)
        board_id = request.path_params["id"]
        statuses = self.store.board_statuses(board_id)
        if statuses is None:
            raise not_found("board", board_id)
        size = min(
            self._int("boardStatus", params, "pageSize", DEFAULT_PAGE_SIZE, 1), MAX_PAGE_SIZE
        )
        page = self._int("boardStatus", params, "page", 1, 1)
        last = max(1, math.ceil(len(statuses) / size))
        headers = {"Link": self._links(request, page, size, last)}
        return self._send(
            request, dumps(statuses[(page - 1) * size : page * size]), headers=headers
        )

    # --- site information -----------------------------------------------------------------

    async def system_info(self, request: Request) -> Response:
        """GET /system/info."""
        info = {"version": f"v{VERSION}", "isCloud": False, "serverTimeZone": "UTC"}
        return self._send(request, dumps(info))

    async def company_info(self, request: Request) -> Response:
        """GET /login/companyinfo/{companyId}: codebase discovery, without auth."""
        company = request.path_params["company"]
        if company.lower() != self.config.company.lower():
            message = f"Company {company!r} was not found on this site."
            return _error_response(ApiProblem(404, "NotFound", message))
        body = {
            "CompanyName": "cwbulk sandbox",
            "Codebase": CODEBASE,
            "VersionCode": f"v{VERSION}",
            "VersionNumber": "v4.6.0",
            "CompanyID": self.config.company,
            "IsCloud": "False",
            "SiteUrl": request.headers.get("host", ""),
        }
        return self._send(request, dumps(body))

    # --- control API ----------------------------------------------------------------------

    async def control_config(self, request: Request) -> Response:
        """GET or PATCH /__sandbox/config: the fault settings."""
        if request.method == "PATCH":
            try:
                changes = await self._body(request, dict, "a JSON object of fault settings")
                self.faults.update(changes)
            except ApiProblem as problem:
                return _error_response(problem)
            except ValueError as exc:
                return _error_response(ApiProblem(400, "InvalidObject", str(exc)))
        return Response(dumps(self.faults.current()), media_type=JSON_TYPE)

    async def control_requests(self, request: Request) -> Response:
        """GET /__sandbox/requests[?since=SEQ] (the request log), DELETE to clear it."""
        if request.method == "DELETE":
            self.faults.log.clear()
            return Response(status_code=204)
        since = request.query_params.get("since", "0")
        entries = self.faults.requests(int(since) if since.isdigit() else 0)
        return Response(dumps(entries), media_type=JSON_TYPE)

    async def control_counters(self, request: Request) -> Response:
        """GET /__sandbox/counters, DELETE to zero them."""
        if request.method == "DELETE":
            self.faults.reset_counters()
            return Response(status_code=204)
        return Response(dumps(self.faults.counters), media_type=JSON_TYPE)


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not a JSON number")


# --- serving ----------------------------------------------------------------------------------


def bind(host: str = "127.0.0.1", port: int = 0) -> socket.socket:
    """A listening TCP socket (port 0: a free one, see ``getsockname()``)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP explicitly: asyncio turns Nagle off only on sockets that say TCP, and
    # with it on, a response sent in two writes waits ~40 ms for the client's delayed ACK.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    sock.listen(128)
    return sock


def build_server(app: Starlette, *, log_level: str = "warning") -> uvicorn.Server:
    """A uvicorn server for the app (run it with ``server.run(sockets=[sock])``)."""
    quiet_dropped_responses()
    config = uvicorn.Config(
        app,
        log_config=None,
        log_level=log_level,
        access_log=False,
        lifespan="on",
        timeout_graceful_shutdown=2,
    )
    return uvicorn.Server(config)


class BackgroundServer:
    """A served sandbox on a loopback port, in a background thread (for tests and benchmarks).

    ``with BackgroundServer(SandboxConfig(db_path=...)) as served: httpx.get(served.url + ...)``
    """

    def __init__(self, config: SandboxConfig, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self.config = config
        self.host = host
        self.port = port
        self.app: Starlette | None = None
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._socket: socket.socket | None = None

    @property
    def url(self) -> str:
        """The site root, e.g. ``http://127.0.0.1:51234``."""
        return f"http://{self.host}:{self.port}"

    def start(self, timeout: float = 10.0) -> BackgroundServer:
        """Start serving; returns once the server accepts connections."""
        self.app = create_app(self.config)
        self._socket = bind(self.host, self.port)
        self.port = self._socket.getsockname()[1]
        self._server = build_server(self.app)
        self._thread = threading.Thread(
            target=self._server.run,
            kwargs={"sockets": [self._socket]},
            name=f"cwbulk-sandbox-{self.port}",
            daemon=True,
        )
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"the sandbox server on port {self.port} did not start")
            time.sleep(0.002)
        return self

    def stop(self) -> None:
        """Stop serving and close the database."""
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
        if self._socket is not None:
            self._socket.close()
        if self.app is not None:
            self.app.state.store.close()

    def __enter__(self) -> BackgroundServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
