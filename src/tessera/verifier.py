"""Check SigV4-signed requests made with Tessera credentials, from a resource service (standard library only).

A service that receives a request signed by an AWS SDK with credentials from Tessera (a
long-term ``AKIA`` key or temporary ``ASIA`` credentials from AssumeRole*) asks its Tessera
tenant whether the signature is genuine, who signed, and whether that principal may perform
``action`` on ``resource``::

    from tessera.verifier import verify_request

    verification = verify_request(
        "POST", "https://reports.example.com/reports?year=2025", request_headers, body,
        action="reports:Create", resource="arn:aws:reports:::report/2025",
        endpoint="https://sts.example.com/t/default", client_id="reports", client_secret=SECRET,
    )
    if not verification.authenticated:
        ...  # answer 403 with verification.error_code
    elif not verification.allowed:
        ...  # answer 403; verification.encoded_message can be decoded with DecodeAuthorizationMessage
    else:
        verification.principal.arn, verification.principal.session_tags  # who, and their tags

``url`` must be the URL as the client addressed it (scheme, host and port as in the signed
``Host`` header, the path and query string still percent-encoded) and ``headers`` every header
the client sent. The service authenticates to Tessera as one of the tenant's OAuth clients.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import urllib.error
import urllib.request
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlsplit

Headers = Mapping[str, str] | Iterable[tuple[str, str]]


class VerifierError(Exception):
    """Tessera could not be asked (unreachable, wrong client credentials, malformed answer)."""


@dataclass(frozen=True, slots=True)
class Principal:
    arn: str
    account: str
    type: str  # "User" (long-term key or GetSessionToken) or "AssumedRole"
    user_id: str
    access_key_id: str
    role_arn: str | None = None
    session_tags: Mapping[str, str] = field(default_factory=dict)
    source_identity: str | None = None
    mfa_authenticated: bool = False


@dataclass(frozen=True, slots=True)
class Verification:
    """The verdict: ``authenticated`` (signature and credentials valid) and ``allowed`` (policies allow)."""

    authenticated: bool
    allowed: bool = False
    principal: Principal | None = None
    reason: str = ""  # allowed, explicit_deny, implicit_deny; or the AWS error code of the signature
    error_code: str | None = None
    error_message: str | None = None
    encoded_message: str | None = None
    raw: Mapping[str, Any] = field(default_factory=dict)


def verification_document(
    method: str,
    url: str,
    headers: Headers,
    body: bytes,
    *,
    action: str,
    resource: str = "*",
    service: str = "execute-api",
    source_ip: str | None = None,
    context: Mapping[str, str | list[str]] | None = None,
) -> dict[str, Any]:
    """The JSON body of ``POST <endpoint>/sts/verify`` for one incoming request."""
    parts = urlsplit(url)
    pairs = list(headers.items()) if isinstance(headers, Mapping) else list(headers)
    if not any(name.lower() == "host" for name, _ in pairs) and parts.netloc:
        pairs.append(("host", parts.netloc))  # HTTP clients add it on the wire; SigV4 signs it
    document: dict[str, Any] = {
        "method": method.upper(),
        "path": parts.path or "/",
        "query": parts.query,
        "headers": [[str(name), str(value)] for name, value in pairs],
        "body_sha256": hashlib.sha256(body).hexdigest(),
        "service": service,
        "action": action,
        "resource": resource,
    }
    if source_ip:
        document["source_ip"] = source_ip
    if context:
        document["context"] = dict(context)
    return document


def verify_request(
    method: str,
    url: str,
    headers: Headers,
    body: bytes = b"",
    *,
    action: str,
    resource: str = "*",
    endpoint: str,
    client_id: str,
    client_secret: str,
    service: str = "execute-api",
    source_ip: str | None = None,
    context: Mapping[str, str | list[str]] | None = None,
    timeout: float = 5.0,
) -> Verification:
    """Ask Tessera (``endpoint`` = the tenant's issuer URL) to verify a request; see the module docstring."""
    document = verification_document(
        method,
        url,
        headers,
        body,
        action=action,
        resource=resource,
        service=service,
        source_ip=source_ip,
        context=context,
    )
    answer = _post(f"{endpoint.rstrip('/')}/sts/verify", document, client_id, client_secret, timeout)
    return parse_verification(answer)


async def verify_request_async(*args: Any, **kwargs: Any) -> Verification:
    """``verify_request`` in a worker thread, for asyncio services."""
    return await asyncio.to_thread(verify_request, *args, **kwargs)


def parse_verification(answer: Mapping[str, Any]) -> Verification:
    if not answer.get("authenticated"):
        error = answer.get("error") or {}
        return Verification(
            authenticated=False,
            reason=str(error.get("code", "")),
            error_code=error.get("code"),
            error_message=error.get("message"),
            raw=answer,
        )
    principal = answer.get("principal") or {}
    decision = answer.get("decision") or {}
    return Verification(
        authenticated=True,
        allowed=bool(decision.get("allowed")),
        principal=Principal(
            arn=principal.get("arn", ""),
            account=principal.get("account", ""),
            type=principal.get("type", ""),
            user_id=principal.get("user_id", ""),
            access_key_id=principal.get("access_key_id", ""),
            role_arn=principal.get("role_arn"),
            session_tags=dict(principal.get("session_tags") or {}),
            source_identity=principal.get("source_identity"),
            mfa_authenticated=bool(principal.get("mfa_authenticated")),
        ),
        reason=str(decision.get("reason", "")),
        encoded_message=decision.get("encoded_message"),
        raw=answer,
    )


def _post(url: str, document: dict[str, Any], client_id: str, client_secret: str, timeout: float) -> dict[str, Any]:
    credentials = f"{quote(client_id, safe='')}:{quote(client_secret, safe='')}".encode()
    request = urllib.request.Request(  # noqa: S310 - the endpoint is the operator's Tessera URL
        url,
        data=json.dumps(document).encode(),
        headers={
            "content-type": "application/json",
            "authorization": "Basic " + base64.b64encode(credentials).decode(),
        },
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            answer = json.loads(response.read())
    except urllib.error.HTTPError as exc:
        raise VerifierError(f"Tessera answered {exc.code} to the verification request") from None
    except (urllib.error.URLError, TimeoutError, ValueError) as exc:
        raise VerifierError(f"Tessera could not be asked: {exc}") from None
    if not isinstance(answer, dict):
        raise VerifierError("Tessera's answer is not a JSON object")
    return answer


__all__ = [
    "Principal",
    "Verification",
    "VerifierError",
    "parse_verification",
    "verification_document",
    "verify_request",
    "verify_request_async",
]
