"""A private key never leaks: not to stdout, stderr, logs, tracebacks or files written.

Failing commands run with a known private key (wrong keys, a wrong client id, an
unreachable site, flaky servers, --debug tracebacks); the key and the Authorization
token built from it must appear nowhere but in the profiles file that holds it.
"""

from __future__ import annotations

import base64
import logging
import socket
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from cwbulk.cli import cli
from cwbulk.config import Profile, ProfileFile, profiles_path

SECRET = "pk-S3cr3t-0451-do-not-leak"


def closed_port() -> int:
    """A loopback port nobody listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def leaks(text: str, company: str, public_key: str) -> list[str]:
    """The forms of the secret found in ``text``."""
    token = base64.b64encode(f"{company}+{public_key}:{SECRET}".encode()).decode()
    return [form for form in (SECRET, token) if form in text]


def files_written(*roots: Path) -> dict[Path, str]:
    """Every file under ``roots`` but the profiles file, decoded leniently."""
    keep = profiles_path().resolve()
    return {
        path: path.read_bytes().decode("utf-8", "replace")
        for root in roots
        for path in root.rglob("*")
        if path.is_file() and path.resolve() != keep
    }


@pytest.mark.parametrize(
    ("scenario", "debug"),
    [
        pytest.param("wrong-keys", False, id="wrong-keys"),
        pytest.param("wrong-keys", True, id="wrong-keys-debug"),
        pytest.param("wrong-client-id", False, id="wrong-client-id"),
        pytest.param("unreachable", False, id="unreachable"),
        pytest.param("unreachable", True, id="unreachable-debug"),
        pytest.param("flaky-and-wrong", False, id="flaky-and-wrong"),
    ],
)
def test_failing_commands_never_show_the_private_key(
    served_sandbox: Callable[..., Any],
    caplog: pytest.LogCaptureFixture,
    isolated_user_dirs: Path,
    tmp_path: Path,
    scenario: str,
    debug: bool,
) -> None:
    caplog.set_level(logging.DEBUG)
    served = (
        served_sandbox(fail_rate=0.5, fault_seed=1)
        if scenario == "flaky-and-wrong"
        else (served_sandbox())
    )
    site = f"http://127.0.0.1:{closed_port()}" if scenario == "unreachable" else served.url
    client_id = "not-registered" if scenario == "wrong-client-id" else served.client_id
    store = ProfileFile.load()
    leaky = {"site": site, "public_key": served.public_key, "client_id": client_id}
    store.add(Profile(name="leaky", company=served.company, private_key=SECRET, **leaky))
    store.save()
    env = {
        "CWBULK_SITE": site,
        "CWBULK_COMPANY": served.company,
        "CWBULK_PUBLIC_KEY": served.public_key,
        "CWBULK_PRIVATE_KEY": SECRET,
        "CWBULK_CLIENT_ID": client_id,
    }
    flags = ["--debug", "-vv"] if debug else ["-v"]
    commands = [
        ([*flags, "--profile", "leaky", "ping"], {}),
        ([*flags, "--profile", "leaky", "lookup", "members", "-o", str(tmp_path / "m.csv")], {}),
        ([*flags, "--json", "lookup", "tickets", "--search", "Printer"], env),
        ([*flags, "config", "test"], env),
        ([*flags, "config", "test", "leaky"], {}),
    ]
    seen: list[str] = []
    for args, extra_env in commands:
        result = CliRunner().invoke(cli, args, env={k: v for k, v in env.items() if k in extra_env})
        assert result.exit_code != 0, (args, result.output)
        seen += [result.stdout, result.stderr]
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            assert debug, f"{args}: a traceback without --debug: {result.exception!r}"
            seen.append("".join(traceback.format_exception(result.exception)))
            seen.append(repr(result.exception) + repr(getattr(result.exception, "__dict__", {})))
    seen.append(caplog.text)
    seen += [repr(record.__dict__) for record in caplog.records]
    seen += files_written(isolated_user_dirs, tmp_path).values()
    assert "Error:" in "".join(seen) or debug, "the commands should have failed with messages"
    found = {leak for text in seen for leak in leaks(text, served.company, served.public_key)}
    assert not found, f"the private key leaked as {found}"


def test_config_list_and_the_profile_repr_keep_the_key_out(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    store = ProfileFile.load()
    profile = Profile(name="p", site="api-na.myconnectwise.net", company="co",
                      public_key="pub", private_key=SECRET, client_id="cid")  # fmt: skip
    store.add(profile)
    store.save()
    assert SECRET in profiles_path().read_text(encoding="utf-8"), "the file itself holds it"
    outputs = [
        CliRunner().invoke(cli, args) for args in (["config", "list"], ["--json", "config", "list"])
    ]
    assert all(r.exit_code == 0 for r in outputs)
    text = "".join(r.stdout + r.stderr for r in outputs) + caplog.text + repr(profile)
    assert not leaks(text, "co", "pub")
