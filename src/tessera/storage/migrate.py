"""Schema migrations with Alembic, driven from code (``tessera migrate`` and start-up).

Alembic is imported only when a migration has to run: a node starting on an up-to-date store
checks the stored revision against ``HEAD_REVISION`` with one query (start-up time, memory).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

if TYPE_CHECKING:
    from alembic.config import Config
    from sqlalchemy.engine import Connection

MIGRATIONS = Path(__file__).parent / "migrations"
HEAD_REVISION = "0004"  # the newest file in migrations/versions; a test checks it is Alembic's head


def _config(connection: Connection | None = None) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    """The head according to Alembic's scripts (slow: imports Alembic)."""
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(_config()).get_current_head()
    assert head is not None
    return head


async def current_revision(engine: AsyncEngine) -> str | None:
    try:
        async with engine.connect() as conn:
            return (await conn.execute(text("SELECT version_num FROM alembic_version"))).scalar()
    except DBAPIError:  # no alembic_version table yet: an empty store
        return None


async def upgrade(engine: AsyncEngine, target: str = "head") -> tuple[str | None, str]:
    """Upgrade in place; returns (revision before, revision after)."""
    before = await current_revision(engine)
    if target == "head" and before == HEAD_REVISION:
        return before, before

    def run(connection: Connection) -> None:
        from alembic import command

        command.upgrade(_config(connection), target)

    async with engine.begin() as conn:
        await conn.run_sync(run)
    return before, await current_revision(engine) or ""


__all__ = ["HEAD_REVISION", "MIGRATIONS", "current_revision", "head_revision", "upgrade"]
