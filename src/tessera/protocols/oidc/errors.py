"""OpenID Connect and bearer-token error codes (OIDC Core §3.1.2.6, RFC 6749 §4.1.2.1, RFC 6750 §3.1)."""

from __future__ import annotations

from tessera.protocols.oauth2.errors import OAuthError


class UnsupportedResponseType(OAuthError):
    """RFC 6749 §4.1.2.1: only ``response_type=code`` exists here (no implicit, no hybrid)."""

    code = "unsupported_response_type"


class LoginRequired(OAuthError):
    code = "login_required"


class ConsentRequired(OAuthError):
    code = "consent_required"


class InteractionRequired(OAuthError):
    code = "interaction_required"


class AccountSelectionRequired(OAuthError):
    code = "account_selection_required"


class InvalidRequestUri(OAuthError):
    code = "invalid_request_uri"


class InvalidRequestObject(OAuthError):
    code = "invalid_request_object"


class RequestNotSupported(OAuthError):
    code = "request_not_supported"


class RequestUriNotSupported(OAuthError):
    code = "request_uri_not_supported"


class RegistrationNotSupported(OAuthError):
    code = "registration_not_supported"


class BearerError(OAuthError):
    """An error of a resource endpoint (userinfo): answered with ``WWW-Authenticate: Bearer error=...``."""


class InvalidToken(BearerError):
    """RFC 6750 §3.1: the access token is missing, expired, revoked, malformed or not ours."""

    code = "invalid_token"
    status = 401


class InsufficientScope(BearerError):
    """RFC 6750 §3.1: the token lacks the scope the endpoint needs (``openid`` for userinfo)."""

    code = "insufficient_scope"
    status = 403


__all__ = [
    "AccountSelectionRequired",
    "BearerError",
    "ConsentRequired",
    "InsufficientScope",
    "InteractionRequired",
    "InvalidRequestObject",
    "InvalidRequestUri",
    "InvalidToken",
    "LoginRequired",
    "RegistrationNotSupported",
    "RequestNotSupported",
    "RequestUriNotSupported",
    "UnsupportedResponseType",
]
