"""Declarative bootstrap: make the store match the tenants the configuration declares.

Objects the configuration declares are created or updated and marked *managed*; managed objects
that left the configuration are deleted; objects created by hand (CLI) are left alone unless the
configuration declares the same id, which then takes them over. ``plan`` computes the difference
without changing anything (``tessera apply --dry-run``); ``apply`` carries it out, so applying the
same configuration twice changes nothing the second time.

Each kind of object a tenant holds (scopes, clients, signing keys) has its own ``TenantContents``
reconciler. A new kind (users, roles) is one more class in ``Reconciler.kinds``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol

from tessera.clock import Clock
from tessera.domain.audit import AuditAction, AuditEvent, AuditTrail
from tessera.domain.client_registry import ClientRegistry
from tessera.domain.clients import Client
from tessera.domain.key_manager import KeyManager
from tessera.domain.keys import KeyState
from tessera.domain.tenants import Tenant
from tessera.errors import Conflict
from tessera.ports import Store
from tessera.secret import Secret
from tessera.settings import ClientConfig, ScopeConfig, Settings, TenantConfig

Action = Literal["create", "update", "delete"]
_SIGNS = {"create": "+", "update": "~", "delete": "-"}


@dataclass(frozen=True, slots=True)
class Change:
    """One difference between the configuration and the store."""

    kind: str  # "tenant", "scopes", "client", "keys", ...
    action: Action
    tenant_id: str
    name: str = ""  # the object within the tenant; empty for the tenant itself and per-tenant sets
    fields: tuple[str, ...] = ()

    def describe(self) -> str:
        target = f"{self.tenant_id}/{self.name}" if self.name else self.tenant_id
        suffix = f" ({', '.join(self.fields)})" if self.fields else ""
        return f"{_SIGNS[self.action]} {self.kind} {target}{suffix}"


@dataclass(slots=True)
class Plan:
    changes: list[Change] = field(default_factory=list)

    def is_empty(self) -> bool:
        return not self.changes

    def describe(self) -> str:
        return "\n".join(c.describe() for c in self.changes) if self.changes else "no changes"


@dataclass(frozen=True, slots=True)
class GeneratedSecret:
    tenant_id: str
    client_id: str
    secret: Secret[str]


@dataclass(slots=True)
class Applied:
    plan: Plan
    secrets: list[GeneratedSecret] = field(default_factory=list)


class TenantContents(Protocol):
    """One kind of object a tenant declares, reconciled on its own."""

    kind: str

    async def plan(self, config: TenantConfig, settings: Settings, exists: bool) -> list[Change]:
        """The changes that would make the tenant's objects of this kind match ``config``."""
        ...

    async def apply(
        self, change: Change, config: TenantConfig, settings: Settings, actor: str
    ) -> list[GeneratedSecret]:
        """Carry out one change of this kind; returns secrets generated on the way (shown once)."""
        ...


def tenant_from_config(config: TenantConfig) -> Tenant:
    return Tenant(
        id=config.id,
        name=config.name or config.id,
        issuer=config.issuer,
        account_id=config.account_id,
        signing_alg=config.signing_alg,
        default_audience=config.default_audience,
        managed=True,
    )


class Reconciler:
    def __init__(
        self,
        store: Store,
        clients: ClientRegistry,
        keys: KeyManager,
        clock: Clock,
        audit: AuditTrail,
        kinds: Sequence[TenantContents] | None = None,
    ) -> None:
        self._store, self._clock, self._audit = store, clock, audit
        default_kinds: list[TenantContents] = [
            ScopesReconciler(store, clock, audit),
            ClientsReconciler(clients),
            KeysReconciler(keys),
        ]
        self.kinds: list[TenantContents] = list(kinds) if kinds is not None else default_kinds

    async def plan(self, settings: Settings) -> Plan:
        """What ``apply`` would do; reads the store and changes nothing."""
        existing = {t.id: t for t in await self._store.tenants.list()}
        plan = Plan()
        for config in settings.tenants:
            plan.changes.extend(_plan_tenant(config, existing.get(config.id)))
            for kind in self.kinds:
                plan.changes.extend(await kind.plan(config, settings, config.id in existing))
        declared = {t.id for t in settings.tenants}
        for tenant in existing.values():
            if tenant.managed and tenant.id not in declared:
                plan.changes.append(Change("tenant", "delete", tenant.id))
        return plan

    async def apply(self, settings: Settings, actor: str = "config") -> Applied:
        applied = Applied(await self.plan(settings))
        configs = {t.id: t for t in settings.tenants}
        kinds = {k.kind: k for k in self.kinds}
        for change in applied.plan.changes:
            if change.kind == "tenant":
                await self._apply_tenant(change, configs.get(change.tenant_id), actor)
            else:
                config = configs[change.tenant_id]
                applied.secrets.extend(await kinds[change.kind].apply(change, config, settings, actor))
        return applied

    async def _apply_tenant(self, change: Change, config: TenantConfig | None, actor: str) -> None:
        if change.action == "delete":
            await self._store.tenants.delete(change.tenant_id)
        else:
            assert config is not None
            await self._store.tenants.put(tenant_from_config(config))
        await self._store.revisions.bump()
        action = {"create": AuditAction.TENANT_CREATE, "update": AuditAction.TENANT_UPDATE}
        await _record(self._audit, self._clock, action.get(change.action, AuditAction.TENANT_DELETE), change, actor)


def _plan_tenant(config: TenantConfig, current: Tenant | None) -> list[Change]:
    desired = tenant_from_config(config)
    if current is None:
        return [Change("tenant", "create", config.id)]
    names = ("name", "issuer", "account_id", "signing_alg", "default_audience", "managed")
    fields = tuple(n for n in names if getattr(current, n) != getattr(desired, n))
    return [Change("tenant", "update", config.id, fields=fields)] if fields else []


class ScopesReconciler:
    """The scopes a tenant offers, replaced as one set."""

    kind = "scopes"

    def __init__(self, store: Store, clock: Clock, audit: AuditTrail) -> None:
        self._store, self._clock, self._audit = store, clock, audit

    async def plan(self, config: TenantConfig, settings: Settings, exists: bool) -> list[Change]:
        current = {s.name: s for s in await self._store.scopes.list(config.id)} if exists else {}
        desired = {s.name: s for s in config.scopes}
        if current == desired:
            return []
        if not current or not desired:
            action: Action = "create" if desired else "delete"
            return [Change("scopes", action, config.id, fields=tuple(sorted(desired or current)))]
        return [Change("scopes", "update", config.id, fields=_scope_diff(current, desired))]

    async def apply(
        self, change: Change, config: TenantConfig, settings: Settings, actor: str
    ) -> list[GeneratedSecret]:
        await self._store.scopes.replace(config.id, sorted(config.scopes, key=lambda s: s.name))
        await self._store.revisions.bump()
        await _record(self._audit, self._clock, AuditAction.SCOPE_CHANGE, change, actor)
        return []


def _scope_diff(current: dict[str, ScopeConfig], desired: dict[str, ScopeConfig]) -> tuple[str, ...]:
    added = [f"+{n}" for n in sorted(desired.keys() - current.keys())]
    removed = [f"-{n}" for n in sorted(current.keys() - desired.keys())]
    changed = [f"~{n}" for n in sorted(desired.keys() & current.keys()) if desired[n] != current[n]]
    return (*added, *removed, *changed)


class ClientsReconciler:
    """Declared clients: created, updated or taken over; managed ones that left the file are deleted."""

    kind = "client"

    def __init__(self, clients: ClientRegistry) -> None:
        self._clients = clients

    async def plan(self, config: TenantConfig, settings: Settings, exists: bool) -> list[Change]:
        current = {c.client_id: c for c in await self._clients.list(config.id)} if exists else {}
        changes = []
        for spec in config.clients:
            client = current.get(spec.client_id)
            if client is None:
                changes.append(Change("client", "create", config.id, spec.client_id))
            elif fields := _client_diff(client, spec):
                changes.append(Change("client", "update", config.id, spec.client_id, fields))
        declared = {c.client_id for c in config.clients}
        for client in current.values():
            if client.managed and client.client_id not in declared:
                changes.append(Change("client", "delete", config.id, client.client_id))
        return changes

    async def apply(
        self, change: Change, config: TenantConfig, settings: Settings, actor: str
    ) -> list[GeneratedSecret]:
        if change.action == "delete":
            await self._clients.delete(change.tenant_id, change.name, actor)
            return []
        spec = next(c for c in config.clients if c.client_id == change.name)
        if change.action == "create":
            try:
                registered = await self._clients.create(change.tenant_id, spec, actor, managed=True)
            except Conflict:  # another node created it since the plan was made: take it over
                registered = await self._clients.update(change.tenant_id, spec, actor, managed=True)
        else:
            registered = await self._clients.update(change.tenant_id, spec, actor, managed=True)
        if registered.secret is None:
            return []
        return [GeneratedSecret(change.tenant_id, spec.client_id, registered.secret)]


def _client_diff(client: Client, spec: ClientConfig) -> tuple[str, ...]:
    old = client.spec.model_dump(exclude={"secret_hash"})
    new = spec.model_dump(exclude={"secret_hash"})
    fields = [k for k in new if old.get(k) != new[k]]
    if spec.secret_hash is not None and spec.secret_hash != client.secret_hash:
        fields.append("secret")
    if not client.managed:
        fields.append("managed")
    return tuple(fields)


class KeysReconciler:
    """Every tenant signs with an active key and publishes the next one; the KEK must open them."""

    kind = "keys"

    def __init__(self, keys: KeyManager) -> None:
        self._keys = keys

    async def plan(self, config: TenantConfig, settings: Settings, exists: bool) -> list[Change]:
        keys = await self._keys.keys_of(config.id) if exists else []
        self._keys.check_kek(keys)
        states = {k.state for k in keys}
        missing = tuple(s.value for s in (KeyState.ACTIVE, KeyState.NEXT) if s not in states)
        if not missing:
            return []
        return [Change("keys", "update" if keys else "create", config.id, fields=missing)]

    async def apply(
        self, change: Change, config: TenantConfig, settings: Settings, actor: str
    ) -> list[GeneratedSecret]:
        await self._keys.ensure(config.id, config.signing_alg or settings.keys.algorithm, actor)
        return []


async def _record(audit: AuditTrail, clock: Clock, action: AuditAction, change: Change, actor: str) -> None:
    await audit.record(
        AuditEvent(
            action=action.value,
            result="success",
            tenant_id=change.tenant_id,
            occurred_at=clock.now(),
            actor=actor,
            details={"fields": list(change.fields)} if change.fields else {},
        )
    )


__all__ = [
    "Applied",
    "Change",
    "ClientsReconciler",
    "GeneratedSecret",
    "KeysReconciler",
    "Plan",
    "Reconciler",
    "ScopesReconciler",
    "TenantContents",
    "tenant_from_config",
]
