"""Read the SigV4 claims of a request (AWS SigV4 docs, "Authentication methods").

A request is signed either in the ``Authorization`` header or in a pre-signed query string
(``X-Amz-Algorithm``, ``X-Amz-Credential``, ``X-Amz-Date``, ``X-Amz-Expires``,
``X-Amz-SignedHeaders``, ``X-Amz-Security-Token``, ``X-Amz-Signature``). Parsing checks the
structure only and needs no secret; ``sigv4.verify_signature`` does the rest.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

from tessera.protocols.awssts.errors import IncompleteSignature, MissingAuthenticationToken
from tessera.protocols.awssts.errors import ascii_excerpt as _ascii
from tessera.protocols.awssts.sigv4 import (
    ALGORITHM,
    AMZ_DATE_FORMAT,
    AuthLocation,
    AwsRequest,
    SignedRequestInfo,
    decode_query,
)
from tessera.secret import Secret

_AMZ_DATE = re.compile(r"^\d{8}T\d{6}Z\Z", re.ASCII)
_ACCESS_KEY = re.compile(r"^\w{1,128}\Z", re.ASCII)
_SCOPE_PART = re.compile(r"^[A-Za-z0-9_-]{1,64}\Z")
_HEADER_NAME = re.compile(r"^[a-z0-9!#$%&'*+.^_`|~-]+\Z")
_EXPIRES = re.compile(r"^\d{1,9}\Z", re.ASCII)
_PRESIGN_MARKERS = frozenset({b"X-Amz-Algorithm", b"X-Amz-Credential", b"X-Amz-Signature"})


def parse_authorization(request: AwsRequest) -> SignedRequestInfo:
    """Read the SigV4 claims from the Authorization header or the query string (AWS SigV4 docs)."""
    headers = request.header_values("authorization")
    query = decode_query(request.query)
    in_query = any(name in _PRESIGN_MARKERS for name, _ in query)
    if headers and in_query:
        raise IncompleteSignature(
            "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter or the "
            "Authorization header should be specified"
        )
    if headers:
        return _parse_header_auth(request, headers)
    if in_query:
        return _parse_query_auth(query)
    raise MissingAuthenticationToken("Request is missing Authentication Token")


def _parse_header_auth(request: AwsRequest, values: list[str]) -> SignedRequestInfo:
    if len(values) != 1:
        raise IncompleteSignature("The request must carry exactly one Authorization header")
    algorithm, _, rest = values[0].strip().partition(" ")
    if algorithm != ALGORITHM:
        raise IncompleteSignature(f"Unsupported AWS 'algorithm': '{_ascii(algorithm)}'")
    params = _parse_auth_params(rest)
    missing = [name for name in ("Credential", "SignedHeaders", "Signature") if name not in params]
    if missing:
        raise IncompleteSignature(" ".join(f"Authorization header requires '{name}' parameter." for name in missing))
    timestamp, signed_at = _header_date(request)
    return _build_info(
        AuthLocation.HEADER,
        credential=params["Credential"],
        timestamp=timestamp,
        signed_at=signed_at,
        signed_headers=params["SignedHeaders"],
        signature=params["Signature"],
        token=request.single_header("x-amz-security-token"),
        expires=None,
    )


def _parse_auth_params(text: str) -> dict[str, str]:
    params: dict[str, str] = {}
    for piece in text.split(","):
        name, sep, value = piece.strip().partition("=")
        if not sep or not name:
            raise IncompleteSignature(
                f"'{_ascii(piece.strip())}' not a valid key=value pair (missing equal-sign) in Authorization header"
            )
        if name in params:
            raise IncompleteSignature(f"Authorization header repeats the '{_ascii(name)}' parameter")
        params[name] = value.strip()
    return params


def _header_date(request: AwsRequest) -> tuple[str, float]:
    amz_date = request.single_header("x-amz-date")
    if amz_date is not None:
        return amz_date, _parse_amz_date(amz_date)
    http_date = request.single_header("date")
    if http_date is None:
        raise IncompleteSignature(
            "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header."
        )
    try:
        when = parsedate_to_datetime(http_date)
    except (TypeError, ValueError) as exc:
        raise IncompleteSignature("The Date header is not a valid HTTP date") from exc
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.astimezone(UTC).strftime(AMZ_DATE_FORMAT), when.timestamp()


def _parse_query_auth(query: Sequence[tuple[bytes, bytes]]) -> SignedRequestInfo:
    auth = _query_auth_params(query)
    required = ("X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Signature", "X-Amz-Date", "X-Amz-SignedHeaders")
    if any(name not in auth for name in required):
        raise IncompleteSignature(
            "AWS query-string parameters must include 'X-Amz-Algorithm', 'X-Amz-Credential', "
            "'X-Amz-Signature', 'X-Amz-Date', 'X-Amz-SignedHeaders'. Re-examine the query-string parameters."
        )
    if auth["X-Amz-Algorithm"] != ALGORITHM:
        raise IncompleteSignature(f"Unsupported AWS 'algorithm': '{_ascii(auth['X-Amz-Algorithm'])}'")
    expires = auth.get("X-Amz-Expires")
    if expires is not None and not _EXPIRES.match(expires):
        raise IncompleteSignature("X-Amz-Expires should be a number")
    return _build_info(
        AuthLocation.QUERY,
        credential=auth["X-Amz-Credential"],
        timestamp=auth["X-Amz-Date"],
        signed_at=_parse_amz_date(auth["X-Amz-Date"]),
        signed_headers=auth["X-Amz-SignedHeaders"],
        signature=auth["X-Amz-Signature"],
        token=auth.get("X-Amz-Security-Token"),
        expires=None if expires is None else int(expires),
    )


def _query_auth_params(query: Sequence[tuple[bytes, bytes]]) -> dict[str, str]:
    auth: dict[str, str] = {}
    for raw_name, raw_value in query:
        if not raw_name.startswith(b"X-Amz-"):
            continue
        name, value = _utf8(raw_name), _utf8(raw_value)
        if name in auth:
            raise IncompleteSignature(f"The query string repeats '{_ascii(name)}'")
        auth[name] = value
    return auth


def _build_info(
    location: AuthLocation,
    *,
    credential: str,
    timestamp: str,
    signed_at: float,
    signed_headers: str,
    signature: str,
    token: str | None,
    expires: int | None,
) -> SignedRequestInfo:
    access_key_id, scope_date, region, service, terminator = _parse_credential(credential)
    return SignedRequestInfo(
        location=location,
        access_key_id=access_key_id,
        timestamp=timestamp,
        signed_at=signed_at,
        scope_date=scope_date,
        region=region,
        service=service,
        terminator=terminator,
        signed_headers=_parse_signed_headers(signed_headers),
        signature=signature,
        security_token=None if token is None else Secret(token),
        expires_seconds=expires,
    )


def _parse_credential(credential: str) -> tuple[str, str, str, str, str]:
    parts = credential.split("/")
    if len(parts) != 5:
        raise IncompleteSignature(
            "Credential must have the form <access key id>/<date>/<region>/<service>/aws4_request"
        )
    access_key_id, scope_date, region, service, terminator = parts
    if not _ACCESS_KEY.match(access_key_id):
        raise IncompleteSignature("Credential carries a malformed access key id")
    if not (len(scope_date) == 8 and scope_date.isascii() and scope_date.isdigit()):
        raise IncompleteSignature("Credential scope date must be YYYYMMDD")
    if not (_SCOPE_PART.match(region) and _SCOPE_PART.match(service) and _SCOPE_PART.match(terminator)):
        raise IncompleteSignature("Credential scope has a malformed region, service or terminator")
    return access_key_id, scope_date, region, service, terminator


def _parse_signed_headers(value: str) -> tuple[str, ...]:
    names = tuple(value.split(";"))
    if not all(_HEADER_NAME.match(name) for name in names):
        raise IncompleteSignature("SignedHeaders must list lower-case header names separated by ';'")
    if list(names) != sorted(set(names)):
        raise IncompleteSignature("SignedHeaders must be sorted and must not repeat a name")
    return names


def _parse_amz_date(value: str) -> float:
    if not _AMZ_DATE.match(value):
        raise IncompleteSignature("X-Amz-Date must be in the ISO 8601 basic format YYYYMMDD'T'HHMMSS'Z'")
    try:
        return datetime.strptime(value, AMZ_DATE_FORMAT).replace(tzinfo=UTC).timestamp()
    except ValueError as exc:
        raise IncompleteSignature("X-Amz-Date is not a valid date") from exc


def _utf8(raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise IncompleteSignature("A signature parameter is not valid UTF-8") from exc


__all__ = ["parse_authorization"]
