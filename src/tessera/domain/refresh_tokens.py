"""Refresh tokens: opaque, rotated on every use, one family per original grant, reuse revokes the family.

Values are 256 random bits; the store keeps their hash. A rotation is one conditional UPDATE that
marks the presented token used only if it is unused, unexpired, of a family with no revoked member
and of an enabled user, followed by the INSERT of its successor in the same transaction, so two
concurrent uses cannot both win. Presenting a token that was already rotated means two parties
hold it: the family and the access tokens issued from it are revoked [RFC 9700 §4.14.2].
Tokens without ``offline_access`` are bound to the SSO session and end with it: logout, an
administrator, its idle or absolute timeout (refreshing is not activity in the session).
"""

from __future__ import annotations

from dataclasses import dataclass, replace


@dataclass(frozen=True, slots=True)
class RefreshToken:
    tenant_id: str
    family_id: str
    client_id: str
    user_id: str
    subject: str
    session_id: str
    scopes: tuple[str, ...]
    auth_time: float
    amr: tuple[str, ...]
    acr: str
    offline: bool
    issued_at: float
    expires_at: float
    access_token_id: str
    access_token_expires_at: float
    used_at: float | None = None
    revoked_at: float | None = None

    def successor(
        self, now: float, lifetime: float, access_token_id: str, access_token_expires_at: float
    ) -> RefreshToken:
        """The next token of the family. A session-bound family never outlives its first expiry."""
        expires_at = now + lifetime if self.offline else min(self.expires_at, now + lifetime)
        return replace(
            self,
            issued_at=now,
            expires_at=expires_at,
            access_token_id=access_token_id,
            access_token_expires_at=access_token_expires_at,
            used_at=None,
            revoked_at=None,
        )


__all__ = ["RefreshToken"]
