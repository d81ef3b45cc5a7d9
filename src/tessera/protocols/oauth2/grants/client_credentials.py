"""The client credentials grant (RFC 6749 §4.4) with resource indicators (RFC 8707)."""

from __future__ import annotations

from tessera.domain.audit import AuditAction
from tessera.domain.clients import Client
from tessera.domain.tokens import AccessTokens
from tessera.protocols.oauth2.endpoint_request import EndpointRequest
from tessera.protocols.oauth2.errors import UnauthorizedClient
from tessera.protocols.oauth2.responses import TokenResponse
from tessera.protocols.oauth2.scopes import resolve_scope_grant


class ClientCredentialsGrant:
    grant_type = "client_credentials"

    def __init__(self, tokens: AccessTokens, default_lifetime: float) -> None:
        self._tokens, self._default_lifetime = tokens, default_lifetime

    async def exchange(self, request: EndpointRequest, client: Client) -> TokenResponse:
        if not client.is_confidential:
            raise UnauthorizedClient("public clients cannot use the client_credentials grant")
        grant = resolve_scope_grant(
            request.form.get("scope"),
            request.form.all("resource"),
            client,
            request.tenant.audience_default(request.issuer),
        )
        lifetime = client.access_token_lifetime(self._default_lifetime)
        issued = await self._tokens.issue(
            request.tenant.id,
            request.issuer,
            subject=client.client_id,
            client_id=client.client_id,
            audiences=grant.audiences,
            scopes=grant.scopes,
            lifetime=lifetime,
        )
        request.notes.note(
            AuditAction.TOKEN_ISSUE,
            "success",
            client_id=client.client_id,
            token_id=issued.token_id,
            details={
                "grant_type": self.grant_type,
                "scope": " ".join(grant.scopes),
                "audience": list(grant.audiences),
                "expires_at": issued.expires_at,
            },
        )
        return TokenResponse(
            access_token=issued.value,
            expires_in=issued.expires_at - issued.issued_at,
            scope=" ".join(grant.scopes) if grant.scopes else None,
        )


__all__ = ["ClientCredentialsGrant"]
