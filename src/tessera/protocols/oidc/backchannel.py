"""Back-channel logout delivery (OIDC Back-Channel Logout 1.0 §2.5): a signed logout token per client.

When a session ends, each client that received a code through it and registered a
``backchannel_logout_uri`` gets a POST of ``logout_token=<JWT>``. Deliveries run in the
background with a short timeout: a slow or broken client never delays the person's logout.
Each delivery is an audit event; failures are logged (never the token).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Protocol

from tessera.clock import Clock
from tessera.domain.audit import AuditAction, AuditEvent, AuditTrail
from tessera.domain.clients import Client
from tessera.domain.sessions import SsoSession
from tessera.domain.tenants import Tenant
from tessera.domain.tokens import KeyRings
from tessera.ids import new_id
from tessera.protocols.oidc.logout import LOGOUT_TOKEN_TYP, logout_token_claims
from tessera.protocols.oidc.subject import SubjectIdentifiers

log = logging.getLogger("tessera.backchannel")


class FormPoster(Protocol):
    async def post_form(self, url: str, data: dict[str, str], time_limit: float) -> int:
        """POST ``data`` form-encoded; the HTTP status. Raises ``TimeoutError`` or ``OSError``."""
        ...


class Directory(KeyRings, Protocol):
    async def tenant(self, tenant_id: str) -> Tenant | None: ...
    async def client(self, tenant_id: str, client_id: str) -> Client | None: ...


class BackchannelLogout:
    def __init__(
        self,
        directory: Directory,
        subjects: SubjectIdentifiers,
        poster: FormPoster,
        audit: AuditTrail,
        clock: Clock,
        base_url: str,
        timeout: float,
    ) -> None:
        self._directory, self._subjects, self._poster = directory, subjects, poster
        self._audit, self._clock, self._base_url, self._timeout = audit, clock, base_url, timeout
        self._pending: set[asyncio.Task[None]] = set()

    async def session_ended(self, session: SsoSession, client_ids: Sequence[str], wait: bool) -> None:
        deliveries = [self._deliver(session, client_id) for client_id in client_ids]
        if wait:
            await asyncio.gather(*deliveries)
            return
        for delivery in deliveries:
            task = asyncio.create_task(delivery, name="tessera-backchannel-logout")
            self._pending.add(task)
            task.add_done_callback(self._pending.discard)

    async def drain(self) -> None:
        """Let deliveries in flight finish (at most one timeout): called when the server stops."""
        if self._pending:
            await asyncio.gather(*list(self._pending), return_exceptions=True)

    async def _deliver(self, session: SsoSession, client_id: str) -> None:
        try:
            client = await self._directory.client(session.tenant_id, client_id)
            tenant = await self._directory.tenant(session.tenant_id)
            uri = client.spec.backchannel_logout_uri if client is not None else None
            if client is None or tenant is None or uri is None:
                return
            token = await self._logout_token(tenant, client, session)
            result, reason = await self._post(uri, token)
        except Exception:  # a delivery must never take anything else down
            log.warning("back-channel logout failed", exc_info=True, extra={"client_id": client_id})
            return
        if result == "failure":
            log.warning("back-channel logout to %s failed: %s", uri, reason, extra={"client_id": client_id})
        await self._record(session, client_id, uri, result, reason)

    async def _logout_token(self, tenant: Tenant, client: Client, session: SsoSession) -> str:
        issuer = tenant.issuer_url(self._base_url)
        subject = await self._subjects.subject(client, session.user_id)
        claims = logout_token_claims(
            issuer, client.client_id, subject, session.session_id, int(self._clock.now()), new_id()
        )
        ring = await self._directory.keyring(tenant.id)
        return ring.signer.sign(claims, LOGOUT_TOKEN_TYP)

    async def _post(self, uri: str, token: str) -> tuple[str, str | None]:
        try:
            status = await self._poster.post_form(uri, {"logout_token": token}, self._timeout)
        except TimeoutError:
            return "failure", "timeout"
        except OSError:
            return "failure", "unreachable"
        if 200 <= status < 300:
            return "success", None
        return "failure", f"http_{status}"

    async def _record(self, session: SsoSession, client_id: str, uri: str, result: str, reason: str | None) -> None:
        event = AuditEvent(
            action=AuditAction.BACKCHANNEL_LOGOUT.value,
            result="success" if result == "success" else "failure",
            tenant_id=session.tenant_id,
            occurred_at=self._clock.now(),
            actor="system",
            client_id=client_id,
            reason=reason,
            details={"sid": session.session_id, "uri": uri},
        )
        try:
            await self._audit.record(event)
        except Exception:
            log.warning("could not record a back-channel logout delivery", exc_info=True)


__all__ = ["BackchannelLogout", "FormPoster"]
