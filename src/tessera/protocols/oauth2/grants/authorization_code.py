"""The authorization code grant (RFC 6749 §4.1.3, RFC 7636 §4.5-4.6, OIDC Core §3.1.3).

The code is consumed by one conditional UPDATE that also checks the client, the redirect URI and
the PKCE challenge (a request that fails those does not burn the code), and records the access
token id and refresh family it is about to issue. A second presentation finds the code used and
revokes exactly those.
"""

from __future__ import annotations

from typing import Any, Protocol

from tessera.domain.audit import AuditAction
from tessera.domain.clients import Client
from tessera.domain.codes import AuthorizationCode, CodeBinding, Redemption
from tessera.domain.handles import handle_hash, new_public_id
from tessera.domain.refresh_tokens import RefreshToken
from tessera.domain.sessions import SsoSession
from tessera.domain.tokens import new_token_id
from tessera.domain.users import User
from tessera.protocols.oauth2.endpoint_request import EndpointRequest
from tessera.protocols.oauth2.errors import InvalidGrant, InvalidRequest
from tessera.protocols.oauth2.grants.user_tokens import UserTokens
from tessera.protocols.oauth2.pkce import is_valid_verifier, s256_challenge
from tessera.protocols.oauth2.responses import TokenResponse
from tessera.protocols.oidc.id_token import IdTokenContext
from tessera.secret import Secret


class Codes(Protocol):
    async def consume(
        self, tenant_id: str, code_hash: str, now: float, binding: CodeBinding, redemption: Redemption
    ) -> AuthorizationCode | None: ...
    async def get(self, tenant_id: str, code_hash: str) -> AuthorizationCode | None: ...


class Families(Protocol):
    async def create(self, token: RefreshToken, token_hash: str) -> None: ...
    async def revoke_family(self, tenant_id: str, family_id: str, now: float) -> list[tuple[str, float]]: ...
    async def bar_family(self, barrier: RefreshToken, token_hash: str) -> None: ...


class Users(Protocol):
    async def get(self, tenant_id: str, user_id: str) -> User | None: ...


class Sessions(Protocol):
    async def get(self, tenant_id: str, session_id: str) -> SsoSession | None: ...


class AuthorizationCodeGrant:
    grant_type = "authorization_code"

    def __init__(self, codes: Codes, families: Families, users: Users, sessions: Sessions, tokens: UserTokens) -> None:
        self._codes, self._families, self._users, self._sessions = codes, families, users, sessions
        self._tokens = tokens

    async def exchange(self, request: EndpointRequest, client: Client) -> TokenResponse:
        form, tenant_id, now = request.form, request.tenant.id, request.now
        code_value = form.require("code")
        redirect_uri = form.get("redirect_uri")
        if redirect_uri is None:
            raise InvalidRequest("missing parameter: redirect_uri")
        verifier = form.get("code_verifier")
        if verifier is not None and not is_valid_verifier(verifier):
            raise InvalidGrant("code_verifier is malformed (RFC 7636 4.1)", reason="pkce_mismatch")
        code_hash = handle_hash(code_value)
        token_id = new_token_id()
        expires_at = int(now) + int(self._tokens.access_lifetime(client)) + 1
        family_id = new_public_id() if client.allows_grant("refresh_token") else None
        binding = CodeBinding(client.client_id, redirect_uri, s256_challenge(verifier) if verifier else None)
        code = await self._codes.consume(
            tenant_id, code_hash, now, binding, Redemption(token_id, expires_at, family_id)
        )
        if code is None:
            raise await self._refusal(request, code_hash, binding)
        user = await self._users.get(tenant_id, code.user_id)
        if user is None or not user.is_enabled:
            raise InvalidGrant("the user may not sign in", reason="user_disabled")
        context = IdTokenContext(
            request.issuer,
            code.subject,
            client.client_id,
            code.auth_time,
            code.acr,
            code.amr,
            code.session_id,
            code.nonce,
        )
        access = await self._tokens.access_token(request, client, code.subject, code.scopes, context, token_id)
        refresh_value, refresh = None, None
        if family_id is not None:
            refresh_value, refresh = await self._new_family(code, family_id, access.token_id, access.expires_at, now)
        id_token = None
        if "openid" in code.scopes:
            id_token = await self._tokens.id_token(tenant_id, context, now, access.value, user, code.scopes)
        self._tokens.note_issued(request, client, self.grant_type, access, code.scopes, code.user_id, refresh)
        return self._tokens.response(access, code.scopes, refresh_value, id_token)

    async def _new_family(
        self, code: AuthorizationCode, family_id: str, token_id: str, token_expires_at: float, now: float
    ) -> tuple[Secret[str], RefreshToken] | tuple[None, None]:
        offline = "offline_access" in code.scopes
        expires_at = now + self._tokens.lifetimes.refresh(offline)
        if not offline:  # bound to the SSO session: never past its end
            session = await self._sessions.get(code.tenant_id, code.session_id)
            if session is None or session.ended_at is not None:
                return None, None
            expires_at = min(expires_at, session.expires_at)
        value, value_hash = self._tokens.new_refresh_value()
        token = family_member(
            code,
            family_id,
            offline=offline,
            issued_at=now,
            expires_at=expires_at,
            access_token_id=token_id,
            access_token_expires_at=token_expires_at,
        )
        await self._families.create(token, value_hash)
        return value, token

    async def _refusal(self, request: EndpointRequest, code_hash: str, binding: CodeBinding) -> InvalidGrant:
        """Why the code could not be consumed; a reused code revokes what it yielded (RFC 6749 §4.1.2)."""
        tenant_id, now = request.tenant.id, request.now
        code = await self._codes.get(tenant_id, code_hash)
        if code is None:
            return InvalidGrant("the authorization code is invalid", reason="unknown_code")
        if code.used_at is not None:
            revoked = await self._revoke_issued(code, now)
            request.notes.note(
                AuditAction.CODE_REUSE,
                "failure",
                client_id=binding.client_id,
                reason="code_reused",
                token_id=code.access_token_id,
                details={"user_id": code.user_id, "code_client_id": code.client_id, "revoked": revoked},
            )
            return InvalidGrant("the authorization code was already used", reason="code_reused")
        if code.expires_at <= now:
            return InvalidGrant("the authorization code has expired", reason="code_expired")
        if code.client_id != binding.client_id:
            return InvalidGrant("the authorization code was issued to another client", reason="client_mismatch")
        if code.redirect_uri != binding.redirect_uri:
            return InvalidGrant("redirect_uri does not match the authorization request", reason="redirect_uri_mismatch")
        if code.code_challenge is None:
            return InvalidGrant("code_verifier sent for a code issued without PKCE", reason="pkce_unexpected")
        if binding.code_challenge is None:
            return InvalidGrant("code_verifier is required", reason="pkce_missing")
        return InvalidGrant("code_verifier does not match the code_challenge", reason="pkce_mismatch")

    async def _revoke_issued(self, code: AuthorizationCode, now: float) -> int:
        issued: list[tuple[str, float]] = []
        if code.access_token_id is not None and code.access_token_expires_at is not None:
            issued.append((code.access_token_id, code.access_token_expires_at))
        if code.family_id is not None:
            # The first exchange may still be on its way to creating the family: a revoked member
            # stored now keeps whatever it creates from ever refreshing (#8).
            await self._families.bar_family(self._barrier(code, code.family_id, now), barrier_hash(code.family_id))
            issued += await self._families.revoke_family(code.tenant_id, code.family_id, now)
        await self._tokens.revoke_issued(code.tenant_id, list(dict.fromkeys(issued)), now)
        return len(issued)

    def _barrier(self, code: AuthorizationCode, family_id: str, now: float) -> RefreshToken:
        """A revoked, used member of the family that outlives any member the code's exchange creates."""
        return family_member(
            code,
            family_id,
            offline="offline_access" in code.scopes,
            issued_at=now,
            expires_at=now + self._tokens.lifetimes.refresh(offline=True),
            access_token_id=code.access_token_id or "",
            access_token_expires_at=code.access_token_expires_at or now,
            used_at=now,
            revoked_at=now,
        )


def family_member(code: AuthorizationCode, family_id: str, **state: Any) -> RefreshToken:
    """A refresh token of the family the code starts: the code's grant, with its own times and state."""
    return RefreshToken(
        tenant_id=code.tenant_id,
        family_id=family_id,
        client_id=code.client_id,
        user_id=code.user_id,
        subject=code.subject,
        session_id=code.session_id,
        scopes=code.scopes,
        auth_time=code.auth_time,
        amr=code.amr,
        acr=code.acr,
        **state,
    )


def barrier_hash(family_id: str) -> str:
    """The store key of a family's barrier: one per family, and the hash of no value ever handed out."""
    return handle_hash(f"barrier:{family_id}")


__all__ = ["AuthorizationCodeGrant"]
