"""The ASGI application: routes, error rendering and the services' lifetime."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.datastructures import State
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

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
) -> TesseraApp:
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

    pages = Starlette(
        routes=[*oauth2.routes(), *health.routes()],
        exception_handlers={HTTPException: _http_error, Exception: _unexpected_error},
        lifespan=lifespan,
    )
    # The hot endpoints sit in front of the framework; everything else is routed by Starlette.
    return TesseraApp(pages, settings.server.access_log)


class TesseraApp:
    """The served ASGI callable: observability, then the lean OAuth endpoints, then Starlette."""

    def __init__(self, pages: Starlette, access_log: bool) -> None:
        self.pages = pages
        self._app = Observability(oauth2.OAuthEndpoints(pages, pages.state), access_log_enabled=access_log)

    @property
    def state(self) -> State:
        return self.pages.state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self._app(scope, receive, send)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    error = "not_found" if exc.status_code == 404 else "invalid_request"
    headers = dict(exc.headers or {})
    return json_response({"error": error, "error_description": str(exc.detail)}, exc.status_code, headers)


async def _unexpected_error(request: Request, exc: Exception) -> Response:
    request_id = request_id_of(request.scope)
    log.error("unhandled error", exc_info=exc, extra={"request_id": request_id})
    return json_response({"error": "server_error", "request_id": request_id}, 500)


__all__ = ["Services", "TesseraApp", "create_app"]
