"""Issuing the tokens of a signed-in person: access token, ID token, refresh token (shared by two grants)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from tessera.domain.audit import AuditAction
from tessera.domain.clients import Client
from tessera.domain.handles import handle_hash, new_handle
from tessera.domain.refresh_tokens import RefreshToken
from tessera.domain.tokens import AccessTokens, IssuedToken, KeyRings
from tessera.domain.users import User
from tessera.protocols.oauth2.endpoint_request import EndpointRequest
from tessera.protocols.oauth2.responses import TokenResponse
from tessera.protocols.oauth2.scopes import resolve_audiences
from tessera.protocols.oidc.claims import user_claims
from tessera.protocols.oidc.id_token import ID_TOKEN_TYP, IdTokenContext, id_token_claims
from tessera.secret import Secret


@dataclass(frozen=True, slots=True)
class UserTokenLifetimes:
    access_token: float = 900.0
    id_token: float = 900.0
    refresh_token: float = 36_000.0
    offline_refresh_token: float = 2_592_000.0

    def refresh(self, offline: bool) -> float:
        return self.offline_refresh_token if offline else self.refresh_token


class Denylist(Protocol):
    async def revoke(self, tenant_id: str, token_id: str, expires_at: float, now: float) -> bool: ...


class UserTokens:
    """Mints what a person's grant yields; the grants decide when."""

    def __init__(
        self, access_tokens: AccessTokens, keyrings: KeyRings, denylist: Denylist, lifetimes: UserTokenLifetimes
    ) -> None:
        self._access_tokens, self._keyrings, self._denylist = access_tokens, keyrings, denylist
        self.lifetimes = lifetimes

    def access_lifetime(self, client: Client) -> float:
        return client.access_token_lifetime(self.lifetimes.access_token)

    async def access_token(
        self,
        request: EndpointRequest,
        client: Client,
        subject: str,
        scopes: Sequence[str],
        context: IdTokenContext,
        token_id: str,
    ) -> IssuedToken:
        audiences = resolve_audiences((), client, request.tenant.audience_default(request.issuer))
        extra: dict[str, Any] = {"auth_time": int(context.auth_time), "acr": context.acr, "amr": list(context.amr)}
        return await self._access_tokens.issue(
            request.tenant.id,
            request.issuer,
            subject=subject,
            client_id=client.client_id,
            audiences=audiences,
            scopes=scopes,
            lifetime=self.access_lifetime(client),
            extra=extra,
            token_id=token_id,
        )

    async def id_token(
        self,
        tenant_id: str,
        context: IdTokenContext,
        now: float,
        access_token: Secret[str],
        user: User | None,
        scopes: Sequence[str],
    ) -> Secret[str]:
        ring = await self._keyrings.keyring(tenant_id)
        claims = id_token_claims(
            context,
            int(now),
            int(self.lifetimes.id_token),
            ring.signer.alg,
            access_token=access_token.reveal(),
            user_claims=user_claims(user, scopes) if user is not None else None,
        )
        return Secret(ring.signer.sign(claims, ID_TOKEN_TYP))

    @staticmethod
    def new_refresh_value() -> tuple[Secret[str], str]:
        value = new_handle()
        return value, handle_hash(value)

    async def revoke_issued(self, tenant_id: str, issued: Sequence[tuple[str, float]], now: float) -> None:
        for token_id, expires_at in issued:
            await self._denylist.revoke(tenant_id, token_id, expires_at, now)

    @staticmethod
    def response(
        access: IssuedToken, scopes: Sequence[str], refresh: Secret[str] | None, id_token: Secret[str] | None
    ) -> TokenResponse:
        return TokenResponse(
            access_token=access.value,
            expires_in=access.expires_at - access.issued_at,
            scope=" ".join(scopes) if scopes else None,
            refresh_token=refresh,
            id_token=id_token,
        )

    @staticmethod
    def note_issued(
        request: EndpointRequest,
        client: Client,
        grant_type: str,
        access: IssuedToken,
        scopes: Sequence[str],
        user_id: str,
        refresh: RefreshToken | None,
    ) -> None:
        details: dict[str, Any] = {
            "grant_type": grant_type,
            "scope": " ".join(scopes),
            "user_id": user_id,
            "expires_at": access.expires_at,
        }
        if refresh is not None:
            details.update(refresh_family=refresh.family_id, offline=refresh.offline)
        request.notes.note(
            AuditAction.TOKEN_ISSUE, "success", client_id=client.client_id, token_id=access.token_id, details=details
        )


__all__ = ["Denylist", "UserTokenLifetimes", "UserTokens"]
