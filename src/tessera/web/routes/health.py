"""Liveness, readiness and Prometheus metrics."""

from __future__ import annotations

import ipaddress
from functools import lru_cache

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


async def metrics(request: Request) -> Response:
    """Prometheus exposition, only to peers in ``server.metrics_networks`` (the peer itself, never X-Forwarded-For)."""
    peer = request.client.host if request.client else ""
    if not _may_read_metrics(peer, tuple(services_of(request).settings.server.metrics_networks)):
        return json_response(
            {"error": "access_denied", "error_description": "metrics are not served to this address"}, 403
        )
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)


@lru_cache(maxsize=256)
def _may_read_metrics(peer: str, networks: tuple[str, ...]) -> bool:
    try:
        address = ipaddress.ip_address(peer)
    except ValueError:
        return False
    return any(address in ipaddress.ip_network(network, strict=False) for network in networks)


def routes() -> list[BaseRoute]:
    return [
        Route("/healthz", healthz, methods=["GET"]),
        Route("/readyz", readyz, methods=["GET"]),
        Route("/metrics", metrics, methods=["GET"]),
    ]


__all__ = ["routes"]
