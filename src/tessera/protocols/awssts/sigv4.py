"""Verify AWS Signature Version 4, server side (AWS SigV4 docs, "Elements of an AWS API request signature").

Two steps, so that the caller can find the secret between them without this module knowing
about storage::

    info = parse_authorization(request)              # sigv4_authorization: structure only
    secret = lookup(info.access_key_id) or open_session(info.security_token, ...)
    verify_signature(info, request, secret, now)      # raises, or returns ``info``

The canonicalisation follows the AWS SigV4 docs ("Create a canonical request") as botocore
implements it for every service but S3: the path is normalised (RFC 3986 section 5.2.4 dot
segments, empty segments dropped) and then URI-encoded once more, which is the "encode twice"
rule applied to the path as it arrived on the wire. The query string is decoded (``+`` read as
a space, as the Query protocol reads parameters) and re-encoded with the unreserved set
``A-Z a-z 0-9 - _ . ~``, then sorted by encoded name and value. Header values are trimmed, runs
of whitespace collapse to one space, and repeated headers join with ``,``. The payload hash is
the SHA-256 of the body; an ``x-amz-content-sha256`` header must equal it (``UNSIGNED-PAYLOAD``
only when the caller allows it), which is also what non-S3 pre-signed URLs sign.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from urllib.parse import quote, unquote_to_bytes

from tessera.protocols.awssts.errors import IncompleteSignature, RequestExpired, SignatureDoesNotMatch
from tessera.secret import Secret

ALGORITHM = "AWS4-HMAC-SHA256"
TERMINATOR = "aws4_request"
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
AMZ_DATE_FORMAT = "%Y%m%dT%H%M%SZ"

_HEX_SIGNATURE = re.compile(r"^[0-9a-f]{64}\Z")
_MISMATCH = (
    "The request signature we calculated does not match the signature you provided. Check your AWS "
    "Secret Access Key and signing method. Consult the service documentation for details."
)


class AuthLocation(StrEnum):
    """Where the signature travelled: the Authorization header or a pre-signed query string."""

    HEADER = "header"
    QUERY = "query"


@dataclass(frozen=True, slots=True)
class AwsRequest:
    """An HTTP request as it arrived: ``path`` and ``query`` still percent-encoded (ASGI ``raw_path``).

    ``headers`` keeps every header line in order, repeated names included; values are text
    (Tessera hashes the canonical request as UTF-8, as botocore does).
    """

    method: str
    path: str
    query: str = ""
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""

    def header_values(self, name: str) -> list[str]:
        """All values of header ``name`` (case-insensitive), in arrival order."""
        wanted = name.lower()
        return [value for key, value in self.headers if key.lower() == wanted]

    def single_header(self, name: str) -> str | None:
        """The one value of header ``name``, stripped; ``IncompleteSignature`` if it is repeated."""
        values = self.header_values(name)
        if len(values) > 1:
            raise IncompleteSignature(f"The request repeats the {name} header")
        return values[0].strip() if values else None


@dataclass(frozen=True, slots=True)
class SigV4Limits:
    """How far a signature's time may drift (AWS "Common Errors": RequestExpired, 15 minutes)."""

    max_skew_seconds: float = 900.0
    max_presign_expires_seconds: int = 604_800


_DEFAULT_LIMITS = SigV4Limits()


@dataclass(frozen=True, slots=True)
class SignedRequestInfo:
    """What a SigV4 request claims about itself, before the signature is checked."""

    location: AuthLocation
    access_key_id: str
    timestamp: str
    signed_at: float
    scope_date: str
    region: str
    service: str
    terminator: str
    signed_headers: tuple[str, ...]
    signature: str
    security_token: Secret[str] | None = None
    expires_seconds: int | None = None

    @property
    def credential_scope(self) -> str:
        """``date/region/service/aws4_request`` (AWS SigV4 docs, "Create a string to sign")."""
        return f"{self.scope_date}/{self.region}/{self.service}/{self.terminator}"

    @property
    def is_presigned(self) -> bool:
        return self.location is AuthLocation.QUERY


# --- Verification ---------------------------------------------------------------------------


def verify_signature(
    info: SignedRequestInfo,
    request: AwsRequest,
    secret_access_key: Secret[str],
    now: float,
    *,
    service: str = "sts",
    limits: SigV4Limits = _DEFAULT_LIMITS,
    allow_unsigned_payload: bool = False,
    payload_hash: str | None = None,
) -> SignedRequestInfo:
    """Check scope, time and signature (AWS SigV4 docs, "Calculate the signature"); return ``info``.

    Any region is accepted; the caller reads it from ``info.region``. ``payload_hash`` is the
    body's SHA-256 (hex) when the caller has the hash instead of the body (a resource service
    forwarding a request to be verified); ``request.body`` is then ignored.
    """
    check_credential_scope(info, service=service)
    check_request_time(info, now, limits=limits)
    if payload_hash is None:
        payload_hash = _payload_hash(request, allow_unsigned_payload=allow_unsigned_payload)
    else:
        payload_hash = _declared_payload_hash(request, payload_hash, allow_unsigned_payload=allow_unsigned_payload)
    creq = canonical_request(request, info, payload_hash)
    key = derive_signing_key(secret_access_key, info.scope_date, info.region, info.service)
    expected = calculate_signature(key, string_to_sign(info, creq))
    provided = info.signature if _HEX_SIGNATURE.match(info.signature) else ""
    if not hmac.compare_digest(expected.encode(), provided.encode()):
        digest = hashlib.sha256(creq.encode()).hexdigest()
        raise SignatureDoesNotMatch(_MISMATCH, detail=f"canonical request sha256 {digest}")
    return info


def check_credential_scope(info: SignedRequestInfo, *, service: str = "sts") -> None:
    """Check the credential scope and that ``host`` is signed (AWS SigV4 docs, "Credential scope")."""
    if info.terminator != TERMINATOR:
        raise SignatureDoesNotMatch(
            f"Credential should be scoped with a valid terminator: 'aws4_request', not '{info.terminator}'."
        )
    if info.service != service:
        raise SignatureDoesNotMatch(f"Credential should be scoped to correct service: '{service}'.")
    if info.scope_date != info.timestamp[:8]:
        raise SignatureDoesNotMatch(
            "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: "
            f"'{info.scope_date}' != '{info.timestamp[:8]}', from '{info.timestamp}'."
        )
    if "host" not in info.signed_headers:
        raise SignatureDoesNotMatch("'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.")


def check_request_time(info: SignedRequestInfo, now: float, *, limits: SigV4Limits = _DEFAULT_LIMITS) -> None:
    """Refuse stale, future or expired signatures (AWS "Common Errors": RequestExpired)."""
    skew = limits.max_skew_seconds
    minutes = f"{skew / 60:g} min."
    if info.signed_at > now + skew:
        raise RequestExpired(
            f"Signature not yet current: {info.timestamp} is still later than "
            f"{_amz_date(now + skew)} ({_amz_date(now)} + {minutes})"
        )
    if info.expires_seconds is None:
        if info.signed_at < now - skew:
            raise RequestExpired(
                f"Signature expired: {info.timestamp} is now earlier than "
                f"{_amz_date(now - skew)} ({_amz_date(now)} - {minutes})"
            )
        return
    if not 1 <= info.expires_seconds <= limits.max_presign_expires_seconds:
        raise IncompleteSignature(f"X-Amz-Expires must be between 1 and {limits.max_presign_expires_seconds} seconds")
    if now > info.signed_at + info.expires_seconds:
        raise RequestExpired("Request has expired")


def _payload_hash(request: AwsRequest, *, allow_unsigned_payload: bool) -> str:
    actual = hashlib.sha256(request.body).hexdigest()
    declared = request.single_header("x-amz-content-sha256")
    if declared is None:
        return actual
    if declared == UNSIGNED_PAYLOAD and allow_unsigned_payload:
        return declared
    if declared != actual:
        raise SignatureDoesNotMatch("The provided 'x-amz-content-sha256' header does not match what was computed.")
    return declared


def _declared_payload_hash(request: AwsRequest, actual: str, *, allow_unsigned_payload: bool) -> str:
    declared = request.single_header("x-amz-content-sha256")
    if declared is None or declared == actual or (declared == UNSIGNED_PAYLOAD and allow_unsigned_payload):
        return declared or actual
    raise SignatureDoesNotMatch("The provided 'x-amz-content-sha256' header does not match what was computed.")


# --- Canonicalisation -------------------------------------------------------------------------


def canonical_request(request: AwsRequest, info: SignedRequestInfo, payload_hash: str) -> str:
    """Build the SigV4 canonical request (AWS SigV4 docs, "Create a canonical request")."""
    exclude = (b"X-Amz-Signature",) if info.is_presigned else ()
    return "\n".join(
        (
            request.method,
            canonical_uri(request.path),
            canonical_query_string(request.query, exclude=exclude),
            canonical_headers(request, info.signed_headers),
            ";".join(info.signed_headers),
            payload_hash,
        )
    )


def canonical_uri(raw_path: str) -> str:
    """Normalise then URI-encode the wire path once more (AWS SigV4 docs, "CanonicalURI")."""
    return quote(_remove_dot_segments(raw_path or "/"), safe="/")


def _remove_dot_segments(path: str) -> str:
    output: list[str] = []
    for segment in path.split("/"):
        if segment in ("", "."):
            continue
        if segment == "..":
            if output:
                output.pop()
            continue
        output.append(segment)
    leading = "/" if path.startswith("/") else ""
    trailing = "/" if path.endswith("/") and output else ""
    return leading + "/".join(output) + trailing


def canonical_query_string(raw_query: str, *, exclude: Sequence[bytes] = ()) -> str:
    """Decode, re-encode and sort the query parameters (AWS SigV4 docs, "CanonicalQueryString")."""
    pairs = [(_uri_encode(name), _uri_encode(value)) for name, value in decode_query(raw_query) if name not in exclude]
    return "&".join(f"{name}={value}" for name, value in sorted(pairs))


def canonical_headers(request: AwsRequest, signed_headers: Sequence[str]) -> str:
    """``name:value\\n`` for each signed header (AWS SigV4 docs, "CanonicalHeaders")."""
    lines = []
    for name in signed_headers:
        values = request.header_values(name)
        if not values:
            raise SignatureDoesNotMatch(_MISMATCH, detail=f"signed header {name!r} is absent")
        lines.append(f"{name}:{','.join(' '.join(value.split()) for value in values)}\n")
    return "".join(lines)


def decode_query(raw_query: str) -> list[tuple[bytes, bytes]]:
    """The query as decoded (name, value) byte pairs, ``+`` read as a space; empty pieces dropped."""
    pairs = []
    for piece in raw_query.split("&"):
        if piece:
            name, _, value = piece.partition("=")
            pairs.append((_form_decode(name), _form_decode(value)))
    return pairs


def _form_decode(text: str) -> bytes:
    return unquote_to_bytes(text.replace("+", " "))


def _uri_encode(raw: bytes) -> str:
    return quote(raw, safe="")


# --- Signing key and signature ---------------------------------------------------------------


def string_to_sign(info: SignedRequestInfo, canonical: str) -> str:
    """Build the string to sign (AWS SigV4 docs, "Create a string to sign")."""
    digest = hashlib.sha256(canonical.encode("utf-8")).hexdigest()
    return "\n".join((ALGORITHM, info.timestamp, info.credential_scope, digest))


def derive_signing_key(secret_access_key: Secret[str], date: str, region: str, service: str) -> bytes:
    """Derive the signing key by the HMAC chain (AWS SigV4 docs, "Derive a signing key"), cached."""
    return _cached_signing_key(secret_access_key.reveal(), date, region, service)


@functools.lru_cache(maxsize=1024)
def _cached_signing_key(secret: str, date: str, region: str, service: str) -> bytes:
    key = ("AWS4" + secret).encode("utf-8")
    for part in (date, region, service, TERMINATOR):
        key = hmac.new(key, part.encode("utf-8"), hashlib.sha256).digest()
    return key


def calculate_signature(signing_key: bytes, text: str) -> str:
    """Hex HMAC-SHA256 of the string to sign (AWS SigV4 docs, "Calculate the signature")."""
    return hmac.new(signing_key, text.encode("utf-8"), hashlib.sha256).hexdigest()


# --- Small helpers ----------------------------------------------------------------------------


def _amz_date(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, tz=UTC).strftime(AMZ_DATE_FORMAT)


__all__ = [
    "ALGORITHM",
    "AMZ_DATE_FORMAT",
    "EMPTY_SHA256",
    "TERMINATOR",
    "UNSIGNED_PAYLOAD",
    "AuthLocation",
    "AwsRequest",
    "SigV4Limits",
    "SignedRequestInfo",
    "calculate_signature",
    "canonical_headers",
    "canonical_query_string",
    "canonical_request",
    "canonical_uri",
    "check_credential_scope",
    "check_request_time",
    "decode_query",
    "derive_signing_key",
    "string_to_sign",
    "verify_signature",
]
