"""The storage ports: one small interface per aggregate. Every method takes the tenant explicitly.

Implementations live in ``tessera.storage`` (SQLite and PostgreSQL through SQLAlchemy).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from tessera.domain.audit import AuditEvent, AuditQuery
from tessera.domain.clients import Client
from tessera.domain.keys import KeyChanges, StoredKey
from tessera.domain.tenants import Tenant
from tessera.settings import ScopeConfig


class TenantStore(Protocol):
    async def get(self, tenant_id: str) -> Tenant | None: ...
    async def list(self) -> list[Tenant]: ...
    async def put(self, tenant: Tenant) -> None: ...
    async def delete(self, tenant_id: str) -> bool: ...


class ClientStore(Protocol):
    async def get(self, tenant_id: str, client_id: str) -> Client | None: ...
    async def list(self, tenant_id: str) -> list[Client]: ...
    async def create(self, client: Client) -> None:
        """Raises ``Conflict`` when the client id is taken in that tenant."""
        ...

    async def update(self, client: Client) -> None: ...
    async def delete(self, tenant_id: str, client_id: str) -> bool: ...


class ScopeStore(Protocol):
    async def list(self, tenant_id: str) -> list[ScopeConfig]: ...
    async def replace(self, tenant_id: str, scopes: Sequence[ScopeConfig]) -> None: ...


class KeyStore(Protocol):
    async def list(self, tenant_id: str) -> list[StoredKey]: ...
    async def apply(self, tenant_id: str, changes: KeyChanges) -> None:
        """Add, update and delete keys in one transaction."""
        ...


class RevocationStore(Protocol):
    async def revoke(self, tenant_id: str, token_id: str, expires_at: float, now: float) -> bool:
        """Deny ``token_id`` until ``expires_at``; False when it was already denied."""
        ...

    async def is_revoked(self, tenant_id: str, token_id: str) -> bool: ...
    async def purge_expired(self, now: float) -> int: ...


class ReplayStore(Protocol):
    async def remember(self, tenant_id: str, key: str, expires_at: float) -> bool:
        """Record a one-time value (an assertion ``jti``); False when it was seen before."""
        ...

    async def purge_expired(self, now: float) -> int: ...


class AuditStore(Protocol):
    async def append(self, events: Sequence[AuditEvent]) -> None: ...
    async def search(self, query: AuditQuery) -> list[tuple[int, AuditEvent]]:
        """Events matching ``query`` with their sequence numbers, oldest first."""
        ...


class RevisionStore(Protocol):
    async def current(self) -> int:
        """A number that grows whenever tenants, clients, scopes or keys change."""
        ...

    async def bump(self) -> int: ...


class Store(Protocol):
    """Everything durable, as one handle."""

    @property
    def tenants(self) -> TenantStore: ...
    @property
    def clients(self) -> ClientStore: ...
    @property
    def scopes(self) -> ScopeStore: ...
    @property
    def keys(self) -> KeyStore: ...
    @property
    def revocations(self) -> RevocationStore: ...
    @property
    def replays(self) -> ReplayStore: ...
    @property
    def audit(self) -> AuditStore: ...
    @property
    def revisions(self) -> RevisionStore: ...

    async def close(self) -> None: ...


__all__ = [
    "AuditStore",
    "ClientStore",
    "KeyStore",
    "ReplayStore",
    "RevisionStore",
    "RevocationStore",
    "ScopeStore",
    "Store",
    "TenantStore",
]
