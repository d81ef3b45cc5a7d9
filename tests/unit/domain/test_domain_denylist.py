"""The in-memory denylist: immediate on the revoking node, refreshed from the store elsewhere."""

from __future__ import annotations

import pytest

from tessera.clock import FixedClock
from tessera.domain.denylist import FULL_RELOAD_SECONDS, OVERLAP_SECONDS, Denylist

pytestmark = pytest.mark.unit


class SharedRecords:
    """Stands for the store two nodes share."""

    def __init__(self) -> None:
        self.rows: dict[tuple[str, str], tuple[float, float]] = {}
        self.reads: list[float] = []

    async def revoke(self, tenant_id: str, token_id: str, expires_at: float, now: float) -> bool:
        first = (tenant_id, token_id) not in self.rows
        self.rows.setdefault((tenant_id, token_id), (expires_at, now))
        return first

    async def revoked_since(self, since: float, now: float) -> list[tuple[str, str, float, float]]:
        self.reads.append(since)
        return [(t, j, e, r) for (t, j), (e, r) in self.rows.items() if r >= since and e > now]

    async def purge_expired(self, now: float) -> int:
        expired = [k for k, (e, _) in self.rows.items() if e < now]
        for key in expired:
            del self.rows[key]
        return len(expired)


async def test_a_revocation_is_seen_at_once_here_and_after_a_refresh_elsewhere() -> None:
    clock, records = FixedClock(1000.0), SharedRecords()
    here, there = Denylist(records, clock), Denylist(records, clock)
    await there.refresh()
    assert await here.revoke("t", "jti", 2000.0, clock.now()) is True
    assert await here.is_revoked("t", "jti")
    assert not await there.is_revoked("t", "jti")
    await there.refresh()
    assert await there.is_revoked("t", "jti")
    assert not await there.is_revoked("other-tenant", "jti")


async def test_refresh_reads_only_recent_revocations_with_an_overlap() -> None:
    clock, records = FixedClock(1000.0), SharedRecords()
    node = Denylist(records, clock)
    await node.refresh()
    assert records.reads == [0.0]
    await records.revoke("t", "a", 5000.0, 1001.0)
    await node.refresh()
    await node.refresh()
    assert records.reads[-1] == 1001.0 - OVERLAP_SECONDS


async def test_a_revocation_stamped_by_a_node_with_a_slow_clock_is_found_by_the_full_reload() -> None:
    clock, records = FixedClock(1000.0), SharedRecords()
    node = Denylist(records, clock)
    await records.revoke("t", "recent", 5000.0, 1000.0)
    await node.refresh()
    await records.revoke("t", "skewed", 5000.0, 1000.0 - 2 * OVERLAP_SECONDS)  # that node's clock is behind
    await node.refresh()
    assert not await node.is_revoked("t", "skewed")
    clock.advance(FULL_RELOAD_SECONDS)
    await node.refresh()
    assert records.reads[-1] == 0.0
    assert await node.is_revoked("t", "skewed")


async def test_entries_leave_memory_when_their_token_has_expired() -> None:
    clock, records = FixedClock(1000.0), SharedRecords()
    node = Denylist(records, clock)
    await node.revoke("t", "short", 1010.0, clock.now())
    await node.revoke("t", "long", 9000.0, clock.now())
    clock.advance(20)
    await node.refresh()
    assert not await node.is_revoked("t", "short")
    assert await node.is_revoked("t", "long")
    assert len(node) == 1
    assert await node.purge_expired(clock.now()) == 1
    assert ("t", "short") not in records.rows
