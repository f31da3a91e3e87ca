"""``cwbulk config add|list|test``: connection profiles."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import click

from cwbulk import config
from cwbulk.client import parse_site
from cwbulk.commands.ping import echo_ping, run_ping
from cwbulk.connect import connection

if TYPE_CHECKING:
    from cwbulk.cli import AppContext


def _warn(message: str) -> None:
    click.echo(message, err=True)


@click.group("config")
def command() -> None:
    """Manage connection profiles (stored with 0600 permissions in the user config folder).

    \b
    Examples:
      cwbulk config add main
      cwbulk config list
      cwbulk config test main
    """


@command.command("add")
@click.argument("name")
@click.option("--site", help="API host (api-na.myconnectwise.net) or URL.")
@click.option("--company", help="Company id you log in with.")
@click.option("--public-key", help="API member's public key.")
@click.option(
    "--private-key",
    help="API member's private key (leave out to be asked without echo, which keeps it "
    "out of your shell history).",
)
@click.option("--client-id", help="Your integration's clientId (developer.connectwise.com).")
@click.option("--timezone", help="IANA time zone of your timesheets, e.g. Europe/London.")
@click.option("--default/--no-default", "make_default", default=False, help="Make it the default.")
@click.pass_obj
def add(
    app: AppContext,
    name: str,
    site: str | None,
    company: str | None,
    public_key: str | None,
    private_key: str | None,
    client_id: str | None,
    timezone: str | None,
    make_default: bool,
) -> None:
    """Add (or replace) the profile NAME; asks for anything not given as an option.

    \b
    Examples:
      cwbulk config add main
      cwbulk config add lab --site http://127.0.0.1:8765 --company cwbulk_sandbox \\
          --public-key sandbox-public --client-id 5a1db0c5-0000-4000-8000-00000000c0de
    """
    site = site or click.prompt("Site (API host such as api-na.myconnectwise.net, or a URL)")
    parse_site(site)
    company = company or click.prompt("Company id")
    public_key = public_key or click.prompt("Public key")
    private_key = private_key or click.prompt("Private key", hide_input=True)
    client_id = client_id or click.prompt("Client id")
    if timezone is None:
        timezone = click.prompt(
            "Time zone (blank: this computer's)", default="", show_default=False
        )
    profile = config.Profile(
        name=name,
        site=site.strip(),
        company=company.strip(),
        public_key=public_key.strip(),
        private_key=private_key.strip(),
        client_id=client_id.strip(),
        timezone=config.check_timezone(timezone.strip()),
    )
    store = config.ProfileFile.load()
    store.add(profile, make_default=make_default)
    store.save()
    if app.json:
        click.echo(
            json.dumps(
                {"path": str(store.path), "default": store.default, "profile": profile.to_dict()}
            )
        )
    elif not app.quiet:
        default = " (the default)" if store.default == name else ""
        click.echo(f"Saved profile {name!r}{default} in {store.path}.", err=True)
        click.echo(f"Check it with: cwbulk --profile {name} ping", err=True)


@command.command("list")
@click.pass_obj
def list_profiles(app: AppContext) -> None:
    """List the profiles (private keys masked); * marks the default.

    \b
    Example:
      cwbulk config list
    """
    if message := config.permission_warning():
        _warn(message)
    store = config.ProfileFile.load()
    profiles = [p.to_dict() for _, p in sorted(store.profiles.items())]
    if app.json:
        click.echo(
            json.dumps({"path": str(store.path), "default": store.default, "profiles": profiles})
        )
        return
    if not profiles:
        click.echo(
            f"No profiles yet ({store.path}); add one with `cwbulk config add NAME`.", err=True
        )
        return
    headers = ["", "name", "site", "company", "public_key", "private_key", "client_id", "timezone"]
    rows = [
        ["*" if p["name"] == store.default else "", *(str(p[h] or "") for h in headers[1:])]
        for p in profiles
    ]
    widths = [max(len(r[i]) for r in [headers, *rows]) for i in range(len(headers))]
    for row in [headers, *rows]:
        click.echo("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())


@command.command("test")
@click.argument("name", required=False)
@click.pass_obj
def test(app: AppContext, name: str | None) -> None:
    """Ping the profile NAME (default: the profile the global options choose).

    \b
    Examples:
      cwbulk config test main
      cwbulk --sandbox config test
    """
    conn = connection(profile=name or app.profile, sandbox=app.sandbox and not name, warn=_warn)
    echo_ping(run_ping(conn), as_json=app.json, profile=conn.profile.name)
