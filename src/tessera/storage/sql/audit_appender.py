"""Appending audit rows: the one write on every token request, so it bypasses the ORM layers.

SQLite: a dedicated writer thread with its own connection; a batch is one executemany and one
commit in a single hop to that thread (the event loop never waits on the disk). PostgreSQL: a
connection held by the writer for its lifetime; a batch is one executemany in one transaction.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol

import orjson
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from tessera.domain.audit import AuditEvent

COLUMNS = (
    "event_id",
    "occurred_at",
    "tenant_id",
    "action",
    "result",
    "actor",
    "client_id",
    "source_ip",
    "reason",
    "token_id",
    "request_id",
    "details",
)
_COLUMN_LIST = ", ".join(COLUMNS)
SQLITE_INSERT = f"INSERT INTO audit_events ({_COLUMN_LIST}) VALUES ({', '.join('?' * len(COLUMNS))})"  # noqa: S608
POSTGRES_INSERT = (
    f"INSERT INTO audit_events ({_COLUMN_LIST}) "  # noqa: S608 - constants only
    f"VALUES ({', '.join(f'${i}' for i in range(1, len(COLUMNS) + 1))})"
)

Row = tuple[Any, ...]


def to_rows(events: Sequence[AuditEvent]) -> list[Row]:
    return [
        (
            e.event_id,
            e.occurred_at,
            e.tenant_id,
            e.action,
            e.result,
            e.actor,
            e.client_id,
            e.source_ip,
            e.reason,
            e.token_id,
            e.request_id,
            orjson.dumps(e.details, default=str).decode(),
        )
        for e in events
    ]


class AuditAppender(Protocol):
    async def append(self, rows: list[Row]) -> None: ...
    async def close(self) -> None: ...


class SqliteAuditAppender:
    def __init__(self, path: str) -> None:
        self._path = path
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="tessera-audit-sqlite")
        self._connection: sqlite3.Connection | None = None

    def _write(self, rows: list[Row]) -> None:
        if self._connection is None:
            connection = sqlite3.connect(self._path, isolation_level=None, check_same_thread=False)
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("PRAGMA synchronous=FULL")
            connection.execute("PRAGMA busy_timeout=10000")
            self._connection = connection
        connection = self._connection
        connection.execute("BEGIN IMMEDIATE")
        try:
            connection.executemany(SQLITE_INSERT, rows)
        except BaseException:
            connection.execute("ROLLBACK")
            raise
        connection.execute("COMMIT")

    async def append(self, rows: list[Row]) -> None:
        await asyncio.get_running_loop().run_in_executor(self._executor, self._write, rows)

    async def close(self) -> None:
        def close_connection() -> None:
            if self._connection is not None:
                self._connection.close()
                self._connection = None

        await asyncio.get_running_loop().run_in_executor(self._executor, close_connection)
        self._executor.shutdown(wait=True)


class PostgresAuditAppender:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._connection: AsyncConnection | None = None

    async def append(self, rows: list[Row]) -> None:
        if self._connection is None:
            self._connection = await self._engine.connect()
        try:
            raw = await self._connection.get_raw_connection()
            driver: Any = raw.driver_connection
            async with driver.transaction():
                await driver.executemany(POSTGRES_INSERT, rows)
        except BaseException:
            await self.close()  # a broken connection is replaced on the next batch
            raise

    async def close(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            with contextlib.suppress(Exception):  # closing a broken connection may fail too
                await connection.close()


def appender_for(engine: AsyncEngine) -> AuditAppender:
    if engine.dialect.name == "sqlite":
        database = engine.url.database
        assert database, "the embedded store needs a file"
        return SqliteAuditAppender(database)
    return PostgresAuditAppender(engine)


__all__ = ["COLUMNS", "AuditAppender", "appender_for", "to_rows"]
