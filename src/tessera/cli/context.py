"""What every command shares: the configuration, who is acting, and running async work on the store."""

from __future__ import annotations

import asyncio
import getpass
import socket
import time
from collections.abc import Awaitable, Callable, Coroutine
from pathlib import Path
from typing import Any, TypeVar

import click
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, SQLAlchemyError

from tessera.compose import SchemaOutOfDate, Services, open_services
from tessera.domain.tenants import Tenant
from tessera.errors import NotFound, TesseraError
from tessera.settings import Settings, load_settings
from tessera.storage.migrate import HEAD_REVISION, current_revision
from tessera.storage.sql.store import SqlStore, open_store

T = TypeVar("T")
_NETWORK_ERRORS = (ConnectionError, TimeoutError, socket.gaierror)


class StoreUnavailable(TesseraError):
    """The database could not be reached or refused the work."""


class Context:
    """The ``click`` context object: settings are loaded (and validated) on first use."""

    def __init__(self, config: Path | None) -> None:
        self.config = config
        self._settings: Settings | None = None

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = load_settings(self.config)
        return self._settings

    def use_config(self, config: Path) -> None:
        self.config, self._settings = config, None

    def override(self, settings: Settings) -> None:
        self._settings = settings

    @property
    def actor(self) -> str:
        """``cli:<login name>`` for the audit trail."""
        try:
            return f"cli:{getpass.getuser()}"
        except (KeyError, OSError):
            return "cli"

    def run(
        self, work: Callable[[Services], Awaitable[T]], *, changes_store: bool = True, create_kek: bool = False
    ) -> T:
        """Run ``work`` on the services. Only commands that change the store may migrate it."""
        settings = self.settings

        async def main() -> T:
            services = await open_services(settings, create_kek=create_kek, migrate=None if changes_store else False)
            try:
                await check_kek(services)
                return await work(services)
            finally:
                await services.close()

        return self.run_async(main())

    def run_on_store(self, work: Callable[[SqlStore], Awaitable[T]]) -> T:
        """Run ``work`` on the bare store: no key-encryption key needed (audit reading)."""
        settings = self.settings

        async def main() -> T:
            store = open_store(settings.database_url(), time.time, connect_args=settings.connect_args())
            try:
                await require_current_schema(store)
                return await work(store)
            finally:
                await store.close()

        return self.run_async(main())

    def run_async(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run ``coro``; a database that cannot be reached or refuses becomes one ``StoreUnavailable`` line."""
        try:
            return asyncio.run(coro)
        except SQLAlchemyError as exc:
            raise StoreUnavailable(f"cannot use the store at {self.store_location()}: {_reason(exc)}") from None
        except _NETWORK_ERRORS as exc:
            raise StoreUnavailable(f"cannot reach the store at {self.store_location()}: {exc}") from None

    def store_location(self) -> str:
        """The database URL without its password."""
        try:
            return make_url(self.settings.database_url()).render_as_string(hide_password=True)
        except ArgumentError:
            return "(unparsable storage.url)"


async def check_kek(services: Services) -> None:
    """Fail now, with one clear line, if the configured KEK is not the one the keys were sealed with."""
    for tenant in await services.store.tenants.list():
        services.keys.check_kek(await services.keys.keys_of(tenant.id))


async def require_current_schema(store: SqlStore) -> None:
    current, head = await current_revision(store.engine), HEAD_REVISION
    if current != head:
        raise SchemaOutOfDate(
            f"the store is at revision {current or 'none'}, the code needs {head}: run tessera migrate"
        )


async def require_tenant(services: Services, tenant_id: str) -> Tenant:
    tenant = await services.store.tenants.get(tenant_id)
    if tenant is None:
        raise NotFound(f"no tenant {tenant_id!r}")
    return tenant


def _reason(exc: SQLAlchemyError) -> str:
    original = exc.orig if isinstance(exc, DBAPIError) else None
    text = str(original if original is not None else exc).strip()
    if text.startswith("<class"):  # asyncpg errors as SQLAlchemy's adapter renders them
        text = text.split(">:", 1)[-1].strip()
    return text.splitlines()[0] if text else type(exc).__name__


pass_ctx = click.make_pass_decorator(Context)
tenant_option = click.option("--tenant", default="default", show_default=True, help="The tenant.")

__all__ = [
    "Context",
    "StoreUnavailable",
    "check_kek",
    "pass_ctx",
    "require_current_schema",
    "require_tenant",
    "tenant_option",
]
