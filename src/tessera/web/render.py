"""The one renderer per protocol: OAuth JSON (RFC 6749 §5.1/§5.2) and plain JSON documents."""

from __future__ import annotations

import json
from typing import Any

from starlette.responses import Response

from tessera.protocols.oauth2.errors import InvalidClient, OAuthError

NO_STORE = {"cache-control": "no-store", "pragma": "no-cache"}
_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(_ENCODER.encode(body).encode(), status, headers, media_type="application/json")


def json_bytes_response(body: bytes, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(body, status, headers, media_type="application/json")


def oauth_response(body: dict[str, Any]) -> Response:
    """A token, introspection or other OAuth answer: never cached (RFC 6749 §5.1)."""
    return json_response(body, 200, NO_STORE)


def oauth_error(exc: OAuthError, request_id: str = "") -> Response:
    body: dict[str, Any] = {"error": exc.code}
    if exc.description:
        body["error_description"] = exc.description
    if exc.status >= 500 and request_id:
        body["request_id"] = request_id
    headers = dict(NO_STORE)
    if isinstance(exc, InvalidClient):
        headers["www-authenticate"] = 'Basic realm="tessera", charset="UTF-8"'
    if exc.status == 405:
        headers["allow"] = "POST"
    return json_response(body, exc.status, headers)


__all__ = ["NO_STORE", "json_bytes_response", "json_response", "oauth_error", "oauth_response"]
