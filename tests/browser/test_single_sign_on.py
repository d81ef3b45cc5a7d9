"""A person signs in once in a real browser: app A, then app B without a password, then one logout ends both."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from pathlib import Path

import jwt
import pytest
from playwright.sync_api import Page, expect

from browser.conftest import screenshot
from browser.relying_party import RelyingPartyApp
from support.live_server import LiveServer
from support.oidc import PASSWORD

pytestmark = pytest.mark.browser


def test_sign_in_once_then_single_sign_on_then_logout_everywhere(
    idp: LiveServer, relying_parties: Callable[..., RelyingPartyApp], page: Page, tmp_path: Path
) -> None:
    app_a, app_b = relying_parties("a"), relying_parties("b")
    visited: list[str] = []
    page.on("framenavigated", lambda frame: visited.append(frame.url))

    page.goto(app_a.base_url + "/")
    expect(page.locator("#status")).to_have_text("Signed out")
    page.click("#login")
    expect(page).to_have_url(re.compile(r".*/t/default/login\?interaction=.*"))
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    expect(page.get_by_text("to continue to App A")).to_be_visible()
    screenshot(page, "login.png", tmp_path)
    page.get_by_label("Username").fill("alice")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("#status")).to_have_text("Hello Alice Liddell")
    assert page.url.startswith(app_a.base_url)

    [id_token] = app_a.id_tokens  # Authlib exchanged the code and validated it; check it independently too
    idp.watch(id_token)
    jwks = jwt.PyJWKClient(idp.url("/oauth2/jwks"))
    claims = jwt.decode(
        id_token,
        jwks.get_signing_key_from_jwt(id_token).key,
        algorithms=["ES256"],
        audience=app_a.client_id,
        issuer=idp.issuer(),
    )
    assert claims["email"] == "alice@example.com"
    assert "nonce" in claims
    assert "at_hash" in claims
    assert "sid" in claims

    visited.clear()
    page.goto(app_b.base_url + "/")
    page.click("#login")
    expect(page.locator("#status")).to_have_text("Hello Alice Liddell")
    assert not [url for url in visited if "/login" in url and url.startswith(idp.base_url)], visited
    [id_token_b] = app_b.id_tokens
    idp.watch(id_token_b)
    claims_b = jwt.decode(id_token_b, options={"verify_signature": False})
    assert claims_b["sid"] == claims["sid"]
    assert claims_b["aud"] == app_b.client_id

    page.goto(app_a.base_url + "/")
    page.click("#logout")
    expect(page.locator("#status")).to_have_text("Signed out (bye)")
    for rp in (app_a, app_b):
        [logout] = rp.wait_for_logout()
        assert logout["sid"] == claims["sid"]
        assert logout["events"] == {"http://schemas.openid.net/event/backchannel-logout": {}}
    page.goto(app_b.base_url + "/")
    expect(page.locator("#status")).to_have_text("Signed out")  # B heard it through the back channel
    page.click("#login")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()  # Tessera's session is over too


def test_consent_page_for_a_third_party_application(
    idp: LiveServer, relying_parties: Callable[..., RelyingPartyApp], page: Page, tmp_path: Path
) -> None:
    app = relying_parties("printer", first_party=False, client_uri="https://printer.example/")
    page.goto(app.base_url + "/login")
    page.get_by_label("Username").fill("alice")
    page.get_by_label("Password").fill(PASSWORD)
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Allow access?")).to_be_visible()
    expect(page.get_by_role("list", name="What the application asks for")).to_contain_text("See your e-mail address")
    screenshot(page, "consent.png", tmp_path)
    page.get_by_role("button", name="Allow").click()
    expect(page.locator("#status")).to_have_text("Hello Alice Liddell")
    idp.watch(*app.id_tokens)
    page.goto(app.base_url + "/logout")  # signs out through Tessera (id_token_hint: no confirmation)
    expect(page.locator("#status")).to_have_text("Signed out (bye)")
    page.goto(app.base_url + "/login")
    page.get_by_label("Username").fill("alice")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("#status")).to_have_text("Hello Alice Liddell")  # consent was remembered
    idp.watch(*app.id_tokens)
    time.sleep(0)  # nothing to wait for: the assertion above polled
