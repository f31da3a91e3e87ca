"""`cwbulk lookup`, `cwbulk ping` and `cwbulk config test` on the command line.

In-process (`--sandbox`) and over HTTP (a served sandbox through the CWBULK_* variables),
including the failures a user meets first: wrong keys, no client id, an unreachable site.
"""

from __future__ import annotations

import json
import socket
import sqlite3
from collections.abc import Callable
from contextlib import closing
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from click.testing import CliRunner, Result

from cwbulk.cli import cli
from cwbulk.config import Profile, ProfileFile


def run(*args: str, env: dict[str, str] | None = None) -> Result:
    """Invoke the CLI; stdout and stderr are kept apart."""
    return CliRunner().invoke(cli, list(args), env=env)


def served_env(served: Any, **changes: str) -> dict[str, str]:
    """CWBULK_* variables pointing at a served sandbox."""
    env = served.environment()
    return {**env, **changes}


def closed_port() -> int:
    """A loopback port nobody listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def names_in(db_path: Path, table: str, field: str) -> list[str]:
    """A field of every record of a table, read straight from the sandbox database."""
    with closing(sqlite3.connect(db_path)) as db:
        query = f"SELECT json_extract(body, '$.{field}') FROM {table} ORDER BY id"
        return [row[0] for row in db.execute(query)]


@pytest.mark.parametrize(
    ("kind", "table", "field"),
    [
        pytest.param("members", "members", "identifier", id="members"),
        pytest.param("work-types", "work_types", "name", id="work-types"),
        pytest.param("work-roles", "work_roles", "name", id="work-roles"),
        pytest.param("companies", "companies", "identifier", id="companies"),
        pytest.param("charge-codes", "charge_codes", "name", id="charge-codes"),
    ],
)
def test_lookup_lists_everything_in_process(
    sandbox_db: Path, kind: str, table: str, field: str
) -> None:
    result = run("--sandbox", "--json", "lookup", kind)
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload["kind"] == kind
    assert [item[field] for item in payload["items"]] == names_in(sandbox_db, table, field)


def test_lookup_tickets_lists_service_and_project_tickets(sandbox_db: Path) -> None:
    payload = json.loads(run("--sandbox", "lookup", "tickets", "--json").stdout)
    by_type = pd.DataFrame(payload["items"]).groupby("type")["id"].apply(list).to_dict()
    assert by_type == {
        "ProjectTicket": [int(i) for i in names_in(sandbox_db, "project_tickets", "id")],
        "ServiceTicket": [int(i) for i in names_in(sandbox_db, "service_tickets", "id")],
    }
    assert len(payload["items"]) > 25, "never capped at ConnectWise's default page size"


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        pytest.param(["members", "--search", "BAKER"], ["abaker", "sbaker"], id="member-last"),
        pytest.param(["members", "--search", "avery baker"], ["abaker"], id="member-full"),
        pytest.param(["members", "--search", "o'brien"], ["nobrien"], id="member-quote"),
        pytest.param(["work-types", "--search", "re"], ["Regular", "Remote"], id="work-types"),
        pytest.param(["companies", "--search", "toys"], ["TailspinToys", "Wingtip"], id="co"),
        pytest.param(["companies", "--search", "Toys & Games"], ["Wingtip"], id="co-ampersand"),
        pytest.param(["tickets", "--search", "1001"], [1001], id="ticket-number"),
        pytest.param(["members", "--search", '" or 1=1 or "'], [], id="injection"),
        pytest.param(["members", "--search", "%"], [], id="percent-is-literal"),
    ],
)
def test_lookup_search_filters_on_the_server(
    sandbox_db: Path, args: list[str], expected: list[object]
) -> None:
    result = run("--sandbox", "--json", "lookup", *args)
    assert result.exit_code == 0, result.output
    key = "id" if args[0] == "tickets" else "name" if args[0] == "work-types" else "identifier"
    assert [item[key] for item in json.loads(result.stdout)["items"]] == expected


def test_lookup_prints_a_table_and_says_when_nothing_matched(sandbox_db: Path) -> None:
    table = run("--sandbox", "lookup", "work-roles")
    assert table.exit_code == 0
    lines = table.stdout.splitlines()
    assert lines[0].split() == ["id", "name", "inactive"]
    assert len(lines) == 1 + len(names_in(sandbox_db, "work_roles", "name"))
    empty = run("--sandbox", "lookup", "work-roles", "--search", "astronaut")
    assert (empty.exit_code, empty.stdout) == (0, "")
    assert empty.stderr == "No work-roles matching 'astronaut'.\n"


@pytest.mark.parametrize(
    "suffix", [pytest.param(".csv", id="csv"), pytest.param(".xlsx", id="xlsx")]
)
def test_lookup_writes_a_file(sandbox_db: Path, tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"members{suffix}"
    result = run("--sandbox", "lookup", "members", "-o", str(path))
    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    frame = pd.read_csv(path) if suffix == ".csv" else pd.read_excel(path, engine="calamine")
    assert frame["identifier"].tolist() == names_in(sandbox_db, "members", "identifier")
    assert list(frame.columns) == ["id", "identifier", "name", "email", "inactive"]


def test_ping_over_http_through_env_vars(served_sandbox: Callable[..., Any]) -> None:
    served = served_sandbox()
    result = run("--json", "ping", env=served_env(served))
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload["site"] == served.url
    assert (payload["reachable"], payload["authenticated"]) == (True, True)
    assert payload["codebase"] == "v4_6_release/"
    assert payload["memberCount"] == len(names_in(served.db_path, "members", "id"))


def test_lookup_over_http_with_faults(served_sandbox: Callable[..., Any]) -> None:
    served = served_sandbox(fail_rate=0.3, fault_seed=1)
    result = run("--json", "lookup", "tickets", env=served_env(served))
    assert result.exit_code == 0, result.output
    assert len(json.loads(result.stdout)["items"]) == len(
        names_in(served.db_path, "service_tickets", "id")
    ) + len(names_in(served.db_path, "project_tickets", "id"))
    assert served.counters()["failed"] > 0


def test_config_test_pings_a_saved_profile(served_sandbox: Callable[..., Any]) -> None:
    served = served_sandbox()
    store = ProfileFile.load()
    store.add(
        Profile(
            name="lab",
            site=served.url,
            company=served.company,
            public_key=served.public_key,
            private_key=served.private_key,
            client_id=served.client_id,
        )
    )
    store.save()
    result = run("config", "test", "lab")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[:3] == [
        "Profile:       lab",
        f"Site:          {served.url} (reachable)",
        f"Authenticated: yes, company {served.company}",
    ]
    assert run("--profile", "lab", "ping").stdout == result.stdout


def test_sandbox_ping_in_process(sandbox_db: Path) -> None:
    result = run("--sandbox", "ping")
    assert result.exit_code == 0, result.output
    assert "Codebase:      v4_6_release/" in result.stdout.splitlines()


@pytest.mark.parametrize("command", [pytest.param(["ping"], id="ping"),
                                     pytest.param(["lookup", "members"], id="lookup")])  # fmt: skip
@pytest.mark.parametrize(
    ("changes", "first_line"),
    [
        pytest.param(
            {"CWBULK_PRIVATE_KEY": "not-the-key"},
            "Error: ConnectWise did not accept the credentials (401 Unauthorized): "
            "Authorization has been denied for this request: send 'Authorization: Basic "
            "base64(companyId+publicKey:privateKey)' with the sandbox's company and API keys.",
            id="wrong-keys",
        ),
        pytest.param(
            {"CWBULK_CLIENT_ID": ""},
            "Error: The CWBULK_* environment variables give no client id.",
            id="no-client-id",
        ),
        pytest.param(
            {"CWBULK_CLIENT_ID": "someone-elses-client"},
            "Error: ConnectWise did not accept the credentials (401 Unauthorized): The "
            "clientId 'someone-elses-client' is not registered with this site.",
            id="wrong-client-id",
        ),
        pytest.param(
            {"CWBULK_SITE": "http://127.0.0.1:{closed}"},
            "Error: Can't reach ConnectWise at http://127.0.0.1:{closed}: the connection "
            "was refused.",
            id="unreachable",
        ),
        pytest.param(
            {"CWBULK_SITE": "http://cw.example.com"},
            "Error: The site 'http://cw.example.com' uses plain HTTP; ConnectWise needs HTTPS.",
            id="plain-http",
        ),
    ],
)
def test_connection_problems_exit_2_naming_the_problem(
    served_sandbox: Callable[..., Any],
    command: list[str],
    changes: dict[str, str],
    first_line: str,
) -> None:
    served = served_sandbox()
    port = str(closed_port())
    env = served_env(served, **{k: v.replace("{closed}", port) for k, v in changes.items()})
    result = run(*command, env=env)
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    assert result.stderr.splitlines()[0] == first_line.replace("{closed}", port)
    assert "Traceback" not in result.stderr


def test_no_connection_at_all_says_how_to_make_one() -> None:
    result = run("lookup", "members")
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        "Error: No ConnectWise connection is set up.",
        "Run `cwbulk config add NAME`, or set CWBULK_SITE, CWBULK_COMPANY, CWBULK_PUBLIC_KEY, "
        "CWBULK_PRIVATE_KEY and CWBULK_CLIENT_ID, or try the bundled simulator with "
        "`cwbulk --sandbox ...`.",
    ]
