"""A client that is disabled or deleted takes its tokens with it: introspection, userinfo, refresh (#21)."""

from __future__ import annotations

import pytest
import requests

from support.live_server import LiveServer
from support.oidc import Browser, RelyingParty, add_rp, exchange, refresh, sign_in

pytestmark = pytest.mark.protocol


def tokens_for(live: LiveServer, rp: RelyingParty) -> dict[str, str]:
    result = sign_in(Browser(live), rp, scope="openid profile")
    response = exchange(live, rp, result["code"], result["code_verifier"])
    assert response.status_code == 200, response.text
    body: dict[str, str] = response.json()
    return body


def introspect(live: LiveServer, caller: RelyingParty, token: str) -> dict[str, object]:
    body: dict[str, object] = requests.post(
        live.url("/oauth2/introspect"), auth=(caller.client_id, caller.secret), data={"token": token}, timeout=5
    ).json()
    return body


def userinfo(live: LiveServer, token: str) -> requests.Response:
    return requests.get(live.url("/oauth2/userinfo"), headers={"authorization": f"Bearer {token}"}, timeout=5)


def settle(live: LiveServer) -> None:
    """What every node does within ``storage.cache_refresh_seconds``: notice the change."""
    live.run(live.services.directory.refresh)


def test_a_disabled_clients_tokens_are_dead_until_it_is_enabled_again(alice: LiveServer) -> None:
    rp, resource = add_rp(alice), add_rp(alice)
    tokens = tokens_for(alice, rp)
    assert introspect(alice, resource, tokens["access_token"])["active"] is True
    assert userinfo(alice, tokens["access_token"]).status_code == 200
    alice.run(lambda: alice.services.clients.set_disabled("default", rp.client_id, True, "test"))
    settle(alice)
    assert introspect(alice, resource, tokens["access_token"]) == {"active": False}
    refused = userinfo(alice, tokens["access_token"])
    assert refused.status_code == 401
    assert 'error="invalid_token"' in refused.headers["www-authenticate"]
    denied = refresh(alice, rp, tokens["refresh_token"])
    assert denied.status_code == 401
    assert denied.json()["error"] == "invalid_client"
    alice.run(lambda: alice.services.clients.set_disabled("default", rp.client_id, False, "test"))
    settle(alice)
    assert introspect(alice, resource, tokens["access_token"])["active"] is True
    assert refresh(alice, rp, tokens["refresh_token"]).status_code == 200  # the refusal did not burn it


def test_a_deleted_clients_tokens_are_dead(alice: LiveServer) -> None:
    rp, resource = add_rp(alice), add_rp(alice)
    tokens = tokens_for(alice, rp)
    alice.run(lambda: alice.services.clients.delete("default", rp.client_id, "test"))
    settle(alice)
    assert introspect(alice, resource, tokens["access_token"]) == {"active": False}
    assert userinfo(alice, tokens["access_token"]).status_code == 401
    assert refresh(alice, rp, tokens["refresh_token"]).json()["error"] == "invalid_client"


def test_a_disabled_clients_client_credentials_token_is_inactive(live_server: LiveServer) -> None:
    client_id, secret = live_server.create_client(grant_types=["client_credentials"])
    caller = RelyingParty(*live_server.create_client(grant_types=["client_credentials"]), redirect_uri="")
    issued = requests.post(
        live_server.url("/oauth2/token"),
        auth=(client_id, secret),
        data={"grant_type": "client_credentials"},
        timeout=5,
    ).json()
    live_server.watch(issued["access_token"])
    assert introspect(live_server, caller, issued["access_token"])["active"] is True
    live_server.run(lambda: live_server.services.clients.set_disabled("default", client_id, True, "test"))
    settle(live_server)
    assert introspect(live_server, caller, issued["access_token"]) == {"active": False}
