"""Key lifecycle operations on the store: bootstrap, rotate, expire (rules in ``keys``)."""

from __future__ import annotations

from tessera.clock import Clock
from tessera.domain.audit import AuditAction, AuditEvent, AuditTrail
from tessera.domain.keys import (
    KeyChanges,
    KeyEncryptionKey,
    KeyState,
    StoredKey,
    plan_bootstrap,
    plan_expiry,
    plan_rotation,
)
from tessera.errors import KeyEncryptionKeyError
from tessera.ports import Store


class KeyManager:
    def __init__(
        self, store: Store, kek: KeyEncryptionKey, clock: Clock, audit: AuditTrail, max_token_lifetime: float
    ) -> None:
        self._store, self._kek, self._clock, self._audit = store, kek, clock, audit
        self._max_token_lifetime = max_token_lifetime

    async def keys_of(self, tenant_id: str) -> list[StoredKey]:
        return await self._store.keys.list(tenant_id)

    async def ensure(self, tenant_id: str, alg: str, actor: str = "system") -> KeyChanges:
        """Give the tenant an active and a next key if it lacks them; check the KEK opens them."""
        keys = await self._store.keys.list(tenant_id)
        self.check_kek(keys)
        changes = plan_bootstrap(tenant_id, keys, alg, self._kek, self._clock.now())
        await self._apply(tenant_id, changes, actor)
        return changes

    async def rotate(self, tenant_id: str, alg: str, actor: str) -> KeyChanges:
        keys = await self._store.keys.list(tenant_id)
        self.check_kek(keys)
        changes = plan_rotation(tenant_id, keys, alg, self._kek, self._clock.now(), self._max_token_lifetime)
        await self._apply(tenant_id, changes, actor)
        return changes

    async def expire(self, tenant_id: str, actor: str = "system") -> KeyChanges:
        changes = plan_expiry(await self._store.keys.list(tenant_id), self._clock.now())
        await self._apply(tenant_id, changes, actor)
        return changes

    def check_kek(self, keys: list[StoredKey]) -> None:
        foreign = sorted({k.kek_id for k in keys if k.kek_id != self._kek.kek_id})
        if foreign:
            raise KeyEncryptionKeyError(
                f"the signing keys were sealed with key-encryption key {', '.join(foreign)}, but the configured one "
                f"is {self._kek.kek_id}: supply the original KEK (keys.kek_file or TESSERA_KEYS__KEK)"
            )

    async def _apply(self, tenant_id: str, changes: KeyChanges, actor: str) -> None:
        if changes.is_empty():
            return
        await self._store.keys.apply(tenant_id, changes)
        await self._store.revisions.bump()
        await self._audit.record(*self._events(tenant_id, changes, actor))

    def _events(self, tenant_id: str, changes: KeyChanges, actor: str) -> list[AuditEvent]:
        now = self._clock.now()

        def event(action: AuditAction, key: StoredKey, **details: str) -> AuditEvent:
            return AuditEvent(
                action=action.value,
                result="success",
                tenant_id=tenant_id,
                occurred_at=now,
                actor=actor,
                details={"kid": key.kid, "alg": key.alg, **details},
            )

        events = [event(AuditAction.KEY_CREATE, k, state=k.state.value) for k in changes.added]
        events += [event(AuditAction.KEY_ROTATE, k, state=k.state.value) for k in changes.updated]
        events += [event(AuditAction.KEY_DELETE, k) for k in changes.deleted]
        return events


__all__ = ["KeyManager", "KeyState"]
