"""Single sign-on sessions: a server-side record per signed-in browser, referenced by a cookie.

The cookie carries a 256-bit random handle; the store keeps its hash. A session has an idle and
an absolute timeout, remembers which clients received codes through it (for back-channel logout)
and ends by logout, by an administrator, or when its user is disabled or deleted. Ending it revokes
the refresh tokens that were bound to it (those without ``offline_access``) and tells its clients.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Protocol

from tessera.clock import Clock
from tessera.domain.audit import AuditAction, AuditNotes, AuditTrail
from tessera.domain.authn.password import Authentication
from tessera.domain.handles import handle_hash, new_handle, new_public_id
from tessera.secret import Secret

if TYPE_CHECKING:
    from tessera.ports import RefreshTokenStore, RevocationStore, SessionStore


@dataclass(frozen=True, slots=True)
class SessionTimeouts:
    idle: float = 1800.0
    absolute: float = 36_000.0


@dataclass(frozen=True, slots=True)
class SsoSession:
    tenant_id: str
    session_id: str  # the ``sid`` claim: public, not the cookie
    user_id: str
    auth_time: float
    amr: tuple[str, ...]
    acr: str
    created_at: float
    last_seen_at: float
    expires_at: float  # absolute timeout
    ended_at: float | None = None
    source_ip: str | None = None

    def is_active(self, now: float, idle: float) -> bool:
        return self.ended_at is None and now < self.expires_at and now - self.last_seen_at < idle

    def authentication(self) -> Authentication:
        return Authentication(self.amr, self.acr, self.auth_time)


class SessionListener(Protocol):
    """Told when a session ends, with the clients that took part in it (back-channel logout)."""

    async def session_ended(self, session: SsoSession, client_ids: Sequence[str], wait: bool) -> None: ...


class SessionService:
    def __init__(
        self,
        sessions: SessionStore,
        refresh_tokens: RefreshTokenStore,
        revocations: RevocationStore,
        audit: AuditTrail,
        clock: Clock,
        timeouts: SessionTimeouts,
    ) -> None:
        self._sessions, self._refresh, self._revocations = sessions, refresh_tokens, revocations
        self._audit, self._clock, self.timeouts = audit, clock, timeouts
        self.listeners: list[SessionListener] = []
        self.wait_for_listeners = False  # the CLI waits for back-channel deliveries; a server does not

    async def start(
        self, tenant_id: str, user_id: str, authentication: Authentication, notes: AuditNotes
    ) -> tuple[SsoSession, Secret[str]]:
        """A new session (fresh cookie handle, so a planted cookie never becomes a signed-in one)."""
        now = notes.now
        session = SsoSession(
            tenant_id=tenant_id,
            session_id=new_public_id(),
            user_id=user_id,
            auth_time=authentication.auth_time,
            amr=authentication.amr,
            acr=authentication.acr,
            created_at=now,
            last_seen_at=now,
            expires_at=now + self.timeouts.absolute,
            source_ip=notes.source_ip,
        )
        cookie = new_handle()
        await self._sessions.create(session, handle_hash(cookie))
        notes.note(
            AuditAction.SESSION_CREATE,
            "success",
            actor=f"user:{user_id}",
            details={"sid": session.session_id, "user_id": user_id, "amr": list(session.amr)},
        )
        return session, cookie

    async def reauthenticated(self, session: SsoSession, authentication: Authentication) -> SsoSession:
        """The same person signed in again (``prompt=login``, ``max_age``): the session keeps its ``sid``."""
        updated = replace(
            session,
            auth_time=authentication.auth_time,
            amr=authentication.amr,
            acr=authentication.acr,
            last_seen_at=authentication.auth_time,
        )
        await self._sessions.update_authentication(updated)
        return updated

    async def resume(self, tenant_id: str, cookie: str | None) -> SsoSession | None:
        """The active session the cookie refers to, its idle clock reset; None if there is none."""
        if not cookie:
            return None
        session = await self._sessions.find_by_cookie(tenant_id, handle_hash(cookie))
        now = self._clock.now()
        if session is None or not session.is_active(now, self.timeouts.idle):
            return None
        if now - session.last_seen_at >= 1.0:
            await self._sessions.touch(tenant_id, session.session_id, now)
            session = replace(session, last_seen_at=now)
        return session

    async def joined(self, session: SsoSession, client_id: str) -> None:
        """``client_id`` received a code through ``session`` (it will hear of the logout)."""
        await self._sessions.add_client(session.tenant_id, session.session_id, client_id)

    async def get(self, tenant_id: str, session_id: str) -> SsoSession | None:
        return await self._sessions.get(tenant_id, session_id)

    async def clients_of(self, session: SsoSession) -> list[str]:
        return await self._sessions.clients(session.tenant_id, session.session_id)

    async def end(self, session: SsoSession, reason: str, actor: str, notes: AuditNotes | None = None) -> bool:
        """End the session once: revoke its bound refresh tokens, then notify its clients."""
        now = self._clock.now()
        if not await self._sessions.end(session.tenant_id, session.session_id, now):
            return False
        revoked = await self._refresh.revoke_session(session.tenant_id, session.session_id, now)
        for token_id, expires_at in revoked:
            await self._revocations.revoke(session.tenant_id, token_id, expires_at, now)
        clients = await self._sessions.clients(session.tenant_id, session.session_id)
        own_notes = notes or AuditNotes(self._audit, now, session.tenant_id, None, None)
        own_notes.note(
            AuditAction.SESSION_REVOKE,
            "success",
            actor=actor,
            reason=reason,
            details={"sid": session.session_id, "user_id": session.user_id, "clients": clients},
        )
        if notes is None:
            await own_notes.flush()
        ended = replace(session, ended_at=now)
        for listener in self.listeners:
            await listener.session_ended(ended, clients, self.wait_for_listeners)
        return True

    async def end_all_for_user(self, tenant_id: str, user_id: str, reason: str, actor: str) -> int:
        ended = 0
        for session in await self._sessions.list(tenant_id, user_id):
            if session.ended_at is None and await self.end(session, reason, actor):
                ended += 1
        # Offline refresh tokens are not bound to a session: a disabled or deleted user loses them too.
        now = self._clock.now()
        for token_id, expires_at in await self._refresh.revoke_user(tenant_id, user_id, now):
            await self._revocations.revoke(tenant_id, token_id, expires_at, now)
        return ended

    async def list(self, tenant_id: str, user_id: str | None = None) -> list[SsoSession]:
        now = self._clock.now()
        return [s for s in await self._sessions.list(tenant_id, user_id) if s.is_active(now, self.timeouts.idle)]


__all__ = ["SessionListener", "SessionService", "SessionTimeouts", "SsoSession"]
