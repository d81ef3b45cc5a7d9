"""The cached directory of tenants, clients and key rings, dropped when the store's revision moves."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import pytest

from tessera.clock import FixedClock
from tessera.domain.clients import Client
from tessera.domain.directory import Directory
from tessera.domain.keys import (
    KeyChanges,
    KeyEncryptionKey,
    StoredKey,
    plan_bootstrap,
    plan_rotation,
)
from tessera.domain.tenants import Tenant
from tessera.settings import ClientConfig

pytestmark = pytest.mark.unit

KEK = KeyEncryptionKey(b"\x01" * 32)
T0 = 1_750_000_000.0


class _Tenants:
    def __init__(self) -> None:
        self.rows: dict[str, Tenant] = {}
        self.reads = 0

    async def get(self, tenant_id: str) -> Tenant | None:
        self.reads += 1
        return self.rows.get(tenant_id)


class _Clients:
    def __init__(self) -> None:
        self.rows: dict[tuple[str, str], Client] = {}
        self.reads = 0

    async def get(self, tenant_id: str, client_id: str) -> Client | None:
        self.reads += 1
        return self.rows.get((tenant_id, client_id))


class _Keys:
    def __init__(self) -> None:
        self.rows: dict[str, list[StoredKey]] = {}
        self.reads = 0

    async def list(self, tenant_id: str) -> list[StoredKey]:
        self.reads += 1
        return list(self.rows.get(tenant_id, []))

    def apply(self, tenant_id: str, changes: KeyChanges) -> None:
        deleted = {k.kid for k in changes.deleted}
        updated = {k.kid: k for k in changes.updated}
        kept = [updated.get(k.kid, k) for k in self.rows.get(tenant_id, []) if k.kid not in deleted]
        self.rows[tenant_id] = [*kept, *changes.added]


class _Revisions:
    def __init__(self) -> None:
        self.value = 0

    async def current(self) -> int:
        return self.value


class FakeStore:
    """The slice of ``tessera.ports.Store`` the directory reads."""

    def __init__(self) -> None:
        self.tenants, self.clients, self.keys, self.revisions = _Tenants(), _Clients(), _Keys(), _Revisions()


@pytest.fixture
def store() -> FakeStore:
    store = FakeStore()
    store.tenants.rows["acme"] = Tenant("acme", "Acme")
    store.clients.rows[("acme", "svc")] = Client("acme", ClientConfig(client_id="svc"))
    store.keys.apply("acme", plan_bootstrap("acme", [], "ES256", KEK, T0))
    return store


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(T0)


@pytest.fixture
def directory(store: FakeStore, clock: FixedClock) -> Directory:
    return Directory(store, KEK, clock)  # type: ignore[arg-type]


def _kids(jwks: bytes) -> Sequence[str]:
    keys: list[dict[str, Any]] = json.loads(jwks)["keys"]
    return [k["kid"] for k in keys]


async def test_tenants_are_cached_including_unknown_ones(directory: Directory, store: FakeStore) -> None:
    assert (await directory.tenant("acme")) == store.tenants.rows["acme"]
    assert await directory.tenant("acme") is not None
    assert await directory.tenant("nope") is None
    assert await directory.tenant("nope") is None
    assert store.tenants.reads == 2


async def test_known_clients_are_cached_unknown_ones_are_not(directory: Directory, store: FakeStore) -> None:
    assert await directory.client("acme", "svc") is not None
    assert await directory.client("acme", "svc") is not None
    assert store.clients.reads == 1
    assert await directory.client("acme", "ghost") is None
    assert await directory.client("acme", "ghost") is None
    assert store.clients.reads == 3
    assert await directory.client("other", "svc") is None  # clients are per tenant


async def test_refresh_drops_the_cache_only_when_the_revision_moved(directory: Directory, store: FakeStore) -> None:
    assert await directory.refresh()  # first look
    await directory.tenant("acme")
    assert not await directory.refresh()
    await directory.tenant("acme")
    assert store.tenants.reads == 1
    store.revisions.value += 1
    assert await directory.refresh()
    await directory.tenant("acme")
    assert store.tenants.reads == 2


async def test_a_tenant_created_later_is_seen_after_refresh(directory: Directory, store: FakeStore) -> None:
    assert await directory.tenant("new") is None
    store.tenants.rows["new"] = Tenant("new", "New")
    assert await directory.tenant("new") is None  # cached until the revision moves
    store.revisions.value += 1
    await directory.refresh()
    assert await directory.tenant("new") is not None


async def test_keyring_is_cached(directory: Directory, store: FakeStore) -> None:
    first = await directory.keyring("acme")
    assert await directory.keyring("acme") is first
    assert store.keys.reads == 1


async def test_keyring_is_rebuilt_when_a_retired_key_leaves_the_jwks(
    directory: Directory, store: FakeStore, clock: FixedClock
) -> None:
    keys = store.keys.rows["acme"]
    store.keys.apply("acme", plan_rotation("acme", keys, "ES256", KEK, T0, 600.0))
    ring = await directory.keyring("acme")
    assert len(_kids(ring.jwks_json)) == 3
    clock.advance(599)
    assert await directory.keyring("acme") is ring
    clock.advance(1)
    rebuilt = await directory.keyring("acme")
    assert rebuilt is not ring
    assert len(_kids(rebuilt.jwks_json)) == 2
    assert store.keys.reads == 2


async def test_invalidate_drops_everything(directory: Directory, store: FakeStore) -> None:
    await directory.tenant("acme")
    await directory.client("acme", "svc")
    await directory.keyring("acme")
    directory.invalidate()
    await directory.tenant("acme")
    await directory.client("acme", "svc")
    await directory.keyring("acme")
    assert (store.tenants.reads, store.clients.reads, store.keys.reads) == (2, 2, 2)


async def test_start_and_stop(directory: Directory, store: FakeStore) -> None:
    await directory.start()
    await directory.tenant("acme")
    await directory.stop()
    await directory.stop()
    assert store.tenants.reads == 1


async def test_concurrent_requests_after_an_invalidation_load_the_key_ring_once() -> None:
    import asyncio as _asyncio

    from tessera.clock import FixedClock
    from tessera.domain.directory import Directory
    from tessera.domain.keys import KeyEncryptionKey, KeyState, new_stored_key

    kek = KeyEncryptionKey(b"x" * 32)
    key = new_stored_key("t", "ES256", kek, 1000.0, KeyState.ACTIVE)

    class Keys:
        calls = 0

        async def list(self, tenant_id: str) -> list[object]:
            Keys.calls += 1
            await _asyncio.sleep(0.01)
            return [key]

    class Store:
        keys = Keys()

    directory = Directory(Store(), kek, FixedClock(1000.0))  # type: ignore[arg-type]
    rings = await _asyncio.gather(*(directory.keyring("t") for _ in range(50)))
    assert Keys.calls == 1
    assert all(ring is rings[0] for ring in rings)
    directory.invalidate()
    await _asyncio.gather(*(directory.keyring("t") for _ in range(50)))
    assert Keys.calls == 2
