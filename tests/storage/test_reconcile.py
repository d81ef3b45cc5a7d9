"""The declarative bootstrap on SQLite and PostgreSQL: plan, apply, re-apply, take-over, removal."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from sqlalchemy import inspect, select

from tessera.clock import FixedClock
from tessera.compose import Services, open_services
from tessera.domain.audit import AuditQuery
from tessera.domain.clients import hash_secret
from tessera.domain.reconcile import Change, ClientsReconciler, GeneratedSecret, Reconciler
from tessera.domain.tenants import Tenant
from tessera.errors import KeyEncryptionKeyError
from tessera.secret import Secret
from tessera.settings import ClientConfig, Settings, TenantConfig
from tessera.storage.sql import tables
from tessera.storage.sql.store import SqlStore

pytestmark = pytest.mark.storage

OTHER_KEK = "b3RoZXIta2V5LWVuY3J5cHRpb24ta2V5LTMyLWJ5dGU="
SCOPES = [{"name": "api:read", "description": "Read"}, {"name": "api:write", "description": "Write"}]


def tenant(tenant_id: str = "acme", clients: list[dict[str, Any]] | None = None, **extra: Any) -> dict[str, Any]:
    return {"id": tenant_id, "name": tenant_id.title(), "scopes": SCOPES, "clients": clients or [], **extra}


def declared(client_id: str, **spec: Any) -> dict[str, Any]:
    return {"client_id": client_id, "scopes": ["api:read"], **spec}


@pytest.fixture
async def services(make_settings: Callable[..., Settings]) -> AsyncIterator[Services]:
    opened = await open_services(make_settings(tenants=[]), FixedClock())
    yield opened
    await opened.close()


async def snapshot(store: SqlStore) -> dict[str, list[str]]:
    """Every row of every table, for comparing the store before and after."""
    async with store.engine.connect() as conn:
        present = set(await conn.run_sync(lambda sync: inspect(sync).get_table_names()))
        return {
            table.name: sorted(repr(tuple(row)) for row in (await conn.execute(select(table))).all())
            for table in tables.metadata.sorted_tables
            if table.name in present
        }


async def test_a_first_apply_creates_everything_and_a_second_changes_nothing(
    services: Services, make_settings: Callable[..., Settings]
) -> None:
    settings = make_settings(tenants=[tenant(clients=[declared("web"), declared("cron", name="Nightly")])])
    applied = await services.reconciler.apply(settings)
    assert applied.plan.describe().splitlines() == [
        "+ tenant acme",
        "+ scopes acme (api:read, api:write)",
        "+ client acme/web",
        "+ client acme/cron",
        "+ keys acme (active, next)",
    ]
    assert [(s.tenant_id, s.client_id) for s in applied.secrets] == [("acme", "web"), ("acme", "cron")]
    stored = await services.store.tenants.get("acme")
    assert stored == Tenant(id="acme", name="Acme", managed=True)
    assert [s.name for s in await services.store.scopes.list("acme")] == ["api:read", "api:write"]
    clients = {c.client_id: c for c in await services.clients.list("acme")}
    assert set(clients) == {"web", "cron"}
    assert all(c.managed for c in clients.values())
    assert clients["web"].secret_hash == hash_secret(applied.secrets[0].secret)
    assert sorted(k.state.value for k in await services.keys.keys_of("acme")) == ["active", "next"]

    before = await snapshot(services.store)
    again = await services.reconciler.apply(settings)
    assert again.plan.is_empty()
    assert again.plan.describe() == "no changes"
    assert again.secrets == []
    assert await snapshot(services.store) == before


async def test_plan_changes_nothing(services: Services, make_settings: Callable[..., Settings]) -> None:
    await services.reconciler.apply(make_settings(tenants=[tenant(clients=[declared("web"), declared("old")])]))
    await services.clients.create("acme", ClientConfig(client_id="manual"), "cli:alice")
    changed = make_settings(
        tenants=[
            tenant(clients=[declared("web", scopes=["api:read", "api:write"]), declared("new")], name="Renamed"),
            tenant("beta"),
        ]
    )
    before = await snapshot(services.store)
    plan = await services.reconciler.plan(changed)
    assert plan.describe().splitlines() == [
        "~ tenant acme (name)",
        "~ client acme/web (scopes)",
        "+ client acme/new",
        "- client acme/old",
        "+ tenant beta",
        "+ scopes beta (api:read, api:write)",
        "+ keys beta (active, next)",
    ]
    assert await snapshot(services.store) == before
    applied = await services.reconciler.apply(changed)
    assert applied.plan == plan
    assert await snapshot(services.store) != before
    assert (await services.reconciler.plan(changed)).is_empty()


async def test_removing_a_declared_client_deletes_it_and_leaves_cli_clients_alone(
    services: Services, make_settings: Callable[..., Settings]
) -> None:
    await services.reconciler.apply(make_settings(tenants=[tenant(clients=[declared("web"), declared("gone")])]))
    await services.clients.create("acme", ClientConfig(client_id="manual", scopes=["api:read"]), "cli:alice")
    applied = await services.reconciler.apply(make_settings(tenants=[tenant(clients=[declared("web")])]))
    assert applied.plan.describe() == "- client acme/gone"
    assert [c.client_id for c in await services.clients.list("acme")] == ["manual", "web"]
    deleted = await services.store.audit.search(AuditQuery(action="client.delete"))
    assert [(e.client_id, e.actor) for _, e in deleted] == [("gone", "config")]


async def test_a_declared_client_takes_over_a_cli_client_of_the_same_id(
    services: Services, make_settings: Callable[..., Settings]
) -> None:
    await services.reconciler.apply(make_settings(tenants=[tenant()]))
    manual = await services.clients.create("acme", ClientConfig(client_id="shared", name="By hand"), "cli:alice")
    settings = make_settings(tenants=[tenant(clients=[declared("shared", name="From git")])])
    applied = await services.reconciler.apply(settings)
    assert applied.plan.describe() == "~ client acme/shared (name, scopes, managed)"
    assert applied.secrets == []  # the secret issued by hand keeps working
    taken = await services.clients.get("acme", "shared")
    assert (taken.managed, taken.spec.name, taken.secret_hash) == (True, "From git", manual.client.secret_hash)
    assert (await services.reconciler.plan(settings)).is_empty()
    applied = await services.reconciler.apply(make_settings(tenants=[tenant()]))  # now it is the file's to delete
    assert applied.plan.describe() == "- client acme/shared"


async def test_a_changed_client_is_updated_in_place_with_the_changed_fields_audited(
    services: Services, make_settings: Callable[..., Settings]
) -> None:
    first = await services.reconciler.apply(make_settings(tenants=[tenant(clients=[declared("web")])]))
    applied = await services.reconciler.apply(
        make_settings(tenants=[tenant(clients=[declared("web", disabled=True, audiences=["urn:api"])])])
    )
    assert applied.plan.describe() == "~ client acme/web (audiences, disabled)"
    web = await services.clients.get("acme", "web")
    assert web.spec.disabled
    assert web.spec.audiences == ["urn:api"]
    assert web.secret_hash == hash_secret(first.secrets[0].secret)
    [(_, event)] = await services.store.audit.search(AuditQuery(action="client.update"))
    assert event.details == {"changed": ["audiences", "disabled"]}


async def test_a_declared_secret_hash_is_applied_and_followed(
    services: Services, make_settings: Callable[..., Settings]
) -> None:
    secret, other = Secret("s" * 43), Secret("t" * 43)
    applied = await services.reconciler.apply(
        make_settings(tenants=[tenant(clients=[declared("web", secret_hash=hash_secret(secret))])])
    )
    assert applied.secrets == []
    assert (await services.clients.get("acme", "web")).has_secret(secret)
    applied = await services.reconciler.apply(
        make_settings(tenants=[tenant(clients=[declared("web", secret_hash=hash_secret(other))])])
    )
    assert applied.plan.describe() == "~ client acme/web (secret)"
    web = await services.clients.get("acme", "web")
    assert web.has_secret(other)
    assert not web.has_secret(secret)


async def test_scope_changes_are_listed_by_name(services: Services, make_settings: Callable[..., Settings]) -> None:
    await services.reconciler.apply(make_settings(tenants=[tenant()]))
    scopes = [{"name": "api:read", "description": "Read it all"}, {"name": "api:admin"}]
    plan = await services.reconciler.plan(make_settings(tenants=[tenant(scopes=scopes)]))
    assert plan.describe() == "~ scopes acme (+api:admin, -api:write, ~api:read)"
    await services.reconciler.apply(make_settings(tenants=[tenant(scopes=scopes)]))
    assert [(s.name, s.description) for s in await services.store.scopes.list("acme")] == [
        ("api:admin", ""),
        ("api:read", "Read it all"),
    ]
    applied = await services.reconciler.apply(make_settings(tenants=[tenant(scopes=[])]))
    assert applied.plan.describe() == "- scopes acme (api:admin, api:read)"


async def test_a_managed_tenant_that_left_the_file_is_deleted_and_an_unmanaged_one_is_kept(
    services: Services, make_settings: Callable[..., Settings]
) -> None:
    await services.reconciler.apply(make_settings(tenants=[tenant(clients=[declared("web")]), tenant("beta")]))
    await services.store.tenants.put(Tenant(id="legacy", name="Legacy"))
    applied = await services.reconciler.apply(make_settings(tenants=[tenant("beta")]))
    assert applied.plan.describe() == "- tenant acme"
    assert [t.id for t in await services.store.tenants.list()] == ["beta", "legacy"]
    assert await services.store.clients.get("acme", "web") is None
    assert await services.keys.keys_of("acme") == []
    events = await services.store.audit.search(AuditQuery(tenant_id="acme", action="tenant.delete"))
    assert len(events) == 1


async def test_every_change_is_audited_with_the_actor(
    services: Services, make_settings: Callable[..., Settings]
) -> None:
    await services.reconciler.apply(make_settings(tenants=[tenant(clients=[declared("web")])]), actor="cli:bob")
    events = [e for _, e in await services.store.audit.search(AuditQuery(tenant_id="acme"))]
    assert [e.action for e in events] == ["tenant.create", "scope.change", "client.create", "key.create", "key.create"]
    assert {e.actor for e in events} == {"cli:bob"}
    assert all(e.result == "success" for e in events)


async def test_a_wrong_kek_stops_the_plan_before_anything_changes(
    services: Services, make_settings: Callable[..., Settings]
) -> None:
    settings = make_settings(tenants=[tenant()])
    await services.reconciler.apply(settings)
    other = await open_services(make_settings(tenants=[tenant(name="Changed")], keys={"kek": OTHER_KEK}), FixedClock())
    try:
        before = await snapshot(other.store)
        with pytest.raises(KeyEncryptionKeyError, match="sealed with key-encryption key"):
            await other.reconciler.apply(other.settings)
        assert await snapshot(other.store) == before
    finally:
        await other.close()


async def test_a_client_created_meanwhile_by_another_node_is_taken_over(
    services: Services, make_settings: Callable[..., Settings]
) -> None:
    settings = make_settings(tenants=[tenant(clients=[declared("web", name="Declared")])])
    await services.reconciler.apply(make_settings(tenants=[tenant()]))
    await services.clients.create("acme", ClientConfig(client_id="web", name="Raced"), "config", managed=True)
    reconciler = ClientsReconciler(services.clients)
    config = settings.tenants[0]
    assert await reconciler.apply(Change("client", "create", "acme", "web"), config, settings, "config") == []
    assert (await services.clients.get("acme", "web")).spec.name == "Declared"


async def test_a_new_kind_of_object_plugs_into_the_reconciler(
    services: Services, make_settings: Callable[..., Settings]
) -> None:
    applied_changes: list[Change] = []

    class Greetings:
        kind = "greeting"

        async def plan(self, config: TenantConfig, settings: Settings, exists: bool) -> list[Change]:
            return [Change("greeting", "create", config.id, "hello")]

        async def apply(
            self, change: Change, config: TenantConfig, settings: Settings, actor: str
        ) -> list[GeneratedSecret]:
            applied_changes.append(change)
            return []

    reconciler = Reconciler(
        services.store, services.clients, services.keys, services.clock, services.audit, kinds=[Greetings()]
    )
    applied = await reconciler.apply(make_settings(tenants=[tenant()]))
    assert applied.plan.describe().splitlines() == ["+ tenant acme", "+ greeting acme/hello"]
    assert applied_changes == [Change("greeting", "create", "acme", "hello")]
