"""The ``tessera`` command: init, serve, migrate, apply, keys, client, audit."""

from __future__ import annotations

import asyncio
import contextlib
import getpass
import json
import sys
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from functools import wraps
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar

import click

from tessera import __version__
from tessera.compose import Services, load_kek, open_services
from tessera.domain.audit import AuditEvent, AuditQuery
from tessera.domain.clients import Client, hash_secret
from tessera.domain.reconcile import GeneratedSecret
from tessera.errors import ConfigurationError, Conflict, TesseraError
from tessera.secret import Secret
from tessera.settings import DEFAULT_CONFIG_FILE, ClientConfig, Settings, load_settings

T = TypeVar("T")


class Context:
    def __init__(self, config: Path | None) -> None:
        self.config = config
        self._settings: Settings | None = None

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = load_settings(self.config)
        return self._settings


def _actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"


def handle_errors(fn: Callable[..., T]) -> Callable[..., T]:
    """Turn Tessera's errors into one clear line and exit status 1 (no traceback)."""

    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> T:
        try:
            return fn(*args, **kwargs)
        except (TesseraError, OSError) as exc:
            raise click.ClickException(str(exc)) from None

    return wrapper


def run_with_services(ctx: Context, work: Callable[[Services], Awaitable[T]], create_kek: bool = False) -> T:
    async def main() -> T:
        settings = ctx.settings
        services = await open_services(settings, create_kek=create_kek)
        try:
            return await work(services)
        finally:
            await services.close()

    return asyncio.run(main())


@click.group()
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


pass_ctx = click.make_pass_decorator(Context)


def print_generated_secrets(secrets: list[GeneratedSecret]) -> None:
    for item in secrets:
        click.echo(
            f"  new client {item.client_id} in tenant {item.tenant_id}: client_secret={item.secret.reveal()}\n"
            f"    (shown once; `tessera client rotate-secret {item.client_id}` makes a new one)",
            err=True,
        )


# init, serve, migrate, apply -----------------------------------------------------------------------
@cli.command()
@click.option("--force", is_flag=True, help="Overwrite an existing configuration file.")
@pass_ctx
@handle_errors
def init(ctx: Context, force: bool) -> None:
    """Write a commented default configuration, create the KEK, the store and the keys."""
    path = ctx.config or Path(DEFAULT_CONFIG_FILE)
    if not path.exists() or force:
        text = resources.files("tessera").joinpath("data/tessera.example.toml").read_text()
        path.write_text(text)
        click.echo(f"wrote {path}", err=True)
        ctx.config = path
    else:
        ctx.config = path
        click.echo(f"{path} exists; keeping it", err=True)

    async def work(services: Services) -> None:
        applied = await services.reconciler.apply(ctx.settings, _actor())
        if not applied.plan.is_empty():
            click.echo(applied.plan.describe(), err=True)
        print_generated_secrets(applied.secrets)

    run_with_services(ctx, work, create_kek=True)
    click.echo(f"store ready at {ctx.settings.database_url()}", err=True)


@cli.command()
@click.option("--host", default=None, help="Override server.host.")
@click.option("--port", default=None, type=int, help="Override server.port.")
@pass_ctx
@handle_errors
def serve(ctx: Context, host: str | None, port: int | None) -> None:
    """Run the server."""
    import uvicorn

    from tessera.logs import configure_logging
    from tessera.web.app import create_app

    overrides: dict[str, Any] = {}
    if host is not None:
        overrides["host"] = host
    if port is not None:
        overrides["port"] = port
    settings = ctx.settings
    if overrides:
        settings = settings.model_copy(update={"server": settings.server.model_copy(update=overrides)})
    load_kek(settings)  # fail now, with a clear message, rather than inside the server
    configure_logging(settings.log.level, settings.log.format)
    _print_banner(settings)
    app = create_app(settings, on_generated_secrets=print_generated_secrets)
    uvicorn.run(
        app,
        host=settings.server.host,
        port=settings.server.port,
        loop="uvloop",
        http="httptools",
        access_log=False,
        log_config=None,
        server_header=False,
        lifespan="on",
    )


def _print_banner(settings: Settings) -> None:
    base = settings.server.base_url()
    click.echo(
        f"Tessera {__version__} serving on {base} (store: {settings.database_url().split('://')[0]})",
        err=True,
    )
    for tenant in settings.tenants:
        issuer = settings.issuer_for(tenant)
        click.echo(f"  tenant {tenant.id}: issuer {issuer}", err=True)
        click.echo(f"    metadata  {issuer}/.well-known/oauth-authorization-server", err=True)
        click.echo(f"    token     {issuer}/oauth2/token", err=True)
        for client in tenant.clients:
            click.echo(f"    client    {client.client_id} ({', '.join(client.grant_types)})", err=True)


@cli.command()
@pass_ctx
@handle_errors
def migrate(ctx: Context) -> None:
    """Upgrade the store's schema in place."""
    from tessera.storage.migrate import upgrade
    from tessera.storage.sql.store import open_store

    async def main() -> tuple[str | None, str]:
        store = open_store(ctx.settings.database_url(), time.time, connect_args=ctx.settings.connect_args())
        try:
            return await upgrade(store.engine)
        finally:
            await store.close()

    if ctx.settings.storage.url is None:
        ctx.settings.data_dir.mkdir(parents=True, exist_ok=True)
    before, after = asyncio.run(main())
    click.echo(f"store at revision {after}" + ("" if before == after else f" (was {before or 'empty'})"))


@cli.command()
@click.option("--dry-run", is_flag=True, help="Print the difference; change nothing.")
@pass_ctx
@handle_errors
def apply(ctx: Context, dry_run: bool) -> None:
    """Reconcile the store with the configuration's tenants, scopes and clients."""

    async def work(services: Services) -> None:
        if dry_run:
            click.echo((await services.reconciler.plan(ctx.settings)).describe())
            return
        applied = await services.reconciler.apply(ctx.settings, _actor())
        click.echo(applied.plan.describe())
        print_generated_secrets(applied.secrets)

    run_with_services(ctx, work)


# keys ---------------------------------------------------------------------------------------------
@cli.group()
def keys() -> None:
    """Signing keys."""


@keys.command("list")
@click.option("--tenant", default="default", show_default=True)
@pass_ctx
@handle_errors
def keys_list(ctx: Context, tenant: str) -> None:
    """Show the tenant's keys and their states."""

    async def work(services: Services) -> None:
        for key in await services.keys.keys_of(tenant):
            until = f" published until {_when(key.publish_until)}" if key.publish_until else ""
            click.echo(f"{key.kid}  {key.alg:5}  {key.state.value:7}  created {_when(key.created_at)}{until}")

    run_with_services(ctx, work)


@keys.command("rotate")
@click.option("--tenant", default="default", show_default=True)
@click.option("--alg", type=click.Choice(["ES256", "RS256", "EdDSA"]), default=None, help="Algorithm of the new key.")
@pass_ctx
@handle_errors
def keys_rotate(ctx: Context, tenant: str, alg: str | None) -> None:
    """Activate the published next key, retire the active one, publish a new next key."""

    async def work(services: Services) -> None:
        algorithm = alg or _tenant_alg(ctx.settings, tenant)
        changes = await services.keys.rotate(tenant, algorithm, _actor())
        for key in changes.updated:
            click.echo(f"{key.kid} is now {key.state.value}")
        for key in changes.added:
            click.echo(f"{key.kid} created ({key.state.value}, {key.alg})")
        for key in changes.deleted:
            click.echo(f"{key.kid} removed (every token it signed has expired)")

    run_with_services(ctx, work)


def _tenant_alg(settings: Settings, tenant_id: str) -> str:
    for tenant in settings.tenants:
        if tenant.id == tenant_id and tenant.signing_alg:
            return tenant.signing_alg
    return settings.keys.algorithm


# clients ------------------------------------------------------------------------------------------
@cli.group()
def client() -> None:
    """OAuth clients."""


@client.command("create")
@click.argument("client_id")
@click.option("--tenant", default="default", show_default=True)
@click.option("--name", default="")
@click.option("--public", is_flag=True, help="A public client (no secret).")
@click.option("--grant", "grants", multiple=True, default=["client_credentials"], show_default=True)
@click.option("--scope", "scopes", multiple=True, help="A scope the client may be granted (repeatable).")
@click.option("--audience", "audiences", multiple=True, help="An allowed resource indicator (repeatable).")
@click.option("--auth-method", "auth_methods", multiple=True, help="Token endpoint auth method (repeatable).")
@click.option("--jwks-file", type=click.Path(exists=True, dir_okay=False, path_type=Path), help="For private_key_jwt.")
@click.option("--lifetime", type=int, default=None, help="Access token lifetime in seconds.")
@pass_ctx
@handle_errors
def client_create(
    ctx: Context,
    client_id: str,
    tenant: str,
    name: str,
    public: bool,
    grants: tuple[str, ...],
    scopes: tuple[str, ...],
    audiences: tuple[str, ...],
    auth_methods: tuple[str, ...],
    jwks_file: Path | None,
    lifetime: int | None,
) -> None:
    """Register a client; a confidential client's secret is printed once."""
    spec_data: dict[str, Any] = {
        "client_id": client_id,
        "name": name,
        "type": "public" if public else "confidential",
        "grant_types": list(grants),
        "scopes": list(scopes),
        "audiences": list(audiences),
    }
    if public:
        spec_data["auth_methods"] = ["none"]
    elif auth_methods:
        spec_data["auth_methods"] = list(auth_methods)
    if jwks_file is not None:
        spec_data["jwks"] = json.loads(jwks_file.read_text())
    if lifetime is not None:
        spec_data["access_token_lifetime"] = lifetime
    spec = _validated_spec(spec_data)

    async def work(services: Services) -> None:
        try:
            registered = await services.clients.create(tenant, spec, _actor())
        except Conflict as exc:
            raise click.ClickException(str(exc)) from None
        click.echo(f"client_id={registered.client.client_id}")
        if registered.secret is not None:
            click.echo(f"client_secret={registered.secret.reveal()}")
            click.echo("(the secret is shown once and stored only as a hash)", err=True)

    run_with_services(ctx, work)


def _validated_spec(data: dict[str, Any]) -> ClientConfig:
    from pydantic import ValidationError

    from tessera.settings import describe_validation_error

    try:
        return ClientConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigurationError(describe_validation_error(exc)) from None


@client.command("list")
@click.option("--tenant", default="default", show_default=True)
@pass_ctx
@handle_errors
def client_list(ctx: Context, tenant: str) -> None:
    """List the tenant's clients."""

    async def work(services: Services) -> None:
        for item in await services.clients.list(tenant):
            state = "disabled" if item.spec.disabled else "enabled"
            origin = "config" if item.managed else "cli"
            grants = ",".join(item.spec.grant_types)
            click.echo(f"{item.client_id}\t{item.spec.type}\t{state}\t{origin}\t{grants}")

    run_with_services(ctx, work)


@client.command("show")
@click.argument("client_id")
@click.option("--tenant", default="default", show_default=True)
@pass_ctx
@handle_errors
def client_show(ctx: Context, client_id: str, tenant: str) -> None:
    """Show one client as JSON (without its secret hash)."""

    async def work(services: Services) -> None:
        click.echo(json.dumps(_client_view(await services.clients.get(tenant, client_id)), indent=2))

    run_with_services(ctx, work)


def _client_view(item: Client) -> dict[str, Any]:
    view = item.spec.model_dump(mode="json", exclude={"secret_hash"})
    view.update(
        tenant=item.tenant_id,
        has_secret=item.secret_hash is not None,
        managed_by="config" if item.managed else "cli",
        created_at=_when(item.created_at),
        updated_at=_when(item.updated_at),
    )
    return view


@client.command("rotate-secret")
@click.argument("client_id")
@click.option("--tenant", default="default", show_default=True)
@pass_ctx
@handle_errors
def client_rotate_secret(ctx: Context, client_id: str, tenant: str) -> None:
    """Replace a client's secret; the new one is printed once."""

    async def work(services: Services) -> None:
        registered = await services.clients.rotate_secret(tenant, client_id, _actor())
        assert registered.secret is not None
        click.echo(f"client_secret={registered.secret.reveal()}")

    run_with_services(ctx, work)


def _set_disabled(ctx: Context, client_id: str, tenant: str, disabled: bool) -> None:
    async def work(services: Services) -> None:
        await services.clients.set_disabled(tenant, client_id, disabled, _actor())
        click.echo(f"{client_id} {'disabled' if disabled else 'enabled'}")

    run_with_services(ctx, work)


@client.command("disable")
@click.argument("client_id")
@click.option("--tenant", default="default", show_default=True)
@pass_ctx
@handle_errors
def client_disable(ctx: Context, client_id: str, tenant: str) -> None:
    """Refuse the client's authentication from now on (within storage.cache_refresh_seconds)."""
    _set_disabled(ctx, client_id, tenant, True)


@client.command("enable")
@click.argument("client_id")
@click.option("--tenant", default="default", show_default=True)
@pass_ctx
@handle_errors
def client_enable(ctx: Context, client_id: str, tenant: str) -> None:
    """Accept a disabled client again."""
    _set_disabled(ctx, client_id, tenant, False)


@client.command("delete")
@click.argument("client_id")
@click.option("--tenant", default="default", show_default=True)
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@pass_ctx
@handle_errors
def client_delete(ctx: Context, client_id: str, tenant: str, yes: bool) -> None:
    """Delete a client."""
    if not yes:
        click.confirm(f"delete client {client_id} of tenant {tenant}?", abort=True)

    async def work(services: Services) -> None:
        await services.clients.delete(tenant, client_id, _actor())
        click.echo(f"{client_id} deleted")

    run_with_services(ctx, work)


@client.command("hash-secret")
def client_hash_secret() -> None:
    """Read a secret on stdin and print the secret_hash to put in the configuration."""
    secret = sys.stdin.readline().rstrip("\n")
    if len(secret) < 32:
        raise click.ClickException("a client secret must be at least 32 characters")
    click.echo(hash_secret(Secret(secret)))


# audit --------------------------------------------------------------------------------------------
def _event_line(sequence: int, event: AuditEvent) -> str:
    data = {
        "seq": sequence,
        "time": _when(event.occurred_at),
        "tenant": event.tenant_id,
        "action": event.action,
        "result": event.result,
        "actor": event.actor,
        "client_id": event.client_id,
        "source_ip": event.source_ip,
        "reason": event.reason,
        "token_id": event.token_id,
        "request_id": event.request_id,
        "details": dict(event.details),
        "event_id": event.event_id,
    }
    return json.dumps({k: v for k, v in data.items() if v not in (None, {})}, separators=(",", ":"))


@cli.group()
def audit() -> None:
    """The audit trail."""


@audit.command("tail")
@click.option("-n", "count", default=20, show_default=True, help="How many recent events.")
@click.option("--tenant", default=None)
@click.option("--follow", "-f", is_flag=True, help="Keep printing new events.")
@pass_ctx
@handle_errors
def audit_tail(ctx: Context, count: int, tenant: str | None, follow: bool) -> None:
    """Print the most recent events as JSON lines."""

    async def work(services: Services) -> None:
        last = 0
        for sequence, event in await services.store.audit.search(AuditQuery(tenant_id=tenant, limit=count)):
            click.echo(_event_line(sequence, event))
            last = sequence
        while follow:
            await asyncio.sleep(1.0)
            query = AuditQuery(tenant_id=tenant, after_sequence=last, limit=1000)
            for sequence, event in await services.store.audit.search(query):
                click.echo(_event_line(sequence, event))
                last = sequence

    with contextlib.suppress(KeyboardInterrupt):
        run_with_services(ctx, work)


@audit.command("search")
@click.option("--tenant", default=None)
@click.option("--action", default=None, help="e.g. token.issue, client.authenticate")
@click.option("--result", type=click.Choice(["success", "failure"]), default=None)
@click.option("--client", "client_id", default=None)
@click.option("--token-id", default=None, help="The jti of a token.")
@click.option("--since", default=None, help="ISO 8601 time or a duration like 15m, 2h, 7d.")
@click.option("--until", default=None, help="ISO 8601 time.")
@click.option("--limit", default=100, show_default=True)
@pass_ctx
@handle_errors
def audit_search(
    ctx: Context,
    tenant: str | None,
    action: str | None,
    result: str | None,
    client_id: str | None,
    token_id: str | None,
    since: str | None,
    until: str | None,
    limit: int,
) -> None:
    """Find events; prints JSON lines, oldest first."""
    query = AuditQuery(
        tenant_id=tenant,
        action=action,
        result=result,  # type: ignore[arg-type]
        client_id=client_id,
        token_id=token_id,
        since=_parse_time(since) if since else None,
        until=_parse_time(until) if until else None,
        limit=limit,
    )

    async def work(services: Services) -> None:
        for sequence, event in await services.store.audit.search(query):
            click.echo(_event_line(sequence, event))

    run_with_services(ctx, work)


def _parse_time(value: str) -> float:
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    if value[:-1].isdigit() and value[-1] in units:
        return time.time() - int(value[:-1]) * units[value[-1]]
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is neither an ISO 8601 time nor a duration like 15m") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp()


def _when(epoch: float | None) -> str:
    if epoch is None:
        return "-"
    return datetime.fromtimestamp(epoch, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def main() -> None:
    cli()


__all__ = ["cli", "main"]
