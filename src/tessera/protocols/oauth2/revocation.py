"""Token revocation (RFC 7009): the client that holds a token can end it early."""

from __future__ import annotations

from typing import Protocol

from tessera.domain.audit import AuditAction
from tessera.domain.clients import Client
from tessera.domain.tokens import AccessTokens
from tessera.protocols.oauth2.client_auth import ClientAuthenticator
from tessera.protocols.oauth2.endpoint_request import EndpointRequest
from tessera.protocols.oauth2.errors import UnauthorizedClient

REVOCABLE_HINTS = ("access_token", "refresh_token")


class RevocationList(Protocol):
    async def revoke(self, tenant_id: str, token_id: str, expires_at: float, now: float) -> bool: ...


class RefreshTokenRevoker(Protocol):
    async def revoke(self, tenant_id: str, client: Client, value: str, now: float) -> str | None:
        """Revoke the refresh token's family if it is the client's; the family id, or None."""
        ...


class RevocationEndpoint:
    def __init__(
        self,
        authenticator: ClientAuthenticator,
        tokens: AccessTokens,
        revocations: RevocationList,
        refresh_tokens: RefreshTokenRevoker | None = None,
    ) -> None:
        self._authenticator, self._tokens, self._revocations = authenticator, tokens, revocations
        self.refresh_tokens = refresh_tokens

    async def handle(self, request: EndpointRequest, token_endpoint_url: str) -> None:
        """Revoke the token if it is ours and the caller's; unknown tokens succeed (RFC 7009 §2.2)."""
        client = await self._authenticator.authenticate(
            request.tenant.id,
            request.assertion_audiences(token_endpoint_url),
            request.authorization,
            request.form,
            request.notes,
            request.now,
        )
        token = request.form.require("token")
        claims = await self._tokens.verify(request.tenant.id, request.issuer, token)
        if claims is None and self.refresh_tokens is not None:
            family = await self.refresh_tokens.revoke(request.tenant.id, client, token, request.now)
            if family is not None:
                request.notes.note(
                    AuditAction.TOKEN_REVOKE,
                    "success",
                    client_id=client.client_id,
                    reason="refresh_token",
                    details={"refresh_family": family},
                )
                return
        if claims is None:
            request.notes.note(AuditAction.TOKEN_REVOKE, "success", client_id=client.client_id, reason="unknown_token")
            return
        token_id = str(claims["jti"])
        if claims.get("client_id") != client.client_id:
            request.notes.note(
                AuditAction.TOKEN_REVOKE,
                "failure",
                client_id=client.client_id,
                token_id=token_id,
                reason="not_token_owner",
            )
            raise UnauthorizedClient("the token was not issued to this client")
        await self._revocations.revoke(request.tenant.id, token_id, float(claims["exp"]), request.now)
        request.notes.note(AuditAction.TOKEN_REVOKE, "success", client_id=client.client_id, token_id=token_id)


__all__ = ["REVOCABLE_HINTS", "RevocationEndpoint", "RevocationList"]
