"""The per-tenant AES-256 keys that seal session tokens (and encoded authorization messages).

Life of a key: ``active`` (seals and opens) → ``retired`` (opens only, until every session it
sealed has expired) → deleted. A retired key is kept for ``MAX_SESSION_SECONDS`` (36 hours, the
longest GetSessionToken session) after its retirement. The raw keys are sealed under the
key-encryption key with the tenant and key id as associated data, like signing keys.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Literal, Protocol

from tessera.clock import Clock
from tessera.domain.audit import AuditAction, AuditEvent, AuditTrail
from tessera.domain.keys import KeyEncryptionKey
from tessera.errors import KeyEncryptionKeyError
from tessera.protocols.awssts.session_token import KEY_BYTES

MAX_SESSION_SECONDS = 129_600  # GetSessionToken's upper bound; AssumeRole* stop at 12 h
SessionKeyState = Literal["active", "retired"]


@dataclass(frozen=True, slots=True)
class SessionKey:
    tenant_id: str
    key_id: str
    state: SessionKeyState
    sealed_key: bytes
    kek_id: str
    created_at: float
    retired_at: float | None = None
    decrypts_until: float | None = None

    def opens_at(self, now: float) -> bool:
        return self.state == "active" or (self.decrypts_until is not None and now < self.decrypts_until)


@dataclass(frozen=True, slots=True)
class SessionKeyChanges:
    added: list[SessionKey] = field(default_factory=list)
    updated: list[SessionKey] = field(default_factory=list)
    deleted: list[SessionKey] = field(default_factory=list)

    def is_empty(self) -> bool:
        return not (self.added or self.updated or self.deleted)


@dataclass(frozen=True, slots=True)
class SessionKeyRing:
    """One tenant's unsealed session-token keys: the newest active seals, all listed open."""

    sealing_key_id: str
    keys: Mapping[str, bytes]

    @property
    def sealing_key(self) -> bytes:
        return self.keys[self.sealing_key_id]

    @classmethod
    def build(cls, stored: Sequence[SessionKey], kek: KeyEncryptionKey, now: float) -> SessionKeyRing:
        active = [k for k in stored if k.state == "active"]
        if not active:
            raise KeyEncryptionKeyError("tenant has no active session-token key (tessera sts rotate-key)")
        newest = max(active, key=lambda k: k.created_at)
        keys = {k.key_id: unseal_session_key(k, kek) for k in stored if k.opens_at(now)}
        return cls(newest.key_id, keys)


def new_session_key(tenant_id: str, kek: KeyEncryptionKey, now: float) -> SessionKey:
    key_id = f"s{int(now):x}{secrets.token_hex(4)}"
    raw = secrets.token_bytes(KEY_BYTES)
    return SessionKey(tenant_id, key_id, "active", kek.seal(raw, _context(tenant_id, key_id)), kek.kek_id, now)


def unseal_session_key(key: SessionKey, kek: KeyEncryptionKey) -> bytes:
    return kek.open(key.sealed_key, _context(key.tenant_id, key.key_id))


def _context(tenant_id: str, key_id: str) -> str:
    return f"tessera sts session key {tenant_id}/{key_id}"


def plan_session_key_rotation(
    tenant_id: str, keys: Sequence[SessionKey], kek: KeyEncryptionKey, now: float
) -> SessionKeyChanges:
    """Retire every active key (it opens its sessions until they expired) and add a new active one."""
    retired = [
        replace(k, state="retired", retired_at=now, decrypts_until=now + MAX_SESSION_SECONDS)
        for k in keys
        if k.state == "active"
    ]
    expired = plan_session_key_expiry(keys, now).deleted
    return SessionKeyChanges(added=[new_session_key(tenant_id, kek, now)], updated=retired, deleted=expired)


def plan_session_key_expiry(keys: Sequence[SessionKey], now: float) -> SessionKeyChanges:
    return SessionKeyChanges(deleted=[k for k in keys if not k.opens_at(now)])


class SessionKeyStore(Protocol):
    async def list(self, tenant_id: str) -> list[SessionKey]: ...
    async def apply(self, tenant_id: str, changes: SessionKeyChanges) -> None:
        """Add, update and delete keys in one transaction."""
        ...


class RevisionBump(Protocol):
    async def bump(self) -> int: ...


class SessionKeyManager:
    """Bootstrap, rotation and expiry of the session-token keys (``tessera sts rotate-key``)."""

    def __init__(
        self, store: SessionKeyStore, revisions: RevisionBump, kek: KeyEncryptionKey, clock: Clock, audit: AuditTrail
    ) -> None:
        self._store, self._revisions, self._kek, self._clock, self._audit = store, revisions, kek, clock, audit

    async def keys_of(self, tenant_id: str) -> list[SessionKey]:
        return await self._store.list(tenant_id)

    async def ensure(self, tenant_id: str, actor: str = "system") -> SessionKeyChanges:
        keys = await self._store.list(tenant_id)
        self.check_kek(keys)
        if any(k.state == "active" for k in keys):
            return SessionKeyChanges()
        changes = SessionKeyChanges(added=[new_session_key(tenant_id, self._kek, self._clock.now())])
        await self._apply(tenant_id, changes, actor)
        return changes

    async def rotate(self, tenant_id: str, actor: str) -> SessionKeyChanges:
        keys = await self._store.list(tenant_id)
        self.check_kek(keys)
        changes = plan_session_key_rotation(tenant_id, keys, self._kek, self._clock.now())
        await self._apply(tenant_id, changes, actor)
        return changes

    async def expire(self, tenant_id: str, actor: str = "system") -> SessionKeyChanges:
        changes = plan_session_key_expiry(await self._store.list(tenant_id), self._clock.now())
        await self._apply(tenant_id, changes, actor)
        return changes

    def check_kek(self, keys: Sequence[SessionKey]) -> None:
        foreign = sorted({k.kek_id for k in keys if k.kek_id != self._kek.kek_id})
        if foreign:
            raise KeyEncryptionKeyError(
                f"the session-token keys were sealed with key-encryption key {', '.join(foreign)}, but the "
                f"configured one is {self._kek.kek_id}: supply the original KEK"
            )

    async def _apply(self, tenant_id: str, changes: SessionKeyChanges, actor: str) -> None:
        if changes.is_empty():
            return
        await self._store.apply(tenant_id, changes)
        await self._revisions.bump()
        now = self._clock.now()
        events = [
            AuditEvent(
                action=action.value,
                result="success",
                tenant_id=tenant_id,
                occurred_at=now,
                actor=actor,
                details={"key_id": key.key_id, "state": key.state},
            )
            for action, keys in (
                (AuditAction.STS_KEY_CREATE, changes.added),
                (AuditAction.STS_KEY_ROTATE, changes.updated),
                (AuditAction.STS_KEY_DELETE, changes.deleted),
            )
            for key in keys
        ]
        await self._audit.record(*events)


__all__ = [
    "MAX_SESSION_SECONDS",
    "SessionKey",
    "SessionKeyChanges",
    "SessionKeyManager",
    "SessionKeyRing",
    "SessionKeyStore",
    "new_session_key",
    "plan_session_key_expiry",
    "plan_session_key_rotation",
    "unseal_session_key",
]
