"""The authorization endpoint's decisions (RFC 6749 §4.1, OIDC Core §3.1.2): sign in? consent? code.

``start`` validates the request and either answers at once (a code, or an error sent back to the
client) or suspends it into an ``Interaction`` for the login or consent page, which later calls
``resume``. Signing in itself happens in the pages (``PasswordLogin``); this core only decides.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass, replace
from typing import Literal, Protocol

from tessera.domain.audit import AuditAction, AuditNotes
from tessera.domain.clients import Client
from tessera.domain.codes import AuthorizationCode
from tessera.domain.consents import Consent, merged_scopes
from tessera.domain.handles import handle_hash, new_handle
from tessera.domain.interactions import Interaction
from tessera.domain.sessions import SessionService, SsoSession
from tessera.domain.tenants import Tenant
from tessera.domain.users import User
from tessera.protocols.oauth2.authorization import (
    AuthorizationRequest,
    PageError,
    RedirectError,
    error_redirect,
    parse_query,
    redirect_uri_with,
    validate_authorization_request,
)
from tessera.protocols.oauth2.errors import AccessDenied, OAuthError
from tessera.protocols.oidc.errors import ConsentRequired, LoginRequired
from tessera.protocols.oidc.subject import SubjectIdentifiers
from tessera.secret import Secret


@dataclass(frozen=True, slots=True)
class Redirect:
    """Send the browser to the client: a code or an error (``location`` holds the code: never log it)."""

    location: Secret[str]


@dataclass(frozen=True, slots=True)
class ShowPage:
    """Send the browser to the login or consent page of this interaction."""

    kind: Literal["login", "consent"]
    handle: Secret[str]


Outcome = Redirect | ShowPage


class ClientLookup(Protocol):
    async def client(self, tenant_id: str, client_id: str) -> Client | None: ...


class Users(Protocol):
    async def get(self, tenant_id: str, user_id: str) -> User | None: ...


class Interactions(Protocol):
    async def create(self, interaction: Interaction) -> None: ...
    async def get(self, tenant_id: str, handle_hash: str) -> Interaction | None: ...
    async def update(self, interaction: Interaction) -> None: ...
    async def consume(self, tenant_id: str, handle_hash: str) -> bool: ...


class Consents(Protocol):
    async def get(self, tenant_id: str, user_id: str, client_id: str) -> Consent | None: ...
    async def put(self, consent: Consent) -> None: ...


class Codes(Protocol):
    async def create(self, code: AuthorizationCode, code_hash: str) -> None: ...


@dataclass(frozen=True, slots=True)
class FlowLifetimes:
    code: float = 60.0
    interaction: float = 900.0


class AuthorizationFlow:
    def __init__(
        self,
        clients: ClientLookup,
        users: Users,
        sessions: SessionService,
        interactions: Interactions,
        consents: Consents,
        codes: Codes,
        subjects: SubjectIdentifiers,
        lifetimes: FlowLifetimes,
    ) -> None:
        self._clients, self._users, self._sessions = clients, users, sessions
        self._interactions, self._consents, self._codes = interactions, consents, codes
        self._subjects, self._lifetimes = subjects, lifetimes

    async def start(
        self, tenant: Tenant, issuer: str, query: str, session: SsoSession | None, browser: str, notes: AuditNotes
    ) -> Outcome:
        """Raises ``PageError`` when the client or redirect URI cannot be trusted with a redirect."""
        params, repeated = parse_query(query)
        client_id = params.get("client_id")
        client = await self._clients.client(tenant.id, client_id) if client_id else None
        try:
            request = validate_authorization_request(params, repeated, client)
        except PageError as exc:
            self._note_failure(notes, exc.error, client_id if client else None)
            raise
        except RedirectError as exc:
            self._note_failure(notes, exc.error, client_id)
            return Redirect(Secret(error_redirect(exc, issuer)))
        assert client is not None
        return await self._decide(tenant, issuer, client, request, session, browser, notes, None, fresh_login=False)

    async def interaction(self, tenant_id: str, handle: str, browser: str | None, now: float) -> Interaction | None:
        """The pending interaction ``handle`` names, if it is live and belongs to this browser."""
        if not handle or not browser:
            return None
        found = await self._interactions.get(tenant_id, handle_hash(handle))
        if found is None or found.is_expired(now):
            return None
        if not hmac.compare_digest(found.browser_hash, handle_hash(browser)):
            return None
        return found

    async def client_of(self, interaction: Interaction) -> Client | None:
        return await self._clients.client(interaction.tenant_id, interaction.client_id)

    async def resume(
        self,
        tenant: Tenant,
        issuer: str,
        interaction: Interaction,
        session: SsoSession | None,
        browser: str,
        notes: AuditNotes,
        *,
        fresh_login: bool,
        consent: bool | None = None,
    ) -> Outcome:
        """Continue after the login page (``fresh_login``) or the consent page (``consent`` given)."""
        request = AuthorizationRequest.from_record(interaction.request)
        client = await self._clients.client(tenant.id, request.client_id)
        if client is None or not client.is_enabled:
            raise PageError(AccessDenied("the application is no longer available", reason="unknown_client"))
        if consent is False:
            await self._interactions.consume(tenant.id, interaction.handle_hash)
            return self._error(notes, request, issuer, AccessDenied("the person declined", reason="consent_denied"))
        if consent and session is not None:
            await self._remember_consent(tenant.id, session.user_id, client, request.scopes, notes)
            fresh_login = fresh_login or interaction.session_id == session.session_id
        return await self._decide(
            tenant,
            issuer,
            client,
            request,
            session,
            browser,
            notes,
            interaction,
            fresh_login=fresh_login,
            consented=bool(consent),
        )

    async def cancel(self, tenant: Tenant, issuer: str, interaction: Interaction, notes: AuditNotes) -> Redirect:
        """The person chose not to sign in: ``access_denied`` goes back to the client."""
        await self._interactions.consume(tenant.id, interaction.handle_hash)
        request = AuthorizationRequest.from_record(interaction.request)
        return self._error(notes, request, issuer, AccessDenied("the person cancelled the sign-in", reason="cancelled"))

    async def _decide(
        self,
        tenant: Tenant,
        issuer: str,
        client: Client,
        request: AuthorizationRequest,
        session: SsoSession | None,
        browser: str,
        notes: AuditNotes,
        interaction: Interaction | None,
        *,
        fresh_login: bool,
        consented: bool = False,
    ) -> Outcome:
        user = await self._users.get(tenant.id, session.user_id) if session is not None else None
        if session is not None and (user is None or not user.is_enabled):
            session, user = None, None
        if session is None or user is None or self._needs_login(request, session, notes.now, fresh_login):
            if request.wants("none"):
                return await self._finish_with_error(
                    notes, request, issuer, interaction, LoginRequired("the person must sign in")
                )
            return await self._suspend("login", tenant, client, request, None, browser, notes, interaction)
        if not consented and await self._needs_consent(client, request, user):
            if request.wants("none"):
                return await self._finish_with_error(
                    notes, request, issuer, interaction, ConsentRequired("consent is required")
                )
            return await self._suspend("consent", tenant, client, request, session, browser, notes, interaction)
        if interaction is not None and not await self._interactions.consume(tenant.id, interaction.handle_hash):
            raise PageError(AccessDenied("this sign-in was already completed", reason="interaction_used"))
        return await self._issue_code(tenant, issuer, client, request, session, user, notes)

    @staticmethod
    def _needs_login(request: AuthorizationRequest, session: SsoSession, now: float, fresh_login: bool) -> bool:
        if fresh_login:
            return False
        if request.wants("login") or request.wants("select_account"):
            return True
        return request.max_age is not None and now - session.auth_time > request.max_age

    async def _needs_consent(self, client: Client, request: AuthorizationRequest, user: User) -> bool:
        if request.wants("consent"):
            return True
        if client.spec.first_party:
            return False
        stored = await self._consents.get(client.tenant_id, user.user_id, client.client_id)
        return stored is None or not stored.covers(request.scopes)

    async def _remember_consent(
        self, tenant_id: str, user_id: str, client: Client, scopes: tuple[str, ...], notes: AuditNotes
    ) -> None:
        existing = await self._consents.get(tenant_id, user_id, client.client_id)
        granted = merged_scopes(existing, scopes)
        await self._consents.put(Consent(tenant_id, user_id, client.client_id, granted, notes.now))
        notes.note(
            AuditAction.CONSENT_GRANT,
            "success",
            actor=f"user:{user_id}",
            client_id=client.client_id,
            details={"user_id": user_id, "scope": " ".join(scopes)},
        )

    async def _suspend(
        self,
        kind: Literal["login", "consent"],
        tenant: Tenant,
        client: Client,
        request: AuthorizationRequest,
        session: SsoSession | None,
        browser: str,
        notes: AuditNotes,
        interaction: Interaction | None,
    ) -> ShowPage:
        handle = new_handle()
        now = notes.now
        if interaction is not None:
            await self._interactions.consume(tenant.id, interaction.handle_hash)
        suspended = Interaction(
            tenant_id=tenant.id,
            handle_hash=handle_hash(handle),
            kind=kind,
            client_id=client.client_id,
            request=request.to_record(),
            browser_hash=handle_hash(browser),
            created_at=now,
            expires_at=now + self._lifetimes.interaction,
            user_id=session.user_id if session is not None else None,
            session_id=session.session_id if session is not None else None,
        )
        await self._interactions.create(suspended)
        return ShowPage(kind, handle)

    async def _issue_code(
        self,
        tenant: Tenant,
        issuer: str,
        client: Client,
        request: AuthorizationRequest,
        session: SsoSession,
        user: User,
        notes: AuditNotes,
    ) -> Redirect:
        now = notes.now
        subject = await self._subjects.subject(client, user.user_id)
        code = new_handle()
        record = AuthorizationCode(
            tenant_id=tenant.id,
            client_id=client.client_id,
            redirect_uri=request.redirect_uri,
            scopes=request.scopes,
            user_id=user.user_id,
            subject=subject,
            session_id=session.session_id,
            auth_time=session.auth_time,
            amr=session.amr,
            acr=session.acr,
            issued_at=now,
            expires_at=now + self._lifetimes.code,
            nonce=request.nonce,
            code_challenge=request.code_challenge,
            code_challenge_method=request.code_challenge_method,
        )
        await self._codes.create(record, handle_hash(code))
        await self._sessions.joined(session, client.client_id)
        notes.note(
            AuditAction.AUTHORIZATION,
            "success",
            actor=f"user:{user.user_id}",
            client_id=client.client_id,
            details={
                "user_id": user.user_id,
                "sid": session.session_id,
                "scope": " ".join(request.scopes),
                "prompt": " ".join(request.prompt),
            },
        )
        location = redirect_uri_with(
            request.redirect_uri, {"code": code.reveal(), "state": request.state, "iss": issuer}
        )
        return Redirect(Secret(location))

    async def _finish_with_error(
        self,
        notes: AuditNotes,
        request: AuthorizationRequest,
        issuer: str,
        interaction: Interaction | None,
        error: OAuthError,
    ) -> Redirect:
        if interaction is not None:
            await self._interactions.consume(interaction.tenant_id, interaction.handle_hash)
        return self._error(notes, request, issuer, error)

    def _error(self, notes: AuditNotes, request: AuthorizationRequest, issuer: str, error: OAuthError) -> Redirect:
        self._note_failure(notes, error, request.client_id)
        return Redirect(Secret(error_redirect(RedirectError(error, request.redirect_uri, request.state), issuer)))

    @staticmethod
    def _note_failure(notes: AuditNotes, error: OAuthError, client_id: str | None) -> None:
        reason = error.reason if error.reason != error.code else error.code
        notes.note(AuditAction.AUTHORIZATION, "failure", client_id=_printable(client_id), reason=reason)


def _printable(value: str | None) -> str | None:
    return value.encode("ascii", "replace").decode()[:128] if value else None


def with_session(interaction: Interaction, session: SsoSession) -> Interaction:
    return replace(interaction, user_id=session.user_id, session_id=session.session_id)


__all__ = ["AuthorizationFlow", "FlowLifetimes", "Outcome", "Redirect", "ShowPage"]
