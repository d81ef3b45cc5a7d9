"""``tessera serve``: check everything that can be checked, then run the server."""

from __future__ import annotations

import ctypes
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click

from tessera import __version__
from tessera.cli.context import Context, pass_ctx
from tessera.cli.render import echo_generated_secrets, stderr_is_terminal
from tessera.compose import Services
from tessera.domain.reconcile import Applied, GeneratedSecret
from tessera.settings import Settings


@click.command()
@click.option("--host", default=None, help="Override server.host.")
@click.option("--port", default=None, type=click.IntRange(0, 65535), help="Override server.port.")
@pass_ctx
def serve(ctx: Context, host: str | None, port: int | None) -> None:
    """Run the server (reconciling the configuration first, as every start does)."""
    from tessera.logs import configure_logging

    _return_large_allocations_to_the_os()
    settings = _with_listener(ctx.settings, host, port)
    ctx.override(settings)
    _preflight(ctx, settings)
    configure_logging(settings.log.level, settings.log.format)
    _print_banner(settings)
    if settings.server.engine == "granian":
        _serve_with_granian(settings, ctx.config, host, port)
    else:
        _serve_with_uvicorn(settings)


def _serve_with_uvicorn(settings: Settings) -> None:
    import uvicorn

    from tessera.web.app import create_app

    app = create_app(settings, on_generated_secrets=_show_secrets, bootstrap=False)  # _preflight reconciled
    uvicorn.run(
        app,
        host=settings.server.host,
        port=settings.server.port,
        loop="uvloop",
        http="httptools",
        access_log=False,
        log_config=None,
        server_header=False,
        proxy_headers=False,  # X-Forwarded-For is believed only from server.trusted_proxies
        ws="none",  # no WebSocket endpoints: do not load a WebSocket implementation
        lifespan="on",
    )


def _serve_with_granian(settings: Settings, config: Path | None, host: str | None, port: int | None) -> None:
    """One granian worker; it builds the app from the same configuration (file and environment)."""
    try:
        from granian import Granian
        from granian.constants import Interfaces, Loops
    except ImportError:
        raise click.ClickException("server.engine = granian needs granian: pip install 'tessera[granian]'") from None
    if config is not None:
        os.environ["TESSERA_CONFIG"] = str(config.resolve())
    if host is not None:
        os.environ["TESSERA_SERVER__HOST"] = host
    if port is not None:
        os.environ["TESSERA_SERVER__PORT"] = str(port)
    Granian(
        "tessera.web.asgi:app_from_environment",
        factory=True,
        address=settings.server.host,
        port=settings.server.port,
        interface=Interfaces.ASGI,
        workers=1,
        runtime_threads=1,
        loop=Loops.uvloop,
        websockets=False,
        log_access=False,
    ).serve()


def _return_large_allocations_to_the_os() -> None:
    """Keep glibc from turning argon2's 19 MiB working memory into resident heap for good.

    glibc raises its mmap threshold after the first large block is freed, so every later password
    check allocates from the heap, which is never given back: an idle node would hold ~20 MiB per
    concurrent sign-in ever seen. A fixed threshold keeps such blocks mmapped and returned on free.
    """
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(_M_MMAP_THRESHOLD, 1 << 20)
    except (OSError, AttributeError):  # not glibc: nothing to tune
        pass


_M_MMAP_THRESHOLD = -3


def _with_listener(settings: Settings, host: str | None, port: int | None) -> Settings:
    overrides: dict[str, Any] = {}
    if host is not None:
        overrides["host"] = host
    if port is not None:
        overrides["port"] = port
    if not overrides:
        return settings
    return settings.model_copy(update={"server": settings.server.model_copy(update=overrides)})


def _preflight(ctx: Context, settings: Settings) -> None:
    """KEK, store, schema and reconciliation, so that a mistake is one line here, not a traceback in uvicorn."""

    async def work(services: Services) -> Applied:
        return await services.apply_configuration(settings)

    applied = ctx.run(work)
    if not applied.plan.is_empty():
        click.echo(applied.plan.describe(), err=True)
    _show_secrets(applied.secrets)


def _show_secrets(secrets: Sequence[GeneratedSecret]) -> None:
    echo_generated_secrets(secrets, reveal=stderr_is_terminal())


def _print_banner(settings: Settings) -> None:
    base = settings.server.base_url()
    backend = settings.database_url().split("+")[0].split(":")[0]
    click.echo(f"Tessera {__version__} serving on {base} (store: {backend})", err=True)
    for tenant in settings.tenants:
        issuer = settings.issuer_for(tenant)
        click.echo(f"  tenant {tenant.id}: issuer {issuer}", err=True)
        click.echo(f"    metadata  {issuer}/.well-known/oauth-authorization-server", err=True)
        click.echo(f"    token     {issuer}/oauth2/token", err=True)
        for client in tenant.clients:
            click.echo(f"    client    {client.client_id} ({', '.join(client.grant_types)})", err=True)


__all__ = ["serve"]
