"""Token introspection (RFC 7662): is this token active, and what does it say?"""

from __future__ import annotations

from typing import Any, Protocol

from tessera.domain.audit import AuditAction
from tessera.domain.tokens import AccessTokens
from tessera.protocols.oauth2.client_auth import ClientAuthenticator, ClientLookup
from tessera.protocols.oauth2.endpoint_request import EndpointRequest
from tessera.protocols.oauth2.errors import InvalidClient
from tessera.protocols.oauth2.responses import IntrospectionResponse

INTROSPECTED_CLAIMS = (
    "scope",
    "client_id",
    "sub",
    "aud",
    "iss",
    "exp",
    "iat",
    "nbf",
    "jti",
    "auth_time",
    "acr",
)


class Denylist(Protocol):
    async def is_revoked(self, tenant_id: str, token_id: str) -> bool: ...


class IntrospectionEndpoint:
    def __init__(
        self, authenticator: ClientAuthenticator, tokens: AccessTokens, denylist: Denylist, clients: ClientLookup
    ) -> None:
        self._authenticator, self._tokens, self._denylist = authenticator, tokens, denylist
        self._clients = clients

    async def handle(self, request: EndpointRequest, token_endpoint_url: str) -> IntrospectionResponse:
        client = await self._authenticator.authenticate(
            request.tenant.id,
            request.assertion_audiences(token_endpoint_url),
            request.authorization,
            request.form,
            request.notes,
            request.now,
        )
        if not client.is_confidential:
            raise InvalidClient("only confidential clients may introspect tokens", reason="public_client")
        token = request.form.require("token")
        claims = await self._tokens.verify(request.tenant.id, request.issuer, token)
        token_id = claims.get("jti") if claims else None
        active = claims is not None and isinstance(token_id, str)
        if active and isinstance(token_id, str) and await self._denylist.is_revoked(request.tenant.id, token_id):
            active = False
        if active and claims is not None and not await self._client_may_use(request.tenant.id, claims):
            active = False
        request.notes.note(
            AuditAction.TOKEN_INTROSPECT,
            "success",
            client_id=client.client_id,
            token_id=token_id if isinstance(token_id, str) else None,
            details={"active": active},
        )
        if not active or claims is None:
            return IntrospectionResponse(active=False)
        body = {name: claims[name] for name in INTROSPECTED_CLAIMS if name in claims}
        body["token_type"] = "Bearer"
        return IntrospectionResponse(active=True, claims=body)

    async def _client_may_use(self, tenant_id: str, claims: dict[str, Any]) -> bool:
        """A token dies with its client: disabled or deleted, its tokens are inactive at once (#21)."""
        client_id = claims.get("client_id")
        if not isinstance(client_id, str):
            return True
        client = await self._clients.client(tenant_id, client_id)
        return client is not None and client.is_enabled


__all__ = ["INTROSPECTED_CLAIMS", "Denylist", "IntrospectionEndpoint"]
