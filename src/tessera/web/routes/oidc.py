"""OpenID Connect endpoints of a tenant: authorize, userinfo, discovery, end session (RP-initiated logout).

Each answers at ``/t/{tenant}/oauth2/...`` and at Okta's ``/oauth2/{tenant}/v1/...``, so that an
Okta-style link works with only the host and credentials changed.
"""

from __future__ import annotations

import math
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from tessera.compose import Services
from tessera.domain.interactions import csrf_token, is_valid_csrf
from tessera.domain.sessions import SsoSession
from tessera.domain.tenants import Tenant
from tessera.domain.tokens import verify_jwt
from tessera.protocols.oauth2 import authorization_server_metadata
from tessera.protocols.oauth2.authorization import PageError, redirect_uri_with
from tessera.protocols.oauth2.errors import InvalidRequest, OAuthError
from tessera.protocols.oidc.discovery import OidcEndpoints, openid_configuration
from tessera.protocols.oidc.errors import BearerError
from tessera.protocols.oidc.logout import InvalidLogoutRequest, LogoutRequest, validate_logout_request
from tessera.protocols.oidc.userinfo import NO_TOKEN, bearer_token
from tessera.web.browser import PageCall, origin_of, person_facing, see_other
from tessera.web.http_input import form_body, form_params
from tessera.web.render import json_response, oauth_error
from tessera.web.routes.oauth2 import endpoint_urls, resolve_tenant
from tessera.web.routes.pages import respond

LOGOUT_PURPOSE = "logout"


def tenant_urls(issuer: str, base_url: str, tenant_id: str) -> dict[str, str]:
    """Endpoint URLs for an issuer: Okta's layout when the issuer is ``<base>/oauth2/<tenant>``."""
    if issuer == f"{base_url.rstrip('/')}/oauth2/{tenant_id}":
        v1 = f"{issuer}/v1"
        return {
            "authorization_endpoint": f"{v1}/authorize",
            "token_endpoint": f"{v1}/token",
            "userinfo_endpoint": f"{v1}/userinfo",
            "end_session_endpoint": f"{v1}/logout",
            "jwks_uri": f"{v1}/keys",
            "introspection_endpoint": f"{v1}/introspect",
            "revocation_endpoint": f"{v1}/revoke",
        }
    urls = endpoint_urls(issuer)
    return {
        "authorization_endpoint": f"{issuer}/oauth2/authorize",
        "token_endpoint": urls.token,
        "userinfo_endpoint": f"{issuer}/oauth2/userinfo",
        "end_session_endpoint": f"{issuer}/oauth2/logout",
        "jwks_uri": urls.jwks,
        "introspection_endpoint": urls.introspection,
        "revocation_endpoint": urls.revocation,
    }


# Authorization endpoint -----------------------------------------------------------------------------
@person_facing
async def authorize(request: Request) -> Response:
    call = await PageCall.open(request)
    if isinstance(call, Response):
        return call
    if request.method == "POST":  # OIDC Core §3.1.2.1: GET and POST (form-encoded, parsed like a query)
        query = await form_body(request, call.services.settings.server.max_body_bytes)
    else:
        query = request.url.query
    identity = call.services.identity
    browser = call.ensure_browser()
    session = await identity.sessions.resume(call.tenant.id, call.session_cookie)
    try:
        outcome = await identity.flow.start(call.tenant, call.issuer, query, session, browser, call.notes)
    except PageError as exc:
        return await call.finish(
            call.error(_page_message(exc.error), exc.error.status if exc.error.status < 500 else 400, exc.error.reason)
        )
    return await call.finish(respond(call, outcome))


def _page_message(error: OAuthError) -> str:
    messages = {
        "unknown_client": "The application that sent you here is not registered with this sign-in service.",
        "invalid_redirect_uri": "The application asked to send you to an address it has not registered.",
        "missing_redirect_uri": "The application did not say where to send you back.",
        "disabled_client": "The application that sent you here is disabled.",
    }
    return messages.get(error.reason, "The sign-in request is not valid: " + (error.description or error.code) + ".")


# UserInfo ------------------------------------------------------------------------------------------
async def userinfo(request: Request) -> Response:
    try:
        services, tenant, issuer = await resolve_tenant(request)
    except OAuthError as exc:
        return oauth_error(exc)
    try:
        form_token = None
        if request.method == "POST" and "application/x-www-form-urlencoded" in request.headers.get("content-type", ""):
            form = await form_params(request, services.settings.server.max_body_bytes)
            form_token = form.get("access_token")
        token = bearer_token(request.headers.get("authorization"), form_token)
        claims = await services.identity.userinfo.handle(tenant, issuer, token)
    except OAuthError as exc:
        return _bearer_error(exc)
    return json_response(claims, headers={"cache-control": "no-store", "pragma": "no-cache"})


def _bearer_error(exc: OAuthError) -> Response:
    """RFC 6750 §3: the error in ``WWW-Authenticate: Bearer ...`` (and the JSON body, for people)."""
    status = exc.status if isinstance(exc, BearerError) or exc.status == 413 else 400
    if exc.reason == NO_TOKEN:  # §3.1: a request without credentials gets the challenge, no error code
        body = {"error": exc.code, "error_description": exc.description}
        return json_response(body, 401, {"www-authenticate": 'Bearer realm="tessera"', "cache-control": "no-store"})
    header = f'Bearer realm="tessera", error="{exc.code}"'
    if exc.description:
        header += f', error_description="{exc.description}"'
    if exc.code == "insufficient_scope":
        header += ', scope="openid"'
    body = {"error": exc.code, "error_description": exc.description}
    return json_response(body, status, {"www-authenticate": header, "cache-control": "no-store"})


# Discovery -----------------------------------------------------------------------------------------
async def discovery(request: Request) -> Response:
    try:
        services, tenant, issuer = await resolve_tenant(request)
    except OAuthError as exc:
        return oauth_error(exc)
    return json_response(
        await openid_document(services, tenant, issuer), headers={"cache-control": "public, max-age=300"}
    )


async def openid_document(services: Services, tenant: Tenant, issuer: str) -> dict[str, Any]:
    alg = tenant.signing_alg or services.settings.keys.algorithm
    scopes = [s.name for s in await services.store.scopes.list(tenant.id)]
    base = authorization_server_metadata(endpoint_urls(issuer), services.token_endpoint.grant_types, scopes, alg)
    urls = tenant_urls(issuer, services.settings.server.base_url(), tenant.id)
    endpoints = OidcEndpoints(urls["authorization_endpoint"], urls["userinfo_endpoint"], urls["end_session_endpoint"])
    document = openid_configuration(base, endpoints, scopes, alg)
    document.update(urls)
    return document


def authorization_metadata(services: Services, tenant: Tenant, issuer: str) -> dict[str, Any]:
    """What RFC 8414 metadata says about ``/authorize`` (the OIDC document says more)."""
    urls = tenant_urls(issuer, services.settings.server.base_url(), tenant.id)
    return {
        "authorization_endpoint": urls["authorization_endpoint"],
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "code_challenge_methods_supported": ["S256"],
        "authorization_response_iss_parameter_supported": True,
    }


# RP-initiated logout -------------------------------------------------------------------------------
@person_facing
async def end_session(request: Request) -> Response:
    call = await PageCall.open(request)
    if isinstance(call, Response):
        return call
    params = await _params(request)
    try:
        logout = await _validated_logout(call, params)
    except InvalidLogoutRequest as exc:
        return await call.finish(
            call.error(f"The sign-out request is not valid: {exc.description}.", 400, "invalid_logout")
        )
    identity = call.services.identity
    session = await identity.sessions.resume(call.tenant.id, call.session_cookie)
    if session is None:
        return await call.finish(_after_logout(call, logout, "You are signed out."))
    if logout.hinted_session_id is not None and logout.hinted_session_id == session.session_id:
        return await call.finish(await _log_out(call, session, logout))
    return await call.finish(await _confirmation(call, session, logout))


@person_facing
async def confirm_logout(request: Request) -> Response:
    call = await PageCall.open(request)
    if isinstance(call, Response):
        return call
    params = await _params(request)
    if not is_valid_csrf(call.browser, LOGOUT_PURPOSE, params.get("csrf_token")):
        return await call.finish(
            call.error("This sign-out page has expired. Try again from the application.", 400, "csrf")
        )
    try:
        logout = await _validated_logout(call, {k: v for k, v in params.items() if k != "id_token_hint"})
    except InvalidLogoutRequest as exc:
        return await call.finish(
            call.error(f"The sign-out request is not valid: {exc.description}.", 400, "invalid_logout")
        )
    session = await call.services.identity.sessions.resume(call.tenant.id, call.session_cookie)
    if params.get("decision") != "logout":
        return await call.finish(_after_logout(call, logout, "You are still signed in.", keep=True))
    if session is None:
        return await call.finish(_after_logout(call, logout, "You are signed out."))
    return await call.finish(await _log_out(call, session, logout))


async def _params(request: Request) -> dict[str, str]:
    if request.method == "POST":
        services: Services = request.app.state.services
        return dict((await form_params(request, services.settings.server.max_body_bytes)).single)
    return {k: v for k, v in request.query_params.items() if v}


async def _validated_logout(call: PageCall, params: dict[str, str]) -> LogoutRequest:
    hint = params.get("id_token_hint")
    hint_claims = None
    if hint is not None:
        ring = await call.services.directory.keyring(call.tenant.id)
        hint_claims = verify_jwt(ring, hint, call.now, math.inf, typ="JWT")  # an expired hint is fine (§2)
        if hint_claims is None or hint_claims.get("iss") != call.issuer:
            raise InvalidLogoutRequest("the id_token_hint was not issued here")
    client_id = params.get("client_id")
    if hint_claims is not None:
        audience = hint_claims.get("aud")
        client_id = audience if isinstance(audience, str) else client_id
    client = await call.services.directory.client(call.tenant.id, client_id) if client_id else None
    return validate_logout_request(params, hint_claims, client)


async def _confirmation(call: PageCall, session: SsoSession, logout: LogoutRequest) -> Response:
    user = await call.services.store.users.get(call.tenant.id, session.user_id)
    browser = call.ensure_browser()
    targets = (origin_of(logout.post_logout_redirect_uri),) if logout.post_logout_redirect_uri else ()
    return call.page(
        "logout_confirm.html",
        "Sign out?",
        form_targets=targets,
        action=call.page_path("logout"),
        csrf_token=csrf_token(browser, LOGOUT_PURPOSE),
        user_name=(user.name or user.username) if user is not None else "",
        client_id=logout.client_id,
        post_logout_redirect_uri=logout.post_logout_redirect_uri,
        state=logout.state,
    )


async def _log_out(call: PageCall, session: SsoSession, logout: LogoutRequest) -> Response:
    from tessera.domain.audit import AuditAction

    sessions = call.services.identity.sessions
    await sessions.end(session, "logout", f"user:{session.user_id}", call.notes)
    call.notes.note(
        AuditAction.LOGOUT,
        "success",
        actor=f"user:{session.user_id}",
        client_id=logout.client_id,
        details={"sid": session.session_id, "user_id": session.user_id},
    )
    call.clear_session()
    return _after_logout(call, logout, "You are signed out.")


def _after_logout(call: PageCall, logout: LogoutRequest, message: str, keep: bool = False) -> Response:
    if logout.post_logout_redirect_uri is not None:
        return see_other(redirect_uri_with(logout.post_logout_redirect_uri, {"state": logout.state}))
    return call.page("logged_out.html", "Signed out" if not keep else "Still signed in", message=message)


async def invalid_method(_request: Request) -> Response:
    return oauth_error(InvalidRequest("method not allowed"))


def routes() -> list[BaseRoute]:
    both = ["GET", "POST"]
    return [
        Route("/t/{tenant}/oauth2/authorize", authorize, methods=both),
        Route("/oauth2/{tenant}/v1/authorize", authorize, methods=both),
        Route("/t/{tenant}/oauth2/userinfo", userinfo, methods=both),
        Route("/oauth2/{tenant}/v1/userinfo", userinfo, methods=both),
        Route("/t/{tenant}/oauth2/logout", end_session, methods=both),
        Route("/oauth2/{tenant}/v1/logout", end_session, methods=both),
        Route("/t/{tenant}/logout", confirm_logout, methods=["POST"]),
        Route("/t/{tenant}/.well-known/openid-configuration", discovery, methods=["GET"]),
        Route("/oauth2/{tenant}/.well-known/openid-configuration", discovery, methods=["GET"]),
        Route("/.well-known/openid-configuration/t/{tenant}", discovery, methods=["GET"]),
    ]


__all__ = ["authorization_metadata", "openid_document", "routes", "tenant_urls"]
