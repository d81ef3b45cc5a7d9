"""Consent: which scopes a person allowed a third-party client, remembered until revoked."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Consent:
    tenant_id: str
    user_id: str
    client_id: str
    scopes: tuple[str, ...]
    granted_at: float

    def covers(self, scopes: Iterable[str]) -> bool:
        return set(scopes) <= set(self.scopes)


def merged_scopes(existing: Consent | None, granted: Iterable[str]) -> tuple[str, ...]:
    """A new grant adds to what was allowed before."""
    before = existing.scopes if existing is not None else ()
    return tuple(sorted(set(before) | set(granted)))


__all__ = ["Consent", "merged_scopes"]
