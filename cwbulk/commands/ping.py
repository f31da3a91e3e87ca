"""``cwbulk ping``: is the site reachable, are the keys accepted, what is it running."""

from __future__ import annotations

import asyncio
import json
from typing import TYPE_CHECKING

import click

from cwbulk.client import PingResult
from cwbulk.connect import Connection, connection

if TYPE_CHECKING:
    from cwbulk.cli import AppContext


def run_ping(conn: Connection) -> PingResult:
    """Ping the connection's site (one short-lived client)."""

    async def ping() -> PingResult:
        async with conn.client() as client:
            return await client.ping()

    return asyncio.run(ping())


def echo_ping(result: PingResult, *, as_json: bool, profile: str) -> None:
    """Print a ping result as a short report, or as one JSON object."""
    if as_json:
        click.echo(json.dumps({"profile": profile, **result.to_dict()}))
        return
    lines = [
        ("Profile", profile),
        ("Site", f"{result.site} (reachable)"),
        ("Authenticated", f"yes, company {result.company}"),
        ("Codebase", result.codebase),
        ("Version", result.version or "unknown"),
        ("Members", str(result.member_count)),
    ]
    for label, value in lines:
        click.echo(f"{label + ':':<15}{value}")


@click.command("ping")
@click.pass_obj
def command(app: AppContext) -> None:
    """Check the connection: reachable, authenticated, codebase, version, member count.

    \b
    Examples:
      cwbulk --sandbox ping
      cwbulk --profile main ping
      cwbulk --json ping
    """
    conn = connection(
        profile=app.profile, sandbox=app.sandbox, warn=lambda m: click.echo(m, err=True)
    )
    echo_ping(run_ping(conn), as_json=app.json, profile=conn.profile.name)
