"""RP-initiated logout (RP-Initiated Logout 1.0) and back-channel logout (Back-Channel Logout 1.0)."""

from __future__ import annotations

from collections.abc import Callable

import jwt
import pytest
import requests

from support.live_server import LiveServer
from support.oidc import Browser, add_rp, add_user, events, exchange, logout_receiver, pkce_pair, query_of, sign_in

pytestmark = pytest.mark.protocol
BACKCHANNEL_EVENT = "http://schemas.openid.net/event/backchannel-logout"


def signed_in(live: LiveServer, browser: Browser, rp) -> dict[str, str]:  # type: ignore[no-untyped-def]
    result = sign_in(browser, rp)
    body: dict[str, str] = exchange(live, rp, result["code"], result["code_verifier"]).json()
    return body


def needs_login(browser: Browser, rp) -> bool:  # type: ignore[no-untyped-def]
    _, challenge = pkce_pair()
    page = browser.authorize(
        client_id=rp.client_id,
        redirect_uri=rp.redirect_uri,
        response_type="code",
        scope="openid",
        code_challenge=challenge,
        code_challenge_method="S256",
    )
    return page.status_code == 200 and "Sign in" in page.text


def test_logout_with_hint_and_registered_uri_ends_the_session_and_notifies_every_client(alice: LiveServer) -> None:
    with logout_receiver() as receiver_a, logout_receiver() as receiver_b:
        app_a = add_rp(
            alice, post_logout_redirect_uris=["http://127.0.0.1:9/signed-out"], backchannel_logout_uri=receiver_a.uri
        )
        app_b = add_rp(alice, backchannel_logout_uri=receiver_b.uri)
        browser = Browser(alice)
        tokens = signed_in(alice, browser, app_a)
        signed_in(alice, browser, app_b)
        sid = jwt.decode(tokens["id_token"], options={"verify_signature": False})["sid"]
        answer = browser.get(
            alice.url("/oauth2/logout")
            + "?"
            + requests.compat.urlencode(
                {  # type: ignore[attr-defined]
                    "id_token_hint": tokens["id_token"],
                    "post_logout_redirect_uri": "http://127.0.0.1:9/signed-out",
                    "state": "bye",
                }
            )
        )
        assert answer.status_code == 303
        assert answer.headers["location"] == "http://127.0.0.1:9/signed-out?state=bye"
        assert needs_login(browser, app_a)
        assert needs_login(browser, app_b)
        jwks = jwt.PyJWKClient(alice.url("/oauth2/jwks"))
        for receiver, rp in ((receiver_a, app_a), (receiver_b, app_b)):
            [token] = receiver.wait_for(1)
            header = jwt.get_unverified_header(token)
            assert header["typ"] == "logout+jwt"
            claims = jwt.decode(
                token,
                jwks.get_signing_key_from_jwt(token).key,
                algorithms=["ES256"],
                audience=rp.client_id,
                issuer=alice.issuer(),
            )
            assert claims["sid"] == sid
            assert claims["events"] == {BACKCHANNEL_EVENT: {}}
            assert "nonce" not in claims
            assert {"iat", "exp", "jti", "sub"} <= set(claims)
    assert len(events(alice, "logout")) == 1
    deliveries = wait_for_events(alice, "backchannel_logout", 2)
    assert {e.result for e in deliveries} == {"success"}
    introspection = requests.post(
        alice.url("/oauth2/introspect"),
        auth=(app_a.client_id, app_a.secret),
        data={"token": tokens["access_token"]},
        timeout=5,
    ).json()
    assert introspection == {"active": False}


def wait_for_events(live: LiveServer, action: str, count: int, timeout: float = 10.0) -> list:  # type: ignore[type-arg]
    import time

    deadline = time.monotonic() + timeout
    while True:
        found = events(live, action)
        if len(found) >= count or time.monotonic() > deadline:
            return found
        time.sleep(0.05)


def test_an_unregistered_post_logout_redirect_uri_gets_an_error_page(alice: LiveServer) -> None:
    rp = add_rp(alice, post_logout_redirect_uris=["http://127.0.0.1:9/signed-out"])
    browser = Browser(alice)
    tokens = signed_in(alice, browser, rp)
    for params in (
        {"id_token_hint": tokens["id_token"], "post_logout_redirect_uri": "https://evil.example/"},
        {"post_logout_redirect_uri": "http://127.0.0.1:9/signed-out"},  # no hint, no client_id: cannot be checked
        {"id_token_hint": "not-a-token"},
    ):
        answer = browser.get(alice.url("/oauth2/logout") + "?" + requests.compat.urlencode(params))  # type: ignore[attr-defined]
        assert answer.status_code == 400, params
        assert "location" not in answer.headers
        assert 'role="alert"' in answer.text
    assert not needs_login(browser, rp)  # still signed in


def test_logout_without_a_hint_asks_first(alice: LiveServer) -> None:
    rp = add_rp(alice, post_logout_redirect_uris=["http://127.0.0.1:9/out"])
    browser = Browser(alice)
    signed_in(alice, browser, rp)
    confirm = browser.get(
        alice.url("/oauth2/logout")
        + f"?client_id={rp.client_id}&post_logout_redirect_uri=http://127.0.0.1:9/out&state=s"
    )
    assert confirm.status_code == 200
    assert "Sign out?" in confirm.text
    stay = browser.submit(confirm, decision="stay")
    assert stay.status_code == 303
    assert not needs_login(browser, rp)
    confirm = browser.get(alice.url("/oauth2/logout"))
    done = browser.submit(confirm, decision="logout")
    assert done.status_code == 200
    assert "You are signed out." in done.text
    assert needs_login(browser, rp)
    forged = browser.post(alice.url("/logout"), {"decision": "logout"})
    assert forged.status_code == 400


def test_an_administrator_revoking_a_session_triggers_backchannel_logout(alice: LiveServer) -> None:
    with logout_receiver() as receiver:
        receiver.status = 500  # a broken client must not block anything: the failure is audited
        rp = add_rp(alice, backchannel_logout_uri=receiver.uri)
        browser = Browser(alice)
        signed_in(alice, browser, rp)
        [session] = alice.run(lambda: alice.services.identity.sessions.list("default"))
        assert alice.run(lambda: alice.services.identity.sessions.end(session, "admin", "cli:root")) is True
        assert len(receiver.wait_for(1)) == 1
    [delivery] = wait_for_events(alice, "backchannel_logout", 1)
    assert (delivery.result, delivery.reason) == ("failure", "http_500")
    assert needs_login(browser, rp)
    [revoked] = [e for e in events(alice, "session.revoke")]
    assert (revoked.reason, revoked.actor) == ("admin", "cli:root")


def test_an_unreachable_backchannel_uri_is_audited(start_server: Callable[..., LiveServer]) -> None:
    live = start_server(oidc={"backchannel_logout_timeout": 0.5})
    add_user(live, "alice")
    rp = add_rp(live, backchannel_logout_uri="http://127.0.0.1:9/nothing-listens")
    browser = Browser(live)
    tokens = signed_in(live, browser, rp)
    answer = browser.get(live.url("/oauth2/logout") + "?id_token_hint=" + tokens["id_token"])
    assert answer.status_code == 200
    assert "signed out" in answer.text
    [delivery] = wait_for_events(live, "backchannel_logout", 1)
    assert delivery.result == "failure"
    assert delivery.reason in ("unreachable", "timeout")
    assert query_of("x?a=b") == {"a": "b"}
