"""Client authentication at the token, introspection and revocation endpoints.

RFC 6749 §2.3.1 (client_secret_basic, client_secret_post), RFC 7523 §2.2 and §3 with OIDC Core §9
(private_key_jwt, one-time ``jti``), RFC 6749 §2.3 (exactly one method per request).
"""

from __future__ import annotations

import base64
import binascii
import warnings
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import unquote_plus

from joserfc import jwt
from joserfc.errors import JoseError, SecurityWarning
from joserfc.jwk import KeySet

from tessera.domain.audit import AuditAction, AuditNotes
from tessera.domain.clients import Client
from tessera.domain.jws import MalformedJws, split_compact
from tessera.protocols.oauth2.errors import InvalidClient, InvalidRequest
from tessera.protocols.oauth2.requests import FormParams
from tessera.secret import Secret
from tessera.settings import ClientConfig

JWT_BEARER_ASSERTION = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
ASSERTION_ALGORITHMS = [
    "ES256",
    "ES384",
    "ES512",
    "RS256",
    "RS384",
    "RS512",
    "PS256",
    "PS384",
    "PS512",
    "EdDSA",
    "Ed25519",
]
METHODS = ("client_secret_basic", "client_secret_post", "private_key_jwt")


@dataclass(frozen=True, slots=True)
class ClientAuthentication:
    """What the request presented to identify its client."""

    method: str
    client_id: str
    secret: Secret[str] | None = None
    assertion: Secret[str] | None = None


def extract_client_authentication(authorization: str | None, form: FormParams) -> ClientAuthentication:
    """Find the one authentication method the request uses; raise on none-but-required or several."""
    presented: list[ClientAuthentication] = []
    if authorization:
        scheme, _, credentials = authorization.partition(" ")
        if scheme.lower() == "basic":
            presented.append(_parse_basic(credentials.strip()))
    secret = form.get("client_secret")
    assertion_type = form.get("client_assertion_type")
    assertion = form.get("client_assertion")
    form_client_id = form.get("client_id")
    if secret is not None:
        if form_client_id is None:
            raise InvalidRequest("client_secret without client_id")
        presented.append(ClientAuthentication("client_secret_post", form_client_id, secret=Secret(secret)))
    if assertion is not None or assertion_type is not None:
        presented.append(_parse_assertion(assertion_type, assertion, form_client_id))
    if len(presented) > 1:
        raise InvalidRequest("the request uses more than one client authentication method (RFC 6749 2.3)")
    if presented:
        auth = presented[0]
        if form_client_id is not None and form_client_id != auth.client_id:
            raise InvalidRequest("client_id does not match the authenticated client")
        return auth
    if form_client_id is not None:
        return ClientAuthentication("none", form_client_id)
    raise InvalidClient("client authentication is required", reason="no_credentials")


def _parse_basic(credentials: str) -> ClientAuthentication:
    try:
        decoded = base64.b64decode(credentials, validate=True).decode("utf-8")
        raw_id, colon, raw_secret = decoded.partition(":")
        client_id, secret = _form_decode(raw_id), _form_decode(raw_secret)
    except (binascii.Error, ValueError):  # UnicodeDecodeError is a ValueError
        raise InvalidClient("malformed Basic credentials", reason="malformed_credentials") from None
    if not colon or not raw_id:
        raise InvalidClient("malformed Basic credentials", reason="malformed_credentials")
    return ClientAuthentication("client_secret_basic", client_id, secret=Secret(secret))


def _form_decode(text: str) -> str:
    """RFC 6749 §2.3.1: Basic credentials are form-urlencoded before base64 (strict UTF-8, like the body)."""
    return unquote_plus(text, errors="strict") if "%" in text or "+" in text else text


def _parse_assertion(
    assertion_type: str | None, assertion: str | None, form_client_id: str | None
) -> ClientAuthentication:
    if assertion_type != JWT_BEARER_ASSERTION:
        raise InvalidRequest("client_assertion_type must be " + JWT_BEARER_ASSERTION)
    if not assertion:
        raise InvalidRequest("missing parameter: client_assertion")
    try:
        _header, claims, _input, _signature = split_compact(assertion)  # read sub; verified later
    except MalformedJws:
        raise InvalidClient("the client assertion is not a JWT", reason="bad_assertion") from None
    subject = claims.get("sub")
    if not isinstance(subject, str) or not subject:
        raise InvalidClient("the client assertion has no sub", reason="bad_assertion")
    return ClientAuthentication("private_key_jwt", subject, assertion=Secret(assertion))


class ClientLookup(Protocol):
    async def client(self, tenant_id: str, client_id: str) -> Client | None: ...


RememberOnce = Callable[[str, str, float], Awaitable[bool]]
"""``(tenant_id, key, expires_at) -> first time seen?`` (the replay store)."""


@dataclass(frozen=True, slots=True)
class AssertionPolicy:
    """What a private_key_jwt assertion must look like (RFC 7523 §3)."""

    audiences: frozenset[str]
    max_lifetime: float = 300.0
    clock_skew: float = 30.0


async def authenticate_client(
    auth: ClientAuthentication,
    tenant_id: str,
    clients: ClientLookup,
    remember_once: RememberOnce,
    policy: AssertionPolicy,
    now: float,
) -> Client:
    """The authenticated, enabled client, or ``InvalidClient`` with a stable ``reason``."""
    client = await clients.client(tenant_id, auth.client_id)
    if client is None:
        if auth.secret is not None:
            Client(tenant_id, _PLACEHOLDER).has_secret(auth.secret)  # same work as a wrong secret
        raise InvalidClient("client authentication failed", reason="unknown_client")
    if not client.is_enabled:
        raise InvalidClient("client authentication failed", reason="disabled")
    if not client.allows_auth_method(auth.method):
        raise InvalidClient("client authentication failed", reason="method_not_allowed")
    if auth.method in ("client_secret_basic", "client_secret_post"):
        assert auth.secret is not None
        if not client.has_secret(auth.secret):
            raise InvalidClient("client authentication failed", reason="bad_secret")
    elif auth.method == "private_key_jwt":
        assert auth.assertion is not None
        claims = _verify_assertion(auth.assertion, client, policy, now)
        # Remembered for as long as the assertion is accepted: exp plus the allowed clock skew.
        until = float(claims["exp"]) + policy.clock_skew
        first_use = await remember_once(tenant_id, f"{client.client_id}:{claims['jti']}", until)
        if not first_use:
            raise InvalidClient("client authentication failed", reason="assertion_replayed")
    return client


def _verify_assertion(assertion: Secret[str], client: Client, policy: AssertionPolicy, now: float) -> dict[str, Any]:
    if not client.spec.jwks:
        raise InvalidClient("client authentication failed", reason="no_client_keys")
    try:
        keys = KeySet.import_key_set(client.spec.jwks)  # type: ignore[arg-type]
        with warnings.catch_warnings():  # "EdDSA" is deprecated by RFC 9864 but still what clients send
            warnings.filterwarnings("ignore", message="EdDSA is deprecated", category=SecurityWarning)
            token = jwt.decode(assertion.reveal(), keys, algorithms=ASSERTION_ALGORITHMS)
    except (JoseError, ValueError, TypeError):
        raise InvalidClient("client authentication failed", reason="bad_assertion") from None
    claims: dict[str, Any] = dict(token.claims)
    _check_assertion_claims(claims, client.client_id, policy, now)
    return claims


def _check_assertion_claims(claims: dict[str, Any], client_id: str, policy: AssertionPolicy, now: float) -> None:
    def fail(why: str) -> InvalidClient:
        return InvalidClient("client authentication failed", reason="bad_assertion", detail=why)

    if claims.get("iss") != client_id or claims.get("sub") != client_id:
        raise fail("iss and sub must be the client_id")
    audience = claims.get("aud")
    audiences = {audience} if isinstance(audience, str) else set(audience) if isinstance(audience, list) else set()
    if not audiences & policy.audiences:
        raise fail("aud is neither the token endpoint nor the issuer")
    exp, jti = claims.get("exp"), claims.get("jti")
    if not isinstance(exp, int | float) or exp + policy.clock_skew <= now:
        raise fail("missing or past exp")
    if exp - now > policy.max_lifetime + policy.clock_skew:
        raise fail("exp too far in the future")
    nbf, iat = claims.get("nbf"), claims.get("iat")
    if isinstance(nbf, int | float) and nbf - policy.clock_skew > now:
        raise fail("not yet valid")
    if isinstance(iat, int | float) and iat - policy.clock_skew > now:
        raise fail("issued in the future")
    if not isinstance(jti, str) or not jti or len(jti) > 256:
        raise fail("missing jti")


_PLACEHOLDER = ClientConfig(client_id="unknown")


class ClientAuthenticator:
    """Authenticates the client of a request and notes the outcome in the audit trail."""

    def __init__(self, clients: ClientLookup, remember_once: RememberOnce, max_lifetime: float, skew: float) -> None:
        self._clients, self._remember_once = clients, remember_once
        self._max_lifetime, self._skew = max_lifetime, skew

    async def authenticate(
        self,
        tenant_id: str,
        audiences: frozenset[str],
        authorization: str | None,
        form: FormParams,
        notes: AuditNotes,
        now: float,
    ) -> Client:
        try:
            auth = extract_client_authentication(authorization, form)
        except InvalidClient as exc:
            notes.note(AuditAction.CLIENT_AUTHENTICATE, "failure", reason=exc.reason)
            raise
        policy = AssertionPolicy(audiences, self._max_lifetime, self._skew)
        try:
            client = await authenticate_client(auth, tenant_id, self._clients, self._remember_once, policy, now)
        except InvalidClient as exc:
            notes.note(
                AuditAction.CLIENT_AUTHENTICATE,
                "failure",
                client_id=_printable(auth.client_id),
                reason=exc.reason,
                details={"method": auth.method},
            )
            raise
        notes.note(
            AuditAction.CLIENT_AUTHENTICATE,
            "success",
            client_id=client.client_id,
            details={"method": auth.method},
        )
        return client


def _printable(client_id: str) -> str:
    return client_id.encode("ascii", "replace").decode()[:128]


__all__ = [
    "ASSERTION_ALGORITHMS",
    "JWT_BEARER_ASSERTION",
    "METHODS",
    "AssertionPolicy",
    "ClientAuthentication",
    "ClientAuthenticator",
    "ClientLookup",
    "RememberOnce",
    "authenticate_client",
    "extract_client_authentication",
]
