"""A migrated store on each backend."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from tessera.domain.tenants import Tenant
from tessera.settings import Settings
from tessera.storage.migrate import upgrade
from tessera.storage.sql.store import SqlStore, open_store


@pytest.fixture
async def store(make_settings: Callable[..., Settings]) -> AsyncIterator[SqlStore]:
    settings = make_settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    sql = open_store(settings.database_url(), time.time, connect_args=settings.connect_args())
    await upgrade(sql.engine)
    for tenant_id in ("alpha", "beta"):
        await sql.tenants.put(Tenant(id=tenant_id, name=tenant_id.title()))
    yield sql
    await sql.close()


@pytest.fixture
def settings_of(make_settings: Callable[..., Settings]) -> Callable[..., Settings]:
    def build(**kwargs: Any) -> Settings:
        return make_settings(**kwargs)

    return build
