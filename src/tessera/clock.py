"""Time as a dependency, so that expiry logic is testable without sleeping."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Protocol


class Clock(Protocol):
    def now(self) -> float:
        """Seconds since the epoch (UTC)."""
        ...


class SystemClock:
    def now(self) -> float:
        return time.time()


class FixedClock:
    """A clock that moves only when told to (tests)."""

    def __init__(self, start: float = 1_750_000_000.0) -> None:
        self._now = start

    def now(self) -> float:
        return self._now

    def advance(self, seconds: float) -> None:
        self._now += seconds

    def set(self, when: float) -> None:
        self._now = when


def utc_datetime(epoch: float) -> datetime:
    """An aware UTC datetime for ``epoch`` seconds."""
    return datetime.fromtimestamp(epoch, tz=UTC)


__all__ = ["Clock", "FixedClock", "SystemClock", "utc_datetime"]
