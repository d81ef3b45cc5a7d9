"""Response models of the token, introspection and revocation endpoints (rendered by ``tessera.web``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tessera.secret import Secret


@dataclass(frozen=True, slots=True)
class TokenResponse:
    """A successful token response (RFC 6749 §5.1)."""

    access_token: Secret[str]
    expires_in: int
    scope: str | None = None
    token_type: str = "Bearer"
    refresh_token: Secret[str] | None = None
    id_token: Secret[str] | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "access_token": self.access_token.reveal(),
            "token_type": self.token_type,
            "expires_in": self.expires_in,
        }
        if self.scope is not None:
            body["scope"] = self.scope
        if self.refresh_token is not None:
            body["refresh_token"] = self.refresh_token.reveal()
        if self.id_token is not None:
            body["id_token"] = self.id_token.reveal()
        body.update(self.extra)
        return body


@dataclass(frozen=True, slots=True)
class IntrospectionResponse:
    """RFC 7662 §2.2: ``{"active": false}`` or the token's claims."""

    active: bool
    claims: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {**self.claims, "active": True} if self.active else {"active": False}


__all__ = ["IntrospectionResponse", "TokenResponse"]
