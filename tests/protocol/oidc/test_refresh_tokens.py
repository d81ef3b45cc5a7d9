"""Refresh tokens: rotation on every use, reuse revokes the family (RFC 9700 §4.14.2), offline_access."""

from __future__ import annotations

import concurrent.futures
import time
from collections.abc import Callable
from urllib.parse import urlencode

import jwt
import pytest
import requests
from authlib.integrations.requests_client import OAuth2Session

from support.live_server import LiveServer
from support.oidc import Browser, add_rp, add_user, events, exchange, refresh, sign_in
from tessera.clock import FixedClock

pytestmark = pytest.mark.protocol


def tokens_for(live: LiveServer, rp, browser: Browser | None = None, scope: str = "openid profile") -> dict[str, str]:  # type: ignore[no-untyped-def]
    result = sign_in(browser or Browser(live), rp, scope=scope)
    response = exchange(live, rp, result["code"], result["code_verifier"])
    assert response.status_code == 200, response.text
    body: dict[str, str] = response.json()
    return body


def introspect(live: LiveServer, rp, token: str) -> dict[str, object]:  # type: ignore[no-untyped-def]
    body: dict[str, object] = requests.post(
        live.url("/oauth2/introspect"), auth=(rp.client_id, rp.secret), data={"token": token}, timeout=5
    ).json()
    return body


def test_rotation_with_authlib(alice: LiveServer) -> None:
    rp = add_rp(alice)
    first = tokens_for(alice, rp)
    session = OAuth2Session(rp.client_id, rp.secret, token=first)
    second = session.refresh_token(alice.url("/oauth2/token"), refresh_token=first["refresh_token"])
    alice.watch(second["access_token"], second["refresh_token"], second["id_token"])
    assert second["refresh_token"] != first["refresh_token"]
    assert second["scope"] == "openid profile"
    old_claims = jwt.decode(first["id_token"], options={"verify_signature": False})
    new_claims = jwt.decode(second["id_token"], options={"verify_signature": False})
    for name in ("sub", "aud", "auth_time", "sid", "iss"):  # OIDC Core §12.2
        assert new_claims[name] == old_claims[name]
    assert "nonce" not in new_claims
    third = refresh(alice, rp, second["refresh_token"], scope="openid")  # narrower scope for the access token
    assert third.status_code == 200
    assert third.json()["scope"] == "openid"
    wider = refresh(alice, rp, third.json()["refresh_token"], scope="openid profile email")
    assert wider.json()["error"] == "invalid_scope"
    issued = [e for e in events(alice, "token.issue") if e.result == "success"]
    assert [e.details["grant_type"] for e in issued] == ["authorization_code", "refresh_token", "refresh_token"]


def test_reusing_a_rotated_token_revokes_the_whole_family(alice: LiveServer) -> None:
    rp = add_rp(alice)
    first = tokens_for(alice, rp)
    second = refresh(alice, rp, first["refresh_token"]).json()
    assert introspect(alice, rp, second["access_token"])["active"] is True
    replay = refresh(alice, rp, first["refresh_token"])
    assert replay.status_code == 400
    assert replay.json()["error"] == "invalid_grant"
    legit = refresh(alice, rp, second["refresh_token"])  # the newest member dies with its family
    assert legit.json()["error"] == "invalid_grant"
    assert introspect(alice, rp, second["access_token"]) == {"active": False}
    assert introspect(alice, rp, first["access_token"]) == {"active": False}
    [reuse] = events(alice, "refresh_token.reuse")
    assert reuse.result == "failure"
    assert reuse.client_id == rp.client_id
    assert reuse.details["revoked_access_tokens"] == 2


def test_concurrent_rotations_cannot_both_win(alice: LiveServer) -> None:
    rp = add_rp(alice)
    token = tokens_for(alice, rp)["refresh_token"]
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda _: refresh(alice, rp, token), range(8)))
    assert sorted(a.status_code for a in answers).count(200) == 1


def test_a_refresh_token_is_bound_to_its_client(alice: LiveServer) -> None:
    rp, other = add_rp(alice), add_rp(alice)
    token = tokens_for(alice, rp)["refresh_token"]
    assert refresh(alice, other, token).json()["error"] == "invalid_grant"
    assert refresh(alice, rp, token).status_code == 200  # the other client's attempt did not burn it


def test_without_offline_access_refresh_tokens_end_with_the_session(alice: LiveServer) -> None:
    rp = add_rp(alice)
    browser = Browser(alice)
    online = tokens_for(alice, rp, browser)
    offline = tokens_for(alice, rp, browser, scope="openid offline_access")
    [session] = alice.run(lambda: alice.services.identity.sessions.list("default"))
    alice.run(lambda: alice.services.identity.sessions.end(session, "admin", "test"))
    assert refresh(alice, rp, online["refresh_token"]).json()["error"] == "invalid_grant"
    survived = refresh(alice, rp, offline["refresh_token"])
    assert survived.status_code == 200, survived.text
    assert survived.json()["scope"] == "openid offline_access"


def test_offline_access_needs_the_refresh_grant(alice: LiveServer) -> None:
    rp = add_rp(alice, grant_types=["authorization_code"])
    body = tokens_for(alice, rp, scope="openid offline_access")
    assert "refresh_token" not in body
    assert body["scope"] == "openid"


def test_revoking_a_refresh_token_revokes_its_family(alice: LiveServer) -> None:
    rp = add_rp(alice)
    tokens = tokens_for(alice, rp)
    answer = requests.post(
        alice.url("/oauth2/revoke"),
        auth=(rp.client_id, rp.secret),
        data={"token": tokens["refresh_token"], "token_type_hint": "refresh_token"},
        timeout=5,
    )
    assert answer.status_code == 200
    assert refresh(alice, rp, tokens["refresh_token"]).json()["error"] == "invalid_grant"


def test_a_wider_scope_is_refused_before_the_token_is_rotated(alice: LiveServer) -> None:
    """RFC 6749 §6 ``invalid_scope``, and the presented token is not consumed by the refusal (#9)."""
    rp = add_rp(alice)
    token = tokens_for(alice, rp)["refresh_token"]
    for wider in ("openid profile email", "openid offline_access", "admin"):
        refused = refresh(alice, rp, token, scope=wider)
        assert refused.status_code == 400
        assert refused.json()["error"] == "invalid_scope", wider
    again = refresh(alice, rp, token, scope="openid")
    assert again.status_code == 200, again.text
    assert again.json()["scope"] == "openid"
    assert events(alice, "refresh_token.reuse") == []


def test_session_bound_refresh_tokens_end_with_an_idle_expired_or_logged_out_session(
    start_server: Callable[..., LiveServer],
) -> None:
    """Without offline_access a refresh token lives only as long as its SSO session is active (#17)."""
    clock = FixedClock(time.time())
    live = start_server(clock=clock, sessions={"idle_timeout": 600, "absolute_timeout": 1800})
    add_user(live, "alice")
    rp = add_rp(live)
    browser = Browser(live)
    online = tokens_for(live, rp, browser)
    offline = tokens_for(live, rp, browser, scope="openid offline_access")
    clock.advance(590)
    online = refresh(live, rp, online["refresh_token"]).json()  # within the idle timeout
    assert "refresh_token" in online, online
    clock.advance(20)  # 610 s since the browser was last seen: the session is idle-expired
    refused = refresh(live, rp, online["refresh_token"])
    assert (refused.status_code, refused.json()["error"]) == (400, "invalid_grant")
    assert refresh(live, rp, offline["refresh_token"]).status_code == 200

    browser = Browser(live)  # a new session, kept active by the browser up to its absolute timeout
    online = tokens_for(live, rp, browser)
    for _ in range(3):
        clock.advance(590)
        assert "code" in sign_in(browser, rp)  # the person is active: the session is not idle
        online = refresh(live, rp, online["refresh_token"]).json()
        assert "refresh_token" in online, online
    clock.advance(200)  # 1970 s after sign-in: past the absolute timeout
    assert refresh(live, rp, online["refresh_token"]).json()["error"] == "invalid_grant"

    browser = Browser(live)
    online = tokens_for(live, rp, browser)
    offline = tokens_for(live, rp, browser, scope="openid offline_access")
    hint = {"id_token_hint": online["id_token"]}
    assert browser.get(live.url("/oauth2/logout") + "?" + urlencode(hint)).status_code == 200  # signed out
    assert refresh(live, rp, online["refresh_token"]).json()["error"] == "invalid_grant"
    assert refresh(live, rp, offline["refresh_token"]).status_code == 200
