"""Audit events: one record per authentication, token and administrative change.

``AuditTrail.record`` returns only once the event is durable. Events of concurrent requests are
group-committed: while one batch is being written, the next accumulates, so a busy node pays one
commit for many events instead of one per event. Events are append-only: the store offers no way
to change or delete one.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Literal, Protocol

from tessera.errors import TesseraError
from tessera.ids import new_id

log = logging.getLogger("tessera.audit")

Result = Literal["success", "failure"]


class AuditAction(StrEnum):
    """Every kind of event; ``docs/events.md`` is generated from ``ACTION_DOCS``."""

    CLIENT_AUTHENTICATE = "client.authenticate"
    TOKEN_ISSUE = "token.issue"
    TOKEN_INTROSPECT = "token.introspect"
    TOKEN_REVOKE = "token.revoke"
    KEY_CREATE = "key.create"
    KEY_ROTATE = "key.rotate"
    KEY_DELETE = "key.delete"
    CLIENT_CREATE = "client.create"
    CLIENT_UPDATE = "client.update"
    CLIENT_DELETE = "client.delete"
    CLIENT_ROTATE_SECRET = "client.rotate_secret"
    TENANT_CREATE = "tenant.create"
    TENANT_UPDATE = "tenant.update"
    TENANT_DELETE = "tenant.delete"
    SCOPE_CHANGE = "scope.change"
    USER_LOGIN = "user.login"
    USER_CREATE = "user.create"
    USER_UPDATE = "user.update"
    USER_DELETE = "user.delete"
    USER_PASSWORD_CHANGE = "user.password_change"
    SESSION_CREATE = "session.create"
    SESSION_REVOKE = "session.revoke"
    CONSENT_GRANT = "consent.grant"
    CONSENT_REVOKE = "consent.revoke"
    AUTHORIZATION = "authorization"
    REFRESH_TOKEN_REUSE = "refresh_token.reuse"
    CODE_REUSE = "code.reuse"
    LOGOUT = "logout"
    BACKCHANNEL_LOGOUT = "backchannel_logout"
    STS_ASSUME_ROLE = "sts.assume_role"
    STS_ASSUME_ROLE_WITH_WEB_IDENTITY = "sts.assume_role_with_web_identity"
    STS_ASSUME_ROLE_WITH_SAML = "sts.assume_role_with_saml"
    STS_GET_SESSION_TOKEN = "sts.get_session_token"
    STS_GET_CALLER_IDENTITY = "sts.get_caller_identity"
    STS_GET_ACCESS_KEY_INFO = "sts.get_access_key_info"
    STS_DECODE_AUTHORIZATION_MESSAGE = "sts.decode_authorization_message"
    STS_REQUEST = "sts.request"
    STS_VERIFY = "sts.verify"
    STS_KEY_CREATE = "sts_key.create"
    STS_KEY_ROTATE = "sts_key.rotate"
    STS_KEY_DELETE = "sts_key.delete"
    AWS_KEY_CREATE = "aws_key.create"
    AWS_KEY_DISABLE = "aws_key.disable"
    AWS_KEY_ENABLE = "aws_key.enable"
    AWS_KEY_DELETE = "aws_key.delete"
    AWS_MFA_CREATE = "aws_mfa.create"
    AWS_MFA_DELETE = "aws_mfa.delete"
    AWS_DOCUMENT_CHANGE = "aws_document.change"
    ROLE_CREATE = "role.create"
    ROLE_UPDATE = "role.update"
    ROLE_DELETE = "role.delete"
    ROLE_REVOKE_SESSIONS = "role.revoke_sessions"


ACTION_DOCS: Mapping[AuditAction, str] = {
    AuditAction.CLIENT_AUTHENTICATE: "A client authenticated at a token, introspection or revocation endpoint, "
    "or failed to (reason: unknown_client, bad_secret, disabled, method_not_allowed, bad_assertion, "
    "assertion_replayed, ...).",
    AuditAction.TOKEN_ISSUE: "The token endpoint handed out a token (token_id = jti; details: grant_type, "
    "scope, audience, expires_at), or refused to (reason = the OAuth error code).",
    AuditAction.TOKEN_INTROSPECT: "A client introspected a token (details: active; token_id when known).",
    AuditAction.TOKEN_REVOKE: "A client revoked a token (token_id when it was one of ours).",
    AuditAction.KEY_CREATE: "A signing key was created (details: kid, alg, state).",
    AuditAction.KEY_ROTATE: "A tenant's keys were rotated (details: activated kid, retired kid).",
    AuditAction.KEY_DELETE: "A retired key whose tokens have all expired was removed from the JWKS.",
    AuditAction.CLIENT_CREATE: "A client was registered (by the CLI or the declarative configuration).",
    AuditAction.CLIENT_UPDATE: "A client's attributes changed (details: changed fields).",
    AuditAction.CLIENT_DELETE: "A client was deleted.",
    AuditAction.CLIENT_ROTATE_SECRET: "A client's secret was replaced.",
    AuditAction.TENANT_CREATE: "A tenant was created.",
    AuditAction.TENANT_UPDATE: "A tenant's attributes changed.",
    AuditAction.TENANT_DELETE: "A tenant was deleted.",
    AuditAction.SCOPE_CHANGE: "A tenant's offered scopes changed.",
    AuditAction.USER_LOGIN: "A person tried to sign in with a password (actor: user:<username typed>; details: "
    "user_id when known, retry_after when throttled). reason on failure: unknown_user, bad_password, no_password, "
    "disabled, throttled, locked. The page shows the same message for all of them.",
    AuditAction.USER_CREATE: "A user was created (details: user_id, username).",
    AuditAction.USER_UPDATE: "A user's attributes changed, or the user was disabled or enabled (details: changed "
    "fields; reason: password_rehash when a sign-in upgraded the stored hash to new argon2 parameters).",
    AuditAction.USER_DELETE: "A user was deleted, with their sessions, consents and refresh tokens.",
    AuditAction.USER_PASSWORD_CHANGE: "A user's password was set or changed (never the password or its hash).",
    AuditAction.SESSION_CREATE: "A single sign-on session started after a sign-in (details: sid, user_id, amr).",
    AuditAction.SESSION_REVOKE: "A session ended (reason: logout, admin, user_disabled, user_deleted, replaced; "
    "details: sid, user_id, clients notified).",
    AuditAction.CONSENT_GRANT: "A person allowed a client the listed scopes (details: scope).",
    AuditAction.CONSENT_REVOKE: "A remembered consent was withdrawn (details: user_id).",
    AuditAction.AUTHORIZATION: "/authorize answered: a code was issued (success; details: user_id, sid, scope, "
    "prompt), or the request failed (reason = the OAuth error code: login_required, consent_required, "
    "access_denied, invalid_request, invalid_redirect_uri, unknown_client, ...).",
    AuditAction.REFRESH_TOKEN_REUSE: "A refresh token that had already been rotated was presented again: the whole "
    "family and the access tokens issued from it were revoked (details: family_id, user_id, revoked tokens).",
    AuditAction.CODE_REUSE: "An authorization code was presented a second time: the tokens issued from it were "
    "revoked (details: user_id, revoked tokens).",
    AuditAction.LOGOUT: "RP-initiated logout ended the person's session (details: sid, client that asked).",
    AuditAction.BACKCHANNEL_LOGOUT: "A logout token was POSTed to a client's backchannel_logout_uri (success: 2xx; "
    "failure reason: http_<status>, timeout, unreachable; details: sid, uri).",
    AuditAction.STS_ASSUME_ROLE: "AssumeRole handed out temporary credentials, or refused to (reason = the AWS "
    "error code; details: access_key_id of the caller and of the new credentials, principal, role_arn, "
    "session_name, duration, source_identity, mfa, region, policy statement that decided).",
    AuditAction.STS_ASSUME_ROLE_WITH_WEB_IDENTITY: "AssumeRoleWithWebIdentity (unsigned) exchanged a JWT for "
    "temporary credentials, or refused to (details: provider, subject, audience, role_arn, session_name).",
    AuditAction.STS_ASSUME_ROLE_WITH_SAML: "AssumeRoleWithSAML exchanged a signed SAML assertion for temporary "
    "credentials, or refused to (details: provider, subject, issuer, role_arn, session_name).",
    AuditAction.STS_GET_SESSION_TOKEN: "GetSessionToken handed out temporary credentials for a long-term key "
    "(details: access_key_id, principal, mfa, duration).",
    AuditAction.STS_GET_CALLER_IDENTITY: "GetCallerIdentity answered who signed the request (details: "
    "access_key_id, principal).",
    AuditAction.STS_GET_ACCESS_KEY_INFO: "GetAccessKeyInfo told the account of an access key id.",
    AuditAction.STS_DECODE_AUTHORIZATION_MESSAGE: "DecodeAuthorizationMessage decoded an encoded denial, or "
    "refused to (reason AccessDenied when the caller may not).",
    AuditAction.STS_REQUEST: "An STS Query request failed before an action could be identified or authenticated "
    "(reason = the AWS error code: MissingAuthenticationToken, SignatureDoesNotMatch, InvalidAction, ...; details: "
    "action, access_key_id).",
    AuditAction.STS_VERIFY: "A resource service asked /sts/verify to check a SigV4-signed request (client_id = the "
    "service; details: access_key_id, principal, action, resource, allowed, decision reason; reason = the AWS "
    "error code when the signature or credentials failed).",
    AuditAction.STS_KEY_CREATE: "A session-token key was created (details: key_id).",
    AuditAction.STS_KEY_ROTATE: "A session-token key was retired; it still opens the sessions it sealed.",
    AuditAction.STS_KEY_DELETE: "A retired session-token key whose sessions have all expired was deleted.",
    AuditAction.AWS_KEY_CREATE: "A long-term access key was created (details: access_key_id, principal; never "
    "the secret).",
    AuditAction.AWS_KEY_DISABLE: "A long-term access key was made Inactive (it and the sessions it made stop working).",
    AuditAction.AWS_KEY_ENABLE: "An Inactive access key was made Active again.",
    AuditAction.AWS_KEY_DELETE: "A long-term access key was deleted.",
    AuditAction.AWS_MFA_CREATE: "A virtual MFA device was registered for a user or service account.",
    AuditAction.AWS_MFA_DELETE: "A virtual MFA device was deleted.",
    AuditAction.AWS_DOCUMENT_CHANGE: "A managed policy or a trusted OIDC or SAML provider was created, updated or "
    "deleted by the configuration (details: kind, name, change).",
    AuditAction.ROLE_CREATE: "A role was created (details: role, role_id, path).",
    AuditAction.ROLE_UPDATE: "A role's trust policy, permissions or attributes changed (details: fields).",
    AuditAction.ROLE_DELETE: "A role was deleted; its sessions stop working.",
    AuditAction.ROLE_REVOKE_SESSIONS: "Every session of the role issued before revoked_before is refused from "
    "now on (on every node within storage.cache_refresh_seconds).",
}


@dataclass(frozen=True, slots=True)
class AuditEvent:
    """Who did what, when, from where, with which result."""

    action: str
    result: Result
    tenant_id: str
    occurred_at: float
    event_id: str = field(default_factory=new_id)
    actor: str | None = None
    client_id: str | None = None
    source_ip: str | None = None
    reason: str | None = None
    token_id: str | None = None
    request_id: str | None = None
    details: Mapping[str, Any] = field(default_factory=dict)


FIELD_DOCS: Mapping[str, str] = {
    "event_id": "Unique id of the event (32 hex digits).",
    "occurred_at": "When it happened (UTC).",
    "tenant_id": "The tenant.",
    "action": "What happened (the table below).",
    "result": "success or failure.",
    "actor": "Who acted: client:<id>, cli:<user>, config, or anonymous.",
    "client_id": "The OAuth client involved, if any.",
    "source_ip": "Address of the HTTP peer (or the first untrusted X-Forwarded-For hop).",
    "reason": "Why it failed (a stable code), or a short qualifier on success.",
    "token_id": "The jti of the token involved, never the token itself.",
    "request_id": "The X-Request-ID of the HTTP request, for correlation with logs.",
    "details": "Action-specific JSON object.",
}


@dataclass(frozen=True, slots=True)
class AuditQuery:
    tenant_id: str | None = None
    action: str | None = None
    result: Result | None = None
    client_id: str | None = None
    token_id: str | None = None
    since: float | None = None
    until: float | None = None
    after_sequence: int | None = None
    limit: int = 100


class AuditSink(Protocol):
    async def append(self, events: Sequence[AuditEvent]) -> None: ...


class AuditUnavailable(TesseraError):
    """The audit store could not persist an event; the request it records must not succeed."""


class AuditTrail:
    """Durable, group-committed recording of audit events."""

    def __init__(self, sink: AuditSink, max_batch: int = 1000) -> None:
        self._sink = sink
        self._max_batch = max_batch
        self._pending: list[tuple[tuple[AuditEvent, ...], asyncio.Future[None]]] = []
        self._wakeup: asyncio.Event | None = None
        self._writer: asyncio.Task[None] | None = None
        self._stopping = False

    async def start(self) -> None:
        if self._writer is None:
            self._wakeup = asyncio.Event()
            self._stopping = False
            self._writer = asyncio.create_task(self._write_batches(), name="tessera-audit-writer")

    async def stop(self) -> None:
        """Write every pending event (including a batch in flight), then end the writer."""
        writer, self._writer = self._writer, None
        if writer is not None and self._wakeup is not None:
            self._stopping = True
            self._wakeup.set()
            await writer  # cancelling it mid-batch would leave that batch's waiters hanging

    async def record(self, *events: AuditEvent) -> None:
        """Persist ``events``; returns when they are committed. Raises ``AuditUnavailable``."""
        if not events:
            return
        if self._writer is None or self._wakeup is None:
            await self._append(list(events))
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pending.append((events, future))  # one request's events are committed together
        self._wakeup.set()
        await future

    async def _write_batches(self) -> None:
        assert self._wakeup is not None
        while True:
            await self._wakeup.wait()
            self._wakeup.clear()
            while self._pending:
                await self._flush_once()
            if self._stopping:
                return

    async def _flush_once(self) -> None:
        batch: list[tuple[tuple[AuditEvent, ...], asyncio.Future[None]]] = []
        size = 0
        for item in self._pending:
            if batch and size + len(item[0]) > self._max_batch:
                break
            batch.append(item)
            size += len(item[0])
        del self._pending[: len(batch)]
        try:
            await self._append([event for events, _ in batch for event in events])
        except AuditUnavailable as exc:
            for _, future in batch:
                if not future.done():
                    future.set_exception(exc)
            return
        for _, future in batch:
            if not future.done():
                future.set_result(None)

    async def _append(self, events: list[AuditEvent]) -> None:
        try:
            await self._sink.append(events)
        except Exception as exc:
            log.error("audit store unavailable: %s", type(exc).__name__, exc_info=True)
            raise AuditUnavailable("the audit store did not accept the event") from exc


class AuditNotes:
    """The events of one request, written together before its response leaves the server."""

    __slots__ = ("_events", "_trail", "now", "request_id", "source_ip", "tenant_id")

    def __init__(
        self, trail: AuditTrail, now: float, tenant_id: str, source_ip: str | None, request_id: str | None
    ) -> None:
        self._trail = trail
        self._events: list[AuditEvent] = []
        self.now = now  # the request's single notion of "now"
        self.tenant_id, self.source_ip, self.request_id = tenant_id, source_ip, request_id

    def note(
        self,
        action: AuditAction,
        result: Result,
        *,
        actor: str | None = None,
        client_id: str | None = None,
        reason: str | None = None,
        token_id: str | None = None,
        details: Mapping[str, Any] | None = None,
    ) -> None:
        self._events.append(
            AuditEvent(
                action=action.value,
                result=result,
                tenant_id=self.tenant_id,
                occurred_at=self.now,
                actor=actor if actor is not None else (f"client:{client_id}" if client_id else "anonymous"),
                client_id=client_id,
                source_ip=self.source_ip,
                reason=reason,
                token_id=token_id,
                request_id=self.request_id,
                details=details or {},
            )
        )

    @property
    def events(self) -> tuple[AuditEvent, ...]:
        return tuple(self._events)

    async def flush(self) -> tuple[AuditEvent, ...]:
        """Write the noted events; returns them once they are durable."""
        events, self._events = tuple(self._events), []
        await self._trail.record(*events)
        return events


__all__ = [
    "ACTION_DOCS",
    "FIELD_DOCS",
    "AuditAction",
    "AuditEvent",
    "AuditNotes",
    "AuditQuery",
    "AuditSink",
    "AuditTrail",
    "AuditUnavailable",
    "Result",
]
