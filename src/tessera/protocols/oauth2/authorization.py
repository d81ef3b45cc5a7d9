"""Validating an authorization request (RFC 6749 §4.1.1, §4.1.2.1; OIDC Core §3.1.2.1-2; RFC 7636 §4.3).

The order matters (RFC 6749 §4.1.2.1): as long as the client and its redirect URI are not both
established, an error is shown to the person (``PageError``) and never redirected, since an
attacker could otherwise use Tessera as an open redirector. After that, errors go back to the
client's redirect URI with ``state`` and ``iss`` (``RedirectError``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any
from urllib.parse import parse_qsl, urlencode

from tessera.domain.clients import Client
from tessera.domain.scopes import OIDC_SCOPES
from tessera.protocols.oauth2.errors import InvalidRequest, InvalidScope, OAuthError, UnauthorizedClient
from tessera.protocols.oauth2.pkce import S256, is_valid_challenge
from tessera.protocols.oauth2.scopes import parse_scope
from tessera.protocols.oidc.errors import (
    RegistrationNotSupported,
    RequestNotSupported,
    RequestUriNotSupported,
    UnsupportedResponseType,
)

PROMPTS = frozenset({"none", "login", "consent", "select_account"})
MAX_PARAMETER = 2048
_LOOPBACK_URI = re.compile(r"http://(?P<host>127\.0\.0\.1|\[::1\])(?::(?P<port>[0-9]{1,5}))?(?=[/?]|$)")
_ASCII_DIGITS = re.compile(r"[0-9]{1,10}")  # not str.isdigit(): it takes U+00B2 (int() fails)


class PageError(Exception):
    """An error to show the person: the client or redirect URI cannot be trusted with a redirect."""

    def __init__(self, error: OAuthError) -> None:
        super().__init__(error.description)
        self.error = error


class RedirectError(Exception):
    """An error to send back to the client's (validated) redirect URI (RFC 6749 §4.1.2.1)."""

    def __init__(self, error: OAuthError, redirect_uri: str, state: str | None) -> None:
        super().__init__(error.description)
        self.error, self.redirect_uri, self.state = error, redirect_uri, state


@dataclass(frozen=True, slots=True)
class AuthorizationRequest:
    """A validated request; stored as it is in a suspended interaction (``to_record``)."""

    client_id: str
    redirect_uri: str
    scopes: tuple[str, ...]
    state: str | None = None
    nonce: str | None = None
    code_challenge: str | None = None
    code_challenge_method: str | None = None
    prompt: tuple[str, ...] = ()
    max_age: int | None = None
    login_hint: str | None = None
    ui_locales: tuple[str, ...] = ()

    @property
    def is_openid(self) -> bool:
        return "openid" in self.scopes

    def wants(self, prompt: str) -> bool:
        return prompt in self.prompt

    def to_record(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> AuthorizationRequest:
        data = dict(record)
        for name in ("scopes", "prompt", "ui_locales"):
            data[name] = tuple(data.get(name) or ())
        return cls(**data)


def parse_query(query: str) -> tuple[dict[str, str], set[str]]:
    """Parameters of a query string, and the names that appeared more than once (RFC 6749 §3.1)."""
    values: dict[str, str] = {}
    repeated: set[str] = set()
    for name, value in parse_qsl(query, keep_blank_values=True)[:64]:
        if not value:
            continue  # empty values count as omitted (RFC 6749 §3.1)
        if name in values:
            repeated.add(name)
        values[name] = value
    return values, repeated


def validate_redirect_target(params: Mapping[str, str], repeated: set[str], client: Client | None) -> str:
    """The client and redirect URI, or a ``PageError``: nothing before this may redirect."""
    if "client_id" in repeated or "redirect_uri" in repeated:
        raise PageError(InvalidRequest("client_id and redirect_uri must appear once", reason="repeated_parameter"))
    if not params.get("client_id"):
        raise PageError(InvalidRequest("the request has no client_id", reason="missing_client_id"))
    if client is None:
        raise PageError(InvalidRequest("the application is not known here", reason="unknown_client"))
    if not client.is_enabled:
        raise PageError(InvalidRequest("the application is disabled", reason="disabled_client"))
    redirect_uri = params.get("redirect_uri")
    if redirect_uri is None:
        raise PageError(InvalidRequest("the request has no redirect_uri", reason="missing_redirect_uri"))
    if not is_registered_redirect_uri(redirect_uri, client):
        raise PageError(InvalidRequest("the redirect_uri is not registered", reason="invalid_redirect_uri"))
    return redirect_uri


def is_registered_redirect_uri(redirect_uri: str, client: Client) -> bool:
    """Exact string comparison (RFC 9700 §4.1.3), save one case: the port of a native app's loopback URI.

    RFC 8252 §7.3: a public client registered with ``http://127.0.0.1/cb`` or ``http://[::1]/cb``
    may ask for any port, since the app listens on whichever one the OS gives it. Scheme, host
    (not ``localhost``), path and query must still be exactly those registered.
    """
    registered = client.spec.redirect_uris
    if redirect_uri in registered:
        return True
    if client.is_confidential:
        return False
    requested = _without_loopback_port(redirect_uri)
    return requested is not None and any(_without_loopback_port(uri) == requested for uri in registered)


def _without_loopback_port(uri: str) -> str | None:
    """``uri`` without its port when it is an ``http`` loopback IP literal URI, else None."""
    match = _LOOPBACK_URI.match(uri)
    if match is None or (match["port"] is not None and not 0 < int(match["port"]) <= 65535):
        return None
    return f"http://{match['host']}{uri[match.end() :]}"


def validate_authorization_request(
    params: Mapping[str, str], repeated: set[str], client: Client | None
) -> AuthorizationRequest:
    """Everything ``/authorize`` checks before it looks at who is signed in."""
    redirect_uri = validate_redirect_target(params, repeated, client)
    assert client is not None
    state = params.get("state")
    try:
        if state is not None and len(state) > MAX_PARAMETER:
            state = None
            raise InvalidRequest("state is too long")
        return _validated(params, repeated, client, redirect_uri, state)
    except OAuthError as exc:
        raise RedirectError(exc, redirect_uri, state) from None


def _validated(
    params: Mapping[str, str], repeated: set[str], client: Client, redirect_uri: str, state: str | None
) -> AuthorizationRequest:
    if repeated:
        raise InvalidRequest("parameters must not be repeated: " + ", ".join(sorted(repeated))[:100])
    _refuse_unsupported(params)
    response_type = params.get("response_type")
    if response_type is None:
        raise InvalidRequest("missing parameter: response_type")
    if response_type != "code":
        raise UnsupportedResponseType("only response_type=code is supported")
    if params.get("response_mode", "query") != "query":
        raise InvalidRequest("only response_mode=query is supported")
    if not client.allows_grant("authorization_code"):
        raise UnauthorizedClient("the client may not use the authorization code grant")
    scopes = _allowed_scopes(parse_scope(params.get("scope")), client)
    challenge, method = _pkce(params, client)
    prompt = _prompt(params.get("prompt"))
    return AuthorizationRequest(
        client_id=client.client_id,
        redirect_uri=redirect_uri,
        scopes=scopes,
        state=state,
        nonce=_bounded(params, "nonce"),
        code_challenge=challenge,
        code_challenge_method=method,
        prompt=prompt,
        max_age=_max_age(params.get("max_age")),
        login_hint=_bounded(params, "login_hint", 256),
        ui_locales=tuple(params.get("ui_locales", "").split())[:10],
    )


def _refuse_unsupported(params: Mapping[str, str]) -> None:
    if "request" in params:
        raise RequestNotSupported("request objects are not supported")
    if "request_uri" in params:
        raise RequestUriNotSupported("request_uri is not supported")
    if "registration" in params:
        raise RegistrationNotSupported("the registration parameter is not supported")


def _allowed_scopes(requested: Sequence[str], client: Client) -> tuple[str, ...]:
    """OIDC scopes are open to every client that signs people in; others must be the client's."""
    if not requested:
        chosen = client.spec.default_scopes if client.spec.default_scopes is not None else client.spec.scopes
        requested = tuple(chosen)
    unknown = [s for s in requested if s not in OIDC_SCOPES and s not in client.spec.scopes]
    if unknown:
        raise InvalidScope("the requested scope is not allowed for this client")
    # offline_access only for clients that may refresh (OIDC Core §11)
    return tuple(s for s in requested if s != "offline_access" or client.allows_grant("refresh_token"))


def _pkce(params: Mapping[str, str], client: Client) -> tuple[str | None, str | None]:
    challenge, method = params.get("code_challenge"), params.get("code_challenge_method")
    if challenge is None:
        if method is not None:
            raise InvalidRequest("code_challenge_method without code_challenge")
        if not client.is_confidential or client.spec.require_pkce:
            raise InvalidRequest("PKCE is required: send code_challenge and code_challenge_method=S256")
        return None, None
    if method != S256:
        raise InvalidRequest("code_challenge_method must be S256 (plain is not accepted)")
    if not is_valid_challenge(challenge):
        raise InvalidRequest("code_challenge must be 43 characters of base64url (RFC 7636 4.2)")
    return challenge, method


def _prompt(raw: str | None) -> tuple[str, ...]:
    values = tuple(dict.fromkeys((raw or "").split()))
    if any(v not in PROMPTS for v in values):
        raise InvalidRequest("unsupported prompt value")
    if "none" in values and len(values) > 1:
        raise InvalidRequest("prompt=none cannot be combined with other values")
    return values


def _max_age(raw: str | None) -> int | None:
    if raw is None:
        return None
    if _ASCII_DIGITS.fullmatch(raw) is None:
        raise InvalidRequest("max_age must be a non-negative integer")
    return int(raw)


def _bounded(params: Mapping[str, str], name: str, limit: int = 512) -> str | None:
    value = params.get(name)
    if value is not None and len(value) > limit:
        raise InvalidRequest(f"{name} is too long")
    return value


def redirect_uri_with(redirect_uri: str, params: Mapping[str, str | None]) -> str:
    """``redirect_uri`` with ``params`` added to its query (RFC 6749 §4.1.2; its own query is kept)."""
    query = urlencode([(k, v) for k, v in params.items() if v is not None])
    separator = "&" if "?" in redirect_uri else "?"
    return f"{redirect_uri}{separator}{query}" if query else redirect_uri


def error_redirect(error: RedirectError, issuer: str) -> str:
    """The error response of RFC 6749 §4.1.2.1, with ``iss`` (RFC 9207 §2)."""
    return redirect_uri_with(
        error.redirect_uri,
        {
            "error": error.error.code,
            "error_description": error.error.description or None,
            "state": error.state,
            "iss": issuer,
        },
    )


__all__ = [
    "OIDC_SCOPES",
    "PROMPTS",
    "AuthorizationRequest",
    "PageError",
    "RedirectError",
    "error_redirect",
    "is_registered_redirect_uri",
    "parse_query",
    "redirect_uri_with",
    "validate_authorization_request",
    "validate_redirect_target",
]
