"""From the global options (``--sandbox``, ``--profile``, env vars) to a ready ``CwClient``.

``--sandbox`` talks to the bundled simulator inside this process (httpx's ASGI transport,
state in the SQLite file ``cwbulk.sandbox.default_db_path()``); otherwise the connection
comes from ``cwbulk.config.select_profile``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

from cwbulk import config
from cwbulk.client import AUTO_RATE, CwClient
from cwbulk.config import Profile

#: The base URL of the in-process sandbox; ``.invalid`` can never resolve to a real host.
SANDBOX_URL = "http://sandbox.invalid"


@dataclass(frozen=True)
class Connection:
    """A chosen connection: its profile, and whether it is the in-process sandbox."""

    profile: Profile
    sandbox: bool = False

    def client(self, **options: Any) -> CwClient:
        """A new ``CwClient`` for this connection (``options`` go to ``CwClient``)."""
        p = self.profile
        if self.sandbox:
            from cwbulk.sandbox import SandboxConfig, create_app, default_db_path

            app = create_app(SandboxConfig(db_path=default_db_path()))
            options.setdefault("transport", _SandboxTransport(app=app))
            options.setdefault("allow_http", True)
            if options.get("max_rate") == AUTO_RATE:
                # The in-process sandbox is not ConnectWise: no quota to stay under.
                options["max_rate"] = None
        return CwClient(
            site=p.site,
            company=p.company,
            public_key=p.public_key,
            private_key=p.private_key,
            client_id=p.client_id,
            **options,
        )


class _SandboxTransport(httpx.ASGITransport):
    """The in-process sandbox; closing the client closes its database too."""

    async def aclose(self) -> None:
        self.app.state.store.close()  # type: ignore[attr-defined]


def sandbox_profile() -> Profile:
    """The fixed credentials of the bundled sandbox, as a profile."""
    from cwbulk import sandbox

    return Profile(
        name="sandbox",
        site=SANDBOX_URL,
        company=sandbox.DEFAULT_COMPANY,
        public_key=sandbox.DEFAULT_PUBLIC_KEY,
        private_key=sandbox.DEFAULT_PRIVATE_KEY,
        client_id=sandbox.DEFAULT_CLIENT_ID,
    )


def connection(
    *,
    profile: str | None = None,
    sandbox: bool = False,
    warn: Callable[[str], None] | None = None,
) -> Connection:
    """The connection the global options ask for; ``warn`` hears about a loose profiles file."""
    if sandbox:
        return Connection(profile=sandbox_profile(), sandbox=True)
    if warn is not None and (message := config.permission_warning()):
        warn(message)
    return Connection(profile=config.select_profile(profile))


def open_client(
    *,
    profile: str | None = None,
    sandbox: bool = False,
    warn: Callable[[str], None] | None = None,
    **options: Any,
) -> CwClient:
    """``connection(...).client(**options)``: a client for the global options."""
    return connection(profile=profile, sandbox=sandbox, warn=warn).client(**options)
