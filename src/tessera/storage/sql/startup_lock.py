"""One node at a time: migrations and the declarative bootstrap run under a store-wide lock.

PostgreSQL: a session-level advisory lock on a connection held for the duration. SQLite: an
exclusive ``flock`` on a file beside the database (every process using the store is on this host).
"""

from __future__ import annotations

import asyncio
import fcntl
import hashlib
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine


def _lock_id(name: str) -> int:
    return int.from_bytes(hashlib.sha256(f"tessera:{name}".encode()).digest()[:8], "big", signed=True)


@asynccontextmanager
async def exclusive(engine: AsyncEngine, name: str = "bootstrap") -> AsyncIterator[None]:
    """Hold the store-wide lock ``name`` while the block runs."""
    if engine.dialect.name == "postgresql":
        async with engine.connect() as conn:
            await conn.execute(text("SELECT pg_advisory_lock(:id)"), {"id": _lock_id(name)})
            await conn.commit()
            try:
                yield
            finally:
                await conn.execute(text("SELECT pg_advisory_unlock(:id)"), {"id": _lock_id(name)})
                await conn.commit()
        return
    database = engine.url.database or ":memory:"
    if database == ":memory:":
        yield
        return
    fd = os.open(f"{database}.{name}.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        await asyncio.get_running_loop().run_in_executor(None, fcntl.flock, fd, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


__all__ = ["exclusive"]
