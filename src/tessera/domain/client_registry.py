"""Registering and managing clients (used by the CLI and the declarative configuration).

Secrets are generated here (256 random bits), handed back once in a ``RegisteredClient`` and
stored only as a hash. Every change bumps the store revision, so every node drops its cached
copy, and is recorded in the audit trail with the actor who made it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from tessera.clock import Clock
from tessera.domain.audit import AuditAction, AuditEvent, AuditTrail
from tessera.domain.clients import Client, generate_secret, hash_secret
from tessera.domain.scopes import OIDC_SCOPES
from tessera.errors import NotFound, TesseraError
from tessera.ports import Store
from tessera.secret import Secret
from tessera.settings import ClientConfig

_SECRET_METHODS = ("client_secret_basic", "client_secret_post")


class InvalidClientSpec(TesseraError):
    """The client's attributes do not fit its tenant (for example a scope the tenant does not offer)."""


class NoClientSecret(TesseraError):
    """The client does not authenticate with a secret, so it has none to rotate."""


@dataclass(frozen=True, slots=True)
class RegisteredClient:
    client: Client
    secret: Secret[str] | None  # shown once, never stored


class ClientRegistry:
    def __init__(self, store: Store, clock: Clock, audit: AuditTrail) -> None:
        self._store, self._clock, self._audit = store, clock, audit

    async def list(self, tenant_id: str) -> list[Client]:
        await self._require_tenant(tenant_id)
        return await self._store.clients.list(tenant_id)

    async def get(self, tenant_id: str, client_id: str) -> Client:
        client = await self._store.clients.get(tenant_id, client_id)
        if client is None:
            await self._require_tenant(tenant_id)
            raise NotFound(f"no client {client_id!r} in tenant {tenant_id!r}")
        return client

    async def create(self, tenant_id: str, spec: ClientConfig, actor: str, managed: bool = False) -> RegisteredClient:
        """Register a client; raises ``Conflict`` when the id is taken in the tenant."""
        await self._require_tenant(tenant_id)
        await self._check_scopes(tenant_id, spec)
        secret, secret_hash = _initial_secret(spec, None)
        client = Client(tenant_id, spec.model_copy(update={"secret_hash": None}), secret_hash, managed)
        await self._store.clients.create(client)
        await self._changed(AuditAction.CLIENT_CREATE, client, actor)
        return RegisteredClient(client, secret)

    async def update(
        self, tenant_id: str, spec: ClientConfig, actor: str, managed: bool | None = None
    ) -> RegisteredClient:
        """Replace the client's attributes; a secret is generated if it newly needs one."""
        current = await self.get(tenant_id, spec.client_id)
        secret, secret_hash = _initial_secret(spec, current.secret_hash)
        updated = replace(
            current,
            spec=spec.model_copy(update={"secret_hash": None}),
            secret_hash=secret_hash,
            managed=current.managed if managed is None else managed,
        )
        await self._store.clients.update(updated)
        await self._changed(AuditAction.CLIENT_UPDATE, updated, actor, changed=_changed_fields(current, updated))
        return RegisteredClient(updated, secret)

    async def rotate_secret(self, tenant_id: str, client_id: str, actor: str) -> RegisteredClient:
        current = await self.get(tenant_id, client_id)
        if not _uses_secret(current.spec):
            methods = ", ".join(current.spec.auth_methods)
            raise NoClientSecret(f"client {client_id!r} does not authenticate with a secret (auth methods: {methods})")
        secret = generate_secret()
        updated = replace(current, secret_hash=hash_secret(secret))
        await self._store.clients.update(updated)
        await self._changed(AuditAction.CLIENT_ROTATE_SECRET, updated, actor)
        return RegisteredClient(updated, secret)

    async def set_disabled(self, tenant_id: str, client_id: str, disabled: bool, actor: str) -> Client:
        current = await self.get(tenant_id, client_id)
        if current.spec.disabled == disabled:
            return current
        spec = current.spec.model_copy(update={"disabled": disabled})
        return (await self.update(tenant_id, spec, actor)).client

    async def delete(self, tenant_id: str, client_id: str, actor: str) -> None:
        current = await self.get(tenant_id, client_id)
        await self._store.clients.delete(tenant_id, client_id)
        await self._changed(AuditAction.CLIENT_DELETE, current, actor)

    async def _require_tenant(self, tenant_id: str) -> None:
        if await self._store.tenants.get(tenant_id) is None:
            raise NotFound(f"no tenant {tenant_id!r}")

    async def _check_scopes(self, tenant_id: str, spec: ClientConfig) -> None:
        offered = {s.name for s in await self._store.scopes.list(tenant_id)}
        unknown = sorted(set(spec.scopes) - offered - set(OIDC_SCOPES))
        if offered and unknown:
            raise InvalidClientSpec(
                f"tenant {tenant_id!r} does not offer scope(s) {', '.join(unknown)} "
                f"(it offers {', '.join(sorted(offered))})"
            )

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
    return spec.type == "confidential" and any(m in _SECRET_METHODS for m in spec.auth_methods)


def _initial_secret(spec: ClientConfig, current_hash: str | None) -> tuple[Secret[str] | None, str | None]:
    """(new secret to show once, hash to store): the declared hash, else the current one, else a new secret."""
    if not _uses_secret(spec):
        return None, None
    if spec.secret_hash is not None:
        return None, spec.secret_hash
    if current_hash is not None:
        return None, current_hash
    secret = generate_secret()
    return secret, hash_secret(secret)


def _changed_fields(before: Client, after: Client) -> list[str]:
    old, new = before.spec.model_dump(), after.spec.model_dump()
    fields = sorted(k for k in new if old.get(k) != new[k])
    if before.secret_hash != after.secret_hash:
        fields.append("secret")
    if before.managed != after.managed:
        fields.append("managed")
    return fields


__all__ = ["ClientRegistry", "InvalidClientSpec", "NoClientSecret", "RegisteredClient"]
