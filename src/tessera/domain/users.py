"""Users of a tenant: who they are (claims), how they sign in (a password hash), whether they may.

``UserDirectory`` is the one place users are created, changed and deleted (CLI, declarative
configuration, later the admin API). It applies the password policy wherever a password is set,
records every change in the audit trail, and ends the user's sessions when the user is disabled or
deleted (which revokes their refresh tokens and notifies their clients by back-channel logout).
"""

from __future__ import annotations

import secrets
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from tessera.clock import Clock
from tessera.domain.audit import AuditAction, AuditNotes
from tessera.domain.authn.password import PasswordHasher, PasswordPolicy
from tessera.errors import NotFound
from tessera.secret import Secret
from tessera.settings import UserConfig


@dataclass(frozen=True, slots=True)
class User:
    tenant_id: str
    user_id: str  # stable, random: the public ``sub``; usernames can change
    username: str
    email: str | None = None
    email_verified: bool = False
    name: str = ""
    groups: tuple[str, ...] = ()
    attributes: Mapping[str, Any] = field(default_factory=dict)
    disabled: bool = False
    password_hash: str | None = None
    declared_password_hash: str | None = None  # the configuration's hash last applied (rehashes keep it)
    managed: bool = False
    created_at: float = 0.0
    updated_at: float = 0.0

    @property
    def is_enabled(self) -> bool:
        return not self.disabled

    @property
    def username_key(self) -> str:
        return username_key(self.username)

    def profile(self) -> dict[str, Any]:
        """The declared attributes, as ``tessera user show`` prints them (never the hash)."""
        return {
            "user_id": self.user_id,
            "username": self.username,
            "email": self.email,
            "email_verified": self.email_verified,
            "name": self.name,
            "groups": list(self.groups),
            "attributes": dict(self.attributes),
            "disabled": self.disabled,
            "has_password": self.password_hash is not None,
        }


def username_key(username: str) -> str:
    """Usernames compare case-insensitively and after Unicode compatibility normalisation."""
    return unicodedata.normalize("NFKC", username).casefold()


def new_user_id() -> str:
    return secrets.token_hex(16)


def user_from_config(tenant_id: str, config: UserConfig, user_id: str | None = None) -> User:
    return User(
        tenant_id=tenant_id,
        user_id=user_id or new_user_id(),
        username=config.username,
        email=config.email,
        email_verified=config.email_verified,
        name=config.name,
        groups=tuple(config.groups),
        attributes=dict(config.attributes),
        disabled=config.disabled,
        password_hash=config.password_hash,
        declared_password_hash=config.password_hash,
        managed=True,
    )


def declared_fields(user: User, config: UserConfig) -> tuple[str, ...]:
    """What differs between the stored user and its declaration (the password by its declared hash)."""
    wanted = user_from_config(user.tenant_id, config, user.user_id)
    names = ("username", "email", "email_verified", "name", "groups", "attributes", "disabled")
    fields = [n for n in names if getattr(user, n) != getattr(wanted, n)]
    if config.password_hash != user.declared_password_hash:
        fields.append("password")
    if not user.managed:
        fields.append("managed")
    return tuple(fields)


class UserStore(Protocol):
    async def get(self, tenant_id: str, user_id: str) -> User | None: ...
    async def find(self, tenant_id: str, username: str) -> User | None:
        """By username, case-insensitively."""
        ...

    async def list(self, tenant_id: str) -> list[User]: ...
    async def create(self, user: User) -> None:
        """Raises ``Conflict`` when the username is taken in the tenant."""
        ...

    async def update(self, user: User) -> None: ...
    async def replace_password_hash(self, tenant_id: str, user_id: str, old: str, new: str) -> bool:
        """Swap the hash only if it is still ``old`` (a concurrent password change wins)."""
        ...

    async def delete(self, tenant_id: str, user_id: str) -> bool: ...


class SessionEnder(Protocol):
    async def end_all_for_user(self, tenant_id: str, user_id: str, reason: str, actor: str) -> int: ...


class RevisionBump(Protocol):
    """The store's change counter: every node drops what it cached about users (and their AWS keys)."""

    async def bump(self) -> int: ...


class UserDirectory:
    def __init__(
        self,
        users: UserStore,
        hasher: PasswordHasher,
        policy: PasswordPolicy,
        clock: Clock,
        sessions: SessionEnder | None = None,
        revisions: RevisionBump | None = None,
    ) -> None:
        self._users, self._hasher, self._policy, self._clock = users, hasher, policy, clock
        self.sessions = sessions
        self._revisions = revisions

    @property
    def hasher(self) -> PasswordHasher:
        return self._hasher

    async def list(self, tenant_id: str) -> list[User]:
        return await self._users.list(tenant_id)

    async def get(self, tenant_id: str, username_or_id: str) -> User:
        user = await self._users.find(tenant_id, username_or_id) or await self._users.get(tenant_id, username_or_id)
        if user is None:
            raise NotFound(f"no user {username_or_id!r} in tenant {tenant_id!r}")
        return user

    async def create(self, user: User, notes: AuditNotes, actor: str, password: Secret[str] | None = None) -> User:
        if password is not None:
            self._policy.check(password, username=user.username)
            user = replace(user, password_hash=await self._hasher.hash_async(password))
        await self._users.create(user)
        notes.note(AuditAction.USER_CREATE, "success", actor=actor, details=_ids(user))
        if password is not None:
            notes.note(AuditAction.USER_PASSWORD_CHANGE, "success", actor=actor, details=_ids(user))
        return user

    async def update(self, user: User, notes: AuditNotes, actor: str, changed: tuple[str, ...] = ()) -> User:
        current = await self._users.get(user.tenant_id, user.user_id)
        if current is None:
            raise NotFound(f"no user {user.username!r} in tenant {user.tenant_id!r}")
        await self._users.update(user)
        notes.note(AuditAction.USER_UPDATE, "success", actor=actor, details={**_ids(user), "fields": list(changed)})
        if user.password_hash != current.password_hash:
            notes.note(AuditAction.USER_PASSWORD_CHANGE, "success", actor=actor, details=_ids(user))
        if user.disabled != current.disabled:
            await self._announce_change()  # cached AWS access keys of the user stop (or start) working
        if user.disabled and not current.disabled:
            await self._end_sessions(user, "user_disabled", actor)
        return user

    async def set_password(
        self, tenant_id: str, username: str, password: Secret[str], notes: AuditNotes, actor: str
    ) -> User:
        user = await self.get(tenant_id, username)
        self._policy.check(password, username=user.username)
        updated = replace(user, password_hash=await self._hasher.hash_async(password))
        await self._users.update(updated)
        notes.note(AuditAction.USER_PASSWORD_CHANGE, "success", actor=actor, details=_ids(updated))
        return updated

    async def set_disabled(self, tenant_id: str, username: str, disabled: bool, notes: AuditNotes, actor: str) -> User:
        user = await self.get(tenant_id, username)
        if user.disabled == disabled:
            return user
        return await self.update(replace(user, disabled=disabled), notes, actor, ("disabled",))

    async def delete(self, tenant_id: str, username: str, notes: AuditNotes, actor: str) -> User:
        user = await self.get(tenant_id, username)
        await self._end_sessions(user, "user_deleted", actor)
        await self._users.delete(tenant_id, user.user_id)
        await self._announce_change()
        notes.note(AuditAction.USER_DELETE, "success", actor=actor, details=_ids(user))
        return user

    async def _announce_change(self) -> None:
        if self._revisions is not None:
            await self._revisions.bump()

    async def upgrade_hash(self, user: User, password: Secret[str], notes: AuditNotes) -> None:
        """After a successful sign-in: rehash with the current parameters if the stored hash predates them."""
        if user.password_hash is None or not self._hasher.needs_rehash(user.password_hash):
            return
        new_hash = await self._hasher.hash_async(password)
        if await self._users.replace_password_hash(user.tenant_id, user.user_id, user.password_hash, new_hash):
            notes.note(
                AuditAction.USER_UPDATE,
                "success",
                actor="system",
                reason="password_rehash",
                details={**_ids(user), "fields": ["password_hash"]},
            )

    async def _end_sessions(self, user: User, reason: str, actor: str) -> None:
        if self.sessions is not None:
            await self.sessions.end_all_for_user(user.tenant_id, user.user_id, reason, actor)


def _ids(user: User) -> dict[str, str]:
    return {"user_id": user.user_id, "username": user.username}


__all__ = [
    "SessionEnder",
    "User",
    "UserDirectory",
    "UserStore",
    "declared_fields",
    "new_user_id",
    "user_from_config",
    "username_key",
]
