"""SQLAlchemy Core implementations of the ports in ``tessera.ports``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import and_, delete, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from tessera.domain.audit import AuditEvent, AuditQuery
from tessera.domain.clients import Client
from tessera.domain.keys import KeyChanges, KeyState, StoredKey
from tessera.domain.tenants import Tenant
from tessera.errors import Conflict
from tessera.settings import ClientConfig, ScopeConfig
from tessera.storage.sql import tables as t
from tessera.storage.sql.audit_appender import AuditAppender, appender_for, to_rows

_TENANT_SPEC_FIELDS = ("issuer", "account_id", "signing_alg", "default_audience")


class _Repository:
    def __init__(self, engine: AsyncEngine, clock_now: Any) -> None:
        self._engine = engine
        self._now = clock_now


class SqlTenantStore(_Repository):
    async def get(self, tenant_id: str) -> Tenant | None:
        async with self._engine.connect() as conn:
            row = (await conn.execute(select(t.tenants).where(t.tenants.c.id == tenant_id))).first()
        return _tenant(row._mapping) if row else None

    async def list(self) -> list[Tenant]:
        async with self._engine.connect() as conn:
            rows = (await conn.execute(select(t.tenants).order_by(t.tenants.c.id))).all()
        return [_tenant(r._mapping) for r in rows]

    async def put(self, tenant: Tenant) -> None:
        now = self._now()
        spec = {name: getattr(tenant, name) for name in _TENANT_SPEC_FIELDS}
        values = {"name": tenant.name, "spec": spec, "managed": tenant.managed, "updated_at": now}
        async with self._engine.begin() as conn:
            changed = await conn.execute(update(t.tenants).where(t.tenants.c.id == tenant.id).values(**values))
            if changed.rowcount == 0:
                await conn.execute(insert(t.tenants).values(id=tenant.id, created_at=now, **values))

    async def delete(self, tenant_id: str) -> bool:
        async with self._engine.begin() as conn:
            for table in (t.clients, t.scopes, t.signing_keys, t.revoked_tokens, t.used_assertions):
                await conn.execute(delete(table).where(table.c.tenant_id == tenant_id))
            result = await conn.execute(delete(t.tenants).where(t.tenants.c.id == tenant_id))
        return bool(result.rowcount)


def _tenant(row: Any) -> Tenant:
    spec = row["spec"] or {}
    return Tenant(
        id=row["id"],
        name=row["name"],
        managed=row["managed"],
        **{k: spec.get(k) for k in _TENANT_SPEC_FIELDS},
    )


class SqlClientStore(_Repository):
    async def get(self, tenant_id: str, client_id: str) -> Client | None:
        query = select(t.clients).where(and_(t.clients.c.tenant_id == tenant_id, t.clients.c.client_id == client_id))
        async with self._engine.connect() as conn:
            row = (await conn.execute(query)).first()
        return _client(row._mapping) if row else None

    async def list(self, tenant_id: str) -> list[Client]:
        query = select(t.clients).where(t.clients.c.tenant_id == tenant_id).order_by(t.clients.c.client_id)
        async with self._engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return [_client(r._mapping) for r in rows]

    async def create(self, client: Client) -> None:
        now = self._now()
        try:
            async with self._engine.begin() as conn:
                await conn.execute(
                    insert(t.clients).values(
                        tenant_id=client.tenant_id,
                        client_id=client.client_id,
                        spec=_client_spec(client),
                        secret_hash=client.secret_hash,
                        managed=client.managed,
                        created_at=now,
                        updated_at=now,
                    )
                )
        except IntegrityError:
            raise Conflict(f"client {client.client_id!r} already exists in tenant {client.tenant_id!r}") from None

    async def update(self, client: Client) -> None:
        async with self._engine.begin() as conn:
            await conn.execute(
                update(t.clients)
                .where(and_(t.clients.c.tenant_id == client.tenant_id, t.clients.c.client_id == client.client_id))
                .values(
                    spec=_client_spec(client),
                    secret_hash=client.secret_hash,
                    managed=client.managed,
                    updated_at=self._now(),
                )
            )

    async def delete(self, tenant_id: str, client_id: str) -> bool:
        async with self._engine.begin() as conn:
            result = await conn.execute(
                delete(t.clients).where(and_(t.clients.c.tenant_id == tenant_id, t.clients.c.client_id == client_id))
            )
        return bool(result.rowcount)


def _client_spec(client: Client) -> dict[str, Any]:
    return client.spec.model_dump(mode="json", exclude={"client_id", "secret_hash"})


def _client(row: Any) -> Client:
    spec = ClientConfig.model_validate({**row["spec"], "client_id": row["client_id"]})
    return Client(
        tenant_id=row["tenant_id"],
        spec=spec,
        secret_hash=row["secret_hash"],
        managed=row["managed"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


class SqlScopeStore(_Repository):
    async def list(self, tenant_id: str) -> list[ScopeConfig]:
        query = select(t.scopes).where(t.scopes.c.tenant_id == tenant_id).order_by(t.scopes.c.name)
        async with self._engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return [ScopeConfig(name=r.name, description=r.description) for r in rows]

    async def replace(self, tenant_id: str, scopes: Sequence[ScopeConfig]) -> None:
        async with self._engine.begin() as conn:
            await conn.execute(delete(t.scopes).where(t.scopes.c.tenant_id == tenant_id))
            if scopes:
                await conn.execute(
                    insert(t.scopes),
                    [{"tenant_id": tenant_id, "name": s.name, "description": s.description} for s in scopes],
                )


class SqlKeyStore(_Repository):
    async def list(self, tenant_id: str) -> list[StoredKey]:
        query = select(t.signing_keys).where(t.signing_keys.c.tenant_id == tenant_id)
        async with self._engine.connect() as conn:
            rows = (await conn.execute(query.order_by(t.signing_keys.c.created_at))).all()
        return [_stored_key(r._mapping) for r in rows]

    async def apply(self, tenant_id: str, changes: KeyChanges) -> None:
        keys = t.signing_keys
        async with self._engine.begin() as conn:
            for key in changes.deleted:
                await conn.execute(delete(keys).where(and_(keys.c.tenant_id == tenant_id, keys.c.kid == key.kid)))
            for key in changes.updated:
                await conn.execute(
                    update(keys)
                    .where(and_(keys.c.tenant_id == tenant_id, keys.c.kid == key.kid))
                    .values(
                        state=key.state.value,
                        activated_at=key.activated_at,
                        retired_at=key.retired_at,
                        publish_until=key.publish_until,
                    )
                )
            for key in changes.added:
                await conn.execute(insert(keys).values(_key_row(tenant_id, key)))


def _key_row(tenant_id: str, key: StoredKey) -> dict[str, Any]:
    return {
        "tenant_id": tenant_id,
        "kid": key.kid,
        "alg": key.alg,
        "state": key.state.value,
        "public_jwk": key.public_jwk,
        "sealed_private_key": key.sealed_private_key,
        "kek_id": key.kek_id,
        "created_at": key.created_at,
        "activated_at": key.activated_at,
        "retired_at": key.retired_at,
        "publish_until": key.publish_until,
    }


def _stored_key(row: Any) -> StoredKey:
    return StoredKey(
        tenant_id=row["tenant_id"],
        kid=row["kid"],
        alg=row["alg"],
        state=KeyState(row["state"]),
        public_jwk=row["public_jwk"],
        sealed_private_key=bytes(row["sealed_private_key"]),
        kek_id=row["kek_id"],
        created_at=row["created_at"],
        activated_at=row["activated_at"],
        retired_at=row["retired_at"],
        publish_until=row["publish_until"],
    )


class SqlRevocationStore(_Repository):
    async def revoke(self, tenant_id: str, token_id: str, expires_at: float, now: float) -> bool:
        try:
            async with self._engine.begin() as conn:
                await conn.execute(
                    insert(t.revoked_tokens).values(
                        tenant_id=tenant_id, token_id=token_id, expires_at=expires_at, revoked_at=now
                    )
                )
        except IntegrityError:
            return False
        return True

    async def revoked_since(self, since: float, now: float) -> list[tuple[str, str, float, float]]:
        table = t.revoked_tokens
        query = select(table.c.tenant_id, table.c.token_id, table.c.expires_at, table.c.revoked_at).where(
            and_(table.c.revoked_at >= since, table.c.expires_at > now)
        )
        async with self._engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return [(r.tenant_id, r.token_id, r.expires_at, r.revoked_at) for r in rows]

    async def is_revoked(self, tenant_id: str, token_id: str) -> bool:
        table = t.revoked_tokens
        query = select(table.c.token_id).where(and_(table.c.tenant_id == tenant_id, table.c.token_id == token_id))
        async with self._engine.connect() as conn:
            return (await conn.execute(query)).first() is not None

    async def purge_expired(self, now: float) -> int:
        async with self._engine.begin() as conn:
            result = await conn.execute(delete(t.revoked_tokens).where(t.revoked_tokens.c.expires_at < now))
        return int(result.rowcount or 0)


class SqlReplayStore(_Repository):
    async def remember(self, tenant_id: str, key: str, expires_at: float) -> bool:
        try:
            async with self._engine.begin() as conn:
                await conn.execute(
                    insert(t.used_assertions).values(tenant_id=tenant_id, key=key, expires_at=expires_at)
                )
        except IntegrityError:
            return False
        return True

    async def purge_expired(self, now: float) -> int:
        async with self._engine.begin() as conn:
            result = await conn.execute(delete(t.used_assertions).where(t.used_assertions.c.expires_at < now))
        return int(result.rowcount or 0)


class SqlAuditStore(_Repository):
    def __init__(self, engine: AsyncEngine, clock_now: Any) -> None:
        super().__init__(engine, clock_now)
        self._appender: AuditAppender | None = None

    async def append(self, events: Sequence[AuditEvent]) -> None:
        """One transaction per batch (see ``audit_appender``): this runs for every token."""
        if self._appender is None:
            self._appender = appender_for(self._engine)
        await self._appender.append(to_rows(events))

    async def close(self) -> None:
        if self._appender is not None:
            await self._appender.close()
            self._appender = None

    async def search(self, query: AuditQuery) -> list[tuple[int, AuditEvent]]:
        table = t.audit_events
        conditions = []
        for column, value in (
            (table.c.tenant_id, query.tenant_id),
            (table.c.action, query.action),
            (table.c.result, query.result),
            (table.c.client_id, query.client_id),
            (table.c.token_id, query.token_id),
        ):
            if value is not None:
                conditions.append(column == value)
        if query.since is not None:
            conditions.append(table.c.occurred_at >= query.since)
        if query.until is not None:
            conditions.append(table.c.occurred_at < query.until)
        if query.after_sequence is not None:
            conditions.append(table.c.sequence > query.after_sequence)
        newest = select(table).where(and_(True, *conditions)).order_by(table.c.sequence.desc()).limit(query.limit)
        async with self._engine.connect() as conn:
            rows = (await conn.execute(newest)).all()
        return [(r.sequence, _event(r._mapping)) for r in reversed(rows)]


def _event(row: Any) -> AuditEvent:
    return AuditEvent(
        action=row["action"],
        result=row["result"],
        tenant_id=row["tenant_id"],
        occurred_at=row["occurred_at"],
        event_id=row["event_id"],
        actor=row["actor"],
        client_id=row["client_id"],
        source_ip=row["source_ip"],
        reason=row["reason"],
        token_id=row["token_id"],
        request_id=row["request_id"],
        details=row["details"] or {},
    )


class SqlRevisionStore(_Repository):
    NAME = "directory"

    async def current(self) -> int:
        query = select(t.revisions.c.value).where(t.revisions.c.name == self.NAME)
        async with self._engine.connect() as conn:
            value = (await conn.execute(query)).scalar()
        return int(value or 0)

    async def bump(self) -> int:
        async with self._engine.begin() as conn:
            result = await conn.execute(
                update(t.revisions).where(t.revisions.c.name == self.NAME).values(value=t.revisions.c.value + 1)
            )
            if result.rowcount == 0:
                await conn.execute(insert(t.revisions).values(name=self.NAME, value=1))
            value = (await conn.execute(select(t.revisions.c.value).where(t.revisions.c.name == self.NAME))).scalar()
        return int(value or 0)


__all__ = [
    "SqlAuditStore",
    "SqlClientStore",
    "SqlKeyStore",
    "SqlReplayStore",
    "SqlRevisionStore",
    "SqlRevocationStore",
    "SqlScopeStore",
    "SqlTenantStore",
]
