"""The sign-in page: one message for every failure, CSRF, throttling, security headers."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from support.live_server import LiveServer
from support.oidc import Browser, add_rp, add_user, events, pkce_pair, read_form

pytestmark = pytest.mark.protocol


def login_page(browser: Browser, rp) -> requests.Response:  # type: ignore[no-untyped-def]
    _, challenge = pkce_pair()
    page = browser.authorize(
        client_id=rp.client_id,
        redirect_uri=rp.redirect_uri,
        response_type="code",
        scope="openid",
        code_challenge=challenge,
        code_challenge_method="S256",
        login_hint="bob",
    )
    assert page.status_code == 200
    return page


def test_the_page_is_accessible_and_safe(alice: LiveServer) -> None:
    page = login_page(Browser(alice), add_rp(alice))
    headers = page.headers
    csp = headers["content-security-policy"]
    assert "default-src 'none'" in csp
    assert "frame-ancestors 'none'" in csp
    assert "script-src" not in csp
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "no-referrer"
    assert headers["cache-control"] == "no-store"
    assert "<script" not in page.text
    assert '<label for="username">' in page.text
    assert '<label for="password">' in page.text
    assert 'autocomplete="current-password"' in page.text
    assert 'value="bob"' in page.text  # login_hint
    assert '<html lang="en">' in page.text
    css = requests.get(alice.base_url + "/static/tessera.css", timeout=5)
    assert css.status_code == 200
    assert "focus-visible" in css.text


def test_unknown_user_and_wrong_password_look_the_same(alice: LiveServer) -> None:
    rp = add_rp(alice)
    browser = Browser(alice)
    timings: dict[str, list[float]] = {"alice": [], "nobody": []}
    bodies: dict[str, set[tuple[int, str]]] = {"alice": set(), "nobody": set()}
    for _ in range(3):
        for username in ("alice", "nobody"):
            page = login_page(browser, rp)
            started = time.perf_counter()
            failed = browser.login(page, username, "wrong password, sorry")
            timings[username].append(time.perf_counter() - started)
            form = read_form(failed.text)
            bodies[username].add((failed.status_code, " ".join(form.alerts)))
    assert bodies["alice"] == bodies["nobody"] == {(401, "The username or password is incorrect.")}
    known, unknown = statistics.median(timings["alice"]), statistics.median(timings["nobody"])
    assert known / 10 < unknown < known * 10, timings  # the same order of magnitude (a dummy hash is verified)
    reasons = [e.reason for e in events(alice, "user.login")]
    assert reasons.count("bad_password") == 3
    assert reasons.count("unknown_user") == 3


def test_a_missing_or_wrong_csrf_token_is_refused(alice: LiveServer) -> None:
    browser = Browser(alice)
    page = login_page(browser, add_rp(alice))
    form = read_form(page.text)
    data = {**form.fields, "username": "alice", "password": "correct horse battery staple", "action": "login"}
    for bad in ({k: v for k, v in data.items() if k != "csrf_token"}, {**data, "csrf_token": "forged"}):
        answer = browser.post(alice.base_url + str(form.action), bad)
        assert answer.status_code == 400
        assert "expired" in answer.text
    other_browser = Browser(alice)  # the right token from another browser: no cookie binding
    answer = other_browser.post(alice.base_url + str(form.action), data)
    assert answer.status_code == 400
    assert not events(alice, "user.login")


def test_cancel_sends_access_denied_back(alice: LiveServer) -> None:
    rp = add_rp(alice)
    browser = Browser(alice)
    answer = browser.code_from(browser.submit(login_page(browser, rp), action="cancel"))
    assert answer["error"] == "access_denied"


def test_repeated_failures_are_delayed_then_locked(start_server: Callable[..., LiveServer]) -> None:
    live = start_server(
        login={
            "account_throttle": {
                "free_failures": 2,
                "lockout_failures": 4,
                "base_delay": 0.2,
                "max_delay": 0.2,
                "lockout_duration": 600,
            }
        }
    )
    add_user(live, "alice")
    rp = add_rp(live)
    browser = Browser(live)
    statuses = []
    for attempt in range(6):
        if attempt >= 2:
            time.sleep(0.25)  # wait out the progressive delay so that the failure is counted
        failed = browser.login(login_page(browser, rp), "alice", "wrong password")
        statuses.append(failed.status_code)
    assert statuses[:4] == [401, 401, 401, 401]
    assert statuses[4:] == [429, 429]
    locked = browser.login(login_page(browser, rp), "alice")  # even the right password
    assert locked.status_code == 429
    assert "blocked" in locked.text
    reasons = [e.reason for e in events(live, "user.login")]
    assert reasons.count("bad_password") == 4
    assert "locked" in reasons
    quick = start_server(login={"account_throttle": {"free_failures": 1, "base_delay": 30}})  # same store
    add_user(quick, "dave")
    rp2 = add_rp(quick)
    browser2 = Browser(quick)
    browser2.login(login_page(browser2, rp2), "dave", "wrong")
    delayed = browser2.login(login_page(browser2, rp2), "dave")
    assert delayed.status_code == 429
    assert "Wait" in delayed.text
    assert "throttled" in [e.reason for e in events(quick, "user.login")]


def test_parallel_guesses_are_counted_one_by_one(start_server: Callable[..., LiveServer]) -> None:
    """A burst of guesses sent at once meets the throttle as if sent in turn: only the free ones are checked."""
    live = start_server(login={"account_throttle": {"free_failures": 3, "base_delay": 30, "max_delay": 30}})
    add_user(live, "alice")
    rp = add_rp(live)
    browsers = [Browser(live) for _ in range(12)]
    pages = [login_page(browser, rp) for browser in browsers]
    with ThreadPoolExecutor(max_workers=12) as pool:
        answers = list(pool.map(lambda b, page: b.login(page, "alice", "a guess"), browsers, pages))
    statuses = sorted(answer.status_code for answer in answers)
    assert statuses == [401] * 3 + [429] * 9
    reasons = [e.reason for e in events(live, "user.login")]
    assert reasons.count("bad_password") == 3  # three passwords were checked, not twelve
    assert reasons.count("throttled") == 9
    late = Browser(live)
    assert late.login(login_page(late, rp), "alice").status_code == 429  # the right password waits too


def test_many_people_behind_one_address_sign_in_at_once(start_server: Callable[..., LiveServer]) -> None:
    """Attempts in flight from one address (a NAT) do not throttle each other; only failures count there."""
    live = start_server(login={"source_throttle": {"free_failures": 2, "base_delay": 30, "max_delay": 30}})
    people = [f"person{i}" for i in range(8)]
    for person in people:
        add_user(live, person)
    rp = add_rp(live)
    browsers = [Browser(live) for _ in people]
    pages = [login_page(browser, rp) for browser in browsers]
    with ThreadPoolExecutor(max_workers=len(people)) as pool:
        answers = list(pool.map(lambda b, page, who: b.login(page, who), browsers, pages, people))
    codes = [b.code_from(answer) for b, answer in zip(browsers, answers, strict=True)]
    assert all("code" in params for params in codes), codes
    assert [e.reason for e in events(live, "user.login")].count(None) == len(people)


def test_a_password_hash_with_old_parameters_is_upgraded_at_sign_in(alice: LiveServer) -> None:
    from argon2 import PasswordHasher

    old = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1).hash("an older password, still good")
    user = add_user(alice, "carol")

    async def downgrade() -> None:
        await alice.services.store.users.replace_password_hash(
            "default",
            user.user_id,
            str((await alice.services.store.users.get("default", user.user_id)).password_hash),
            old,
        )  # type: ignore[union-attr]

    alice.run(downgrade)
    rp = add_rp(alice)
    browser = Browser(alice)
    browser.code_from(browser.login(login_page(browser, rp), "carol", "an older password, still good"))
    stored = alice.run(lambda: alice.services.store.users.get("default", user.user_id))
    assert stored is not None
    assert stored.password_hash is not None
    assert "m=19456,t=2,p=1" in stored.password_hash
    assert any(e.reason == "password_rehash" for e in events(alice, "user.update"))


def test_an_expired_interaction_shows_an_error_page(alice: LiveServer) -> None:
    page = Browser(alice).get(alice.url("/login") + "?interaction=nope")
    assert page.status_code == 400
    assert 'role="alert"' in page.text
