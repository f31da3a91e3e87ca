"""The bundled ConnectWise PSA simulator: an ASGI app over a SQLite store.

Use it in-process (``httpx.ASGITransport(app=create_app(SandboxConfig(db_path=...)))``,
base URL ``http://sandbox.invalid``) or served (``cwbulk sandbox serve``). The default
credentials are fixed so that scripts and ``CWBULK_*`` variables can point at a served one.
"""

from __future__ import annotations

from cwbulk.sandbox.app import (
    API_PREFIX,
    DEFAULT_CLIENT_ID,
    DEFAULT_COMPANY,
    DEFAULT_PRIVATE_KEY,
    DEFAULT_PUBLIC_KEY,
    BackgroundServer,
    SandboxConfig,
    create_app,
    default_db_path,
    reset,
)
from cwbulk.sandbox.faults import ResponseDropped

__all__ = [
    "API_PREFIX",
    "DEFAULT_CLIENT_ID",
    "DEFAULT_COMPANY",
    "DEFAULT_PRIVATE_KEY",
    "DEFAULT_PUBLIC_KEY",
    "BackgroundServer",
    "ResponseDropped",
    "SandboxConfig",
    "create_app",
    "default_db_path",
    "reset",
]
