"""OAuth 2.0 error codes (RFC 6749 §4.1.2.1, §5.2; RFC 7009 §2.2.1; RFC 8707 §2; OIDC Core §3.1.2.6)."""

from __future__ import annotations

import re

from tessera.errors import ProtocolError

_DESCRIPTION = re.compile(r"[\x20\x21\x23-\x5b\x5d-\x7e]*")  # RFC 6749 §5.2 error_description


class OAuthError(ProtocolError):
    """An error answered as ``{"error": code, "error_description": ...}``."""

    code = "server_error"
    status = 400

    def __init__(self, description: str = "", *, detail: str = "", reason: str = "") -> None:
        if not _DESCRIPTION.fullmatch(description):
            raise ValueError("OAuth error descriptions are printable ASCII without quote or backslash (RFC 6749 5.2)")
        super().__init__(description, detail=detail, reason=reason)


class InvalidRequest(OAuthError):
    code = "invalid_request"


class RequestTooLarge(InvalidRequest):
    """The body exceeds the configured limit (still ``invalid_request`` on the wire)."""

    status = 413


class MethodNotAllowed(InvalidRequest):
    status = 405


class InvalidClient(OAuthError):
    """Failed client authentication; 401 with ``WWW-Authenticate`` (RFC 6749 §5.2)."""

    code = "invalid_client"
    status = 401


class InvalidGrant(OAuthError):
    code = "invalid_grant"


class UnauthorizedClient(OAuthError):
    code = "unauthorized_client"


class UnsupportedGrantType(OAuthError):
    code = "unsupported_grant_type"


class InvalidScope(OAuthError):
    code = "invalid_scope"


class InvalidTarget(OAuthError):
    code = "invalid_target"


class UnsupportedTokenType(OAuthError):
    code = "unsupported_token_type"


class AccessDenied(OAuthError):
    code = "access_denied"
    status = 403


class NotFoundError(OAuthError):
    """An unknown tenant or endpoint (``invalid_request`` with 404)."""

    code = "invalid_request"
    status = 404


class ServerError(OAuthError):
    code = "server_error"
    status = 500


class TemporarilyUnavailable(OAuthError):
    code = "temporarily_unavailable"
    status = 503


__all__ = [
    "AccessDenied",
    "InvalidClient",
    "InvalidGrant",
    "InvalidRequest",
    "InvalidScope",
    "InvalidTarget",
    "MethodNotAllowed",
    "NotFoundError",
    "OAuthError",
    "RequestTooLarge",
    "ServerError",
    "TemporarilyUnavailable",
    "UnauthorizedClient",
    "UnsupportedGrantType",
    "UnsupportedTokenType",
]
