"""SQLAlchemy Core implementations of the AWS API's ports (access keys, roles, session keys, MFA, documents)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, case, delete, func, insert, literal, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from tessera.domain.aws_documents import AwsDocument, DocumentKind
from tessera.domain.aws_identities import AccessKey, KeyStatus, MfaDevice, MfaLockout
from tessera.domain.roles import Role
from tessera.domain.sts_keys import SessionKey, SessionKeyChanges
from tessera.errors import Conflict
from tessera.settings_aws import RoleConfig
from tessera.storage.sql import aws_tables as t
from tessera.storage.sql import identity_tables as it


class _Repository:
    def __init__(self, engine: AsyncEngine, clock_now: Any) -> None:
        self._engine = engine
        self._now = clock_now


class SqlAccessKeyStore(_Repository):
    async def get(self, tenant_id: str, access_key_id: str) -> AccessKey | None:
        table = t.aws_access_keys
        query = select(table).where(and_(table.c.tenant_id == tenant_id, table.c.access_key_id == access_key_id))
        async with self._engine.connect() as conn:
            row = (await conn.execute(query)).first()
        return _access_key(row._mapping) if row else None

    async def list(self, tenant_id: str, principal_name: str | None = None) -> list[AccessKey]:
        table = t.aws_access_keys
        query = select(table).where(table.c.tenant_id == tenant_id)
        if principal_name is not None:
            query = query.where(table.c.principal_name == principal_name)
        async with self._engine.connect() as conn:
            rows = (await conn.execute(query.order_by(table.c.principal_name, table.c.created_at))).all()
        return [_access_key(r._mapping) for r in rows]

    async def create(self, key: AccessKey) -> None:
        try:
            async with self._engine.begin() as conn:
                await conn.execute(insert(t.aws_access_keys).values(_access_key_row(key)))
        except IntegrityError:
            raise Conflict(f"access key {key.access_key_id!r} already exists") from None

    async def set_status(self, tenant_id: str, access_key_id: str, status: KeyStatus, now: float) -> bool:
        table = t.aws_access_keys
        async with self._engine.begin() as conn:
            result = await conn.execute(
                update(table)
                .where(and_(table.c.tenant_id == tenant_id, table.c.access_key_id == access_key_id))
                .values(status=status, updated_at=now)
            )
        return bool(result.rowcount)

    async def delete(self, tenant_id: str, access_key_id: str) -> bool:
        table = t.aws_access_keys
        async with self._engine.begin() as conn:
            result = await conn.execute(
                delete(table).where(and_(table.c.tenant_id == tenant_id, table.c.access_key_id == access_key_id))
            )
        return bool(result.rowcount)


def _access_key_row(key: AccessKey) -> dict[str, Any]:
    return {
        "tenant_id": key.tenant_id,
        "access_key_id": key.access_key_id,
        "principal_type": key.principal_type,
        "principal_name": key.principal_name,
        "status": key.status,
        "sealed_secret": key.sealed_secret,
        "kek_id": key.kek_id,
        "policy": key.policy,
        "description": key.description,
        "created_at": key.created_at,
        "updated_at": key.updated_at,
    }


def _access_key(row: Any) -> AccessKey:
    return AccessKey(
        tenant_id=row["tenant_id"],
        access_key_id=row["access_key_id"],
        principal_type=row["principal_type"],
        principal_name=row["principal_name"],
        status=row["status"],
        sealed_secret=bytes(row["sealed_secret"]),
        kek_id=row["kek_id"],
        policy=row["policy"],
        description=row["description"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


class SqlRoleStore(_Repository):
    async def get(self, tenant_id: str, name: str) -> Role | None:
        table = t.aws_roles
        query = select(table).where(and_(table.c.tenant_id == tenant_id, func.lower(table.c.name) == name.lower()))
        async with self._engine.connect() as conn:
            row = (await conn.execute(query)).first()
        return _role(row._mapping) if row else None

    async def list(self, tenant_id: str) -> list[Role]:
        table = t.aws_roles
        query = select(table).where(table.c.tenant_id == tenant_id).order_by(table.c.name)
        async with self._engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return [_role(r._mapping) for r in rows]

    async def create(self, role: Role) -> None:
        table = t.aws_roles
        conflict = Conflict(f"role {role.name!r} already exists in tenant {role.tenant_id!r}")
        taken = select(table.c.name).where(
            and_(table.c.tenant_id == role.tenant_id, func.lower(table.c.name) == role.name.lower())
        )
        try:
            async with self._engine.begin() as conn:
                if (await conn.execute(taken)).first() is not None:
                    raise conflict  # IAM role names are unique regardless of case
                await conn.execute(insert(table).values(_role_row(role)))
        except IntegrityError:
            raise conflict from None

    async def update(self, role: Role) -> None:
        table = t.aws_roles
        values = _role_row(role)
        for key in ("tenant_id", "name", "role_id", "created_at"):
            values.pop(key)
        async with self._engine.begin() as conn:
            await conn.execute(
                update(table).where(and_(table.c.tenant_id == role.tenant_id, table.c.name == role.name)).values(values)
            )

    async def revoke_sessions(self, tenant_id: str, name: str, before: float) -> bool:
        table = t.aws_roles
        async with self._engine.begin() as conn:
            result = await conn.execute(
                update(table)
                .where(and_(table.c.tenant_id == tenant_id, table.c.name == name))
                .values(sessions_revoked_before=before, updated_at=self._now())
            )
        return bool(result.rowcount)

    async def delete(self, tenant_id: str, name: str) -> bool:
        table = t.aws_roles
        async with self._engine.begin() as conn:
            result = await conn.execute(delete(table).where(and_(table.c.tenant_id == tenant_id, table.c.name == name)))
        return bool(result.rowcount)


def _role_row(role: Role) -> dict[str, Any]:
    return {
        "tenant_id": role.tenant_id,
        "name": role.name,
        "role_id": role.role_id,
        "spec": role.spec.model_dump(mode="json", exclude={"name"}),
        "managed": role.managed,
        "sessions_revoked_before": role.sessions_revoked_before,
        "created_at": role.created_at,
        "updated_at": role.updated_at,
    }


def _role(row: Any) -> Role:
    return Role(
        tenant_id=row["tenant_id"],
        spec=RoleConfig.model_validate({**row["spec"], "name": row["name"]}),
        role_id=row["role_id"],
        managed=row["managed"],
        sessions_revoked_before=row["sessions_revoked_before"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


class SqlSessionKeyStore(_Repository):
    async def list(self, tenant_id: str) -> list[SessionKey]:
        table = t.aws_session_keys
        query = select(table).where(table.c.tenant_id == tenant_id).order_by(table.c.created_at)
        async with self._engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return [_session_key(r._mapping) for r in rows]

    async def apply(self, tenant_id: str, changes: SessionKeyChanges) -> None:
        table = t.aws_session_keys
        async with self._engine.begin() as conn:
            for key in changes.deleted:
                await conn.execute(
                    delete(table).where(and_(table.c.tenant_id == tenant_id, table.c.key_id == key.key_id))
                )
            for key in changes.updated:
                await conn.execute(
                    update(table)
                    .where(and_(table.c.tenant_id == tenant_id, table.c.key_id == key.key_id))
                    .values(state=key.state, retired_at=key.retired_at, decrypts_until=key.decrypts_until)
                )
            for key in changes.added:
                await conn.execute(
                    insert(table).values(
                        tenant_id=tenant_id,
                        key_id=key.key_id,
                        state=key.state,
                        sealed_key=key.sealed_key,
                        kek_id=key.kek_id,
                        created_at=key.created_at,
                        retired_at=key.retired_at,
                        decrypts_until=key.decrypts_until,
                    )
                )


def _session_key(row: Any) -> SessionKey:
    return SessionKey(
        tenant_id=row["tenant_id"],
        key_id=row["key_id"],
        state=row["state"],
        sealed_key=bytes(row["sealed_key"]),
        kek_id=row["kek_id"],
        created_at=row["created_at"],
        retired_at=row["retired_at"],
        decrypts_until=row["decrypts_until"],
    )


class SqlMfaDeviceStore(_Repository):
    async def get(self, tenant_id: str, name: str) -> MfaDevice | None:
        table = t.aws_mfa_devices
        query = select(table).where(and_(table.c.tenant_id == tenant_id, table.c.name == name))
        async with self._engine.connect() as conn:
            row = (await conn.execute(query)).first()
        return _mfa_device(row._mapping) if row else None

    async def list(self, tenant_id: str) -> list[MfaDevice]:
        table = t.aws_mfa_devices
        query = select(table).where(table.c.tenant_id == tenant_id).order_by(table.c.name)
        async with self._engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return [_mfa_device(r._mapping) for r in rows]

    async def create(self, device: MfaDevice) -> None:
        try:
            async with self._engine.begin() as conn:
                await conn.execute(
                    insert(t.aws_mfa_devices).values(
                        tenant_id=device.tenant_id,
                        name=device.name,
                        principal_type=device.principal_type,
                        principal_name=device.principal_name,
                        sealed_secret=device.sealed_secret,
                        kek_id=device.kek_id,
                        digits=device.digits,
                        created_at=device.created_at,
                    )
                )
        except IntegrityError:
            raise Conflict(f"MFA device {device.name!r} already exists in tenant {device.tenant_id!r}") from None

    async def delete(self, tenant_id: str, name: str) -> bool:
        table = t.aws_mfa_devices
        async with self._engine.begin() as conn:
            result = await conn.execute(delete(table).where(and_(table.c.tenant_id == tenant_id, table.c.name == name)))
        return bool(result.rowcount)

    async def count_attempt(self, tenant_id: str, name: str, now: float, lockout: MfaLockout) -> float | None:
        """One ``INSERT ... ON CONFLICT DO UPDATE ... RETURNING`` on ``login_failures`` (key ``mfa:<name>``).

        A locked row stays as it is; a forgotten one (window passed, lockout over) starts again at
        one; otherwise the count goes up, and past ``max_failures`` the lockout starts. Each
        concurrent attempt therefore sees its own count.
        """
        table = it.login_failures
        locked = and_(table.c.locked_until.is_not(None), table.c.locked_until > now)
        forgotten = or_(table.c.locked_until.is_not(None), table.c.last_failure_at <= now - lockout.window_seconds)
        next_count = case((forgotten, literal(1)), else_=table.c.count + 1)
        module: Any = postgresql if self._engine.dialect.name == "postgresql" else sqlite
        statement = module.insert(table).values(
            tenant_id=tenant_id,
            key=f"mfa:{name}",
            count=1,
            last_failure_at=now,
            locked_until=None,
        )
        statement = statement.on_conflict_do_update(
            index_elements=["tenant_id", "key"],
            set_={
                "count": case((locked, table.c.count), else_=next_count),
                "last_failure_at": case((locked, table.c.last_failure_at), else_=literal(now)),
                "locked_until": case(
                    (locked, table.c.locked_until),
                    (next_count > lockout.max_failures, literal(now + lockout.lockout_seconds)),
                    else_=None,
                ),
            },
        ).returning(table.c.locked_until)
        async with self._engine.begin() as conn:
            locked_until = (await conn.execute(statement)).scalar_one()
        return None if locked_until is None else float(locked_until)

    async def clear_attempts(self, tenant_id: str, name: str) -> None:
        table = it.login_failures
        async with self._engine.begin() as conn:
            await conn.execute(delete(table).where(and_(table.c.tenant_id == tenant_id, table.c.key == f"mfa:{name}")))


def _mfa_device(row: Any) -> MfaDevice:
    return MfaDevice(
        tenant_id=row["tenant_id"],
        name=row["name"],
        principal_type=row["principal_type"],
        principal_name=row["principal_name"],
        sealed_secret=bytes(row["sealed_secret"]),
        kek_id=row["kek_id"],
        digits=row["digits"],
        created_at=row["created_at"],
    )


class SqlAwsDocumentStore(_Repository):
    async def get(self, tenant_id: str, kind: DocumentKind, name: str) -> AwsDocument | None:
        table = t.aws_documents
        query = select(table).where(and_(table.c.tenant_id == tenant_id, table.c.kind == kind, table.c.name == name))
        async with self._engine.connect() as conn:
            row = (await conn.execute(query)).first()
        return _document(row._mapping) if row else None

    async def list(self, tenant_id: str, kind: DocumentKind) -> list[AwsDocument]:
        table = t.aws_documents
        query = select(table).where(and_(table.c.tenant_id == tenant_id, table.c.kind == kind)).order_by(table.c.name)
        async with self._engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return [_document(r._mapping) for r in rows]

    async def put(self, document: AwsDocument) -> None:
        table = t.aws_documents
        now = self._now()
        where = and_(
            table.c.tenant_id == document.tenant_id, table.c.kind == document.kind, table.c.name == document.name
        )
        values = {"spec": document.spec, "managed": document.managed, "updated_at": now}
        async with self._engine.begin() as conn:
            changed = await conn.execute(update(table).where(where).values(**values))
            if changed.rowcount == 0:
                await conn.execute(
                    insert(table).values(
                        tenant_id=document.tenant_id, kind=document.kind, name=document.name, created_at=now, **values
                    )
                )

    async def delete(self, tenant_id: str, kind: DocumentKind, name: str) -> bool:
        table = t.aws_documents
        async with self._engine.begin() as conn:
            result = await conn.execute(
                delete(table).where(and_(table.c.tenant_id == tenant_id, table.c.kind == kind, table.c.name == name))
            )
        return bool(result.rowcount)


def _document(row: Any) -> AwsDocument:
    return AwsDocument(
        tenant_id=row["tenant_id"],
        kind=row["kind"],
        name=row["name"],
        spec=dict(row["spec"] or {}),
        managed=row["managed"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


__all__ = [
    "SqlAccessKeyStore",
    "SqlAwsDocumentStore",
    "SqlMfaDeviceStore",
    "SqlRoleStore",
    "SqlSessionKeyStore",
]
