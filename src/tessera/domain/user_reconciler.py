"""Declared users (``[[tenants.users]]``), reconciled like clients: one more kind for ``Reconciler.kinds``.

Passwords arrive only as argon2id hashes. A sign-in that upgrades a hash to new parameters does
not make the user differ from its declaration: the comparison is with the declared hash last
applied, not with the stored one.
"""

from __future__ import annotations

from dataclasses import replace

from tessera.clock import Clock
from tessera.domain.audit import AuditNotes, AuditTrail
from tessera.domain.reconcile import Change, GeneratedSecret
from tessera.domain.users import User, UserDirectory, declared_fields, user_from_config
from tessera.errors import Conflict
from tessera.settings import Settings, TenantConfig, UserConfig


class UsersReconciler:
    kind = "user"

    def __init__(self, users: UserDirectory, audit: AuditTrail, clock: Clock) -> None:
        self._users, self._audit, self._clock = users, audit, clock

    async def plan(self, config: TenantConfig, settings: Settings, exists: bool) -> list[Change]:
        current = {u.username_key: u for u in await self._users.list(config.id)} if exists else {}
        changes = []
        declared = {}
        for spec in config.users:
            key = user_from_config(config.id, spec, "-").username_key
            declared[key] = spec
            user = current.get(key)
            if user is None:
                changes.append(Change("user", "create", config.id, spec.username))
            elif fields := declared_fields(user, spec):
                changes.append(Change("user", "update", config.id, spec.username, fields))
        for key, user in current.items():
            if user.managed and key not in declared:
                changes.append(Change("user", "delete", config.id, user.username))
        return changes

    async def apply(
        self, change: Change, config: TenantConfig, settings: Settings, actor: str
    ) -> list[GeneratedSecret]:
        notes = AuditNotes(self._audit, self._clock.now(), change.tenant_id, None, None)
        if change.action == "delete":
            await self._users.delete(change.tenant_id, change.name, notes, actor)
        else:
            spec = _spec(config, change.name)
            if change.action == "create":
                try:
                    await self._users.create(user_from_config(config.id, spec), notes, actor)
                except Conflict:  # created elsewhere since the plan: take it over
                    await self._update(config.id, spec, notes, actor, change.fields)
            else:
                await self._update(config.id, spec, notes, actor, change.fields)
        await notes.flush()
        return []

    async def _update(
        self, tenant_id: str, spec: UserConfig, notes: AuditNotes, actor: str, fields: tuple[str, ...]
    ) -> User:
        current = await self._users.get(tenant_id, spec.username)
        wanted = user_from_config(tenant_id, spec, current.user_id)
        if "password" not in fields and current.declared_password_hash == spec.password_hash:
            wanted = replace(wanted, password_hash=current.password_hash)  # keep a transparent rehash
        return await self._users.update(replace(wanted, created_at=current.created_at), notes, actor, fields)


def _spec(config: TenantConfig, username: str) -> UserConfig:
    key = username.casefold()
    return next(u for u in config.users if u.username.casefold() == key or u.username == username)


__all__ = ["UsersReconciler"]
