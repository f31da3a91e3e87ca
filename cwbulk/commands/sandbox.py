"""``cwbulk sandbox serve|reset``: the bundled ConnectWise PSA simulator."""

from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path

import click

from cwbulk.client import is_loopback_host
from cwbulk.errors import UsageError
from cwbulk.sandbox import (
    API_PREFIX,
    DEFAULT_CLIENT_ID,
    DEFAULT_COMPANY,
    DEFAULT_PRIVATE_KEY,
    DEFAULT_PUBLIC_KEY,
    SandboxConfig,
    create_app,
    default_db_path,
    reset,
)
from cwbulk.sandbox.app import bind, build_server

_DB = click.option(
    "--db",
    "db_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="The sandbox database [default: $CWBULK_SANDBOX_DB, else in cwbulk's data folder].",
)


@click.group("sandbox")
def command() -> None:
    """The bundled ConnectWise PSA simulator: serve it over HTTP, or reseed it.

    \b
    Examples:
      cwbulk sandbox serve --port 8765
      cwbulk sandbox reset
    """


@command.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8765, show_default=True, type=click.IntRange(0, 65535))
@_DB
@click.option("--latency-ms", type=click.FloatRange(0), default=0, help="Delay every request.")
@click.option("--jitter-ms", type=click.FloatRange(0), default=0, help="Add 0..N ms at random.")
@click.option(
    "--fail-rate",
    type=click.FloatRange(0, 1),
    default=0.0,
    help="Fraction of requests answered 500/503 before anything is done.",
)
@click.option(
    "--lost-response-rate",
    type=click.FloatRange(0, 1),
    default=0.0,
    help="Fraction of writes that are committed and then lose their answer.",
)
@click.option(
    "--lost-response-mode",
    type=click.Choice(["500", "drop", "mix"]),
    default="mix",
    show_default=True,
    help="How a lost answer looks: a 500, a dropped connection, or either.",
)
@click.option(
    "--rate-limit",
    type=click.FloatRange(0, min_open=True),
    default=None,
    metavar="REQ_PER_S",
    help="Answer 429 with Retry-After above this many requests per second.",
)
@click.option("--company", default=DEFAULT_COMPANY, show_default=True)
@click.option("--public-key", default=DEFAULT_PUBLIC_KEY, show_default=True)
@click.option("--private-key", default=DEFAULT_PRIVATE_KEY, show_default=True)
@click.option("--client-id", default=DEFAULT_CLIENT_ID, show_default=True)
@click.option(
    "--allow-remote",
    is_flag=True,
    help="Listen on a non-loopback address (the sandbox has fixed, public credentials).",
)
@click.pass_obj
def serve(
    app_context: object,
    host: str,
    port: int,
    db_path: Path | None,
    latency_ms: float,
    jitter_ms: float,
    fail_rate: float,
    lost_response_rate: float,
    lost_response_mode: str,
    rate_limit: float | None,
    company: str,
    public_key: str,
    private_key: str,
    client_id: str,
    allow_remote: bool,
) -> None:
    """Serve the sandbox over HTTP until Ctrl-C, with optional latency, faults and throttling.

    \b
    Examples:
      cwbulk sandbox serve --port 8765
      cwbulk sandbox serve --latency-ms 50 --fail-rate 0.05 --lost-response-rate 0.02
      cwbulk sandbox serve --rate-limit 16
    """
    if not is_loopback_host(host) and not allow_remote:
        raise UsageError(
            f"--host {host} is not a loopback address, and the sandbox's credentials are public.",
            hint="Add --allow-remote if you really mean to serve it to other machines.",
        )
    config = SandboxConfig(
        db_path=db_path or default_db_path(),
        company=company,
        public_key=public_key,
        private_key=private_key,
        client_id=client_id,
        latency_ms=latency_ms,
        jitter_ms=jitter_ms,
        fail_rate=fail_rate,
        lost_response_rate=lost_response_rate,
        lost_response_mode=lost_response_mode,
        rate_limit=rate_limit,
    )
    app = create_app(config)
    try:
        sock = bind(host, port)
    except OSError as exc:
        app.state.store.close()
        raise UsageError(f"Can't listen on {host}:{port}: {exc.strerror or exc}.") from exc
    bound = sock.getsockname()[1]
    shown = f"[{host}]" if ":" in host else host
    site = f"http://{shown}:{bound}"
    as_json = getattr(app_context, "json", False)
    _announce(site, config, as_json=as_json)
    try:
        build_server(app, log_level="warning").run(sockets=[sock])
    finally:
        sock.close()
        app.state.store.close()


def _announce(site: str, config: SandboxConfig, *, as_json: bool) -> None:
    env = {
        "CWBULK_SITE": site,
        "CWBULK_COMPANY": config.company,
        "CWBULK_PUBLIC_KEY": config.public_key,
        "CWBULK_PRIVATE_KEY": config.private_key,
        "CWBULK_CLIENT_ID": config.client_id,
    }
    if as_json:
        summary = {"url": site, "api": site + API_PREFIX, "db": str(config.db_path), "env": env}
        click.echo(json.dumps(summary), nl=True)
        return
    click.echo(f"cwbulk sandbox serving {site} (API at {site}{API_PREFIX})")
    click.echo(f"database: {config.db_path}")
    click.echo(f"company {config.company}, public key {config.public_key}, ", nl=False)
    click.echo(f"private key {config.private_key}, client id {config.client_id}")
    click.echo("To point cwbulk at it, set:")
    for name, value in env.items():
        click.echo(f"  export {name}={value}")
    click.echo("Press Ctrl-C to stop.", err=True)


@command.command("reset")
@_DB
@click.option(
    "--today",
    type=click.DateTime(["%Y-%m-%d"]),
    default=None,
    help="Lay the seed data out before this date instead of today (YYYY-MM-DD).",
)
@click.pass_obj
def reset_command(app_context: object, db_path: Path | None, today: datetime | None) -> None:
    """Empty the sandbox database and seed it again with the bundled sample data.

    \b
    Examples:
      cwbulk sandbox reset
      cwbulk sandbox reset --db /tmp/sandbox.sqlite --today 2025-03-31
    """
    path = db_path or default_db_path()
    counts = reset(path, today=today.date() if today else date.today())
    if getattr(app_context, "json", False):
        click.echo(json.dumps({"db": str(path), "rows": counts}))
        return
    click.echo(
        f"Reseeded the sandbox at {path}: {counts['time_entries']:,} time entries on "
        f"{counts['time_sheets']:,} time sheets, {counts['members']} members, "
        f"{counts['service_tickets'] + counts['project_tickets']} tickets."
    )
