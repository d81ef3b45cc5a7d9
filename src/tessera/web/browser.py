"""What the pages for people share: cookies, the tenant's look, audit notes, error pages, redirects.

Cookies are host-only (no Domain), ``HttpOnly``, ``SameSite=Lax``, ``Path=/`` and ``Secure`` when
Tessera is served over HTTPS, where they also take the ``__Host-`` prefix (the browser then
refuses them from any other host or path). The browser cookie binds pending interactions and
CSRF tokens to one browser; the session cookie (one per tenant) holds the SSO session handle.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from tessera.compose import Services
from tessera.domain.audit import AuditNotes, AuditUnavailable
from tessera.domain.handles import new_handle
from tessera.domain.tenants import Tenant
from tessera.protocols.oauth2.errors import InvalidRequest
from tessera.settings import TenantConfig
from tessera.web.http_input import source_ip
from tessera.web.observability import request_id_of
from tessera.web.render import html_page

log = logging.getLogger("tessera.web")
Endpoint = Callable[[Request], Awaitable[Response]]
BROWSER_COOKIE = "tessera_browser"
SESSION_COOKIE = "tessera_session_"  # + tenant id


@dataclass
class PageCall:
    """One request to a tenant's page: services, tenant, issuer, audit notes, cookies to set."""

    request: Request
    services: Services
    tenant: Tenant
    issuer: str
    notes: AuditNotes
    set_cookies: list[tuple[str, str, int | None]]
    browser: str | None = None

    @classmethod
    async def open(cls, request: Request) -> PageCall | Response:
        services: Services = request.app.state.services
        tenant = await services.directory.tenant(request.path_params["tenant"])
        if tenant is None:
            return error_page(request, services, None, "This address does not belong to any sign-in service.", 404)
        settings = services.settings
        client = request.scope.get("client")
        peer = client[0] if client else None
        notes = AuditNotes(
            services.audit,
            services.clock.now(),
            tenant.id,
            source_ip(peer, request.headers.get("x-forwarded-for"), tuple(settings.server.trusted_proxies)),
            request_id_of(request.scope),
        )
        issuer = tenant.issuer_url(settings.server.base_url())
        return cls(
            request, services, tenant, issuer, notes, [], request.cookies.get(cookie_name(services, BROWSER_COOKIE))
        )

    @property
    def now(self) -> float:
        return self.notes.now

    @property
    def session_cookie(self) -> str | None:
        return self.request.cookies.get(cookie_name(self.services, SESSION_COOKIE + self.tenant.id))

    def ensure_browser(self) -> str:
        if self.browser is None:
            self.browser = new_handle().reveal()
            self.set_cookies.append((BROWSER_COOKIE, self.browser, None))
        return self.browser

    def set_session(self, value: str) -> None:
        self.set_cookies.append((SESSION_COOKIE + self.tenant.id, value, None))

    def clear_session(self) -> None:
        self.set_cookies.append((SESSION_COOKIE + self.tenant.id, "", 0))

    def page_path(self, name: str) -> str:
        return f"/t/{self.tenant.id}/{name}"

    def context(self, title: str, **values: Any) -> dict[str, Any]:
        return base_context(self.services, self.tenant, title, self.request, **values)

    async def finish(self, response: Response) -> Response:
        """Write the request's audit events, then answer (a request whose events are lost fails)."""
        try:
            await self.notes.flush()
        except AuditUnavailable:
            return error_page(self.request, self.services, self.tenant, "The service is temporarily unavailable.", 503)
        for name, value, max_age in self.set_cookies:
            set_cookie(self.services, response, name, value, max_age)
        return response

    def page(
        self, template: str, title: str, status: int = 200, form_targets: tuple[str, ...] = (), **values: Any
    ) -> Response:
        return html_page(template, self.context(title, **values), status, form_targets=form_targets)

    def error(self, message: str, status: int = 400, code: str | None = None) -> Response:
        return error_page(self.request, self.services, self.tenant, message, status, code)


def tenant_config(services: Services, tenant_id: str) -> TenantConfig | None:
    return next((t for t in services.settings.tenants if t.id == tenant_id), None)


def base_context(
    services: Services, tenant: Tenant | None, title: str, request: Request, **values: Any
) -> dict[str, Any]:
    config = tenant_config(services, tenant.id) if tenant is not None else None
    return {
        "title": title,
        "tenant_name": (tenant.name if tenant is not None else "") or "Tessera",
        "logo_url": config.logo_url if config is not None else None,
        "lang": "en",
        "static_url": "/static",
        "request_id": request_id_of(request.scope),
        **values,
    }


def error_page(
    request: Request,
    services: Services,
    tenant: Tenant | None,
    message: str,
    status: int = 400,
    code: str | None = None,
) -> Response:
    context = base_context(services, tenant, "Something went wrong", request, message=message, error_code=code)
    return html_page("error.html", context, status)


def secure_cookies(services: Services) -> bool:
    configured = services.settings.sessions.secure_cookies
    return configured if configured is not None else services.settings.server.base_url().startswith("https://")


def cookie_name(services: Services, name: str) -> str:
    return f"__Host-{name}" if secure_cookies(services) else name


def set_cookie(services: Services, response: Response, name: str, value: str, max_age: int | None) -> None:
    response.set_cookie(
        cookie_name(services, name),
        value,
        max_age=max_age,
        path="/",
        secure=secure_cookies(services),
        httponly=True,
        samesite="lax",
    )


def person_facing(endpoint: Endpoint) -> Endpoint:
    """A page's unexpected failure is an HTML error page with a request id (traceback to the log only)."""

    @functools.wraps(endpoint)
    async def guarded(request: Request) -> Response:
        services: Services = request.app.state.services
        try:
            return await endpoint(request)
        except InvalidRequest as exc:  # an unreadable form: too large (413), not form-encoded, not UTF-8
            message = f"The request could not be read: {exc.description}."
            return error_page(request, services, None, message, exc.status, "invalid_request")
        except HTTPException as exc:
            return error_page(request, services, None, "The request could not be read.", exc.status_code, "bad_request")
        except Exception:
            log.exception("page failed", extra={"request_id": request_id_of(request.scope)})
            return error_page(request, services, None, "Something went wrong on our side.", 500, "server_error")

    return guarded


def see_other(location: str) -> Response:
    return RedirectResponse(location, 303, headers={"cache-control": "no-store", "referrer-policy": "no-referrer"})


def origin_of(uri: str) -> str:
    parts = urlsplit(uri)
    return f"{parts.scheme}://{parts.netloc}"


__all__ = [
    "BROWSER_COOKIE",
    "SESSION_COOKIE",
    "PageCall",
    "base_context",
    "cookie_name",
    "error_page",
    "origin_of",
    "person_facing",
    "see_other",
    "set_cookie",
    "tenant_config",
]
