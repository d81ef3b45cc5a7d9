"""The UserInfo endpoint (OIDC Core §5.3), protected as an RFC 6750 resource: GET and POST."""

from __future__ import annotations

from typing import Any, Protocol

from tessera.domain.clients import Client
from tessera.domain.tenants import Tenant
from tessera.domain.tokens import AccessTokens
from tessera.domain.users import User
from tessera.protocols.oauth2.errors import InvalidRequest
from tessera.protocols.oidc.claims import user_claims
from tessera.protocols.oidc.errors import InsufficientScope, InvalidToken
from tessera.protocols.oidc.subject import SubjectIdentifiers

NO_TOKEN = "no_token"  # the reason of a request without credentials (RFC 6750 §3.1: no error code then)


class Denylist(Protocol):
    async def is_revoked(self, tenant_id: str, token_id: str) -> bool: ...


class ClientLookup(Protocol):
    async def client(self, tenant_id: str, client_id: str) -> Client | None: ...


class Users(Protocol):
    async def get(self, tenant_id: str, user_id: str) -> User | None: ...


def bearer_token(authorization: str | None, form_token: str | None) -> str:
    """The access token from ``Authorization: Bearer`` (RFC 6750 §2.1) or the form body (§2.2), not both."""
    header_token = None
    if authorization:
        scheme, _, value = authorization.partition(" ")
        if scheme.lower() == "bearer" and value.strip():
            header_token = value.strip()
    if header_token and form_token:
        raise InvalidRequest("send the access token once (RFC 6750 2)")
    token = header_token or form_token
    if not token:
        raise InvalidToken("an access token is required", reason=NO_TOKEN)
    return token


class UserinfoEndpoint:
    def __init__(
        self,
        tokens: AccessTokens,
        denylist: Denylist,
        clients: ClientLookup,
        users: Users,
        subjects: SubjectIdentifiers,
    ) -> None:
        self._tokens, self._denylist, self._clients = tokens, denylist, clients
        self._users, self._subjects = users, subjects

    async def handle(self, tenant: Tenant, issuer: str, token: str) -> dict[str, Any]:
        claims = await self._tokens.verify(tenant.id, issuer, token)
        if claims is None:
            raise InvalidToken("the access token is invalid or expired", reason="bad_token")
        token_id, subject, client_id = claims.get("jti"), claims.get("sub"), claims.get("client_id")
        if not isinstance(token_id, str) or await self._denylist.is_revoked(tenant.id, token_id):
            raise InvalidToken("the access token was revoked", reason="revoked")
        scopes = str(claims.get("scope", "")).split()
        if "openid" not in scopes:
            raise InsufficientScope("the access token lacks the openid scope")
        client = await self._clients.client(tenant.id, client_id) if isinstance(client_id, str) else None
        if client is None or not isinstance(subject, str):
            raise InvalidToken("the access token was not issued to a person", reason="not_a_user_token")
        if not client.is_enabled:  # a disabled client's tokens die with it (#21)
            raise InvalidToken("the access token was issued to a disabled client", reason="client_disabled")
        user_id = await self._subjects.user_id(tenant.id, subject, client.spec.subject_type)
        user = await self._users.get(tenant.id, user_id) if user_id else None
        if user is None or not user.is_enabled:
            raise InvalidToken("the access token's user may not sign in", reason="user_disabled")
        return {"sub": subject, **user_claims(user, scopes)}


__all__ = ["NO_TOKEN", "UserinfoEndpoint", "bearer_token"]
