"""Alembic migrations create exactly the schema the code declares, on both backends."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy.engine import Connection

from tessera.settings import Settings
from tessera.storage.migrate import HEAD_REVISION, current_revision, head_revision, upgrade
from tessera.storage.sql.store import open_store
from tessera.storage.sql.tables import metadata

pytestmark = pytest.mark.storage


async def test_upgrade_head_then_autogenerate_finds_no_difference(make_settings: Callable[..., Settings]) -> None:
    settings = make_settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    store = open_store(settings.database_url(), time.time, connect_args=settings.connect_args())
    try:
        assert await current_revision(store.engine) is None
        before, after = await upgrade(store.engine)
        assert (before, after) == (None, head_revision())
        assert await upgrade(store.engine) == (head_revision(), head_revision())  # idempotent

        def diff(connection: Connection) -> list[object]:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            return list(compare_metadata(context, metadata))

        async with store.engine.connect() as conn:
            differences = await conn.run_sync(diff)
        assert differences == []
    finally:
        await store.close()


def test_the_fast_start_up_check_knows_the_real_head() -> None:
    assert head_revision() == HEAD_REVISION
