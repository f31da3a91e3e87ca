"""``cwbulk sandbox serve|reset``."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner
from sandbox_fixtures import auth_headers, copy_database

from cwbulk.cli import cli
from cwbulk.sandbox import DEFAULT_CLIENT_ID, DEFAULT_PRIVATE_KEY, DEFAULT_PUBLIC_KEY


@contextmanager
def serving(*args: str) -> Iterator[subprocess.Popen[str]]:
    """``cwbulk ... sandbox serve ARGS`` in a child process, stopped afterwards."""
    child = subprocess.Popen(
        [sys.executable, "-m", "cwbulk", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        yield child
    finally:
        child.terminate()
        child.communicate(timeout=20)


def test_serve_prints_the_site_and_credentials_then_serves(sandbox_template, tmp_path) -> None:
    db = copy_database(sandbox_template, tmp_path / "served.sqlite")
    with serving("sandbox", "serve", "--port", "0", "--db", str(db)) as child:
        assert child.stdout is not None
        lines = [child.stdout.readline() for _ in range(9)]
        site = lines[0].split()[3]
        exports = dict(line.split()[1].split("=", 1) for line in lines if "export " in line)
        answer = httpx.get(
            f"{site}/v4_6_release/apis/3.0/time/entries/count",
            headers=auth_headers(
                exports["CWBULK_COMPANY"],
                exports["CWBULK_PUBLIC_KEY"],
                exports["CWBULK_PRIVATE_KEY"],
                exports["CWBULK_CLIENT_ID"],
            ),
        )
    assert site.startswith("http://127.0.0.1:")
    assert exports["CWBULK_SITE"] == site
    assert exports["CWBULK_PUBLIC_KEY"] == DEFAULT_PUBLIC_KEY
    assert exports["CWBULK_PRIVATE_KEY"] == DEFAULT_PRIVATE_KEY
    assert exports["CWBULK_CLIENT_ID"] == DEFAULT_CLIENT_ID
    assert answer.status_code == 200 and answer.json()["count"] >= 3000


def test_serve_with_json_and_faults(sandbox_template, tmp_path) -> None:
    db = copy_database(sandbox_template, tmp_path / "served.sqlite")
    args = ["--json", "sandbox", "serve", "--port", "0", "--db", str(db), "--rate-limit", "2"]
    args += ["--company", "acme", "--private-key", "s3cret", "--fail-rate", "0"]
    with serving(*args) as child:
        assert child.stdout is not None
        announced = json.loads(child.stdout.readline())
        headers = auth_headers("acme", private_key="s3cret")
        with httpx.Client(base_url=announced["api"], headers=headers) as client:
            statuses = [client.get("system/info").status_code for _ in range(10)]
        config = httpx.get(f"{announced['url']}/__sandbox/config").json()
    assert announced["env"]["CWBULK_COMPANY"] == "acme"
    assert announced["db"] == str(db)
    assert statuses[:2] == [200, 200] and 429 in statuses
    assert config["rate_limit"] == 2.0


@pytest.mark.parametrize("host", ["0.0.0.0", "192.0.2.10", "example.com"])
def test_serve_refuses_a_non_loopback_host(host, tmp_path) -> None:
    result = CliRunner().invoke(
        cli, ["sandbox", "serve", "--host", host, "--db", str(tmp_path / "x.sqlite")]
    )
    assert result.exit_code == 2
    assert f"--host {host} is not a loopback address" in result.output
    assert "--allow-remote" in result.output
    assert not (tmp_path / "x.sqlite").exists()


def test_serve_reports_a_port_in_use(sandbox_template, tmp_path) -> None:
    db = copy_database(sandbox_template, tmp_path / "served.sqlite")
    with serving("--json", "sandbox", "serve", "--port", "0", "--db", str(db)) as child:
        assert child.stdout is not None
        port = json.loads(child.stdout.readline())["url"].rsplit(":", 1)[1]
        result = CliRunner().invoke(cli, ["sandbox", "serve", "--port", port, "--db", str(db)])
    assert result.exit_code == 2
    assert f"Can't listen on 127.0.0.1:{port}" in result.output


def test_reset_reseeds_the_default_database(sandbox_db: Path) -> None:
    result = CliRunner().invoke(cli, ["sandbox", "reset", "--today", "2025-03-31"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith(f"Reseeded the sandbox at {sandbox_db}: ")
    assert "time entries" in result.output


def test_reset_with_json(tmp_path) -> None:
    db = tmp_path / "fresh.sqlite"
    result = CliRunner().invoke(cli, ["--json", "sandbox", "reset", "--db", str(db)])
    summary = json.loads(result.output)
    assert result.exit_code == 0
    assert summary["db"] == str(db)
    assert summary["rows"]["time_entries"] >= 3000 and db.exists()
