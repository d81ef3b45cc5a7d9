"""Prometheus metrics (``/metrics``)."""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache

from prometheus_client import Counter, Histogram

HTTP_REQUESTS = Counter("tessera_http_requests_total", "HTTP requests answered", ["route", "method", "status"])
HTTP_LATENCY = Histogram(
    "tessera_http_request_duration_seconds",
    "Time from request start to the end of the response",
    ["route"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)
TOKENS_ISSUED = Counter("tessera_tokens_issued_total", "Tokens issued", ["tenant", "grant_type"])
AUTH_FAILURES = Counter("tessera_client_auth_failures_total", "Failed client authentications", ["tenant", "reason"])


@lru_cache(maxsize=4096)
def http_observer(route: str, method: str, status: int) -> Callable[[float], None]:
    """Record one answered request; the labelled children are looked up once per combination."""
    counter = HTTP_REQUESTS.labels(route, method, str(status))
    latency = HTTP_LATENCY.labels(route)

    def observe(elapsed: float) -> None:
        counter.inc()
        latency.observe(elapsed)

    return observe


@lru_cache(maxsize=4096)
def tokens_issued(tenant: str, grant_type: str) -> Counter:
    return TOKENS_ISSUED.labels(tenant, grant_type)


@lru_cache(maxsize=4096)
def auth_failures(tenant: str, reason: str) -> Counter:
    return AUTH_FAILURES.labels(tenant, reason)


__all__ = [
    "AUTH_FAILURES",
    "HTTP_LATENCY",
    "HTTP_REQUESTS",
    "TOKENS_ISSUED",
    "auth_failures",
    "http_observer",
    "tokens_issued",
]
