"""Introspection (RFC 7662) and revocation (RFC 7009) with real HTTP clients, on one node and on two."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable

import pytest
import requests

from support.live_server import LiveServer
from tessera.clock import FixedClock

pytestmark = pytest.mark.protocol


def get_token(live: LiveServer, client: tuple[str, str], **extra: str) -> str:
    response = requests.post(
        live.url("/oauth2/token"), auth=client, data={"grant_type": "client_credentials", **extra}, timeout=5
    )
    assert response.status_code == 200, response.text
    token: str = response.json()["access_token"]
    live.watch(token)
    return token


def introspect(live: LiveServer, client: tuple[str, str], token: str, **extra: str) -> dict[str, object]:
    response = requests.post(live.url("/oauth2/introspect"), auth=client, data={"token": token, **extra}, timeout=5)
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    body: dict[str, object] = response.json()
    return body


def revoke(live: LiveServer, client: tuple[str, str], token: str) -> requests.Response:
    return requests.post(live.url("/oauth2/revoke"), auth=client, data={"token": token}, timeout=5)


def b64(data: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def test_active_token_introspects_with_its_claims(live_server: LiveServer) -> None:
    client = live_server.create_client(audiences=["urn:api"])
    token = get_token(live_server, client, scope="api:read")
    body = introspect(live_server, client, token, token_type_hint="access_token")
    assert body["active"] is True
    assert body["scope"] == "api:read"
    assert body["client_id"] == client[0]
    assert body["sub"] == client[0]
    assert body["aud"] == "urn:api"
    assert body["iss"] == live_server.issuer()
    assert body["token_type"] == "Bearer"
    assert isinstance(body["exp"], int)


def test_another_client_of_the_tenant_may_introspect(live_server: LiveServer) -> None:
    issuer_client = live_server.create_client()
    resource_server = live_server.create_client()
    token = get_token(live_server, issuer_client)
    assert introspect(live_server, resource_server, token)["active"] is True


def test_garbage_tampered_and_unsigned_tokens_are_inactive(live_server: LiveServer) -> None:
    client = live_server.create_client()
    token = get_token(live_server, client)
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    claims["scope"] = "api:read api:write admin"
    tampered = f"{header}.{b64(claims)}.{signature}"
    unsigned = f"{b64({'alg': 'none', 'typ': 'at+jwt'})}.{b64(claims)}."
    kid = json.loads(base64.urlsafe_b64decode(header + "=="))["kid"]
    hs256 = f"{b64({'alg': 'HS256', 'typ': 'at+jwt', 'kid': kid})}.{payload}.{signature}"
    for bad in ("not-a-token", "a.b.c", tampered, unsigned, hs256, token + "x", ""):
        if bad:
            assert introspect(live_server, client, bad) == {"active": False}, bad


def test_hostile_json_inside_a_token_is_inactive_not_an_error(live_server: LiveServer) -> None:
    client = live_server.create_client()
    header = b64({"alg": "ES256", "typ": "at+jwt", "kid": "x"})
    huge_number = '{"exp": ' + "9" * 5000 + "}"
    deep = "[" * 10_000 + "]" * 10_000
    for payload in (huge_number, deep, '{"exp": NaN}', "\ud800"):
        raw = base64.urlsafe_b64encode(payload.encode("utf-8", "surrogatepass")).rstrip(b"=").decode()
        assert introspect(live_server, client, f"{header}.{raw}.c2ln") == {"active": False}


def test_a_token_of_another_tenant_is_inactive(start_server: Callable[..., LiveServer]) -> None:
    live = start_server(tenants=[{"id": "default"}, {"id": "other"}])
    client_a = live.create_client()
    client_b = live.create_client(tenant="other")
    token_b = requests.post(
        live.url("/oauth2/token", tenant="other"), auth=client_b, data={"grant_type": "client_credentials"}, timeout=5
    ).json()["access_token"]
    live.watch(token_b)
    assert introspect(live, client_a, token_b) == {"active": False}


def test_introspection_requires_client_authentication(live_server: LiveServer) -> None:
    client = live_server.create_client()
    token = get_token(live_server, client)
    response = requests.post(live_server.url("/oauth2/introspect"), data={"token": token}, timeout=5)
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"
    response = requests.post(live_server.url("/oauth2/introspect"), auth=client, data={}, timeout=5)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"


def test_expired_token_is_inactive(start_server: Callable[..., LiveServer]) -> None:
    clock = FixedClock(time.time())
    live = start_server(clock=clock)
    client = live.create_client(access_token_lifetime=60)
    token = get_token(live, client)
    assert introspect(live, client, token)["active"] is True
    clock.advance(61)
    assert introspect(live, client, token) == {"active": False}


def test_revoked_token_is_inactive_and_revocation_is_idempotent(live_server: LiveServer) -> None:
    client = live_server.create_client()
    token = get_token(live_server, client)
    first = revoke(live_server, client, token)
    assert (first.status_code, first.content) == (200, b"")
    assert introspect(live_server, client, token) == {"active": False}
    assert revoke(live_server, client, token).status_code == 200
    assert revoke(live_server, client, "unknown-token").status_code == 200  # RFC 7009 §2.2


def test_only_the_owner_may_revoke(live_server: LiveServer) -> None:
    owner = live_server.create_client()
    stranger = live_server.create_client()
    token = get_token(live_server, owner)
    response = revoke(live_server, stranger, token)
    assert response.status_code == 400
    assert response.json()["error"] == "unauthorized_client"
    assert introspect(live_server, owner, token)["active"] is True


def test_revocation_on_one_node_is_honoured_by_another(start_server: Callable[..., LiveServer]) -> None:
    shared = {"public_url": "https://sts.example.test"}
    node_a = start_server(server=shared)
    node_b = start_server(server=shared)  # same settings, so the same store
    client = node_a.create_client()
    token = get_token(node_a, client)
    assert introspect(node_b, client, token)["active"] is True
    assert revoke(node_a, client, token).status_code == 200
    assert introspect(node_a, client, token) == {"active": False}  # at once on the node that revoked
    # the other node picks it up within storage.cache_refresh_seconds (1 s here)
    started = time.monotonic()
    while introspect(node_b, client, token)["active"] is not False:
        assert time.monotonic() - started < 5, "node B did not see the revocation within 5 s (bound: 1 s + load)"
        time.sleep(0.05)


def test_introspection_and_revocation_are_audited(live_server: LiveServer) -> None:
    from tessera.domain.audit import AuditQuery

    client = live_server.create_client()
    token = get_token(live_server, client)
    introspect(live_server, client, token)
    revoke(live_server, client, token)
    introspect(live_server, client, token)
    events = live_server.run(lambda: live_server.services.store.audit.search(AuditQuery(client_id=client[0])))
    actions = [(e.action, e.details.get("active")) for _, e in events if e.action.startswith("token.")]
    assert actions == [
        ("token.issue", None),
        ("token.introspect", True),
        ("token.revoke", None),
        ("token.introspect", False),
    ]
    issued = next(e for _, e in events if e.action == "token.issue")
    revoked = next(e for _, e in events if e.action == "token.revoke")
    assert issued.token_id == revoked.token_id
    assert issued.token_id is not None
