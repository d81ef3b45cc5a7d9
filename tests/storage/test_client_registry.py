"""The client registry on SQLite and PostgreSQL: secrets, lifecycle, audit events, tenant isolation."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import AsyncIterator, Callable

import pytest
from sqlalchemy import select

from tessera.clock import FixedClock
from tessera.compose import Services, open_services
from tessera.domain.audit import AuditQuery
from tessera.domain.client_registry import InvalidClientSpec, NoClientSecret
from tessera.domain.clients import hash_secret
from tessera.errors import Conflict, NotFound
from tessera.secret import Secret
from tessera.settings import ClientConfig, Settings
from tessera.storage.sql import tables

pytestmark = pytest.mark.storage

JWKS = {"keys": [{"kty": "OKP", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]}


@pytest.fixture
async def services(make_settings: Callable[..., Settings]) -> AsyncIterator[Services]:
    tenants = [{"id": "alpha"}, {"id": "beta", "scopes": [{"name": "read"}]}]
    opened = await open_services(make_settings(tenants=tenants), FixedClock())
    await opened.reconciler.apply(opened.settings)
    yield opened
    await opened.close()


async def raw_client_row(services: Services, tenant_id: str, client_id: str) -> dict[str, object]:
    query = select(tables.clients).where(
        tables.clients.c.tenant_id == tenant_id, tables.clients.c.client_id == client_id
    )
    async with services.store.engine.connect() as conn:
        row = (await conn.execute(query)).one()
    return dict(row._mapping)


async def events(services: Services, **query: str) -> list[tuple[str, str | None, str | None]]:
    found = await services.store.audit.search(AuditQuery(**query))  # type: ignore[arg-type]
    return [(e.action, e.client_id, e.actor) for _, e in found if e.action.startswith("client.")]


async def test_a_confidential_client_gets_a_256_bit_secret_stored_only_as_its_hash(services: Services) -> None:
    registered = await services.clients.create("alpha", ClientConfig(client_id="app"), "cli:alice")
    assert registered.secret is not None
    secret = registered.secret.reveal()
    assert len(base64.urlsafe_b64decode(secret + "=")) == 32  # 256 bits
    row = await raw_client_row(services, "alpha", "app")
    assert row["secret_hash"] == "sha256:" + hashlib.sha256(secret.encode()).hexdigest()
    assert secret not in json.dumps(row, default=str)
    assert "secret_hash" not in row["spec"]  # type: ignore[operator]
    stored = await services.clients.get("alpha", "app")
    assert stored.has_secret(Secret(secret))
    assert not stored.has_secret(Secret(secret + "x"))
    assert await events(services) == [("client.create", "app", "cli:alice")]


async def test_public_and_key_clients_get_no_secret(services: Services) -> None:
    public = ClientConfig(
        client_id="spa",
        type="public",
        auth_methods=["none"],
        grant_types=["authorization_code"],
        redirect_uris=["http://127.0.0.1:3000/callback"],
    )
    keyed = ClientConfig(client_id="svc", auth_methods=["private_key_jwt"], jwks=JWKS)
    for spec in (public, keyed):
        registered = await services.clients.create("alpha", spec, "cli:alice")
        assert registered.secret is None
        assert registered.client.secret_hash is None
        with pytest.raises(NoClientSecret, match="does not authenticate with a secret"):
            await services.clients.rotate_secret("alpha", spec.client_id, "cli:alice")


async def test_a_declared_secret_hash_is_kept_and_no_secret_is_generated(services: Services) -> None:
    digest = hash_secret(Secret("x" * 40))
    registered = await services.clients.create("alpha", ClientConfig(client_id="app", secret_hash=digest), "config")
    assert registered.secret is None
    assert (await raw_client_row(services, "alpha", "app"))["secret_hash"] == digest


async def test_a_duplicate_id_conflicts_and_an_unknown_tenant_is_not_found(services: Services) -> None:
    await services.clients.create("alpha", ClientConfig(client_id="app"), "cli:alice")
    with pytest.raises(Conflict, match="client 'app' already exists in tenant 'alpha'"):
        await services.clients.create("alpha", ClientConfig(client_id="app"), "cli:alice")
    with pytest.raises(NotFound, match="no tenant 'nope'"):
        await services.clients.create("nope", ClientConfig(client_id="app"), "cli:alice")
    with pytest.raises(NotFound, match="no tenant 'nope'"):
        await services.clients.list("nope")
    with pytest.raises(NotFound, match="no client 'other' in tenant 'alpha'"):
        await services.clients.get("alpha", "other")


async def test_a_scope_the_tenant_does_not_offer_is_refused(services: Services) -> None:
    with pytest.raises(InvalidClientSpec, match=r"tenant 'beta' does not offer scope\(s\) write \(it offers read\)"):
        await services.clients.create("beta", ClientConfig(client_id="app", scopes=["read", "write"]), "cli:alice")
    await services.clients.create("beta", ClientConfig(client_id="app", scopes=["read"]), "cli:alice")
    await services.clients.create("alpha", ClientConfig(client_id="app", scopes=["anything"]), "cli:alice")


async def test_rotating_replaces_the_secret(services: Services) -> None:
    first = await services.clients.create("alpha", ClientConfig(client_id="app"), "cli:alice")
    revision = await services.store.revisions.current()
    rotated = await services.clients.rotate_secret("alpha", "app", "cli:bob")
    assert first.secret is not None
    assert rotated.secret is not None
    assert rotated.secret != first.secret
    stored = await services.clients.get("alpha", "app")
    assert stored.has_secret(rotated.secret)
    assert not stored.has_secret(first.secret)
    assert await services.store.revisions.current() > revision  # every node drops its cached copy
    assert (await events(services))[-1] == ("client.rotate_secret", "app", "cli:bob")


async def test_disable_enable_and_delete_are_audited(services: Services) -> None:
    await services.clients.create("alpha", ClientConfig(client_id="app"), "cli:alice")
    assert (await services.clients.set_disabled("alpha", "app", True, "cli:bob")).spec.disabled
    assert (await services.clients.set_disabled("alpha", "app", True, "cli:bob")).spec.disabled  # no-op
    assert not (await services.clients.set_disabled("alpha", "app", False, "cli:bob")).spec.disabled
    await services.clients.delete("alpha", "app", "cli:carol")
    with pytest.raises(NotFound):
        await services.clients.get("alpha", "app")
    with pytest.raises(NotFound):
        await services.clients.delete("alpha", "app", "cli:carol")
    assert await events(services) == [
        ("client.create", "app", "cli:alice"),
        ("client.update", "app", "cli:bob"),
        ("client.update", "app", "cli:bob"),
        ("client.delete", "app", "cli:carol"),
    ]
    updates = await services.store.audit.search(AuditQuery(action="client.update"))
    assert [e.details for _, e in updates] == [{"changed": ["disabled"]}, {"changed": ["disabled"]}]


async def test_an_update_that_needs_a_secret_generates_one_and_one_that_does_not_drops_it(
    services: Services,
) -> None:
    await services.clients.create(
        "alpha", ClientConfig(client_id="app", auth_methods=["private_key_jwt"], jwks=JWKS), "x"
    )
    updated = await services.clients.update("alpha", ClientConfig(client_id="app"), "config")
    assert updated.secret is not None
    assert updated.client.has_secret(updated.secret)
    keyed = ClientConfig(client_id="app", auth_methods=["private_key_jwt"], jwks=JWKS)
    dropped = await services.clients.update("alpha", keyed, "config")
    assert dropped.secret is None
    assert dropped.client.secret_hash is None
    assert (await raw_client_row(services, "alpha", "app"))["secret_hash"] is None


async def test_each_method_touches_only_its_tenant(services: Services) -> None:
    alpha = await services.clients.create("alpha", ClientConfig(client_id="app"), "cli:alice")
    beta = await services.clients.create("beta", ClientConfig(client_id="app", scopes=["read"]), "cli:alice")
    await services.clients.rotate_secret("alpha", "app", "cli:alice")
    await services.clients.set_disabled("alpha", "app", True, "cli:alice")
    assert beta.secret is not None
    assert alpha.secret is not None
    beta_now = await services.clients.get("beta", "app")
    assert beta_now.has_secret(beta.secret)
    assert beta_now.is_enabled
    await services.clients.delete("alpha", "app", "cli:alice")
    assert [c.client_id for c in await services.clients.list("alpha")] == []
    assert [c.client_id for c in await services.clients.list("beta")] == ["app"]
    assert [e.tenant_id for _, e in await services.store.audit.search(AuditQuery(action="client.delete"))] == ["alpha"]
