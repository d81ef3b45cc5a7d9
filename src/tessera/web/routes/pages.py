"""The sign-in and consent pages: clients of the authorization flow (they resume its interactions)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from tessera.domain.authn.login import LoginFailed
from tessera.domain.authn.password import Authentication
from tessera.domain.interactions import Interaction, csrf_token, is_valid_csrf
from tessera.domain.sessions import SsoSession
from tessera.protocols.oauth2.authorization import AuthorizationRequest, PageError
from tessera.protocols.oauth2.requests import FormParams
from tessera.protocols.oidc.authorization_flow import Outcome, Redirect
from tessera.protocols.oidc.claims import SCOPE_DESCRIPTIONS
from tessera.secret import Secret
from tessera.web.browser import PageCall, origin_of, person_facing, see_other
from tessera.web.http_input import form_params

BAD_CREDENTIALS = "The username or password is incorrect."
THROTTLED = "Too many failed attempts. Wait {seconds} seconds, then try again."
LOCKED = "Too many failed attempts: signing in is blocked for {minutes} minutes."
EXPIRED = "This sign-in page has expired or was opened in another browser. Go back to the application and start again."


def respond(call: PageCall, outcome: Outcome) -> Response:
    if isinstance(outcome, Redirect):
        return see_other(outcome.location.reveal())
    return see_other(f"{call.page_path(outcome.kind)}?interaction={outcome.handle.reveal()}")


async def _pending(call: PageCall, handle: str, kind: str) -> Interaction | None:
    interaction = await call.services.identity.flow.interaction(call.tenant.id, handle, call.browser, call.now)
    return interaction if interaction is not None and interaction.kind == kind else None


async def _form(call: PageCall) -> FormParams:
    return await form_params(call.request, call.services.settings.server.max_body_bytes)


# Sign-in ------------------------------------------------------------------------------------------
@person_facing
async def login_page(request: Request) -> Response:
    call = await PageCall.open(request)
    if isinstance(call, Response):
        return call
    handle = request.query_params.get("interaction", "")
    interaction = await _pending(call, handle, "login")
    if interaction is None:
        return await call.finish(call.error(EXPIRED, 400, "interaction_expired"))
    hint = AuthorizationRequest.from_record(interaction.request).login_hint or ""
    return await call.finish(await _login_form(call, interaction, handle, hint[:128], None, 200))


async def _login_form(
    call: PageCall, interaction: Interaction, handle: str, username: str, error: str | None, status: int
) -> Response:
    client = await call.services.identity.flow.client_of(interaction)
    request = AuthorizationRequest.from_record(interaction.request)
    assert call.browser is not None
    return call.page(
        "login.html",
        "Sign in",
        status,
        form_targets=(origin_of(request.redirect_uri),),
        action=call.page_path("login"),
        interaction=handle,
        csrf_token=csrf_token(call.browser, handle),
        username=username,
        error=error,
        client_name=(client.spec.name or client.client_id) if client is not None else "",
    )


@person_facing
async def login_submit(request: Request) -> Response:
    call = await PageCall.open(request)
    if isinstance(call, Response):
        return call
    form = await _form(call)
    handle = _text(form, "interaction")
    interaction = await _pending(call, handle, "login")
    if interaction is None or not is_valid_csrf(call.browser, handle, _text(form, "csrf_token")):
        return await call.finish(call.error(EXPIRED, 400, "csrf_or_interaction"))
    assert call.browser is not None
    flow = call.services.identity.flow
    if form.get("action") == "cancel":
        return await call.finish(respond(call, await flow.cancel(call.tenant, call.issuer, interaction, call.notes)))
    username, password = _text(form, "username")[:128], _text(form, "password")
    if not username or not password:
        return await call.finish(
            await _login_form(call, interaction, handle, username, "Enter your username and password.", 400)
        )
    try:
        user, authentication = await call.services.identity.login.authenticate(
            call.tenant.id, username, Secret(password), call.notes
        )
    except LoginFailed as failure:
        message, status = _failure_message(failure)
        return await call.finish(await _login_form(call, interaction, handle, username, message, status))
    session = await _signed_in(call, user.user_id, authentication)
    try:
        outcome = await flow.resume(
            call.tenant, call.issuer, interaction, session, call.browser, call.notes, fresh_login=True
        )
    except PageError as exc:
        return await call.finish(call.error(exc.error.description, 400, exc.error.reason))
    return await call.finish(respond(call, outcome))


async def _signed_in(call: PageCall, user_id: str, authentication: Authentication) -> SsoSession:
    """The same person again keeps their session (and ``sid``); someone else gets a new one."""
    sessions = call.services.identity.sessions
    current = await sessions.resume(call.tenant.id, call.session_cookie)
    if current is not None and current.user_id == user_id:
        return await sessions.reauthenticated(current, authentication)
    if current is not None:
        await sessions.end(current, "replaced", f"user:{user_id}", call.notes)
    session, cookie = await sessions.start(call.tenant.id, user_id, authentication, call.notes)
    call.set_session(cookie.reveal())
    return session


def _failure_message(failure: LoginFailed) -> tuple[str, int]:
    if failure.reason == "locked":
        return LOCKED.format(minutes=max(1, round(failure.retry_after / 60))), 429
    if failure.reason == "throttled":
        return THROTTLED.format(seconds=max(1, int(failure.retry_after + 0.999))), 429
    return BAD_CREDENTIALS, 401


def _text(form: FormParams, name: str) -> str:
    return form.get(name) or ""


# Consent ------------------------------------------------------------------------------------------
@person_facing
async def consent_page(request: Request) -> Response:
    call = await PageCall.open(request)
    if isinstance(call, Response):
        return call
    handle = request.query_params.get("interaction", "")
    interaction = await _pending(call, handle, "consent")
    if interaction is None:
        return await call.finish(call.error(EXPIRED, 400, "interaction_expired"))
    return await call.finish(await _consent_form(call, interaction, handle))


async def _consent_form(call: PageCall, interaction: Interaction, handle: str) -> Response:
    services = call.services
    client = await services.identity.flow.client_of(interaction)
    request = AuthorizationRequest.from_record(interaction.request)
    user = await services.store.users.get(call.tenant.id, interaction.user_id or "")
    offered = {s.name: s.description for s in await services.store.scopes.list(call.tenant.id)}
    scopes = [
        {"name": name, "description": SCOPE_DESCRIPTIONS.get(name) or offered.get(name) or name}
        for name in request.scopes
    ]
    assert call.browser is not None
    return call.page(
        "consent.html",
        "Allow access?",
        form_targets=(origin_of(request.redirect_uri),),
        action=call.page_path("consent"),
        interaction=handle,
        csrf_token=csrf_token(call.browser, handle),
        client_name=(client.spec.name or client.client_id) if client is not None else interaction.client_id,
        client_uri=client.spec.client_uri if client is not None else None,
        scopes=scopes,
        user_name=(user.name or user.username) if user is not None else "",
    )


@person_facing
async def consent_submit(request: Request) -> Response:
    call = await PageCall.open(request)
    if isinstance(call, Response):
        return call
    form = await _form(call)
    handle = _text(form, "interaction")
    interaction = await _pending(call, handle, "consent")
    if interaction is None or not is_valid_csrf(call.browser, handle, _text(form, "csrf_token")):
        return await call.finish(call.error(EXPIRED, 400, "csrf_or_interaction"))
    assert call.browser is not None
    identity = call.services.identity
    session = await identity.sessions.resume(call.tenant.id, call.session_cookie)
    if session is None or session.user_id != interaction.user_id:
        return await call.finish(call.error(EXPIRED, 400, "session_changed"))
    allow = _text(form, "decision") == "allow"
    try:
        outcome = await identity.flow.resume(
            call.tenant, call.issuer, interaction, session, call.browser, call.notes, fresh_login=False, consent=allow
        )
    except PageError as exc:
        return await call.finish(call.error(exc.error.description, 400, exc.error.reason))
    return await call.finish(respond(call, outcome))


def routes() -> list[BaseRoute]:
    return [
        Route("/t/{tenant}/login", login_page, methods=["GET"]),
        Route("/t/{tenant}/login", login_submit, methods=["POST"]),
        Route("/t/{tenant}/consent", consent_page, methods=["GET"]),
        Route("/t/{tenant}/consent", consent_submit, methods=["POST"]),
    ]


__all__ = ["respond", "routes"]
