"""``tessera keys list|rotate``: a tenant's signing keys."""

from __future__ import annotations

from typing import get_args

import click

from tessera.cli.context import Context, pass_ctx, require_tenant, tenant_option
from tessera.cli.render import when
from tessera.compose import Services
from tessera.domain.keys import KeyChanges, StoredKey
from tessera.settings import SigningAlgorithm


@click.group()
def keys() -> None:
    """Signing keys."""


@keys.command("list")
@tenant_option
@pass_ctx
def keys_list(ctx: Context, tenant: str) -> None:
    """Show the tenant's keys: kid, algorithm, state (next, active, retired), times."""

    async def work(services: Services) -> list[StoredKey]:
        await require_tenant(services, tenant)
        return await services.keys.keys_of(tenant)

    for key in ctx.run(work, changes_store=False):
        until = f"  published until {when(key.publish_until)}" if key.publish_until else ""
        click.echo(f"{key.kid}  {key.alg:5}  {key.state.value:7}  created {when(key.created_at)}{until}")


@keys.command("rotate")
@tenant_option
@click.option("--alg", type=click.Choice(get_args(SigningAlgorithm)), default=None, help="Algorithm of the new key.")
@pass_ctx
def keys_rotate(ctx: Context, tenant: str, alg: str | None) -> None:
    """Activate the published next key, retire the active one, publish a new next key.

    The retired key stays in the JWKS until every token it signed has expired.
    """

    async def work(services: Services) -> KeyChanges:
        stored = await require_tenant(services, tenant)
        algorithm = alg or stored.signing_alg or ctx.settings.keys.algorithm
        return await services.keys.rotate(tenant, algorithm, ctx.actor)

    changes = ctx.run(work)
    for key in changes.updated:
        click.echo(f"{key.kid} is now {key.state.value}")
    for key in changes.added:
        click.echo(f"{key.kid} created ({key.state.value}, {key.alg})")
    for key in changes.deleted:
        click.echo(f"{key.kid} removed (every token it signed has expired)")


__all__ = ["keys"]
