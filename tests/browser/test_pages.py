"""Every page a person sees, in a real browser: error, wrong password, consent denial, logout confirmation, logged out.

Plus accessibility checks: every visible input has a label, errors are announced (role=alert),
the keyboard alone signs in, in a sensible focus order.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from browser.conftest import screenshot
from browser.relying_party import RelyingPartyApp
from support.live_server import LiveServer
from support.oidc import PASSWORD

pytestmark = pytest.mark.browser

UNLABELLED_INPUTS = """() => [...document.querySelectorAll('input:not([type=hidden]), button, select, textarea')]
  .filter(el => el.tagName === 'BUTTON' ? !el.textContent.trim() : !(el.labels && el.labels.length))
  .map(el => el.outerHTML)"""


def test_error_page_for_an_unknown_application(idp: LiveServer, page: Page, tmp_path: Path) -> None:
    response = page.goto(
        idp.url("/oauth2/authorize") + "?client_id=nobody&response_type=code&redirect_uri=https://evil.example/"
    )
    assert response is not None
    assert response.status == 400
    expect(page.get_by_role("heading", name="Something went wrong")).to_be_visible()
    expect(page.get_by_role("alert")).to_contain_text("not registered")
    assert page.url.startswith(idp.base_url)  # never redirected
    screenshot(page, "error.png", tmp_path)


def test_wrong_password_is_announced_and_keyboard_only_sign_in(
    idp: LiveServer, relying_parties: Callable[..., RelyingPartyApp], page: Page
) -> None:
    app = relying_parties("kbd")
    page.goto(app.base_url + "/login")
    expect(page.get_by_label("Username")).to_be_focused()  # autofocus on the first field
    assert page.evaluate(UNLABELLED_INPUTS) == []
    page.keyboard.type("alice")
    page.keyboard.press("Tab")
    expect(page.get_by_label("Password")).to_be_focused()
    page.keyboard.type("not the password")
    page.keyboard.press("Tab")
    expect(page.get_by_role("button", name="Sign in")).to_be_focused()
    page.keyboard.press("Enter")
    alert = page.get_by_role("alert")
    expect(alert).to_have_text("The username or password is incorrect.")
    expect(page.get_by_label("Username")).to_have_value("alice")
    expect(page.get_by_label("Password")).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_label("Password")).to_be_focused()  # the username is kept; the password is retyped
    assert page.evaluate(UNLABELLED_INPUTS) == []
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    expect(page.locator("#status")).to_have_text("Hello Alice Liddell")
    idp.watch(*app.id_tokens)


def test_denying_consent_returns_to_the_application_with_access_denied(
    idp: LiveServer, relying_parties: Callable[..., RelyingPartyApp], page: Page
) -> None:
    app = relying_parties("deny", first_party=False)
    page.goto(app.base_url + "/login")
    page.get_by_label("Username").fill("alice")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    assert page.evaluate(UNLABELLED_INPUTS) == []
    with page.expect_response(lambda r: r.url.startswith(app.redirect_uri)) as callback:
        page.get_by_role("button", name="Deny").click()
    assert "error=access_denied" in callback.value.url


def test_logout_confirmation_and_logged_out_pages(
    idp: LiveServer, relying_parties: Callable[..., RelyingPartyApp], page: Page, tmp_path: Path
) -> None:
    app = relying_parties("out")
    page.goto(app.base_url + "/login")
    page.get_by_label("Username").fill("alice")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("#status")).to_have_text("Hello Alice Liddell")
    idp.watch(*app.id_tokens)
    page.goto(idp.url("/oauth2/logout"))  # no id_token_hint: Tessera asks first
    expect(page.get_by_role("heading", name="Sign out?")).to_be_visible()
    expect(page.get_by_role("button", name="Sign out")).to_be_focused()
    assert page.evaluate(UNLABELLED_INPUTS) == []
    screenshot(page, "logout-confirm.png", tmp_path)
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", name="Signed out")).to_be_visible()
    expect(page.get_by_role("status")).to_have_text("You are signed out.")
    screenshot(page, "logged-out.png", tmp_path)
    [logout] = app.wait_for_logout()
    assert logout["aud"] == app.client_id
