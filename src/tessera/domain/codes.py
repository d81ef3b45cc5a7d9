"""Authorization codes (RFC 6749 §4.1.2, §10.5): single-use, at most 60 s, bound to client, redirect URI and PKCE.

The store holds the hash of the code. Exchanging one is a single conditional UPDATE
(``... WHERE used_at IS NULL``), which also records what was issued from it, so that a second
presentation can revoke exactly that (RFC 6749 §4.1.2: "SHOULD revoke ... all tokens previously
issued based on that authorization code").
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class AuthorizationCode:
    tenant_id: str
    client_id: str
    redirect_uri: str
    scopes: tuple[str, ...]
    user_id: str
    subject: str  # the sub this client sees (public or pairwise)
    session_id: str
    auth_time: float
    amr: tuple[str, ...]
    acr: str
    issued_at: float
    expires_at: float
    nonce: str | None = None
    code_challenge: str | None = None
    code_challenge_method: str | None = None
    # What the exchange issued (set by the single consuming UPDATE):
    used_at: float | None = None
    access_token_id: str | None = None
    access_token_expires_at: float | None = None
    family_id: str | None = None


@dataclass(frozen=True, slots=True)
class CodeBinding:
    """What the token request must match for the code to be consumed at all (client, URI, PKCE)."""

    client_id: str
    redirect_uri: str
    code_challenge: str | None  # S256(code_verifier) as presented; None when no verifier was sent


@dataclass(frozen=True, slots=True)
class Redemption:
    """What an exchange will issue; written in the same statement that consumes the code."""

    access_token_id: str
    access_token_expires_at: float
    family_id: str | None


__all__ = ["AuthorizationCode", "CodeBinding", "Redemption"]
