"""Build the running services from ``Settings``: the only place that wires adapters to cores."""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import logging
import os
from dataclasses import dataclass
from pathlib import Path

from tessera.aws_services import AwsServices, build_aws_services
from tessera.clock import Clock, SystemClock
from tessera.domain.audit import AuditTrail
from tessera.domain.client_registry import ClientRegistry
from tessera.domain.denylist import Denylist
from tessera.domain.directory import Directory
from tessera.domain.key_manager import KeyManager
from tessera.domain.keys import KEK_BYTES, KeyEncryptionKey
from tessera.domain.reconcile import Applied, Reconciler
from tessera.domain.tokens import AccessTokens
from tessera.errors import KeyEncryptionKeyError, TesseraError
from tessera.identity_services import IdentityServices, build_identity_services
from tessera.protocols.oauth2 import (
    ClientAuthenticator,
    IntrospectionEndpoint,
    RevocationEndpoint,
    TokenEndpoint,
)
from tessera.protocols.oauth2.grants import ClientCredentialsGrant
from tessera.protocols.oauth2.token_endpoint import GrantHandler
from tessera.settings import Settings
from tessera.storage.migrate import HEAD_REVISION, current_revision, upgrade
from tessera.storage.sql.startup_lock import exclusive
from tessera.storage.sql.store import SqlStore, open_store

log = logging.getLogger("tessera")


@dataclass
class Services:
    settings: Settings
    clock: Clock
    store: SqlStore
    kek: KeyEncryptionKey
    audit: AuditTrail
    directory: Directory
    denylist: Denylist
    access_tokens: AccessTokens
    keys: KeyManager
    clients: ClientRegistry
    reconciler: Reconciler
    token_endpoint: TokenEndpoint
    introspection: IntrospectionEndpoint
    revocation: RevocationEndpoint
    identity: IdentityServices
    aws: AwsServices

    maintenance: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Background work of a serving node: the audit writer, the change watcher, housekeeping."""
        await self.audit.start()
        await self.directory.start()
        await self.denylist.start(self.settings.storage.cache_refresh_seconds)
        await self.aws.start()
        self.maintenance = asyncio.create_task(self._maintain_forever(), name="tessera-maintenance")

    async def close(self) -> None:
        if self.maintenance is not None:
            self.maintenance.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.maintenance
        await self.directory.stop()
        await self.denylist.stop()
        await self.aws.close()
        await self.identity.close()
        await self.audit.stop()
        await self.store.close()

    async def apply_configuration(self, settings: Settings | None = None, actor: str = "config") -> Applied:
        """Reconcile the store with the configuration, one node or command at a time."""
        async with exclusive(self.store.engine):
            return await self.reconciler.apply(settings or self.settings, actor)

    async def maintain(self) -> None:
        """Forget what has expired: denylist entries, one-time assertion ids, retired keys."""
        now = self.clock.now()
        await self.denylist.purge_expired(now)
        await self.store.replays.purge_expired(now)
        for tenant in await self.store.tenants.list():
            await self.keys.expire(tenant.id)
        await self.identity.maintain(now)
        await self.aws.maintain()

    async def _maintain_forever(self, every: float = 60.0) -> None:
        while True:
            await asyncio.sleep(every)
            try:
                await self.maintain()
            except Exception:  # never let housekeeping take the node down
                log.warning("maintenance failed", exc_info=True)


def load_kek(settings: Settings, create: bool = False) -> KeyEncryptionKey:
    """The KEK from ``keys.kek`` (env TESSERA_KEYS__KEK) or ``keys.kek_file``; optionally create the file."""
    if settings.keys.kek is not None:
        return KeyEncryptionKey(_decode_kek(settings.keys.kek.get_secret_value(), "TESSERA_KEYS__KEK"))
    path = settings.kek_path()
    if not path.exists():
        if not create:
            raise KeyEncryptionKeyError(
                f"no key-encryption key: {path} does not exist and TESSERA_KEYS__KEK is not set "
                "(tessera init creates one)"
            )
        write_new_kek(path)
    try:
        return KeyEncryptionKey(_decode_kek(path.read_text().strip(), str(path)))
    except OSError as exc:
        raise KeyEncryptionKeyError(f"cannot read the key-encryption key {path}: {exc.strerror}") from None


def write_new_kek(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(base64.b64encode(os.urandom(KEK_BYTES)).decode() + "\n")


def _decode_kek(value: str, where: str) -> bytes:
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise KeyEncryptionKeyError(f"the key-encryption key in {where} is not valid base64") from None
    if len(raw) != KEK_BYTES:
        raise KeyEncryptionKeyError(f"the key-encryption key in {where} must decode to {KEK_BYTES} bytes")
    return raw


async def open_services(
    settings: Settings,
    clock: Clock | None = None,
    *,
    migrate: bool | None = None,
    create_kek: bool = False,
) -> Services:
    """Open the store (migrating it when asked) and wire every service."""
    clock = clock or SystemClock()
    kek = load_kek(settings, create=create_kek)
    if settings.storage.url is None:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    store = open_store(settings.database_url(), clock.now, settings.storage.pool_size, settings.connect_args())
    try:
        await _prepare_schema(store, settings.storage.auto_migrate if migrate is None else migrate)
    except BaseException:
        await store.close()
        raise
    audit = AuditTrail(store.audit)
    directory = Directory(store, kek, clock, settings.storage.cache_refresh_seconds)
    tokens = settings.tokens
    access_tokens = AccessTokens(directory, clock)
    keys = KeyManager(store, kek, clock, audit, tokens.max_access_token_lifetime.total_seconds())
    clients = ClientRegistry(store, clock, audit)
    authenticator = ClientAuthenticator(
        directory,
        store.replays.remember,
        tokens.assertion_max_lifetime.total_seconds(),
        tokens.clock_skew.total_seconds(),
    )
    grants: dict[str, GrantHandler] = {
        "client_credentials": ClientCredentialsGrant(access_tokens, tokens.access_token_lifetime.total_seconds())
    }
    denylist = Denylist(store.revocations, clock)
    identity = build_identity_services(settings, store, directory, access_tokens, audit, clock, denylist)
    grants.update(identity.grants)
    reconciler = Reconciler(store, clients, keys, clock, audit)
    reconciler.kinds.append(identity.users_reconciler)
    aws = build_aws_services(settings, store, kek, directory, authenticator, audit, clock, denylist)
    reconciler.kinds.extend(aws.reconcilers)
    return Services(
        settings=settings,
        clock=clock,
        store=store,
        kek=kek,
        audit=audit,
        directory=directory,
        access_tokens=access_tokens,
        keys=keys,
        clients=clients,
        reconciler=reconciler,
        token_endpoint=TokenEndpoint(authenticator, grants),
        denylist=denylist,
        introspection=IntrospectionEndpoint(authenticator, access_tokens, denylist, directory),
        revocation=RevocationEndpoint(authenticator, access_tokens, denylist, identity.refresh_grant),
        identity=identity,
        aws=aws,
    )


class SchemaOutOfDate(TesseraError):
    """The store is behind the code and migration was not allowed."""


async def _prepare_schema(store: SqlStore, migrate: bool) -> None:
    if migrate:
        async with exclusive(store.engine):
            await upgrade(store.engine)
        return
    current, head = await current_revision(store.engine), HEAD_REVISION
    if current != head:
        raise SchemaOutOfDate(
            f"the store is at revision {current or 'none'}, the code needs {head}: run tessera migrate"
        )


__all__ = ["SchemaOutOfDate", "Services", "load_kek", "open_services", "write_new_kek"]
