"""The ASGI application: routes, error rendering and the services' lifetime."""

from __future__ import annotations

import gc
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.datastructures import State
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles
from starlette.types import Receive, Scope, Send

from tessera.clock import Clock
from tessera.compose import Services, open_services
from tessera.domain.reconcile import GeneratedSecret
from tessera.settings import Settings
from tessera.web.observability import Observability, request_id_of
from tessera.web.render import json_response
from tessera.web.routes import awssts, health, oauth2, oidc
from tessera.web.routes import pages as page_routes

log = logging.getLogger("tessera.web")

SecretsCallback = Callable[[list[GeneratedSecret]], None]


def create_app(
    settings: Settings,
    clock: Clock | None = None,
    on_generated_secrets: SecretsCallback | None = None,
    bootstrap: bool = True,
) -> TesseraApp:
    """The application; the store is opened, migrated and (unless ``bootstrap`` is off because the
    caller already did it) reconciled with the configuration when the server starts."""

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        services = await open_services(settings, clock)
        try:
            if bootstrap:
                applied = await services.apply_configuration(settings)
                if applied.secrets and on_generated_secrets is not None:
                    on_generated_secrets(applied.secrets)
            await services.start()
            app.state.services = services
            _settle_garbage_collector()
            yield
        finally:
            await services.close()

    pages = Starlette(
        routes=[*oauth2.routes(), *health.routes(), *oidc.routes(), *page_routes.routes(), static_files()],
        exception_handlers={HTTPException: _http_error, Exception: _unexpected_error},
        lifespan=lifespan,
    )
    # The hot endpoints sit in front of the framework; everything else is routed by Starlette.
    return TesseraApp(pages, settings.server.access_log)


def static_files() -> Mount:
    """The sign-in pages' stylesheet (no script is served: the pages work without JavaScript)."""
    return Mount("/static", StaticFiles(packages=[("tessera.web", "static")]), name="static")


class TesseraApp:
    """The served ASGI callable: observability, then the lean STS and OAuth endpoints, then Starlette."""

    def __init__(self, pages: Starlette, access_log: bool) -> None:
        self.pages = pages
        lean = awssts.StsEndpoints(oauth2.OAuthEndpoints(pages, pages.state), pages.state)
        self._app = Observability(lean, access_log_enabled=access_log)

    @property
    def state(self) -> State:
        return self.pages.state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self._app(scope, receive, send)


def _settle_garbage_collector() -> None:
    """Move what start-up built (modules, settings, caches) out of the collector's way.

    Without this, a full collection under load rescans ~100k long-lived objects for 70-110 ms,
    which is the whole p99 (docs/benchmarks.md).
    """
    gc.collect()
    gc.freeze()


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
