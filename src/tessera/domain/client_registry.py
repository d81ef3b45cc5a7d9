"""Registering and managing clients (used by the CLI and the declarative configuration)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from tessera.clock import Clock
from tessera.domain.audit import AuditAction, AuditEvent, AuditTrail
from tessera.domain.clients import Client, generate_secret, hash_secret
from tessera.errors import NotFound
from tessera.ports import Store
from tessera.secret import Secret
from tessera.settings import ClientConfig


@dataclass(frozen=True, slots=True)
class RegisteredClient:
    client: Client
    secret: Secret[str] | None  # shown once, never stored


class ClientRegistry:
    def __init__(self, store: Store, clock: Clock, audit: AuditTrail) -> None:
        self._store, self._clock, self._audit = store, clock, audit

    async def list(self, tenant_id: str) -> list[Client]:
        return await self._store.clients.list(tenant_id)

    async def get(self, tenant_id: str, client_id: str) -> Client:
        client = await self._store.clients.get(tenant_id, client_id)
        if client is None:
            raise NotFound(f"no client {client_id!r} in tenant {tenant_id!r}")
        return client

    async def create(self, tenant_id: str, spec: ClientConfig, actor: str, managed: bool = False) -> RegisteredClient:
        secret: Secret[str] | None = None
        secret_hash = spec.secret_hash
        if spec.type == "confidential" and secret_hash is None and _uses_secret(spec):
            secret = generate_secret()
            secret_hash = hash_secret(secret)
        client = Client(tenant_id, spec.model_copy(update={"secret_hash": None}), secret_hash, managed)
        await self._store.clients.create(client)
        await self._changed(AuditAction.CLIENT_CREATE, client, actor)
        return RegisteredClient(client, secret)

    async def update(self, tenant_id: str, spec: ClientConfig, actor: str, managed: bool | None = None) -> Client:
        current = await self.get(tenant_id, spec.client_id)
        secret_hash = spec.secret_hash or current.secret_hash
        updated = replace(
            current,
            spec=spec.model_copy(update={"secret_hash": None}),
            secret_hash=secret_hash,
            managed=current.managed if managed is None else managed,
        )
        await self._store.clients.update(updated)
        await self._changed(AuditAction.CLIENT_UPDATE, updated, actor, changed=_changed_fields(current, updated))
        return updated

    async def rotate_secret(self, tenant_id: str, client_id: str, actor: str) -> RegisteredClient:
        current = await self.get(tenant_id, client_id)
        if not current.is_confidential:
            raise NotFound(f"client {client_id!r} is public and has no secret")
        secret = generate_secret()
        updated = replace(current, secret_hash=hash_secret(secret))
        await self._store.clients.update(updated)
        await self._changed(AuditAction.CLIENT_ROTATE_SECRET, updated, actor)
        return RegisteredClient(updated, secret)

    async def set_disabled(self, tenant_id: str, client_id: str, disabled: bool, actor: str) -> Client:
        current = await self.get(tenant_id, client_id)
        return await self.update(tenant_id, current.spec.model_copy(update={"disabled": disabled}), actor)

    async def delete(self, tenant_id: str, client_id: str, actor: str) -> None:
        current = await self.get(tenant_id, client_id)
        await self._store.clients.delete(tenant_id, client_id)
        await self._changed(AuditAction.CLIENT_DELETE, current, actor)

    async def _changed(self, action: AuditAction, client: Client, actor: str, **details: Any) -> None:
        await self._store.revisions.bump()
        await self._audit.record(
            AuditEvent(
                action=action.value,
                result="success",
                tenant_id=client.tenant_id,
                occurred_at=self._clock.now(),
                actor=actor,
                client_id=client.client_id,
                details=details,
            )
        )


def _uses_secret(spec: ClientConfig) -> bool:
    return any(m in ("client_secret_basic", "client_secret_post") for m in spec.auth_methods)


def _changed_fields(before: Client, after: Client) -> list[str]:
    old, new = before.spec.model_dump(), after.spec.model_dump()
    fields = sorted(k for k in new if old.get(k) != new[k])
    if before.secret_hash != after.secret_hash:
        fields.append("secret")
    return fields


__all__ = ["ClientRegistry", "RegisteredClient"]
