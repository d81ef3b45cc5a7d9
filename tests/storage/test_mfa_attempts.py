"""Wrong-MFA-code counting (``SqlMfaDeviceStore.count_attempt``) on SQLite and PostgreSQL: lock, window, isolation."""

from __future__ import annotations

import asyncio

import pytest

from tessera.domain.aws_identities import MfaLockout
from tessera.storage.sql.store import SqlStore

pytestmark = pytest.mark.storage

NOW = 1_750_000_000.0
LOCKOUT = MfaLockout(max_failures=5, lockout_seconds=900.0, window_seconds=600.0)


async def attempts(
    store: SqlStore, count: int, now: float = NOW, tenant: str = "alpha", name: str = "phone"
) -> list[float | None]:
    return [await store.aws_mfa_devices.count_attempt(tenant, name, now, LOCKOUT) for _ in range(count)]


async def row(store: SqlStore, tenant: str = "alpha", name: str = "phone") -> tuple[int, float, float | None] | None:
    """The device's login_failures row (key ``mfa:<name>``): count, last attempt, lock end."""
    found = (await store.login_failures.get(tenant, [f"mfa:{name}"])).get(f"mfa:{name}")
    return None if found is None else (found.count, found.last_failure_at, found.locked_until)


async def test_the_attempt_after_the_maximum_locks_and_the_lock_is_not_extended(store: SqlStore) -> None:
    assert await attempts(store, 5) == [None] * 5
    assert await row(store) == (5, NOW, None)
    assert await attempts(store, 1, NOW + 10) == [NOW + 10 + 900]
    assert await row(store) == (6, NOW + 10, NOW + 910)
    # Attempts during the lock neither count nor move its end.
    assert await attempts(store, 3, NOW + 500) == [NOW + 910] * 3
    assert await row(store) == (6, NOW + 10, NOW + 910)
    # Once it is over, counting starts again at one.
    assert await attempts(store, 1, NOW + 910) == [None]
    assert await row(store) == (1, NOW + 910, None)
    assert await attempts(store, 4, NOW + 911) == [None] * 4
    assert await attempts(store, 1, NOW + 912) == [NOW + 912 + 900]


async def test_failures_are_forgotten_after_the_window(store: SqlStore) -> None:
    assert await attempts(store, 5) == [None] * 5
    assert await attempts(store, 1, NOW + 600) == [None]  # window_seconds after the last one: forgotten
    assert await row(store) == (1, NOW + 600, None)
    assert await attempts(store, 4, NOW + 1199) == [None] * 4  # each attempt restarts the window
    assert await attempts(store, 1, NOW + 1199) == [NOW + 1199 + 900]


async def test_clearing_forgets_the_count(store: SqlStore) -> None:
    assert await attempts(store, 5) == [None] * 5
    await store.aws_mfa_devices.clear_attempts("alpha", "phone")
    assert await row(store) is None
    assert await attempts(store, 5) == [None] * 5
    assert await attempts(store, 1) == [NOW + 900]
    await store.aws_mfa_devices.clear_attempts("alpha", "phone")  # a valid code also ends a lock
    assert await attempts(store, 1) == [None]


async def test_counts_are_per_device_and_per_tenant(store: SqlStore) -> None:
    assert await attempts(store, 6) == [None] * 5 + [NOW + 900]
    assert await attempts(store, 1, name="backup") == [None]
    assert await attempts(store, 1, tenant="beta") == [None]
    await store.aws_mfa_devices.clear_attempts("beta", "phone")
    assert await row(store) == (6, NOW, NOW + 900)
    assert await row(store, name="backup") == (1, NOW, None)
    assert await row(store, tenant="beta") is None


async def test_concurrent_attempts_each_take_their_own_number(store: SqlStore) -> None:
    """Twenty parallel guesses: five are let through to the code check, fifteen find the device locked."""
    devices = store.aws_mfa_devices
    outcomes = await asyncio.gather(*(devices.count_attempt("alpha", "phone", NOW, LOCKOUT) for _ in range(20)))
    assert sorted(outcomes, key=lambda o: o is not None) == [None] * 5 + [NOW + 900] * 15
    assert await row(store) == (6, NOW, NOW + 900)
