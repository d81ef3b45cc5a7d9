"""Which claims each scope releases (OIDC Core §5.4), built from a user."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from tessera.domain.users import User

SCOPE_CLAIMS: Mapping[str, tuple[str, ...]] = {
    "profile": ("name", "preferred_username", "updated_at"),
    "email": ("email", "email_verified"),
    "groups": ("groups",),
}
SCOPE_DESCRIPTIONS: Mapping[str, str] = {
    "openid": "Know who you are (a stable identifier)",
    "profile": "See your name and user name",
    "email": "See your e-mail address",
    "groups": "See the groups you belong to",
    "offline_access": "Stay connected when you are away (refresh without you)",
}
# Claims a free-form attribute may never override (they are protocol data, not profile data).
RESERVED_CLAIMS = frozenset(
    {"iss", "sub", "aud", "exp", "iat", "nbf", "jti", "auth_time", "nonce", "acr", "amr", "azp", "sid",
     "at_hash", "c_hash", "scope", "client_id", "cnf", "events", "typ", *(c for v in SCOPE_CLAIMS.values() for c in v)}
)  # fmt: skip


def user_claims(user: User, scopes: Iterable[str]) -> dict[str, Any]:
    """The claims the granted ``scopes`` release about ``user`` (attributes come with ``profile``)."""
    granted = set(scopes)
    claims: dict[str, Any] = {}
    if "profile" in granted:
        for name, value in user.attributes.items():
            if name not in RESERVED_CLAIMS:
                claims[name] = value
        if user.name:
            claims["name"] = user.name
        claims["preferred_username"] = user.username
        claims["updated_at"] = int(user.updated_at)
    if "email" in granted and user.email:
        claims["email"] = user.email
        claims["email_verified"] = user.email_verified
    if "groups" in granted:
        claims["groups"] = list(user.groups)
    return claims


def claims_supported() -> list[str]:
    base = ["sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "acr", "amr", "azp", "sid", "at_hash"]
    return base + [c for names in SCOPE_CLAIMS.values() for c in names]


__all__ = ["RESERVED_CLAIMS", "SCOPE_CLAIMS", "SCOPE_DESCRIPTIONS", "claims_supported", "user_claims"]
