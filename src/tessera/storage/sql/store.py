"""Open the store: one async engine, SQLite tuned for durability, PostgreSQL via asyncpg."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import ConnectionPoolEntry

from tessera.storage.sql.aws_repositories import (
    SqlAccessKeyStore,
    SqlAwsDocumentStore,
    SqlMfaDeviceStore,
    SqlRoleStore,
    SqlSessionKeyStore,
)
from tessera.storage.sql.identity_repositories import (
    SqlCodeStore,
    SqlConsentStore,
    SqlInteractionStore,
    SqlLoginFailureStore,
    SqlRefreshTokenStore,
    SqlSessionStore,
    SqlSubjectStore,
    SqlTenantSecretStore,
    SqlUserStore,
)
from tessera.storage.sql.repositories import (
    SqlAuditStore,
    SqlClientStore,
    SqlKeyStore,
    SqlReplayStore,
    SqlRevisionStore,
    SqlRevocationStore,
    SqlScopeStore,
    SqlTenantStore,
)


class SqlStore:
    """All repositories over one engine."""

    def __init__(self, engine: AsyncEngine, now: Callable[[], float]) -> None:
        self.engine = engine
        self.tenants = SqlTenantStore(engine, now)
        self.clients = SqlClientStore(engine, now)
        self.scopes = SqlScopeStore(engine, now)
        self.keys = SqlKeyStore(engine, now)
        self.revocations = SqlRevocationStore(engine, now)
        self.replays = SqlReplayStore(engine, now)
        self.audit = SqlAuditStore(engine, now)
        self.revisions = SqlRevisionStore(engine, now)
        self.users = SqlUserStore(engine, now)
        self.sessions = SqlSessionStore(engine, now)
        self.interactions = SqlInteractionStore(engine, now)
        self.consents = SqlConsentStore(engine, now)
        self.codes = SqlCodeStore(engine, now)
        self.refresh_tokens = SqlRefreshTokenStore(engine, now)
        self.subjects = SqlSubjectStore(engine, now)
        self.login_failures = SqlLoginFailureStore(engine, now)
        self.tenant_secrets = SqlTenantSecretStore(engine, now)
        self.aws_access_keys = SqlAccessKeyStore(engine, now)
        self.aws_roles = SqlRoleStore(engine, now)
        self.aws_session_keys = SqlSessionKeyStore(engine, now)
        self.aws_mfa_devices = SqlMfaDeviceStore(engine, now)
        self.aws_documents = SqlAwsDocumentStore(engine, now)

    @property
    def backend(self) -> str:
        return self.engine.dialect.name

    async def close(self) -> None:
        await self.audit.close()
        await self.refresh_tokens.close()
        await self.engine.dispose()


def create_engine(url: str, pool_size: int = 10, connect_args: dict[str, Any] | None = None) -> AsyncEngine:
    if url.startswith("sqlite"):
        engine = create_async_engine(url, pool_size=pool_size, max_overflow=0, connect_args=connect_args or {})
        event.listen(engine.sync_engine, "connect", _tune_sqlite)
        return engine
    return create_async_engine(
        url, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True, connect_args=connect_args or {}
    )


def _tune_sqlite(dbapi_connection: DBAPIConnection, _record: ConnectionPoolEntry) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")  # readers never wait for the writer
    cursor.execute("PRAGMA synchronous=FULL")  # a committed audit event survives a power cut
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


def open_store(
    url: str, now: Callable[[], float], pool_size: int = 10, connect_args: dict[str, Any] | None = None
) -> SqlStore:
    return SqlStore(create_engine(url, pool_size, connect_args), now)


__all__ = ["SqlStore", "create_engine", "open_store"]
