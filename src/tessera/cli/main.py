"""The ``tessera`` command: init, serve, migrate, apply, client, keys, audit.

Every error Tessera raises on purpose (bad configuration, missing or wrong key-encryption key,
unknown or duplicate client, unreachable store) ends the command with one ``Error: ...`` line
and exit status 1, never a traceback.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from tessera import __version__
from tessera.cli.audit import audit
from tessera.cli.aws import COMMANDS as AWS_COMMANDS
from tessera.cli.bootstrap import apply, init, migrate
from tessera.cli.clients import client
from tessera.cli.context import Context
from tessera.cli.keys import keys
from tessera.cli.serve import serve
from tessera.cli.sessions import consent, session
from tessera.cli.users import user
from tessera.errors import TesseraError
from tessera.settings import DEFAULT_CONFIG_FILE


class TesseraGroup(click.Group):
    """The root group: turns Tessera's errors into one clear line and exit status 1."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except TesseraError as exc:
            raise click.ClickException(str(exc)) from None
        except OSError as exc:
            raise click.ClickException(_describe_os_error(exc)) from None


def _describe_os_error(exc: OSError) -> str:
    if exc.filename is not None and exc.strerror:
        return f"{exc.filename}: {exc.strerror}"
    return str(exc)


@click.group(cls=TesseraGroup)
@click.option(
    "--config",
    "config",
    type=click.Path(dir_okay=False, path_type=Path),
    envvar="TESSERA_CONFIG",
    help=f"Configuration file (default: ./{DEFAULT_CONFIG_FILE} when present).",
)
@click.version_option(__version__, prog_name="tessera")
@click.pass_context
def cli(click_ctx: click.Context, config: Path | None) -> None:
    """Tessera, a self-hosted Security Token Service."""
    click_ctx.obj = Context(config)


@cli.command("docs", hidden=True)
@click.argument("directory", default="docs", type=click.Path(file_okay=False, path_type=Path))
@click.option("--check", is_flag=True, help="Report stale pages; write nothing.")
def docs(directory: Path, check: bool) -> None:
    """Regenerate docs/configuration.md and docs/events.md from the code."""
    from tessera.reference_docs import REGENERATE, stale_reference_docs, write_reference_docs

    if check:
        stale = stale_reference_docs(directory)
        if stale:
            raise click.ClickException(f"stale: {', '.join(map(str, stale))}; run {REGENERATE} or tessera docs")
        return
    for path in write_reference_docs(directory):
        click.echo(f"wrote {path}", err=True)


IDENTITY_COMMANDS = (user, session, consent)
for command in (init, serve, migrate, apply, client, keys, audit):
    cli.add_command(command)
for command in AWS_COMMANDS:
    cli.add_command(command)
for command in IDENTITY_COMMANDS:
    cli.add_command(command)


def main() -> None:
    cli()


__all__ = ["TesseraGroup", "cli", "main"]
