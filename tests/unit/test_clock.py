"""Clocks: the system clock, a fixed clock for tests, and UTC datetimes."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest

from tessera.clock import Clock, FixedClock, SystemClock, utc_datetime

pytestmark = pytest.mark.unit


def test_fixed_clock_starts_at_a_known_time() -> None:
    assert FixedClock().now() == 1_750_000_000.0
    assert FixedClock(12.5).now() == 12.5


def test_fixed_clock_moves_only_when_told() -> None:
    clock = FixedClock(100.0)
    assert clock.now() == clock.now() == 100.0
    clock.advance(2.5)
    assert clock.now() == 102.5
    clock.advance(-0.5)
    assert clock.now() == 102.0
    clock.set(7.0)
    assert clock.now() == 7.0


def test_system_clock_is_the_wall_clock() -> None:
    before = time.time()
    now = SystemClock().now()
    after = time.time()
    assert before <= now <= after


def test_both_are_clocks() -> None:
    clocks: list[Clock] = [SystemClock(), FixedClock()]
    assert all(isinstance(c.now(), float) for c in clocks)


def test_utc_datetime() -> None:
    moment = utc_datetime(1_750_000_000.0)
    assert moment.tzinfo is UTC
    assert moment == datetime(2025, 6, 15, 15, 6, 40, tzinfo=UTC)
    assert moment.utcoffset() == timedelta(0)
    assert utc_datetime(0.5) == datetime(1970, 1, 1, 0, 0, 0, 500_000, tzinfo=UTC)
