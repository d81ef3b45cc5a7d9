"""The revoked-token denylist as every node sees it: the store is the truth, memory answers.

A revocation is written to the store and added to this node's copy at once; other nodes pick it
up on their next refresh (``storage.cache_refresh_seconds``, 1 s by default), which reads only
the revocations made since the last look. Entries leave memory when the token they name has
expired, as they leave the store. Introspection and userinfo therefore never wait on the store.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Protocol

from tessera.clock import Clock

log = logging.getLogger("tessera.denylist")

OVERLAP_SECONDS = 60.0  # re-read this much before the newest revocation seen: commit order and clock skew
FULL_RELOAD_SECONDS = 300.0  # and reread everything this often, whatever the clocks of other nodes say


class RevocationRecords(Protocol):
    async def revoke(self, tenant_id: str, token_id: str, expires_at: float, now: float) -> bool: ...
    async def revoked_since(self, since: float, now: float) -> list[tuple[str, str, float, float]]:
        """``(tenant_id, token_id, expires_at, revoked_at)`` revoked at or after ``since``, not yet expired."""
        ...

    async def purge_expired(self, now: float) -> int: ...


class Denylist:
    def __init__(self, records: RevocationRecords, clock: Clock) -> None:
        self._records, self._clock = records, clock
        self._revoked: dict[tuple[str, str], float] = {}  # (tenant, token id) -> token expiry
        self._newest_seen: float | None = None
        self._watcher: asyncio.Task[None] | None = None
        self._last_full_reload = clock.now()

    async def revoke(self, tenant_id: str, token_id: str, expires_at: float, now: float) -> bool:
        first = await self._records.revoke(tenant_id, token_id, expires_at, now)
        self._revoked[(tenant_id, token_id)] = expires_at
        return first

    async def is_revoked(self, tenant_id: str, token_id: str) -> bool:
        return (tenant_id, token_id) in self._revoked

    async def revoked_since(self, since: float, now: float) -> list[tuple[str, str, float, float]]:
        return await self._records.revoked_since(since, now)

    async def purge_expired(self, now: float) -> int:
        self._forget_expired(now)
        return await self._records.purge_expired(now)

    async def refresh(self) -> int:
        """Merge revocations made on any node since the last refresh; returns how many were read."""
        now = self._clock.now()
        if now - self._last_full_reload >= FULL_RELOAD_SECONDS:
            self._newest_seen, self._last_full_reload = None, now
        since = 0.0 if self._newest_seen is None else self._newest_seen - OVERLAP_SECONDS
        rows = await self._records.revoked_since(since, now)
        for tenant_id, token_id, expires_at, revoked_at in rows:
            self._revoked[(tenant_id, token_id)] = expires_at
            if self._newest_seen is None or revoked_at > self._newest_seen:
                self._newest_seen = revoked_at
        if self._newest_seen is None:
            self._newest_seen = now
        self._forget_expired(now)
        return len(rows)

    async def start(self, every: float) -> None:
        """Load every unexpired revocation, then keep refreshing in the background."""
        if self._watcher is None:
            await self.refresh()
            self._watcher = asyncio.create_task(self._refresh_forever(every), name="tessera-denylist")

    async def stop(self) -> None:
        watcher, self._watcher = self._watcher, None
        if watcher is not None:
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher

    async def _refresh_forever(self, every: float) -> None:
        while True:
            await asyncio.sleep(every)
            try:
                await self.refresh()
            except Exception:  # the store may be briefly unreachable; keep the last known list
                log.warning("could not refresh the denylist", exc_info=True)

    def __len__(self) -> int:
        return len(self._revoked)

    def _forget_expired(self, now: float) -> None:
        expired = [key for key, expires_at in self._revoked.items() if expires_at <= now]
        for key in expired:
            del self._revoked[key]


__all__ = ["OVERLAP_SECONDS", "Denylist", "RevocationRecords"]
