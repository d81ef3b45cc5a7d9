"""Migrations and the bootstrap of two nodes never interleave."""

from __future__ import annotations

import asyncio

import pytest

from tessera.storage.sql.startup_lock import exclusive
from tessera.storage.sql.store import SqlStore

pytestmark = pytest.mark.storage


async def test_the_second_holder_waits_for_the_first(store: SqlStore) -> None:
    order: list[str] = []
    first_inside = asyncio.Event()

    async def first() -> None:
        async with exclusive(store.engine):
            order.append("first in")
            first_inside.set()
            await asyncio.sleep(0.2)
            order.append("first out")

    async def second() -> None:
        await first_inside.wait()
        async with exclusive(store.engine):
            order.append("second in")

    await asyncio.wait_for(asyncio.gather(first(), second()), 10)
    assert order == ["first in", "first out", "second in"]
