"""The cached view of tenants, clients and keys that every request reads.

Nodes never ask the store for these on the hot path. A background task watches the store's
revision counter (one tiny query per ``refresh_seconds``) and drops the cache when any node
changed something, so a change made on one node is honoured by all of them within that delay.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass

from tessera.clock import Clock
from tessera.domain.clients import Client
from tessera.domain.keys import KeyEncryptionKey, KeyRing, StoredKey
from tessera.domain.tenants import Tenant
from tessera.ports import Store

log = logging.getLogger("tessera.directory")


@dataclass(frozen=True, slots=True)
class _CachedRing:
    ring: KeyRing
    valid_until: float  # rebuild when a retired key leaves the JWKS


class Directory:
    def __init__(self, store: Store, kek: KeyEncryptionKey, clock: Clock, refresh_seconds: float = 1.0) -> None:
        self._store, self._kek, self._clock = store, kek, clock
        self._refresh_seconds = refresh_seconds
        self._tenants: dict[str, Tenant | None] = {}
        self._clients: dict[tuple[str, str], Client] = {}
        self._rings: dict[str, _CachedRing] = {}
        self._loading_rings: dict[str, asyncio.Future[KeyRing]] = {}
        self._generation = 0
        self._revision = -1
        self._watcher: asyncio.Task[None] | None = None

    async def tenant(self, tenant_id: str) -> Tenant | None:
        if tenant_id in self._tenants:
            return self._tenants[tenant_id]
        tenant = await self._store.tenants.get(tenant_id)
        if tenant is not None or len(self._tenants) < 10_000:  # unknown ids are cached, boundedly
            self._tenants[tenant_id] = tenant
        return tenant

    async def client(self, tenant_id: str, client_id: str) -> Client | None:
        cached = self._clients.get((tenant_id, client_id))
        if cached is not None:
            return cached
        client = await self._store.clients.get(tenant_id, client_id)
        if client is not None:  # unknown ids are not cached: an attacker could fill memory
            self._clients[(tenant_id, client_id)] = client
        return client

    async def keyring(self, tenant_id: str) -> KeyRing:
        cached = self._rings.get(tenant_id)
        now = self._clock.now()
        if cached is not None and now < cached.valid_until:
            return cached.ring
        loading = self._loading_rings.get(tenant_id)
        if loading is None:  # one load per tenant, however many requests arrive meanwhile
            loading = asyncio.ensure_future(self._load_ring(tenant_id, now, self._generation))
            self._loading_rings[tenant_id] = loading
            loading.add_done_callback(lambda _: self._loading_rings.pop(tenant_id, None))
        return await asyncio.shield(loading)

    async def _load_ring(self, tenant_id: str, now: float, generation: int) -> KeyRing:
        keys = await self._store.keys.list(tenant_id)
        ring = KeyRing.build(keys, self._kek, now)
        if generation == self._generation:  # not invalidated while loading
            self._rings[tenant_id] = _CachedRing(ring, _valid_until(keys, now))
        return ring

    def invalidate(self) -> None:
        self._generation += 1
        self._tenants.clear()
        self._clients.clear()
        self._rings.clear()

    async def refresh(self) -> bool:
        """Drop the cache if the store changed since the last look; True when it did."""
        revision = await self._store.revisions.current()
        if revision != self._revision:
            self._revision = revision
            self.invalidate()
            return True
        return False

    async def start(self) -> None:
        if self._watcher is not None:
            return
        await self.refresh()
        self._watcher = asyncio.create_task(self._watch(), name="tessera-directory-watcher")

    async def stop(self) -> None:
        watcher, self._watcher = self._watcher, None
        if watcher is not None:
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(self._refresh_seconds)
            try:
                await self.refresh()
            except Exception:  # the store may be briefly unreachable; keep serving from cache
                log.warning("could not read the store revision", exc_info=True)


def _valid_until(keys: list[StoredKey], now: float) -> float:
    ends = [k.publish_until for k in keys if k.publish_until is not None and k.publish_until > now]
    return min(ends, default=float("inf"))


__all__ = ["Directory"]
