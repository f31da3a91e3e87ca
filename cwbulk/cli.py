"""The click layer: global options, one place that turns errors into exit codes.

Each command lives in ``cwbulk/commands/<name>.py`` and exposes ``command`` (a click
command or group); ``COMMAND_MODULES`` lists them.
"""

from __future__ import annotations

import importlib
import logging
from dataclasses import dataclass

import click

from cwbulk import __version__
from cwbulk.errors import CwbulkError

COMMAND_MODULES: tuple[str, ...] = (
    "config",
    "ping",
    "lookup",
    "validate",
    "importing",
    "runs",
    "rollback",
    "sandbox",
    "export",
    "template",
    "sheets",
    "reject",
    "reconcile",
)


@dataclass
class AppContext:
    """Global options, available to every command as ``ctx.obj``."""

    profile: str | None = None
    sandbox: bool = False
    json: bool = False
    quiet: bool = False
    verbose: int = 0
    debug: bool = False


class CwbulkGroup(click.Group):
    """Turns cwbulk's errors and Ctrl-C into messages and exit codes in one place.

    A command reports partial failure by returning an int exit code (1) or raising
    ``RowsFailed``; anything that is not a ``CwbulkError`` is a bug and stays a traceback.
    """

    def invoke(self, ctx: click.Context) -> object:
        try:
            result = super().invoke(ctx)
        except CwbulkError as exc:
            if ctx.obj is not None and ctx.obj.debug:
                raise
            click.echo(f"Error: {exc}", err=True)
            ctx.exit(exc.exit_code)
        except KeyboardInterrupt:
            click.echo("Interrupted.", err=True)
            ctx.exit(130)
        if isinstance(result, int) and result:
            ctx.exit(result)
        return result


@click.group(cls=CwbulkGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--profile", metavar="NAME", help="Connection profile to use (see `cwbulk config`).")
@click.option(
    "--sandbox",
    is_flag=True,
    help="Talk to the bundled ConnectWise simulator in-process instead of a real site.",
)
@click.option("--json", "json_output", is_flag=True, help="Print one JSON object on stdout.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bars or summaries on stderr.")
@click.option("-v", "--verbose", count=True, help="More detail on stderr (repeatable).")
@click.option("--debug", is_flag=True, help="Show tracebacks instead of clean error messages.")
@click.version_option(__version__, prog_name="cwbulk")
@click.pass_context
def cli(
    ctx: click.Context,
    profile: str | None,
    sandbox: bool,
    json_output: bool,
    quiet: bool,
    verbose: int,
    debug: bool,
) -> None:
    """Move ConnectWise PSA time entries between spreadsheets and ConnectWise, safely.

    \b
    Try it on the bundled sandbox first:
      cwbulk --sandbox validate samples/legacy-timesheet.xlsx
    """
    if profile and sandbox:
        raise click.UsageError("--profile and --sandbox can't be used together.")
    if verbose:
        _log_to_stderr(logging.INFO if verbose == 1 else logging.DEBUG)
    ctx.obj = AppContext(
        profile=profile,
        sandbox=sandbox,
        json=json_output,
        quiet=quiet,
        verbose=verbose,
        debug=debug,
    )


def _log_to_stderr(level: int) -> None:
    """-v: cwbulk's own log lines (retries, throttling) on stderr; they carry no secrets."""
    logger = logging.getLogger("cwbulk")
    if not any(isinstance(h, _EchoHandler) for h in logger.handlers):
        logger.addHandler(_EchoHandler())
    logger.setLevel(level)


class _EchoHandler(logging.Handler):
    """Log records through click on whatever stderr is current (tests swap it)."""

    def emit(self, record: logging.LogRecord) -> None:
        click.echo(f"cwbulk: {record.getMessage()}", err=True)


def _register_commands() -> None:
    for name in COMMAND_MODULES:
        module = importlib.import_module(f"cwbulk.commands.{name}")
        cli.add_command(module.command)


_register_commands()


def main() -> None:
    """Entry point of the ``cwbulk`` console script."""
    cli(prog_name="cwbulk")
