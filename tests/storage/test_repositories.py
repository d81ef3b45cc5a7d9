"""Every repository method on SQLite and PostgreSQL, each with a two-tenant isolation check."""

from __future__ import annotations

import time
from dataclasses import replace

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from tessera.domain.audit import AuditEvent, AuditQuery
from tessera.domain.clients import Client
from tessera.domain.keys import KeyChanges, KeyEncryptionKey, KeyState, new_stored_key
from tessera.domain.tenants import Tenant
from tessera.errors import Conflict
from tessera.settings import ClientConfig, ScopeConfig
from tessera.storage.sql.store import SqlStore

pytestmark = pytest.mark.storage

KEK = KeyEncryptionKey(b"k" * 32)


def client(tenant: str, client_id: str = "app", **spec: object) -> Client:
    return Client(tenant, ClientConfig(client_id=client_id, **spec), secret_hash="sha256:" + "0" * 64)  # type: ignore[arg-type]


async def test_tenants_put_get_list_delete(store: SqlStore) -> None:
    await store.tenants.put(Tenant(id="alpha", name="Renamed", issuer="https://a.example", account_id="123456789012"))
    got = await store.tenants.get("alpha")
    assert got == Tenant(id="alpha", name="Renamed", issuer="https://a.example", account_id="123456789012")
    assert [t.id for t in await store.tenants.list()] == ["alpha", "beta"]
    await store.clients.create(client("alpha"))
    assert await store.tenants.delete("alpha") is True
    assert await store.tenants.get("alpha") is None
    assert await store.clients.get("alpha", "app") is None
    assert await store.tenants.delete("alpha") is False
    assert (await store.tenants.get("beta")) is not None


async def test_clients_are_isolated_per_tenant(store: SqlStore) -> None:
    await store.clients.create(client("alpha", scopes=["a"]))
    await store.clients.create(client("beta", scopes=["b"]))  # same id, other tenant: allowed
    with pytest.raises(Conflict):
        await store.clients.create(client("alpha"))
    alpha = await store.clients.get("alpha", "app")
    beta = await store.clients.get("beta", "app")
    assert alpha is not None
    assert beta is not None
    assert (alpha.spec.scopes, beta.spec.scopes) == (["a"], ["b"])
    await store.clients.update(client("alpha", scopes=["a", "c"]))
    beta_after = await store.clients.get("beta", "app")
    assert beta_after is not None
    assert beta_after.spec.scopes == ["b"]
    assert [c.client_id for c in await store.clients.list("alpha")] == ["app"]
    assert await store.clients.delete("alpha", "app") is True
    assert await store.clients.get("beta", "app") is not None
    assert await store.clients.list("alpha") == []


async def test_client_spec_round_trips(store: SqlStore) -> None:
    spec = {
        "name": "Billing",
        "scopes": ["a", "b"],
        "default_scopes": ["a"],
        "audiences": ["urn:x"],
        "access_token_lifetime": 120,
        "auth_methods": ["client_secret_post"],
    }
    original = client("alpha", **spec)
    await store.clients.create(original)
    loaded = await store.clients.get("alpha", "app")
    assert loaded is not None
    assert loaded.spec == original.spec
    assert loaded.secret_hash == original.secret_hash
    assert loaded.created_at > 0


async def test_scopes_replace_per_tenant(store: SqlStore) -> None:
    await store.scopes.replace("alpha", [ScopeConfig(name="read"), ScopeConfig(name="write", description="W")])
    await store.scopes.replace("beta", [ScopeConfig(name="other")])
    assert [s.name for s in await store.scopes.list("alpha")] == ["read", "write"]
    await store.scopes.replace("alpha", [])
    assert await store.scopes.list("alpha") == []
    assert [s.name for s in await store.scopes.list("beta")] == ["other"]


async def test_keys_apply_and_list_per_tenant(store: SqlStore) -> None:
    now = time.time()
    a1 = new_stored_key("alpha", "ES256", KEK, now, KeyState.ACTIVE)
    b1 = new_stored_key("beta", "ES256", KEK, now, KeyState.ACTIVE)
    await store.keys.apply("alpha", KeyChanges(added=[a1]))
    await store.keys.apply("beta", KeyChanges(added=[b1]))
    assert [k.kid for k in await store.keys.list("alpha")] == [a1.kid]
    retired = replace(a1, state=KeyState.RETIRED, retired_at=now, publish_until=now + 60)
    await store.keys.apply("alpha", KeyChanges(updated=[retired]))
    [loaded] = await store.keys.list("alpha")
    assert loaded == retired
    await store.keys.apply("alpha", KeyChanges(deleted=[retired]))
    assert await store.keys.list("alpha") == []
    assert [k.kid for k in await store.keys.list("beta")] == [b1.kid]


async def test_revocations(store: SqlStore) -> None:
    now = time.time()
    assert await store.revocations.revoke("alpha", "jti-1", now + 60, now) is True
    assert await store.revocations.revoke("alpha", "jti-1", now + 60, now) is False
    assert await store.revocations.is_revoked("alpha", "jti-1") is True
    assert await store.revocations.is_revoked("beta", "jti-1") is False
    await store.revocations.revoke("beta", "jti-2", now - 1, now - 100)
    assert await store.revocations.purge_expired(now) == 1
    assert await store.revocations.is_revoked("alpha", "jti-1") is True


async def test_replays(store: SqlStore) -> None:
    now = time.time()
    assert await store.replays.remember("alpha", "client:jti", now + 60) is True
    assert await store.replays.remember("alpha", "client:jti", now + 60) is False
    assert await store.replays.remember("beta", "client:jti", now + 60) is True
    await store.replays.remember("alpha", "old", now - 1)
    assert await store.replays.purge_expired(now) == 1


def event(tenant: str, action: str = "token.issue", **fields: object) -> AuditEvent:
    return AuditEvent(action=action, result="success", tenant_id=tenant, occurred_at=time.time(), **fields)  # type: ignore[arg-type]


async def test_audit_append_and_search(store: SqlStore) -> None:
    await store.audit.append([event("alpha", client_id="a", token_id="t1", details={"scope": "x", "n": [1, 2]})])
    await store.audit.append([event("beta", client_id="b"), event("alpha", "token.revoke", client_id="a")])
    alpha = await store.audit.search(AuditQuery(tenant_id="alpha"))
    assert [e.action for _, e in alpha] == ["token.issue", "token.revoke"]
    assert alpha[0][1].details == {"scope": "x", "n": [1, 2]}
    assert [e.tenant_id for _, e in await store.audit.search(AuditQuery(tenant_id="beta"))] == ["beta"]
    assert len(await store.audit.search(AuditQuery(token_id="t1"))) == 1
    assert len(await store.audit.search(AuditQuery(action="token.revoke"))) == 1
    sequences = [s for s, _ in await store.audit.search(AuditQuery())]
    assert sequences == sorted(sequences)
    assert len(await store.audit.search(AuditQuery(after_sequence=sequences[0]))) == 2
    assert len(await store.audit.search(AuditQuery(limit=1))) == 1


async def test_audit_trail_is_append_only_in_the_database(store: SqlStore) -> None:
    await store.audit.append([event("alpha")])
    for statement in ("UPDATE audit_events SET action = 'forged'", "DELETE FROM audit_events"):
        with pytest.raises(DBAPIError, match="append-only"):
            async with store.engine.begin() as conn:
                await conn.execute(text(statement))
    assert len(await store.audit.search(AuditQuery())) == 1


async def test_revision_counter(store: SqlStore) -> None:
    start = await store.revisions.current()
    assert await store.revisions.bump() == start + 1
    assert await store.revisions.bump() == start + 2
    assert await store.revisions.current() == start + 2


async def test_revoked_since_reads_unexpired_revocations_of_every_tenant(store: SqlStore) -> None:
    now = time.time()
    await store.revocations.revoke("alpha", "old", now + 60, now - 100)
    await store.revocations.revoke("beta", "new", now + 60, now)
    await store.revocations.revoke("alpha", "expired", now - 1, now)
    assert await store.revocations.revoked_since(now - 10, now) == [("beta", "new", now + 60, now)]
    assert {r[1] for r in await store.revocations.revoked_since(0, now)} == {"old", "new"}
