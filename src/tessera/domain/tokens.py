"""Access tokens: JWTs per RFC 9068, signed by the tenant's active key and verified against its JWKS."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from tessera.clock import Clock
from tessera.domain.jws import ALGORITHMS, MalformedJws, split_compact, verify_signature
from tessera.domain.keys import KeyRing
from tessera.ids import new_id
from tessera.secret import Secret

ACCESS_TOKEN_TYP = "at+jwt"


class KeyRings(Protocol):
    async def keyring(self, tenant_id: str) -> KeyRing: ...


@dataclass(frozen=True, slots=True)
class IssuedToken:
    value: Secret[str]
    token_id: str
    issued_at: int
    expires_at: int


def new_token_id() -> str:
    return new_id()


class AccessTokens:
    """Mints and verifies the tenant's JWT access tokens."""

    def __init__(self, keyrings: KeyRings, clock: Clock, clock_skew: float = 0.0) -> None:
        self._keyrings, self._clock, self._skew = keyrings, clock, clock_skew

    async def issue(
        self,
        tenant_id: str,
        issuer: str,
        *,
        subject: str,
        client_id: str,
        audiences: Sequence[str],
        scopes: Sequence[str],
        lifetime: float,
        extra: dict[str, Any] | None = None,
        token_id: str | None = None,
    ) -> IssuedToken:
        """``token_id``: a jti chosen beforehand, so a grant can record it before the token is signed."""
        if not audiences:
            raise ValueError("an access token needs an audience (RFC 9068 §2.2)")
        ring = await self._keyrings.keyring(tenant_id)
        now = int(self._clock.now())
        token_id = token_id or new_token_id()
        claims: dict[str, Any] = dict(extra) if extra else {}
        claims |= {
            "iss": issuer,
            "sub": subject,
            "aud": audiences[0] if len(audiences) == 1 else list(audiences),
            "exp": now + int(lifetime),
            "iat": now,
            "jti": token_id,
            "client_id": client_id,
        }
        if scopes:
            claims["scope"] = " ".join(scopes)
        value = ring.signer.sign(claims, ACCESS_TOKEN_TYP)
        return IssuedToken(Secret(value), token_id, now, claims["exp"])

    async def verify(self, tenant_id: str, issuer: str, token: str) -> dict[str, Any] | None:
        """The claims of a valid, unexpired access token of this tenant; None for anything else."""
        ring = await self._keyrings.keyring(tenant_id)
        claims = verify_jwt(ring, token, self._clock.now(), self._skew, typ=ACCESS_TOKEN_TYP)
        if claims is None or claims.get("iss") != issuer:
            return None
        return claims


def verify_jwt(ring: KeyRing, token: str, now: float, skew: float, typ: str | None) -> dict[str, Any] | None:
    """Signature, algorithm, ``typ``, ``exp`` and ``nbf`` checks; None when any fails."""
    try:
        header, claims, signing_input, signature = split_compact(token)
    except MalformedJws:
        return None
    alg, kid = header.get("alg"), header.get("kid")
    if alg not in ALGORITHMS or not isinstance(kid, str) or (typ is not None and header.get("typ") != typ):
        return None
    known = ring.verification_keys.get(kid)
    if known is None or known[0] != alg or not verify_signature(signing_input, signature, alg, known[1]):
        return None
    exp, nbf = claims.get("exp"), claims.get("nbf")
    if not isinstance(exp, int | float) or exp + skew <= now:
        return None
    if isinstance(nbf, int | float) and nbf - skew > now:
        return None
    return claims


__all__ = ["ACCESS_TOKEN_TYP", "AccessTokens", "IssuedToken", "KeyRings", "new_token_id", "verify_jwt"]
