"""Operations: health, readiness, Prometheus metrics and the JSON access log."""

from __future__ import annotations

import json
import time

import pytest
import requests

from support.live_server import LiveServer

pytestmark = pytest.mark.protocol


def test_health_and_readiness(live_server: LiveServer) -> None:
    health = requests.get(f"{live_server.base_url}/healthz", timeout=5)
    assert (health.status_code, health.json()) == (200, {"status": "ok"})
    ready = requests.get(f"{live_server.base_url}/readyz", timeout=5)
    assert ready.status_code == 200
    assert ready.json() == {
        "status": "ready",
        "store": {"sqlite": "sqlite", "postgresql": "postgresql"}[live_server.backend],
    }


def test_metrics_count_requests_tokens_and_failures(live_server: LiveServer) -> None:
    client_id, secret = live_server.create_client()
    token_url = live_server.url("/oauth2/token")
    requests.post(token_url, auth=(client_id, secret), data={"grant_type": "client_credentials"}, timeout=5)
    requests.post(token_url, auth=(client_id, "wrong"), data={"grant_type": "client_credentials"}, timeout=5)
    text = requests.get(f"{live_server.base_url}/metrics", timeout=5).text
    assert 'tessera_tokens_issued_total{grant_type="client_credentials",tenant="default"}' in text
    assert 'tessera_client_auth_failures_total{reason="bad_secret",tenant="default"}' in text
    assert 'tessera_http_requests_total{method="POST",route="/t/{tenant}/oauth2/token",status="200"}' in text
    assert 'tessera_http_request_duration_seconds_bucket{le="0.05",route="/t/{tenant}/oauth2/token"}' in text


def test_access_log_is_one_json_line_without_query_string_or_secrets(live_server: LiveServer, log_watch) -> None:  # type: ignore[no-untyped-def]
    client_id, secret = live_server.create_client()
    response = requests.post(
        live_server.url("/oauth2/token") + "?code=should-not-be-logged",
        auth=(client_id, secret),
        data={"grant_type": "client_credentials"},
        headers={"X-Request-ID": "trace-42"},
        timeout=5,
    )
    assert response.headers["x-request-id"] == "trace-42"
    lines = wait_for_lines(log_watch, lambda line: '"tessera.access"' in line and "trace-42" in line)
    assert len(lines) == 1, log_watch.lines
    entry = lines[0]
    assert entry["path"] == "/t/default/oauth2/token"
    assert entry["status"] == 200
    assert entry["method"] == "POST"
    assert entry["request_id"] == "trace-42"
    assert isinstance(entry["duration_ms"], float)
    joined = "\n".join(log_watch.lines)
    assert "should-not-be-logged" not in joined
    assert secret not in joined
    assert response.json()["access_token"] not in joined


def wait_for_lines(log_watch, predicate, timeout: float = 5.0) -> list[dict[str, object]]:  # type: ignore[no-untyped-def]
    """The access line is written after the response has been sent: wait for it rather than race it."""
    deadline = time.monotonic() + timeout
    while True:
        found = [json.loads(line) for line in list(log_watch.lines) if predicate(line)]
        if found or time.monotonic() > deadline:
            return found
        time.sleep(0.02)


def test_a_hostile_request_id_is_replaced(live_server: LiveServer) -> None:
    response = requests.get(
        f"{live_server.base_url}/healthz", headers={"X-Request-ID": "bad id\twith spaces"}, timeout=5
    )
    assert response.headers["x-request-id"] != "bad id\twith spaces"
    assert len(response.headers["x-request-id"]) == 32


def test_unknown_paths_and_methods_are_json_errors(live_server: LiveServer) -> None:
    missing = requests.get(f"{live_server.base_url}/nothing/here", timeout=5)
    assert missing.status_code == 404
    assert missing.json()["error"] == "not_found"
    wrong_method = requests.delete(live_server.url("/oauth2/jwks"), timeout=5)
    assert wrong_method.status_code == 405
    assert wrong_method.json()["error"] == "invalid_request"


def test_metrics_are_served_only_to_the_configured_networks(start_server) -> None:  # type: ignore[no-untyped-def]
    live = start_server(server={"metrics_networks": ["10.0.0.0/8"]})
    response = requests.get(f"{live.base_url}/metrics", headers={"X-Forwarded-For": "10.1.2.3"}, timeout=5)
    assert response.status_code == 403
    assert response.json()["error"] == "access_denied"
    assert "tessera_" not in response.text
