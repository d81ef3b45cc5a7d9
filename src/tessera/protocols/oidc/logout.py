"""Logout tokens (Back-Channel Logout 1.0 §2.4); validating RP-initiated logout (RP-Initiated Logout 1.0 §2-3)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from tessera.domain.clients import Client

LOGOUT_TOKEN_TYP = "logout+jwt"
BACKCHANNEL_EVENT = "http://schemas.openid.net/event/backchannel-logout"
LOGOUT_TOKEN_LIFETIME = 120


def logout_token_claims(
    issuer: str, client_id: str, subject: str | None, session_id: str | None, now: int, token_id: str
) -> dict[str, Any]:
    """``iss``, ``aud``, ``iat``, ``exp``, ``jti``, ``events``, ``sid`` and/or ``sub``; never a ``nonce`` (§2.4)."""
    if subject is None and session_id is None:
        raise ValueError("a logout token names a sub, a sid, or both")
    claims: dict[str, Any] = {
        "iss": issuer,
        "aud": client_id,
        "iat": now,
        "exp": now + LOGOUT_TOKEN_LIFETIME,
        "jti": token_id,
        "events": {BACKCHANNEL_EVENT: {}},
    }
    if subject is not None:
        claims["sub"] = subject
    if session_id is not None:
        claims["sid"] = session_id
    return claims


@dataclass(frozen=True, slots=True)
class LogoutRequest:
    """A validated end-session request: where to send the person afterwards (or nowhere)."""

    client_id: str | None
    post_logout_redirect_uri: str | None
    state: str | None
    hinted_session_id: str | None
    hinted_subject: str | None
    ui_locales: tuple[str, ...] = ()


class InvalidLogoutRequest(Exception):
    """Shown to the person as an error page; never redirected (the target is not trusted)."""

    def __init__(self, description: str) -> None:
        super().__init__(description)
        self.description = description


def validate_logout_request(
    params: Mapping[str, str], hint_claims: Mapping[str, Any] | None, client: Client | None
) -> LogoutRequest:
    """``hint_claims``: the verified claims of ``id_token_hint`` (None without one); ``client``: its audience.

    A ``post_logout_redirect_uri`` must be registered, exactly, for the client the hint or
    ``client_id`` names; otherwise there is no redirect at all.
    """
    client_id = params.get("client_id")
    if hint_claims is not None:
        audience = hint_claims.get("aud")
        hinted = (
            audience
            if isinstance(audience, str)
            else (audience[0] if isinstance(audience, list) and audience else None)
        )
        if client_id is not None and client_id != hinted:
            raise InvalidLogoutRequest("client_id does not match the id_token_hint")
        client_id = hinted
    redirect = params.get("post_logout_redirect_uri")
    if redirect is not None:
        if client is None or client.client_id != client_id:
            raise InvalidLogoutRequest("post_logout_redirect_uri needs id_token_hint or client_id of a known client")
        if redirect not in client.spec.post_logout_redirect_uris:
            raise InvalidLogoutRequest("post_logout_redirect_uri is not registered for this client")
    sid = hint_claims.get("sid") if hint_claims else None
    sub = hint_claims.get("sub") if hint_claims else None
    return LogoutRequest(
        client_id=client_id,
        post_logout_redirect_uri=redirect,
        state=params.get("state") if redirect is not None else None,
        hinted_session_id=sid if isinstance(sid, str) else None,
        hinted_subject=sub if isinstance(sub, str) else None,
        ui_locales=tuple(params.get("ui_locales", "").split())[:10],
    )


__all__ = [
    "BACKCHANNEL_EVENT",
    "LOGOUT_TOKEN_LIFETIME",
    "LOGOUT_TOKEN_TYP",
    "InvalidLogoutRequest",
    "LogoutRequest",
    "logout_token_claims",
    "validate_logout_request",
]
