"""The ASGI application: routes, error rendering and the services' lifetime."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response

from tessera.clock import Clock
from tessera.compose import Services, open_services
from tessera.domain.reconcile import GeneratedSecret
from tessera.settings import Settings
from tessera.web.observability import Observability, request_id_of
from tessera.web.render import json_response
from tessera.web.routes import health, oauth2

log = logging.getLogger("tessera.web")

SecretsCallback = Callable[[list[GeneratedSecret]], None]


def create_app(
    settings: Settings,
    clock: Clock | None = None,
    on_generated_secrets: SecretsCallback | None = None,
) -> Starlette:
    """The application; the store is opened, migrated and reconciled when the server starts."""

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        services = await open_services(settings, clock)
        try:
            applied = await services.reconciler.apply(settings)
            if applied.secrets and on_generated_secrets is not None:
                on_generated_secrets(applied.secrets)
            await services.start()
            app.state.services = services
            yield
        finally:
            await services.close()

    return Starlette(
        routes=[*oauth2.routes(), *health.routes()],
        middleware=[
            Middleware(Observability, access_log_enabled=settings.server.access_log),
            Middleware(oauth2.OAuthEndpoints),
        ],
        exception_handlers={HTTPException: _http_error, Exception: _unexpected_error},
        lifespan=lifespan,
    )


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    error = "not_found" if exc.status_code == 404 else "invalid_request"
    headers = dict(exc.headers or {})
    return json_response({"error": error, "error_description": str(exc.detail)}, exc.status_code, headers)


async def _unexpected_error(request: Request, exc: Exception) -> Response:
    request_id = request_id_of(request.scope)
    log.error("unhandled error", exc_info=exc, extra={"request_id": request_id})
    return json_response({"error": "server_error", "request_id": request_id}, 500)


__all__ = ["Services", "create_app"]
