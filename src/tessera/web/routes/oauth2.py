"""OAuth 2.0 endpoints of a tenant: token, introspection, revocation, JWKS, metadata.

Besides ``/t/{tenant}/oauth2/...`` the token endpoint answers at the paths Azure AD
(``/{tenant}/oauth2/v2.0/token``) and Okta (``/oauth2/{tenant}/v1/token``) clients already use.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import orjson
from starlette.datastructures import State
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from tessera.compose import Services
from tessera.domain.audit import AuditAction, AuditEvent, AuditNotes, AuditUnavailable
from tessera.domain.tenants import Tenant
from tessera.protocols.oauth2 import EndpointRequest, EndpointUrls, authorization_server_metadata
from tessera.protocols.oauth2.errors import (
    InvalidRequest,
    MethodNotAllowed,
    NotFoundError,
    OAuthError,
    ServerError,
    TemporarilyUnavailable,
)
from tessera.protocols.oauth2.requests import is_form_content_type, parse_form
from tessera.web.http_input import RawRequest
from tessera.web.metrics import auth_failures, tokens_issued
from tessera.web.observability import request_id_of
from tessera.web.render import json_bytes_response, json_response, oauth_error

log = logging.getLogger("tessera.web")
Handler = Callable[[Services, EndpointRequest], Awaitable["OAuthAnswer"]]


@dataclass(frozen=True, slots=True)
class OAuthAnswer:
    status: int
    body: bytes
    headers: list[tuple[bytes, bytes]]


_NO_STORE = [(b"cache-control", b"no-store"), (b"pragma", b"no-cache")]
_JSON = (b"content-type", b"application/json")


def services_of(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


def endpoint_urls(issuer: str) -> EndpointUrls:
    return EndpointUrls(
        issuer=issuer,
        token=f"{issuer}/oauth2/token",
        jwks=f"{issuer}/oauth2/jwks",
        introspection=f"{issuer}/oauth2/introspect",
        revocation=f"{issuer}/oauth2/revoke",
    )


async def resolve_tenant(request: Request) -> tuple[Services, Tenant, str]:
    services = services_of(request)
    tenant = await services.directory.tenant(request.path_params["tenant"])
    if tenant is None:
        raise NotFoundError("unknown tenant")
    return services, tenant, tenant.issuer_url(services.settings.server.base_url())


def json_answer(body: dict[str, Any], status: int = 200) -> OAuthAnswer:
    return OAuthAnswer(status, orjson.dumps(body), [_JSON, *_NO_STORE])


def error_answer(exc: OAuthError, request_id: str) -> OAuthAnswer:
    response = oauth_error(exc, request_id)
    headers = [(k, v) for k, v in response.raw_headers if k != b"content-length"]
    return OAuthAnswer(response.status_code, bytes(response.body), headers)


async def answer_oauth_request(
    services: Services, request: RawRequest, tenant_id: str, endpoint: str, request_id: str
) -> OAuthAnswer:
    """Parse, call the core, and write the request's audit events before answering."""
    if request.method != "POST":
        return error_answer(MethodNotAllowed("this endpoint accepts POST only"), request_id)
    tenant = await services.directory.tenant(tenant_id)
    if tenant is None:
        return error_answer(NotFoundError("unknown tenant"), request_id)
    settings = services.settings
    issuer = tenant.issuer_url(settings.server.base_url())
    notes = AuditNotes(
        services.audit,
        services.clock.now(),
        tenant.id,
        request.source_ip(settings.server.trusted_proxies),
        request_id,
    )
    try:
        if not is_form_content_type(request.headers.get("content-type")):
            raise InvalidRequest("Content-Type must be application/x-www-form-urlencoded")
        form = parse_form(await request.body(settings.server.max_body_bytes))
        call = EndpointRequest(
            tenant,
            issuer,
            f"{issuer}/oauth2/{endpoint}",
            form,
            request.headers.get("authorization"),
            notes,
            notes.now,
        )
        answer = await _HANDLERS[endpoint](services, call)
    except OAuthError as exc:
        if exc.status >= 500:
            log.error("oauth endpoint failed: %s", exc.detail or exc.code, extra={"request_id": request_id})
        answer = error_answer(exc, request_id)
    except Exception:
        log.exception("unexpected error at the %s endpoint", endpoint, extra={"request_id": request_id})
        answer = error_answer(ServerError("internal error"), request_id)
    try:
        written = await notes.flush()
    except AuditUnavailable:
        return error_answer(TemporarilyUnavailable("the audit trail is unavailable"), request_id)
    _count(tenant.id, written)
    return answer


def _count(tenant_id: str, events: tuple[AuditEvent, ...]) -> None:
    for event in events:
        if event.action == AuditAction.CLIENT_AUTHENTICATE and event.result == "failure":
            auth_failures(tenant_id, event.reason or "unknown").inc()
        elif event.action == AuditAction.TOKEN_ISSUE and event.result == "success":
            tokens_issued(tenant_id, str(event.details.get("grant_type", ""))).inc()


async def _token(services: Services, call: EndpointRequest) -> OAuthAnswer:
    response = await services.token_endpoint.handle(call, endpoint_urls(call.issuer).token)
    return json_answer(response.to_json())


async def _introspect(services: Services, call: EndpointRequest) -> OAuthAnswer:
    response = await services.introspection.handle(call, endpoint_urls(call.issuer).token)
    return json_answer(response.to_json())


async def _revoke(services: Services, call: EndpointRequest) -> OAuthAnswer:
    await services.revocation.handle(call, endpoint_urls(call.issuer).token)
    return OAuthAnswer(200, b"", list(_NO_STORE))


_HANDLERS: dict[str, Handler] = {"token": _token, "introspect": _introspect, "revoke": _revoke}


def match_endpoint(path: str) -> tuple[str, str, str] | None:
    """``(tenant, endpoint, route template)`` for the lean POST endpoints, else None.

    ``/t/{tenant}/oauth2/{token,introspect,revoke}``, Azure AD's ``/{tenant}/oauth2/v2.0/token``
    and Okta's ``/oauth2/{tenant}/v1/{token,introspect,revoke}``.
    """
    parts = path.split("/")
    if len(parts) != 5 or parts[0]:
        return None
    if parts[1] == "t" and parts[3] == "oauth2" and parts[4] in _HANDLERS and parts[2]:
        return parts[2], parts[4], f"/t/{{tenant}}/oauth2/{parts[4]}"
    if parts[1] == "oauth2" and parts[3] == "v1" and parts[4] in _HANDLERS and parts[2]:
        return parts[2], parts[4], f"/oauth2/{{tenant}}/v1/{parts[4]}"
    if parts[2] == "oauth2" and parts[3] == "v2.0" and parts[4] == "token" and parts[1]:
        return parts[1], "token", "/{tenant}/oauth2/v2.0/token"
    return None


class OAuthEndpoints:
    """ASGI layer answering the token, introspection and revocation endpoints; the rest goes on to ``app``."""

    def __init__(self, app: ASGIApp, state: State) -> None:
        self.app, self.state = app, state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        matched = match_endpoint(scope["path"]) if scope["type"] == "http" else None
        if matched is None:
            await self.app(scope, receive, send)
            return
        tenant_id, endpoint, template = matched
        scope["route_template"] = template
        services: Services = self.state.services
        answer = await answer_oauth_request(
            services, RawRequest(scope, receive), tenant_id, endpoint, request_id_of(scope)
        )
        headers = [*answer.headers, (b"content-length", str(len(answer.body)).encode())]
        await send({"type": "http.response.start", "status": answer.status, "headers": headers})
        await send({"type": "http.response.body", "body": answer.body})


async def jwks(request: Request) -> Response:
    try:
        services, tenant, _issuer = await resolve_tenant(request)
    except OAuthError as exc:
        return oauth_error(exc, request_id_of(request.scope))
    ring = await services.directory.keyring(tenant.id)
    return json_bytes_response(ring.jwks_json, headers={"cache-control": "public, max-age=300"})


async def metadata(request: Request) -> Response:
    try:
        services, tenant, issuer = await resolve_tenant(request)
    except OAuthError as exc:
        return oauth_error(exc, request_id_of(request.scope))
    scopes = [s.name for s in await services.store.scopes.list(tenant.id)]
    document: dict[str, Any] = authorization_server_metadata(
        endpoint_urls(issuer),
        services.token_endpoint.grant_types,
        scopes,
        tenant.signing_alg or services.settings.keys.algorithm,
    )
    from tessera.web.routes.oidc import authorization_metadata  # the authorization endpoint (RFC 8414 §2)

    document.update(authorization_metadata(services, tenant, issuer))
    return json_response(document, headers={"cache-control": "public, max-age=300"})


def routes() -> list[BaseRoute]:
    """The GET routes; the POST endpoints are answered by ``OAuthEndpoints`` in front of the router."""
    return [
        Route("/t/{tenant}/oauth2/jwks", jwks, methods=["GET"]),
        Route("/t/{tenant}/.well-known/oauth-authorization-server", metadata, methods=["GET"]),
        Route("/.well-known/oauth-authorization-server/t/{tenant}", metadata, methods=["GET"]),
        Route("/oauth2/{tenant}/v1/keys", jwks, methods=["GET"]),
    ]


__all__ = ["OAuthEndpoints", "endpoint_urls", "match_endpoint", "resolve_tenant", "routes", "services_of"]
