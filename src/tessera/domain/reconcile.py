"""Declarative bootstrap: make the store match the tenants, scopes and clients of the configuration.

Objects the configuration declares are created or updated and marked *managed*; managed objects
that left the configuration are deleted; objects created by hand (CLI) are left alone unless the
configuration declares the same id, which then takes them over. ``plan`` shows the difference
without changing anything (``tessera apply --dry-run``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from tessera.clock import Clock
from tessera.domain.audit import AuditAction, AuditEvent, AuditTrail
from tessera.domain.client_registry import ClientRegistry
from tessera.domain.clients import Client
from tessera.domain.key_manager import KeyManager
from tessera.domain.tenants import Tenant
from tessera.ports import Store
from tessera.secret import Secret
from tessera.settings import ClientConfig, Settings, TenantConfig

Action = Literal["create", "update", "delete"]


@dataclass(frozen=True, slots=True)
class Change:
    kind: Literal["tenant", "client", "scopes"]
    action: Action
    tenant_id: str
    name: str
    fields: tuple[str, ...] = ()

    def describe(self) -> str:
        sign = {"create": "+", "update": "~", "delete": "-"}[self.action]
        what = f"{self.kind} {self.tenant_id}" if self.kind == "tenant" else f"{self.kind} {self.tenant_id}/{self.name}"
        suffix = f" ({', '.join(self.fields)})" if self.fields else ""
        return f"{sign} {what}{suffix}"


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
        self, store: Store, clients: ClientRegistry, keys: KeyManager, clock: Clock, audit: AuditTrail
    ) -> None:
        self._store, self._clients, self._keys, self._clock, self._audit = store, clients, keys, clock, audit

    async def plan(self, settings: Settings) -> Plan:
        plan = Plan()
        existing = {t.id: t for t in await self._store.tenants.list()}
        desired_ids = {t.id for t in settings.tenants}
        for config in settings.tenants:
            desired = tenant_from_config(config)
            current = existing.get(config.id)
            if current is None:
                plan.changes.append(Change("tenant", "create", config.id, config.id))
            elif current != desired:
                plan.changes.append(Change("tenant", "update", config.id, config.id, _diff(current, desired)))
            await self._plan_contents(plan, config, known=current is not None)
        for tenant in existing.values():
            if tenant.managed and tenant.id not in desired_ids:
                plan.changes.append(Change("tenant", "delete", tenant.id, tenant.id))
        return plan

    async def _plan_contents(self, plan: Plan, config: TenantConfig, known: bool) -> None:
        current_scopes = await self._store.scopes.list(config.id) if known else []
        if sorted(config.scopes, key=lambda s: s.name) != current_scopes:
            plan.changes.append(Change("scopes", "update", config.id, "scopes"))
        current = {c.client_id: c for c in await self._store.clients.list(config.id)} if known else {}
        for spec in config.clients:
            client = current.get(spec.client_id)
            if client is None:
                plan.changes.append(Change("client", "create", config.id, spec.client_id))
            else:
                fields = _client_diff(client, spec)
                if fields:
                    plan.changes.append(Change("client", "update", config.id, spec.client_id, fields))
        declared = {c.client_id for c in config.clients}
        for client in current.values():
            if client.managed and client.client_id not in declared:
                plan.changes.append(Change("client", "delete", config.id, client.client_id))

    async def apply(self, settings: Settings, actor: str = "config") -> Applied:
        plan = await self.plan(settings)
        applied = Applied(plan)
        configs = {t.id: t for t in settings.tenants}
        for change in plan.changes:
            await self._apply_change(change, configs, settings, applied, actor)
        for config in settings.tenants:  # every tenant signs with an active key and publishes the next one
            await self._keys.ensure(config.id, config.signing_alg or settings.keys.algorithm, actor)
        return applied

    async def _apply_change(
        self,
        change: Change,
        configs: dict[str, TenantConfig],
        settings: Settings,
        applied: Applied,
        actor: str,
    ) -> None:
        config = configs.get(change.tenant_id)
        if change.kind == "tenant":
            if change.action == "delete":
                await self._store.tenants.delete(change.tenant_id)
            else:
                assert config is not None
                await self._store.tenants.put(tenant_from_config(config))
            await self._store.revisions.bump()
            action = {"create": AuditAction.TENANT_CREATE, "update": AuditAction.TENANT_UPDATE}.get(
                change.action, AuditAction.TENANT_DELETE
            )
            await self._record(action, change, actor)
        elif change.kind == "scopes":
            assert config is not None
            await self._store.scopes.replace(change.tenant_id, config.scopes)
            await self._store.revisions.bump()
            await self._record(AuditAction.SCOPE_CHANGE, change, actor)
        else:
            await self._apply_client(change, config, applied, actor)

    async def _apply_client(self, change: Change, config: TenantConfig | None, applied: Applied, actor: str) -> None:
        if change.action == "delete":
            await self._clients.delete(change.tenant_id, change.name, actor)
            return
        assert config is not None
        spec = next(c for c in config.clients if c.client_id == change.name)
        if change.action == "create":
            registered = await self._clients.create(change.tenant_id, spec, actor, managed=True)
            if registered.secret is not None:
                applied.secrets.append(GeneratedSecret(change.tenant_id, spec.client_id, registered.secret))
        else:
            await self._clients.update(change.tenant_id, spec, actor, managed=True)

    async def _record(self, action: AuditAction, change: Change, actor: str) -> None:
        await self._audit.record(
            AuditEvent(
                action=action.value,
                result="success",
                tenant_id=change.tenant_id,
                occurred_at=self._clock.now(),
                actor=actor,
                details={"fields": list(change.fields)} if change.fields else {},
            )
        )


def _diff(current: Tenant, desired: Tenant) -> tuple[str, ...]:
    names: Sequence[str] = ("name", "issuer", "account_id", "signing_alg", "default_audience", "managed")
    return tuple(n for n in names if getattr(current, n) != getattr(desired, n))


def _client_diff(client: Client, spec: ClientConfig) -> tuple[str, ...]:
    old = client.spec.model_dump(exclude={"secret_hash"})
    new = spec.model_dump(exclude={"secret_hash"})
    fields = [k for k in new if old.get(k) != new[k]]
    if spec.secret_hash is not None and spec.secret_hash != client.secret_hash:
        fields.append("secret")
    if not client.managed:
        fields.append("managed")
    return tuple(fields)


__all__ = ["Applied", "Change", "GeneratedSecret", "Plan", "Reconciler", "tenant_from_config"]
