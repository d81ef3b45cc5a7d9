"""Roles: an ARN, a trust policy (who may assume it), a permission policy (what its sessions may do).

``arn:aws:iam::<account>:role/<path><name>``; the ``AROA...`` role id is random per role, so a role
deleted and created again under the same name does not inherit the old one's sessions. Revoking
a role's sessions records ``sessions_revoked_before``: every session issued before that instant
is refused on every node once its cache has seen the change (``storage.cache_refresh_seconds``).
"""

from __future__ import annotations

import base64
import secrets
from dataclasses import dataclass, replace
from typing import Any, Protocol

from tessera.clock import Clock
from tessera.domain.audit import AuditAction, AuditEvent, AuditTrail
from tessera.errors import NotFound
from tessera.settings_aws import RoleConfig


@dataclass(frozen=True, slots=True)
class Role:
    tenant_id: str
    spec: RoleConfig
    role_id: str
    managed: bool = False
    sessions_revoked_before: float | None = None
    created_at: float = 0.0
    updated_at: float = 0.0

    @property
    def name(self) -> str:
        return self.spec.name

    def arn(self, account: str) -> str:
        return role_arn(account, self.spec.path, self.spec.name)

    def session_arn(self, account: str, session_name: str) -> str:
        """``arn:aws:sts::<account>:assumed-role/<name>/<session>`` (the path is not part of it)."""
        return f"arn:aws:sts::{account}:assumed-role/{self.spec.name}/{session_name}"

    def is_session_revoked(self, issued_at: float) -> bool:
        return self.sessions_revoked_before is not None and issued_at < self.sessions_revoked_before


def role_arn(account: str, path: str, name: str) -> str:
    return f"arn:aws:iam::{account}:role{path}{name}"


def parse_role_arn(arn: str) -> tuple[str, str, str] | None:
    """``(account, path, name)`` of an IAM role ARN, else None."""
    parts = arn.split(":", 5)
    if len(parts) != 6 or parts[0] != "arn" or parts[2] != "iam" or parts[3] or not parts[5].startswith("role/"):
        return None
    resource = parts[5][len("role") :]
    path, _, name = resource.rpartition("/")
    return parts[4], path + "/", name


def new_role_id() -> str:
    return "AROA" + base64.b32encode(secrets.token_bytes(11)).decode("ascii")[:17]


class RoleStore(Protocol):
    async def get(self, tenant_id: str, name: str) -> Role | None:
        """By name, case-insensitively (IAM role names are unique regardless of case)."""
        ...

    async def list(self, tenant_id: str) -> list[Role]: ...
    async def create(self, role: Role) -> None:
        """Raises ``Conflict`` when the name is taken in the tenant."""
        ...

    async def update(self, role: Role) -> None: ...
    async def revoke_sessions(self, tenant_id: str, name: str, before: float) -> bool: ...
    async def delete(self, tenant_id: str, name: str) -> bool: ...


class RevisionBump(Protocol):
    async def bump(self) -> int: ...


class RoleRegistry:
    """The one place roles are created, changed, revoked and deleted (CLI and configuration)."""

    def __init__(self, roles: RoleStore, revisions: RevisionBump, clock: Clock, audit: AuditTrail) -> None:
        self._roles, self._revisions, self._clock, self._audit = roles, revisions, clock, audit

    async def list(self, tenant_id: str) -> list[Role]:
        return await self._roles.list(tenant_id)

    async def get(self, tenant_id: str, name: str) -> Role:
        role = await self._roles.get(tenant_id, name)
        if role is None:
            raise NotFound(f"no role {name!r} in tenant {tenant_id!r}")
        return role

    async def create(self, tenant_id: str, spec: RoleConfig, actor: str, managed: bool = False) -> Role:
        now = self._clock.now()
        role = Role(tenant_id, spec, new_role_id(), managed, None, now, now)
        await self._roles.create(role)
        await self._changed(AuditAction.ROLE_CREATE, role, actor)
        return role

    async def update(self, tenant_id: str, spec: RoleConfig, actor: str, managed: bool | None = None) -> Role:
        current = await self.get(tenant_id, spec.name)
        updated = replace(
            current,
            spec=spec,
            managed=current.managed if managed is None else managed,
            updated_at=self._clock.now(),
        )
        await self._roles.update(updated)
        await self._changed(AuditAction.ROLE_UPDATE, updated, actor, fields=changed_fields(current, updated))
        return updated

    async def revoke_sessions(self, tenant_id: str, name: str, actor: str, before: float | None = None) -> Role:
        """Refuse every session of the role issued before ``before`` (default: now)."""
        current = await self.get(tenant_id, name)
        cutoff = self._clock.now() if before is None else before
        await self._roles.revoke_sessions(tenant_id, current.name, cutoff)
        updated = replace(current, sessions_revoked_before=cutoff)
        await self._changed(AuditAction.ROLE_REVOKE_SESSIONS, updated, actor, revoked_before=cutoff)
        return updated

    async def delete(self, tenant_id: str, name: str, actor: str) -> Role:
        current = await self.get(tenant_id, name)
        await self._roles.delete(tenant_id, current.name)
        await self._changed(AuditAction.ROLE_DELETE, current, actor)
        return current

    async def _changed(self, action: AuditAction, role: Role, actor: str, **details: Any) -> None:
        await self._revisions.bump()
        await self._audit.record(
            AuditEvent(
                action=action.value,
                result="success",
                tenant_id=role.tenant_id,
                occurred_at=self._clock.now(),
                actor=actor,
                details={"role": role.name, "role_id": role.role_id, "path": role.spec.path, **details},
            )
        )


def changed_fields(before: Role, after: Role) -> list[str]:
    old, new = before.spec.model_dump(), after.spec.model_dump()
    fields = sorted(k for k in new if old.get(k) != new[k])
    if before.managed != after.managed:
        fields.append("managed")
    return fields


__all__ = [
    "Role",
    "RoleRegistry",
    "RoleStore",
    "changed_fields",
    "new_role_id",
    "parse_role_arn",
    "role_arn",
]
