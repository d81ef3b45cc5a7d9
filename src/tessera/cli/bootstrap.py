"""``tessera init``, ``migrate`` and ``apply``: from nothing to a store that matches the configuration."""

from __future__ import annotations

import time
from importlib import resources
from pathlib import Path

import click

from tessera.cli.context import Context, pass_ctx
from tessera.cli.render import echo_generated_secrets
from tessera.compose import Services
from tessera.domain.reconcile import Applied, Plan
from tessera.settings import DEFAULT_CONFIG_FILE
from tessera.storage.migrate import upgrade
from tessera.storage.sql.startup_lock import exclusive
from tessera.storage.sql.store import open_store


def default_config_text() -> str:
    """The commented default configuration ``tessera init`` writes."""
    return resources.files("tessera").joinpath("data/tessera.example.toml").read_text()


@click.command()
@click.option("--force", is_flag=True, help="Overwrite an existing configuration file.")
@pass_ctx
def init(ctx: Context, force: bool) -> None:
    """Write a commented default configuration, create the KEK, the store and the keys.

    Safe to run again: an existing file and KEK are kept, and the store is only brought up to date.
    """
    path = ctx.config or Path(DEFAULT_CONFIG_FILE)
    if path.exists() and not force:
        click.echo(f"{path} exists; keeping it", err=True)
    else:
        path.write_text(default_config_text())
        click.echo(f"wrote {path}", err=True)
    ctx.use_config(path)
    settings = ctx.settings
    kek_path = settings.kek_path()
    new_kek = settings.keys.kek is None and not kek_path.exists()

    async def work(services: Services) -> Applied:
        return await services.apply_configuration(settings, ctx.actor)

    applied = ctx.run(work, create_kek=True)
    if new_kek:
        click.echo(f"created the key-encryption key {kek_path} (mode 0600): back it up, the keys need it", err=True)
    if not applied.plan.is_empty():
        click.echo(applied.plan.describe(), err=True)
    echo_generated_secrets(applied.secrets)
    click.echo(f"store ready at {ctx.store_location()}; next: tessera serve", err=True)


@click.command()
@pass_ctx
def migrate(ctx: Context) -> None:
    """Upgrade the store's schema in place (no key-encryption key needed)."""
    settings = ctx.settings
    if settings.storage.url is None:
        settings.data_dir.mkdir(parents=True, exist_ok=True)

    async def main() -> tuple[str | None, str]:
        store = open_store(settings.database_url(), time.time, connect_args=settings.connect_args())
        try:
            async with exclusive(store.engine):
                return await upgrade(store.engine)
        finally:
            await store.close()

    before, after = ctx.run_async(main())
    click.echo(f"store at revision {after}" + ("" if before == after else f" (was {before or 'empty'})"))


@click.command()
@click.option("--dry-run", is_flag=True, help="Print the difference; change nothing.")
@pass_ctx
def apply(ctx: Context, dry_run: bool) -> None:
    """Reconcile the store with the tenants, scopes and clients of the configuration.

    Declared objects are created or updated, declared objects removed from the file are deleted,
    and objects created with the CLI are left alone unless the file declares the same id.
    """
    settings = ctx.settings
    if dry_run:

        async def plan(services: Services) -> Plan:
            return await services.reconciler.plan(settings)

        click.echo(ctx.run(plan, changes_store=False).describe())
        click.echo("(dry run: nothing was changed)", err=True)
        return

    async def work(services: Services) -> Applied:
        return await services.apply_configuration(settings, ctx.actor)

    applied = ctx.run(work)
    click.echo(applied.plan.describe())
    echo_generated_secrets(applied.secrets)


__all__ = ["apply", "default_config_text", "init", "migrate"]
