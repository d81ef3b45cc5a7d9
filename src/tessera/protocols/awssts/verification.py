"""Verify a SigV4-signed request on behalf of a resource service, and decide an action on a resource.

A service that accepts requests signed with Tessera credentials (long-term keys or temporary
credentials from AssumeRole*) forwards the request's method, raw path, raw query string,
headers and body hash; Tessera checks the signature exactly as it checks its own STS requests
(scope: the service's signing name), then evaluates the caller's policies for ``action`` on
``resource`` with the request's condition keys (``aws:SourceIp`` as the service saw it,
``aws:PrincipalTag/*``, ``aws:MultiFactorAuthPresent``, ...) plus any ``context`` keys the
service adds (for example ``aws:ResourceTag/...``).

Why not verify locally: temporary credentials are self-contained, but the session-token keys
are symmetric: whoever can open a session token can also mint one. Handing them to services
would make every service an STS. The verification call is one round trip without a database
read on Tessera's side.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from tessera.domain.audit import AuditAction, AuditNotes
from tessera.protocols.awssts.authorization import caller_permissions
from tessera.protocols.awssts.authorization_message import describe_decision, encode_message
from tessera.protocols.awssts.callers import Caller, authenticate
from tessera.protocols.awssts.context import DEFAULT_LIMITS, StsDirectory, StsTenant
from tessera.protocols.awssts.errors import AwsError, ValidationError, ascii_excerpt
from tessera.protocols.awssts.policy_evaluation import RequestContext
from tessera.protocols.awssts.policy_matching import ContextValue
from tessera.protocols.awssts.responses import iso8601
from tessera.protocols.awssts.sigv4 import AwsRequest, SigV4Limits

_HEX64 = re.compile(r"^[0-9a-f]{64}\Z")
_SERVICE = re.compile(r"^[a-z0-9-]{1,64}\Z")
_ACTION = re.compile(r"^[A-Za-z0-9-]+:[A-Za-z0-9*?_.-]+\Z")
MAX_HEADERS = 100


@dataclass(frozen=True, slots=True)
class VerifyRequest:
    """What a resource service forwards (the JSON body of ``POST /t/<tenant>/sts/verify``)."""

    request: AwsRequest
    body_sha256: str
    service: str
    action: str
    resource: str = "*"
    source_ip: str | None = None
    context: Mapping[str, ContextValue] = field(default_factory=dict)


def parse_verify_request(document: Any) -> VerifyRequest:
    """Validate the JSON document; ``ValidationError`` names the first problem."""
    if not isinstance(document, dict):
        raise ValidationError("The body must be a JSON object")
    method = _required(document, "method")
    path = _required(document, "path")
    query = _string(document, "query") or ""
    headers = document.get("headers")
    if not isinstance(headers, list) or len(headers) > MAX_HEADERS:
        raise ValidationError("headers must be a list of [name, value] pairs (at most 100)")
    pairs = []
    for item in headers:
        if not (isinstance(item, list) and len(item) == 2 and all(isinstance(v, str) for v in item)):
            raise ValidationError("headers must be a list of [name, value] pairs")
        pairs.append((item[0], item[1]))
    body_sha256 = _required(document, "body_sha256").lower()
    if not _HEX64.match(body_sha256):
        raise ValidationError("body_sha256 must be the hex SHA-256 of the request body")
    service = _required(document, "service")
    action = _required(document, "action")
    if not _SERVICE.match(service) or not _ACTION.match(action):
        raise ValidationError("service must be a signing name (e.g. execute-api) and action service:Action")
    context = document.get("context") or {}
    if not isinstance(context, dict) or not all(_is_context_value(v) for v in context.values()):
        raise ValidationError("context must map condition keys to strings or lists of strings")
    return VerifyRequest(
        request=AwsRequest(method.upper(), path, query, tuple(pairs), b""),
        body_sha256=body_sha256,
        service=service,
        action=action,
        resource=_string(document, "resource") or "*",
        source_ip=_string(document, "source_ip"),
        context={str(k): v if isinstance(v, str) else tuple(v) for k, v in context.items()},
    )


def _string(document: dict[str, Any], name: str) -> str | None:
    value = document.get(name)
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > 8192:
        raise ValidationError(f"{name} must be a string")
    return value


def _required(document: dict[str, Any], name: str) -> str:
    value = _string(document, name)
    if not value:
        raise ValidationError(f"{name} must be a non-empty string")
    return value


def _is_context_value(value: Any) -> bool:
    return isinstance(value, str) or (isinstance(value, list) and all(isinstance(v, str) for v in value))


class RequestVerifier:
    def __init__(self, directory: StsDirectory, limits: SigV4Limits = DEFAULT_LIMITS) -> None:
        self._directory, self._limits = directory, limits

    async def verify(
        self, tenant: StsTenant, request: VerifyRequest, notes: AuditNotes, client_id: str
    ) -> dict[str, Any]:
        """The verdict as JSON: ``authenticated`` with principal and decision, or the AWS error of the signature."""
        try:
            caller = await authenticate(
                request.request,
                tenant,
                self._directory,
                notes.now,
                service=request.service,
                limits=self._limits,
                payload_hash=request.body_sha256,
            )
        except AwsError as exc:
            notes.note(
                AuditAction.STS_VERIFY,
                "failure",
                client_id=client_id,
                reason=exc.code,
                details={"action": request.action, "resource": ascii_excerpt(request.resource, 256)},
            )
            return {
                "authenticated": False,
                "error": {"code": exc.code, "message": exc.description, "status": exc.status},
            }
        keys: dict[str, ContextValue] = {
            "aws:CurrentTime": iso8601(notes.now),
            "aws:EpochTime": str(int(notes.now)),
            **dict(request.context),
            **caller.condition_keys(),
        }
        if request.source_ip:
            keys["aws:SourceIp"] = request.source_ip
        context = RequestContext(request.action, request.resource, caller.principal, keys)
        decision = caller_permissions(caller, context)
        verdict: dict[str, Any] = {"allowed": decision.allowed, "reason": decision.reason.value}
        if decision.statement_sid:
            verdict["statement_sid"] = decision.statement_sid
        if not decision.allowed:
            ring = await self._directory.session_keys(tenant.id)
            policies = [*caller.identity_policies, *caller.session_policies]
            details = describe_decision(decision, context, policies, caller.user_id)
            verdict["encoded_message"] = encode_message(details, ring.sealing_key_id, ring.sealing_key)
        notes.note(
            AuditAction.STS_VERIFY,
            "success" if decision.allowed else "failure",
            client_id=client_id,
            reason=None if decision.allowed else "AccessDenied",
            details={
                "access_key_id": caller.access_key_id,
                "principal": caller.arn,
                "action": request.action,
                "resource": ascii_excerpt(request.resource, 256),
                "allowed": decision.allowed,
                "decision": decision.reason.value,
            },
        )
        return {"authenticated": True, "principal": principal_view(caller_view(caller)), "decision": verdict}


def caller_view(caller: Caller) -> dict[str, Any]:
    session = caller.session
    return {
        "arn": caller.arn,
        "account": caller.account,
        "type": caller.principal_type,
        "user_id": caller.user_id,
        "access_key_id": caller.access_key_id,
        "role_arn": caller.role_arn,
        "session_tags": dict(caller.session_tags),
        "source_identity": caller.source_identity,
        "mfa_authenticated": bool(session and session.mfa_authenticated),
        "expires_at": iso8601(session.expires_at) if session else None,
        "region": caller.region,
    }


def principal_view(view: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in view.items() if v is not None}


__all__ = ["RequestVerifier", "VerifyRequest", "parse_verify_request"]
