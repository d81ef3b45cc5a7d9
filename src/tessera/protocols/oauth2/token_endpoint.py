"""The token endpoint (RFC 6749 §3.2): authenticate the client, dispatch to the grant handler."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from tessera.domain.audit import AuditAction
from tessera.domain.clients import Client
from tessera.protocols.oauth2.client_auth import ClientAuthenticator
from tessera.protocols.oauth2.endpoint_request import EndpointRequest
from tessera.protocols.oauth2.errors import (
    InvalidClient,
    InvalidRequest,
    OAuthError,
    UnauthorizedClient,
    UnsupportedGrantType,
)
from tessera.protocols.oauth2.responses import TokenResponse


class GrantHandler(Protocol):
    """One grant type: validates its parameters and issues the tokens."""

    async def exchange(self, request: EndpointRequest, client: Client) -> TokenResponse: ...


class TokenEndpoint:
    def __init__(self, authenticator: ClientAuthenticator, grants: Mapping[str, GrantHandler]) -> None:
        self._authenticator = authenticator
        self._grants = dict(grants)

    @property
    def grant_types(self) -> list[str]:
        return sorted(self._grants)

    async def handle(self, request: EndpointRequest, token_endpoint_url: str) -> TokenResponse:
        grant_type = request.form.get("grant_type")
        try:
            if grant_type is None:
                raise InvalidRequest("missing parameter: grant_type")
            handler = self._grants.get(grant_type)
            if handler is None:
                raise UnsupportedGrantType("the grant type is not supported")
        except OAuthError as exc:
            request.notes.note(AuditAction.TOKEN_ISSUE, "failure", reason=exc.code)
            raise
        client = await self._authenticator.authenticate(
            request.tenant.id,
            request.assertion_audiences(token_endpoint_url),
            request.authorization,
            request.form,
            request.notes,
            request.now,
        )
        try:
            if not client.allows_grant(grant_type):
                raise UnauthorizedClient("the client may not use this grant type")
            return await handler.exchange(request, client)
        except OAuthError as exc:
            if not isinstance(exc, InvalidClient):
                request.notes.note(
                    AuditAction.TOKEN_ISSUE,
                    "failure",
                    client_id=client.client_id,
                    reason=exc.code,
                    details={"grant_type": grant_type},
                )
            raise


__all__ = ["GrantHandler", "TokenEndpoint"]
