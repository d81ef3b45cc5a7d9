"""Liveness, readiness and Prometheus metrics."""

from __future__ import annotations

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from tessera.web.render import json_response
from tessera.web.routes.oauth2 import services_of


async def healthz(_request: Request) -> Response:
    """The process is alive and serving HTTP."""
    return json_response({"status": "ok"}, headers={"cache-control": "no-store"})


async def readyz(request: Request) -> Response:
    """The node can do its work: the store answers."""
    services = services_of(request)
    try:
        await services.store.revisions.current()
    except Exception:
        return json_response({"status": "unavailable", "store": "unreachable"}, 503, {"cache-control": "no-store"})
    return json_response({"status": "ready", "store": services.store.backend}, headers={"cache-control": "no-store"})


async def metrics(_request: Request) -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)


def routes() -> list[BaseRoute]:
    return [
        Route("/healthz", healthz, methods=["GET"]),
        Route("/readyz", readyz, methods=["GET"]),
        Route("/metrics", metrics, methods=["GET"]),
    ]


__all__ = ["routes"]
