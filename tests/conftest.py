"""Fixtures shared by every test: isolation from the user's own files, and the sandbox."""

from __future__ import annotations

import pytest
from sandbox_fixtures import (  # noqa: F401  (fixtures, available to every test)
    openapi_validator,
    sandbox_app,
    sandbox_client,
    sandbox_db,
    sandbox_template,
    sandbox_transport,
    served_sandbox,
)


@pytest.fixture(autouse=True)
def isolated_user_dirs(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch):
    """Point config, data and the in-process sandbox at a fresh folder for every test."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(home / ".local" / "share"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(home / ".cache"))
    monkeypatch.setenv("CWBULK_SANDBOX_DB", str(home / "sandbox.sqlite"))
    for name in (
        "CWBULK_SITE",
        "CWBULK_COMPANY",
        "CWBULK_PUBLIC_KEY",
        "CWBULK_PRIVATE_KEY",
        "CWBULK_CLIENT_ID",
        "CWBULK_PROFILE",
    ):
        monkeypatch.delenv(name, raising=False)
    return home


@pytest.fixture
def sandbox_api(request: pytest.FixtureRequest):
    """A plain authenticated client for the in-process sandbox app, based at the API root.

    Like ``sandbox_client`` without the OpenAPI check of every response (the sandbox's own
    tests do that), for tests that only need the sandbox's data as the truth to compare with.
    """
    from sandbox_fixtures import in_process_client

    with in_process_client(request.getfixturevalue("sandbox_app")) as client:
        yield client
