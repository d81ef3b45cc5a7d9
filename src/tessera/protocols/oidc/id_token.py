"""ID tokens (OIDC Core §2, §3.1.3.6 ``at_hash``, §12.2 on refresh)."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

ID_TOKEN_TYP = "JWT"


def token_hash(value: str, alg: str) -> str:
    """Left half of the hash of the ASCII value, base64url (``at_hash``/``c_hash``, §3.1.3.6).

    The hash is the one of the signing algorithm: SHA-256 for ES256 and RS256, SHA-512 for
    EdDSA over Ed25519 (the OpenID Foundation's resolution for EdDSA).
    """
    digest = (
        hashlib.sha512(value.encode("ascii")).digest()
        if alg == "EdDSA"
        else hashlib.sha256(value.encode("ascii")).digest()
    )
    return base64.urlsafe_b64encode(digest[: len(digest) // 2]).rstrip(b"=").decode("ascii")


@dataclass(frozen=True, slots=True)
class IdTokenContext:
    """Who signed in, how and when: the same for the code exchange and later refreshes."""

    issuer: str
    subject: str
    client_id: str
    auth_time: float
    acr: str
    amr: Sequence[str]
    session_id: str | None = None
    nonce: str | None = None


def id_token_claims(
    context: IdTokenContext,
    now: int,
    lifetime: int,
    alg: str,
    access_token: str | None = None,
    user_claims: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The claims of an ID token; ``aud`` is exactly the client_id (``verifyIdToken({audience})`` works)."""
    claims: dict[str, Any] = dict(user_claims or {})
    claims.update(
        iss=context.issuer,
        sub=context.subject,
        aud=context.client_id,
        exp=now + lifetime,
        iat=now,
        auth_time=int(context.auth_time),
        acr=context.acr,
        amr=list(context.amr),
        azp=context.client_id,
    )
    if context.nonce is not None:
        claims["nonce"] = context.nonce
    if context.session_id is not None:
        claims["sid"] = context.session_id
    if access_token is not None:
        claims["at_hash"] = token_hash(access_token, alg)
    return claims


__all__ = ["ID_TOKEN_TYP", "IdTokenContext", "id_token_claims", "token_hash"]
