"""Storage backends for tests: SQLite in a temporary folder, PostgreSQL in a fresh schema per test."""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import asyncpg

POSTGRES_URL = os.environ.get("TESSERA_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
BACKENDS = ("sqlite", "postgresql")


class PostgresUnavailable(RuntimeError):
    pass


async def _execute(sql: str) -> None:
    try:
        conn = await asyncpg.connect(POSTGRES_URL, timeout=5)
    except (TimeoutError, OSError, asyncpg.PostgresError) as exc:
        raise PostgresUnavailable(
            f"PostgreSQL is required by the storage tests but {POSTGRES_URL} is unreachable ({exc!r}). "
            "Start it: pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start"
        ) from exc
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def _run(coro: Any) -> None:
    """Run a coroutine whether or not this thread already has a running loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        asyncio.run(coro)
        return
    import concurrent.futures

    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, coro).result()


@contextmanager
def postgres_schema() -> Iterator[str]:
    name = "t_" + secrets.token_hex(6)
    _run(_execute(f"CREATE SCHEMA {name}"))
    try:
        yield name
    finally:
        _run(_execute(f"DROP SCHEMA {name} CASCADE"))


def storage_overrides(backend: str, data_dir: Path, schema: str | None) -> dict[str, Any]:
    """Settings keyword arguments that point Tessera at ``backend``."""
    if backend == "sqlite":
        return {"data_dir": data_dir}
    assert schema is not None
    return {
        "data_dir": data_dir,
        "storage": {
            "url": POSTGRES_URL.replace("postgresql://", "postgresql+asyncpg://"),
            "schema_name": schema,
        },
    }


__all__ = ["BACKENDS", "POSTGRES_URL", "PostgresUnavailable", "postgres_schema", "storage_overrides"]
