"""The AWS-STS-compatible Query API of a tenant, and the verification endpoint for resource services.

Answered in front of Starlette, on the lean path like the OAuth token endpoint:

* ``POST /t/{tenant}/sts`` and ``/t/{tenant}/sts/`` (botocore sends the endpoint URL's path as
  it is), and, for the default tenant, ``POST /`` so that an SDK whose ``endpoint_url`` is just the
  host works unchanged; ``GET`` with an ``Action`` query parameter as well (pre-signed URLs);
* ``POST /t/{tenant}/sts/verify``: a resource service (an OAuth client of the tenant,
  authenticated with its client credentials) asks whether a SigV4-signed request it received
  is genuine and allowed.

Responses are the Query protocol's XML (``web.render``) with the ``x-amzn-RequestId`` header.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from starlette.datastructures import State
from starlette.types import ASGIApp, Receive, Scope, Send

from tessera.aws_services import AwsServices
from tessera.compose import Services
from tessera.domain.audit import AuditNotes, AuditUnavailable
from tessera.domain.tenants import DEFAULT_TENANT
from tessera.protocols.awssts.context import StsTenant
from tessera.protocols.awssts.errors import AwsError, InternalFailure, InvalidQueryParameter, ServiceUnavailable
from tessera.protocols.awssts.sigv4 import AwsRequest
from tessera.protocols.awssts.verification import parse_verify_request
from tessera.protocols.oauth2.errors import OAuthError
from tessera.protocols.oauth2.requests import FormParams, is_form_content_type
from tessera.web.http_input import RawRequest
from tessera.web.observability import request_id_of
from tessera.web.render import aws_error_xml, aws_headers, aws_result_xml

log = logging.getLogger("tessera.web")
MAX_STS_BODY = 262_144  # a SAMLAssertion may be 100,000 characters, form-encoded
_JSON = (b"content-type", b"application/json")
_NO_STORE = (b"cache-control", b"no-store")
_NO_FORM = FormParams({}, {})


class UnknownStsEndpoint(AwsError):
    """No tenant with an enabled STS API answers at this path."""

    code = "NotFound"
    status = 404
    fault = "Sender"


Answer = tuple[int, list[tuple[bytes, bytes]], bytes]


def match_sts(scope: Scope) -> tuple[str, str, str] | None:
    """``(tenant, "query" | "verify", route template)`` for the STS paths, else None."""
    path, method = scope["path"], scope["method"]
    if path == "/":
        if method == "POST" or (method == "GET" and b"Action=" in scope.get("query_string", b"")):
            return DEFAULT_TENANT, "query", "/"
        return None
    parts = path.split("/")
    if len(parts) < 4 or parts[0] or parts[1] != "t" or not parts[2] or parts[3] != "sts":
        return None
    rest = parts[4:]
    if rest in ([], [""]):
        return parts[2], "query", "/t/{tenant}/sts/"
    if rest == ["verify"]:
        return parts[2], "verify", "/t/{tenant}/sts/verify"
    return None


def aws_request(scope: Scope, body: bytes) -> AwsRequest:
    """The request as SigV4 needs it: the raw (still percent-encoded) path and query, every header line."""
    raw_path = scope.get("raw_path") or scope["path"].encode("utf-8")
    headers = tuple((name.decode("latin-1"), _header_text(value)) for name, value in scope["headers"])
    return AwsRequest(
        scope["method"],
        raw_path.decode("latin-1"),
        scope.get("query_string", b"").decode("latin-1"),
        headers,
        body,
    )


def _header_text(value: bytes) -> str:
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        return value.decode("latin-1")


class StsEndpoints:
    """ASGI layer answering the STS paths; everything else goes on to ``app``."""

    def __init__(self, app: ASGIApp, state: State) -> None:
        self.app, self.state = app, state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        matched = match_sts(scope) if scope["type"] == "http" else None
        if matched is None:
            await self.app(scope, receive, send)
            return
        tenant_id, kind, template = matched
        scope["route_template"] = template
        services: Services = self.state.services
        request_id = request_id_of(scope)
        raw = RawRequest(scope, receive)
        if kind == "query":
            status, headers, body = await answer_query(services, raw, tenant_id, request_id)
        else:
            status, headers, body = await answer_verify(services, raw, tenant_id, request_id)
        headers = [*headers, (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})


async def _sts_tenant(aws: AwsServices, services: Services, tenant_id: str) -> StsTenant:
    tenant = await services.directory.tenant(tenant_id)
    if tenant is None or not aws.aws_config(tenant.id).enabled:
        raise UnknownStsEndpoint("No STS endpoint answers at this address")
    return aws.tenant_view(tenant)


def _error(exc: AwsError, request_id: str) -> Answer:
    return exc.status, aws_headers(request_id), aws_error_xml(exc, request_id)


async def answer_query(services: Services, raw: RawRequest, tenant_id: str, request_id: str) -> Answer:
    aws = services.aws
    try:
        tenant = await _sts_tenant(aws, services, tenant_id)
    except AwsError as exc:
        return _error(exc, request_id)
    settings = services.settings
    source_ip = raw.source_ip(settings.server.trusted_proxies)
    notes = AuditNotes(services.audit, services.clock.now(), tenant.id, source_ip, request_id)
    try:
        body = await _read_body(raw, max(settings.server.max_body_bytes, MAX_STS_BODY))
        http = aws_request(raw.scope, body)
        result = await aws.endpoint.answer(
            tenant, http, notes, source_ip=source_ip, secure=raw.scope.get("scheme") == "https"
        )
        answer: Answer = (200, aws_headers(request_id), aws_result_xml(result, request_id))
    except AwsError as exc:
        if exc.status >= 500:
            log.error("sts request failed: %s", exc.detail or exc.code, extra={"request_id": request_id})
        answer = _error(exc, request_id)
    except Exception:
        log.exception("unexpected error at the STS endpoint", extra={"request_id": request_id})
        answer = _error(InternalFailure("We encountered an internal error. Please try again."), request_id)
    try:
        await notes.flush()
    except AuditUnavailable:
        return _error(ServiceUnavailable("The audit trail is unavailable; try again later."), request_id)
    return answer


async def _read_body(raw: RawRequest, limit: int) -> bytes:
    try:
        body = await raw.body(limit)
    except OAuthError as exc:  # too large, bad Content-Length, client gone
        raise InvalidQueryParameter(exc.description or "The request body cannot be read") from None
    if body and raw.method == "POST" and not is_form_content_type(raw.headers.get("content-type")):
        raise InvalidQueryParameter("The body must be application/x-www-form-urlencoded")
    return body


def _json_answer(status: int, document: dict[str, Any], extra: list[tuple[bytes, bytes]] | None = None) -> Answer:
    body = json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    return status, [_JSON, _NO_STORE, *(extra or [])], body


async def answer_verify(services: Services, raw: RawRequest, tenant_id: str, request_id: str) -> Answer:
    if raw.method != "POST":
        return _json_answer(405, {"error": "method_not_allowed"}, [(b"allow", b"POST")])
    aws = services.aws
    try:
        tenant = await _sts_tenant(aws, services, tenant_id)
    except AwsError as exc:
        return _json_answer(exc.status, {"error": exc.code, "message": exc.description})
    settings = services.settings
    notes = AuditNotes(
        services.audit, services.clock.now(), tenant.id, raw.source_ip(settings.server.trusted_proxies), request_id
    )
    answer = await _verify(aws, raw, tenant, notes, settings.server.max_body_bytes)
    try:
        await notes.flush()
    except AuditUnavailable:
        return _json_answer(503, {"error": "temporarily_unavailable"})
    return answer


async def _verify(aws: AwsServices, raw: RawRequest, tenant: StsTenant, notes: AuditNotes, limit: int) -> Answer:
    verify_url = f"{tenant.issuer}/sts/verify"
    try:
        client = await aws.authenticator.authenticate(
            tenant.id,
            frozenset({tenant.issuer, verify_url}),
            raw.headers.get("authorization"),
            _NO_FORM,
            notes,
            notes.now,
        )
    except OAuthError as exc:
        challenge = [(b"www-authenticate", b'Basic realm="tessera", charset="UTF-8"')]
        return _json_answer(exc.status, {"error": exc.code, "error_description": exc.description}, challenge)
    try:
        document = json.loads(await raw.body(limit))
        verify = parse_verify_request(document)
    except (ValueError, OAuthError, AwsError) as exc:
        message = exc.description if isinstance(exc, AwsError | OAuthError) else "The body is not JSON"
        return _json_answer(400, {"error": "ValidationError", "message": message})
    try:
        verdict = await aws.verifier.verify(tenant, verify, notes, client.client_id)
    except Exception:
        log.exception("unexpected error at the STS verification endpoint", extra={"request_id": notes.request_id})
        return _json_answer(500, {"error": "InternalFailure", "request_id": notes.request_id})
    return _json_answer(200, verdict)


__all__ = ["StsEndpoints", "UnknownStsEndpoint", "aws_request", "match_sts"]
