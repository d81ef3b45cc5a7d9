"""The refresh token grant (RFC 6749 §6) with rotation and reuse detection (RFC 9700 §4.14.2).

Hot path: one transaction of two statements (the conditional UPDATE ... RETURNING that consumes the
presented token, the INSERT of its successor), one signature (two with ``openid``), one audit event.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from tessera.domain.audit import AuditAction
from tessera.domain.clients import Client
from tessera.domain.handles import handle_hash
from tessera.domain.refresh_tokens import RefreshToken
from tessera.domain.tokens import new_token_id
from tessera.protocols.oauth2.endpoint_request import EndpointRequest
from tessera.protocols.oauth2.errors import InvalidGrant, InvalidScope
from tessera.protocols.oauth2.grants.user_tokens import UserTokens
from tessera.protocols.oauth2.responses import TokenResponse
from tessera.protocols.oauth2.scopes import parse_scope
from tessera.protocols.oidc.id_token import IdTokenContext


class RefreshTokens(Protocol):
    async def rotate(
        self,
        tenant_id: str,
        token_hash: str,
        client_id: str,
        now: float,
        successor: Callable[[RefreshToken], tuple[RefreshToken, str]],
        session_idle: float | None = None,
    ) -> tuple[RefreshToken, RefreshToken] | None: ...
    async def get(self, tenant_id: str, token_hash: str) -> RefreshToken | None: ...
    async def revoke_family(self, tenant_id: str, family_id: str, now: float) -> list[tuple[str, float]]: ...


class RefreshTokenGrant:
    grant_type = "refresh_token"

    def __init__(self, refresh_tokens: RefreshTokens, tokens: UserTokens, session_idle: float | None = None) -> None:
        self._refresh, self._tokens = refresh_tokens, tokens
        self._session_idle = session_idle  # tokens without offline_access end with their SSO session

    async def exchange(self, request: EndpointRequest, client: Client) -> TokenResponse:
        tenant_id, now = request.tenant.id, request.now
        presented = handle_hash(request.form.require("refresh_token"))
        requested = parse_scope(request.form.get("scope"))
        if requested:  # refused before the rotation, so a bad request does not burn the token (#9)
            await self._check_scope(tenant_id, presented, client, requested)
        token_id = new_token_id()
        expires_at = int(now) + int(self._tokens.access_lifetime(client)) + 1
        new_value, new_hash = self._tokens.new_refresh_value()

        def successor(old: RefreshToken) -> tuple[RefreshToken, str]:
            return old.successor(now, self._tokens.lifetimes.refresh(old.offline), token_id, expires_at), new_hash

        rotated = await self._refresh.rotate(tenant_id, presented, client.client_id, now, successor, self._session_idle)
        if rotated is None:
            raise await self._refusal(request, client, presented)
        old, new = rotated
        scopes = requested or old.scopes
        context = IdTokenContext(
            request.issuer, old.subject, client.client_id, old.auth_time, old.acr, old.amr, old.session_id
        )
        access = await self._tokens.access_token(request, client, old.subject, scopes, context, token_id)
        id_token = None
        if "openid" in old.scopes:  # OIDC Core §12.2: same sub, aud and auth_time; no nonce
            id_token = await self._tokens.id_token(tenant_id, context, now, access.value, None, scopes)
        self._tokens.note_issued(request, client, self.grant_type, access, scopes, old.user_id, new)
        return self._tokens.response(access, scopes, new_value, id_token)

    async def _check_scope(self, tenant_id: str, presented: str, client: Client, requested: tuple[str, ...]) -> None:
        """RFC 6749 §6: a requested scope must not exceed the grant's (a family's scopes never change)."""
        token = await self._refresh.get(tenant_id, presented)
        if token is not None and token.client_id == client.client_id and not set(requested) <= set(token.scopes):
            raise InvalidScope("the requested scope exceeds the original grant")

    async def _refusal(self, request: EndpointRequest, client: Client, presented: str) -> InvalidGrant:
        tenant_id, now = request.tenant.id, request.now
        token = await self._refresh.get(tenant_id, presented)
        if token is None:
            return InvalidGrant("the refresh token is invalid", reason="unknown_refresh_token")
        if token.client_id != client.client_id:
            return InvalidGrant("the refresh token was issued to another client", reason="client_mismatch")
        if token.revoked_at is not None:
            return InvalidGrant("the refresh token was revoked", reason="refresh_token_revoked")
        if token.used_at is not None:
            issued = await self._refresh.revoke_family(tenant_id, token.family_id, now)
            await self._tokens.revoke_issued(tenant_id, issued, now)
            request.notes.note(
                AuditAction.REFRESH_TOKEN_REUSE,
                "failure",
                client_id=client.client_id,
                reason="refresh_token_reused",
                details={"family_id": token.family_id, "user_id": token.user_id, "revoked_access_tokens": len(issued)},
            )
            return InvalidGrant("the refresh token was already used", reason="refresh_token_reused")
        if token.expires_at <= now:
            return InvalidGrant("the refresh token has expired", reason="refresh_token_expired")
        # Its family was revoked, its user disabled, or (not offline) its SSO session ended.
        return InvalidGrant("the refresh token may no longer be used", reason="refresh_token_inactive")

    async def revoke(self, tenant_id: str, client: Client, value: str, now: float) -> str | None:
        """RFC 7009 for refresh tokens: revoke the token's family; the family id, or None if not ours."""
        token = await self._refresh.get(tenant_id, handle_hash(value))
        if token is None or token.client_id != client.client_id:
            return None
        issued = await self._refresh.revoke_family(tenant_id, token.family_id, now)
        await self._tokens.revoke_issued(tenant_id, issued, now)
        return token.family_id


__all__ = ["RefreshTokenGrant"]
