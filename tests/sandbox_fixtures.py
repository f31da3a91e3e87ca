"""Sandbox fixtures for every test (conftest.py imports them).

- ``sandbox_template`` (session): a seeded database, made once; each test gets a copy.
- ``sandbox_db``: that copy at ``$CWBULK_SANDBOX_DB`` (so ``cwbulk --sandbox`` sees it).
- ``sandbox_app``: the in-process app on ``sandbox_db``; ``sandbox_transport``: an
  ``httpx.ASGITransport`` for it; ``sandbox_client``: an authenticated sync
  ``httpx.Client`` whose base URL is the API root and which checks every response against
  the OpenAPI spec.
- ``served_sandbox``: a factory, ``served_sandbox(**config_overrides) -> ServedSandbox``,
  that serves a fresh copy over HTTP on a free loopback port; stopped at teardown.
- ``openapi_validator`` (session): :class:`OpenApiValidator` over the trimmed spec.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import re
import shutil
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from jsonschema.exceptions import best_match
from openapi_schema_validator import OAS30Validator, oas30_format_checker
from starlette.applications import Starlette

from cwbulk.sandbox import API_PREFIX, BackgroundServer, SandboxConfig, create_app, reset

SPEC_PATH = Path(__file__).resolve().parents[2] / "shared" / "reference" / "cw-time-openapi.json"
IN_PROCESS_SITE = "http://sandbox.invalid"

_ERROR_BODY = {
    "allOf": [{"$ref": "#/components/schemas/ErrorResponseMessage"}],
    "required": ["code", "message"],
}
_THROTTLE_BODY = {
    "type": "object",
    "required": ["error", "message"],
    "properties": {
        "error": {"type": "string", "enum": ["ConnectWiseAPI"]},
        "message": {"type": "string", "pattern": "^Too many requests. Please try again in"},
    },
    "additionalProperties": False,
}
# Endpoints the spec does not describe, with the shapes the notes give for them.
_EXTRA_SCHEMAS = {
    "/login/companyinfo/{companyId}": {
        "type": "object",
        "required": ["CompanyName", "Codebase", "VersionCode", "VersionNumber", "CompanyID"],
        "properties": {
            key: {"type": "string"}
            for key in ("CompanyName", "Codebase", "VersionCode", "VersionNumber", "CompanyID")
        }
        | {"IsCloud": {"type": "string", "enum": ["True", "False"]}},
    },
    "/system/info": {
        "type": "object",
        "required": ["version", "isCloud"],
        "properties": {"version": {"type": "string"}, "isCloud": {"type": "boolean"}},
    },
}


def auth_headers(
    company: str = "cwbulk_sandbox",
    public_key: str = "sandbox-public",
    private_key: str = "sandbox-private",
    client_id: str = "5a1db0c5-0000-4000-8000-00000000c0de",
) -> dict[str, str]:
    """The Authorization and clientId headers ConnectWise expects."""
    token = base64.b64encode(f"{company}+{public_key}:{private_key}".encode()).decode()
    return {"Authorization": f"Basic {token}", "clientId": client_id}


class OpenApiValidator:
    """Checks response bodies against cw-time-openapi.json (openapi-schema-validator).

    2xx bodies are checked against the operation's response schema, 429 against
    ConnectWise's throttle body, other errors against ErrorResponseMessage (with ``code``
    and ``message`` required). ``/login/companyinfo`` and ``/system/info`` are not in the
    spec; they are checked against the shapes in cw-api-notes.md.
    """

    def __init__(self, spec_path: Path = SPEC_PATH) -> None:
        self.spec = json.loads(spec_path.read_text(encoding="utf-8"))
        self._routes = [
            (re.compile("^" + re.sub(r"\{[^/]+\}", "[^/]+", template) + "$", re.I), template)
            for template in sorted(self.spec["paths"], key=lambda t: t.count("{"))
        ]
        self._validators: dict[str, OAS30Validator] = {}

    def template(self, path: str) -> str | None:
        """The spec's path template for an API path (without the /v4_6_release prefix)."""
        return next((t for pattern, t in self._routes if pattern.match(path)), None)

    def schema(self, method: str, path: str, status: int) -> dict[str, Any] | None:
        """The schema a response must match, or None if the body must be empty."""
        if status == 429:
            return _THROTTLE_BODY
        if status >= 400:
            return _ERROR_BODY
        if path.lower().startswith("/login/companyinfo/"):
            return _EXTRA_SCHEMAS["/login/companyinfo/{companyId}"]
        if not path.lower().startswith(API_PREFIX.lower()):
            raise AssertionError(f"{path} is not an API path")
        api_path = path[len(API_PREFIX) :]
        if api_path.lower() in _EXTRA_SCHEMAS:
            return _EXTRA_SCHEMAS[api_path.lower()]
        template = self.template(api_path)
        if template is None:
            raise AssertionError(f"{method} {path}: the spec has no such path")
        operation = self.spec["paths"][template].get(method.lower())
        if operation is None:
            raise AssertionError(f"{method} {path}: the spec has no {method} on {template}")
        response = operation["responses"].get(str(status))
        if response is None:
            documented = ", ".join(operation["responses"])
            raise AssertionError(
                f"{method} {template} answered {status}; the spec has {documented}"
            )
        content = response.get("content")
        return next(iter(content.values()))["schema"] if content else None

    def validate(
        self, method: str, path: str, status: int, body: object, *, partial: bool = False
    ) -> None:
        """Raise AssertionError (with the first problem) unless ``body`` fits the spec.

        ``partial``: the request asked for some ``fields`` only, so no field is required.
        """
        schema = self.schema(method, path, status)
        if schema is None:
            assert body is None, f"{method} {path} {status} should have no body, got {body!r}"
            return
        key = json.dumps([schema, partial], sort_keys=True)
        if key not in self._validators:
            components = self.spec["components"]
            if partial and status < 400:
                components = _without_required(components)
            full = {**schema, "components": components}
            self._validators[key] = OAS30Validator(full, format_checker=oas30_format_checker)
        error = best_match(self._validators[key].iter_errors(body))
        if error is not None:
            where = "/".join(str(p) for p in error.absolute_path) or "the body"
            raise AssertionError(f"{method} {path} {status}: {where}: {error.message}")

    def check_response(self, response: httpx.Response) -> None:
        """An httpx response event hook: validate every response the client receives."""
        path = response.request.url.path
        if path.startswith("/__sandbox/"):
            return
        response.read()
        body = response.json() if response.content else None
        partial = any(k.lower() == "fields" for k in response.request.url.params)
        method = response.request.method
        self.validate(method, path, response.status_code, body, partial=partial)


def _without_required(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: _without_required(v) for k, v in node.items() if k != "required"}
    if isinstance(node, list):
        return [_without_required(v) for v in node]
    return node


class SyncASGITransport(httpx.BaseTransport):
    """Lets a sync ``httpx.Client`` talk to an ASGI app: the app runs on a private loop thread.

    (Starlette's TestClient would do, but warns about httpx, and warnings fail tests here.)
    """

    def __init__(self, app: Starlette) -> None:
        self._transport = httpx.ASGITransport(app=app)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        """Run the request through the app and return its full response."""
        content = request.read()
        copy = httpx.Request(request.method, request.url, headers=request.headers, content=content)

        async def call() -> tuple[int, httpx.Headers, bytes]:
            response = await self._transport.handle_async_request(copy)
            return response.status_code, response.headers, await response.aread()

        status, headers, body = asyncio.run_coroutine_threadsafe(call(), self._loop).result()
        return httpx.Response(status, headers=headers, content=body, request=request)

    def close(self) -> None:
        """Stop the loop thread."""
        if not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join()
            self._loop.close()


def in_process_client(app: Starlette, validator: OpenApiValidator | None = None) -> httpx.Client:
    """An authenticated sync client for an in-process app, based at the API root."""
    hooks = {"response": [validator.check_response]} if validator else {}
    return httpx.Client(
        transport=SyncASGITransport(app),
        base_url=IN_PROCESS_SITE + API_PREFIX,
        headers=auth_headers(),
        event_hooks=hooks,
    )


@dataclass
class ServedSandbox:
    """A sandbox served over HTTP on 127.0.0.1 (from the ``served_sandbox`` fixture)."""

    server: BackgroundServer
    config: SandboxConfig
    validator: OpenApiValidator | None = None

    @property
    def url(self) -> str:
        """The site root, e.g. ``http://127.0.0.1:51234``."""
        return self.server.url

    @property
    def api(self) -> str:
        """The API base URL: ``<url>/v4_6_release/apis/3.0``."""
        return self.url + API_PREFIX

    @property
    def company(self) -> str:
        """The company id in the credentials."""
        return self.config.company

    @property
    def public_key(self) -> str:
        """The API public key."""
        return self.config.public_key

    @property
    def private_key(self) -> str:
        """The API private key."""
        return self.config.private_key

    @property
    def client_id(self) -> str:
        """The clientId the sandbox accepts."""
        return self.config.client_id

    @property
    def db_path(self) -> Path:
        """The database this sandbox serves."""
        return Path(self.config.db_path)

    def environment(self) -> dict[str, str]:
        """The CWBULK_* variables that point cwbulk at this sandbox."""
        return {
            "CWBULK_SITE": self.url,
            "CWBULK_COMPANY": self.company,
            "CWBULK_PUBLIC_KEY": self.public_key,
            "CWBULK_PRIVATE_KEY": self.private_key,
            "CWBULK_CLIENT_ID": self.client_id,
        }

    def auth_headers(self) -> dict[str, str]:
        """Authorization and clientId headers for this sandbox's credentials."""
        return auth_headers(self.company, self.public_key, self.private_key, self.client_id)

    def client(
        self,
        *,
        headers: dict[str, str] | None = None,
        event_hooks: dict[str, list[Callable[..., Any]]] | None = None,
        **kwargs: Any,
    ) -> httpx.Client:
        """An authenticated sync client at the API root that checks responses against the spec.

        More headers, event hooks and httpx options may be given.
        """
        headers = {**self.auth_headers(), **(headers or {})}
        hooks = {key: list(value) for key, value in (event_hooks or {}).items()}
        if self.validator is not None and self.validator.check_response not in hooks.get(
            "response", []
        ):
            hooks.setdefault("response", []).append(self.validator.check_response)
        return httpx.Client(base_url=self.api, headers=headers, event_hooks=hooks, **kwargs)

    def _control(self, method: str, name: str, **kwargs: Any) -> httpx.Response:
        with httpx.Client(base_url=self.url) as control:
            response = control.request(method, f"/__sandbox/{name}", **kwargs)
        response.raise_for_status()
        return response

    def set_faults(self, **settings: Any) -> dict[str, Any]:
        """Change fault settings at run time; returns the settings now in force."""
        return self._control("PATCH", "config", json=settings).json()

    def requests(self) -> list[dict[str, Any]]:
        """The request log: seq, method, path, query, status, fault."""
        return self._control("GET", "requests").json()

    def clear_requests(self) -> None:
        """Empty the request log."""
        self._control("DELETE", "requests")

    def counters(self) -> dict[str, Any]:
        """Request counters: requests, reads, writes, throttled, failed, lost, by_status."""
        return self._control("GET", "counters").json()


@pytest.fixture(scope="session")
def openapi_validator() -> OpenApiValidator:
    """Validates bodies against the trimmed ConnectWise spec."""
    return OpenApiValidator()


@pytest.fixture(scope="session")
def sandbox_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A seeded sandbox database, made once per session; copy it, don't write to it."""
    path = tmp_path_factory.mktemp("sandbox-template") / "template.sqlite"
    reset(path)
    return path


def copy_database(template: Path, destination: Path) -> Path:
    """A fresh copy of a (checkpointed) sandbox database."""
    destination.parent.mkdir(parents=True, exist_ok=True)
    for suffix in ("-wal", "-shm"):
        Path(f"{destination}{suffix}").unlink(missing_ok=True)
    shutil.copyfile(template, destination)
    return destination


@pytest.fixture
def sandbox_db(sandbox_template: Path, isolated_user_dirs: Path) -> Path:
    """A fresh seeded database at $CWBULK_SANDBOX_DB, where ``cwbulk --sandbox`` looks."""
    return copy_database(sandbox_template, Path(os.environ["CWBULK_SANDBOX_DB"]))


@pytest.fixture
def sandbox_app(sandbox_db: Path) -> Iterator[Starlette]:
    """The sandbox app, in-process, on a fresh seeded database."""
    app = create_app(SandboxConfig(db_path=sandbox_db))
    yield app
    app.state.store.close()


@pytest.fixture
def sandbox_transport(sandbox_app: Starlette) -> httpx.ASGITransport:
    """An ``httpx.ASGITransport`` for the in-process app (for async clients)."""
    return httpx.ASGITransport(app=sandbox_app)


@pytest.fixture
def sandbox_client(
    sandbox_app: Starlette, openapi_validator: OpenApiValidator
) -> Iterator[httpx.Client]:
    """An authenticated client for the in-process app; every response is checked by the spec."""
    with in_process_client(sandbox_app, openapi_validator) as client:
        yield client


@pytest.fixture
def served_sandbox(
    sandbox_template: Path, tmp_path: Path, openapi_validator: OpenApiValidator
) -> Iterator[Callable[..., ServedSandbox]]:
    """``served_sandbox(**config_overrides)``: serve a fresh copy on a free loopback port.

    Its ``client()`` checks every response against the spec.
    """
    started: list[BackgroundServer] = []

    def start(**overrides: Any) -> ServedSandbox:
        db_path = overrides.pop("db_path", None)
        if db_path is None:
            db_path = copy_database(sandbox_template, tmp_path / f"served-{len(started)}.sqlite")
        config = SandboxConfig(db_path=db_path, **overrides)
        server = BackgroundServer(config).start()
        started.append(server)
        return ServedSandbox(server, config, openapi_validator)

    yield start
    for server in started:
        server.stop()
