"""Schema migrations with Alembic, driven from code (``tessera migrate`` and start-up)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

MIGRATIONS = Path(__file__).parent / "migrations"


def _config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    head = ScriptDirectory.from_config(_config()).get_current_head()
    assert head is not None
    return head


async def current_revision(engine: AsyncEngine) -> str | None:
    def read(connection: Connection) -> str | None:
        return MigrationContext.configure(connection).get_current_revision()

    async with engine.connect() as conn:
        return await conn.run_sync(read)


async def upgrade(engine: AsyncEngine, target: str = "head") -> tuple[str | None, str]:
    """Upgrade in place; returns (revision before, revision after)."""
    before = await current_revision(engine)

    def run(connection: Connection) -> None:
        command.upgrade(_config(connection), target)

    async with engine.begin() as conn:
        await conn.run_sync(run)
    return before, await current_revision(engine) or ""


__all__ = ["MIGRATIONS", "current_revision", "head_revision", "upgrade"]
