"""Single sign-on sessions: a second client without a password, prompt/max_age, timeouts, consent, subjects."""

from __future__ import annotations

import time
from collections.abc import Callable

import jwt
import pytest
import requests

from support.live_server import LiveServer
from support.oidc import Browser, add_rp, add_user, events, exchange, pkce_pair, sign_in
from tessera.clock import FixedClock
from tessera.domain.audit import AuditNotes

pytestmark = pytest.mark.protocol


def id_claims(live: LiveServer, rp, result: dict[str, str]) -> dict[str, object]:  # type: ignore[no-untyped-def]
    response = exchange(live, rp, result["code"], result["code_verifier"])
    assert response.status_code == 200, response.text
    claims: dict[str, object] = jwt.decode(response.json()["id_token"], options={"verify_signature": False})
    return claims


def authorize_page(browser: Browser, rp, **params: str):  # type: ignore[no-untyped-def]
    _, challenge = pkce_pair()
    params.setdefault("scope", "openid")
    return browser.authorize(
        client_id=rp.client_id,
        redirect_uri=rp.redirect_uri,
        response_type="code",
        code_challenge=challenge,
        code_challenge_method="S256",
        **params,
    )


def test_second_client_gets_a_code_without_the_password(alice: LiveServer) -> None:
    app_a, app_b = add_rp(alice), add_rp(alice)
    browser = Browser(alice)
    first = id_claims(alice, app_a, sign_in(browser, app_a))
    page = authorize_page(browser, app_b)
    assert page.status_code == 303, "no sign-in page for the second application"
    second = id_claims(alice, app_b, sign_in(browser, app_b))
    assert first["sid"] == second["sid"]
    assert first["auth_time"] == second["auth_time"]
    assert first["sub"] == second["sub"]  # public subject type
    assert len([e for e in events(alice, "user.login") if e.result == "success"]) == 1
    assert len(events(alice, "session.create")) == 1


def test_prompt_none_with_a_session_returns_a_code_without_ui(alice: LiveServer) -> None:
    rp = add_rp(alice)
    browser = Browser(alice)
    sign_in(browser, rp)
    answer = browser.code_from(authorize_page(browser, rp, prompt="none"))
    assert "code" in answer


def test_prompt_login_and_max_age_force_reauthentication(alice: LiveServer) -> None:
    rp = add_rp(alice)
    browser = Browser(alice)
    first = id_claims(alice, rp, sign_in(browser, rp))
    time.sleep(1.1)  # auth_time has a one-second resolution
    for params in ({"prompt": "login"}, {"max_age": "0"}):
        page = authorize_page(browser, rp, **params)
        assert page.status_code == 200, params
        assert "Sign in" in page.text, params
    again = id_claims(alice, rp, sign_in(browser, rp, prompt="login"))
    assert again["sid"] == first["sid"]  # same person: same session, newer auth_time
    assert int(again["auth_time"]) > int(first["auth_time"])  # type: ignore[call-overload]
    none_after_max_age = browser.code_from(authorize_page(browser, rp, prompt="none", max_age="0"))
    assert none_after_max_age["error"] == "login_required"


def test_idle_and_absolute_timeouts(start_server: Callable[..., LiveServer]) -> None:
    clock = FixedClock(time.time())
    live = start_server(clock=clock, sessions={"idle_timeout": 600, "absolute_timeout": 1800})
    add_user(live, "alice")
    rp = add_rp(live)
    browser = Browser(live)
    sign_in(browser, rp)
    clock.advance(590)
    assert authorize_page(browser, rp).status_code == 303  # used within the idle timeout: still signed in
    clock.advance(590)
    assert authorize_page(browser, rp).status_code == 303
    clock.advance(601)
    page = authorize_page(browser, rp)
    assert page.status_code == 200
    assert "Sign in" in page.text
    sign_in(browser, rp)
    for _ in range(3):
        clock.advance(590)
        assert authorize_page(browser, rp).status_code == 303
    clock.advance(590)  # 2360 s after sign-in: past the absolute timeout though never idle
    page = authorize_page(browser, rp)
    assert page.status_code == 200
    assert "Sign in" in page.text


def test_consent_for_third_party_clients_is_remembered_then_revocable(alice: LiveServer) -> None:
    rp = add_rp(alice, first_party=False, name="Photo Printer", scopes=[])
    browser = Browser(alice)
    page = browser.login(authorize_page(browser, rp, scope="openid email"), "alice")
    assert page.status_code == 200
    assert "Allow access?" in page.text
    assert "Photo Printer" in page.text
    assert "e-mail" in page.text
    answer = browser.code_from(browser.submit(page, decision="allow"))
    assert "code" in answer
    assert authorize_page(browser, rp, scope="openid email").status_code == 303  # remembered
    more = authorize_page(browser, rp, scope="openid email profile")
    assert "Allow access?" in more.text  # a new scope asks again
    assert authorize_page(browser, rp, scope="openid email", prompt="consent").status_code == 200
    [grant] = events(alice, "consent.grant")
    user_id = grant.details["user_id"]
    assert alice.run(lambda: alice.services.store.consents.revoke("default", user_id, rp.client_id)) is True
    assert "Allow access?" in authorize_page(browser, rp, scope="openid email").text
    denied = browser.code_from(browser.submit(authorize_page(browser, rp, scope="openid email"), decision="deny"))
    assert denied["error"] == "access_denied"
    none = browser.code_from(authorize_page(browser, rp, scope="openid email", prompt="none"))
    assert none["error"] == "consent_required"


def test_pairwise_subjects_differ_between_sectors(alice: LiveServer) -> None:
    one = add_rp(alice, subject_type="pairwise", redirect_uri="http://localhost:8001/cb")
    two = add_rp(alice, subject_type="pairwise", redirect_uri="http://127.0.0.1:8002/cb")
    same_sector = add_rp(alice, subject_type="pairwise", redirect_uri="http://localhost:8003/cb")
    public = add_rp(alice)
    browser = Browser(alice)
    subs = {}
    for name, rp in (("one", one), ("two", two), ("same", same_sector), ("public", public)):
        result = sign_in(browser, rp)
        token = exchange(alice, rp, result["code"], result["code_verifier"]).json()
        claims = jwt.decode(token["id_token"], options={"verify_signature": False})
        info = requests.get(
            alice.url("/oauth2/userinfo"), headers={"authorization": f"Bearer {token['access_token']}"}, timeout=5
        )
        assert info.json()["sub"] == claims["sub"]
        subs[name] = claims["sub"]
    assert subs["one"] != subs["two"]
    assert subs["one"] == subs["same"]  # one sector (localhost), one subject
    assert subs["public"] not in (subs["one"], subs["two"])


def test_disabled_user_cannot_sign_in_and_loses_sessions_and_refresh_tokens(alice: LiveServer) -> None:
    rp = add_rp(alice)
    browser = Browser(alice)
    result = sign_in(browser, rp)
    tokens = exchange(alice, rp, result["code"], result["code_verifier"]).json()

    async def disable() -> None:
        services = alice.services
        notes = AuditNotes(services.audit, services.clock.now(), "default", None, None)
        await services.identity.users.set_disabled("default", "alice", True, notes, "test")
        await notes.flush()

    alice.run(disable)
    page = authorize_page(browser, rp)
    assert "Sign in" in page.text  # the session ended
    failed = browser.login(page, "alice")
    assert failed.status_code == 401
    assert "The username or password is incorrect." in failed.text
    refreshed = requests.post(
        alice.url("/oauth2/token"),
        auth=(rp.client_id, rp.secret),
        timeout=5,
        data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
    )
    assert refreshed.json()["error"] == "invalid_grant"
    assert any(e.reason == "disabled" for e in events(alice, "user.login"))
    assert any(e.reason == "user_disabled" for e in events(alice, "session.revoke"))
