"""Throttling repeated sign-in failures (pure rules): progressive delay, then a temporary lockout.

Counted per account (the username typed, whether or not it exists, so the throttle itself reveals
nothing) and per source address. After ``free_failures`` failures each attempt must wait
``base_delay * 2**(n - free_failures)`` (at most ``max_delay``) after the previous failure; at
``lockout_failures`` the key is locked for ``lockout_duration``. Failures are forgotten ``window``
after the last one, and when a lockout ends. Attempts are refused, never slept on: a sleeping
server would hold a connection per attacker request.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ThrottlePolicy:
    free_failures: int = 3
    lockout_failures: int = 10
    base_delay: float = 1.0
    max_delay: float = 30.0
    lockout_duration: float = 900.0
    window: float = 900.0


@dataclass(frozen=True, slots=True)
class FailureRecord:
    """The failures counted for one key."""

    count: int
    last_failure_at: float
    locked_until: float | None = None


@dataclass(frozen=True, slots=True)
class ThrottleDecision:
    allowed: bool
    retry_after: float = 0.0
    locked: bool = False


ALLOWED = ThrottleDecision(True)


def current(record: FailureRecord | None, now: float, policy: ThrottlePolicy) -> FailureRecord | None:
    """The record as it stands at ``now``: None once forgotten (window passed, or lockout over)."""
    if record is None:
        return None
    if record.locked_until is not None:
        return record if now < record.locked_until else None
    return record if now - record.last_failure_at < policy.window else None


def decide(record: FailureRecord | None, now: float, policy: ThrottlePolicy) -> ThrottleDecision:
    """May an attempt be made now?"""
    live = current(record, now, policy)
    if live is None:
        return ALLOWED
    if live.locked_until is not None:
        return ThrottleDecision(False, live.locked_until - now, locked=True)
    if live.count < policy.free_failures:
        return ALLOWED
    wait = live.last_failure_at + delay_after(live.count, policy) - now
    return ThrottleDecision(False, wait) if wait > 0 else ALLOWED


def delay_after(count: int, policy: ThrottlePolicy) -> float:
    """The wait imposed after ``count`` failures."""
    if count < policy.free_failures:
        return 0.0
    exponent = min(count - policy.free_failures, 32)
    return float(min(policy.base_delay * 2**exponent, policy.max_delay))


def record_failure(record: FailureRecord | None, now: float, policy: ThrottlePolicy) -> FailureRecord:
    """The record after one more failure at ``now``."""
    live = current(record, now, policy)
    count = 1 if live is None else live.count + 1
    locked_until = now + policy.lockout_duration if count >= policy.lockout_failures else None
    return FailureRecord(count, now, locked_until)


__all__ = [
    "ALLOWED",
    "FailureRecord",
    "ThrottleDecision",
    "ThrottlePolicy",
    "current",
    "decide",
    "delay_after",
    "record_failure",
]
