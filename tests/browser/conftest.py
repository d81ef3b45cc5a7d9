"""Browser tests: Debian's chromium driven by Playwright, one browser per module, one server per test."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright

from browser.relying_party import RelyingPartyApp, reserve
from support.live_server import LiveServer
from support.oidc import add_user

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


@pytest.fixture(scope="module")
def chromium() -> Iterator[Browser]:
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: apt-get install chromium (.ci/run does)", pytrace=False)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


@pytest.fixture
def context(chromium: Browser) -> Iterator[BrowserContext]:
    context = chromium.new_context(viewport={"width": 900, "height": 760}, locale="en-US")
    context.set_default_timeout(15_000)
    yield context
    context.close()


@pytest.fixture
def page(context: BrowserContext) -> Page:
    return context.new_page()


@pytest.fixture
def idp(live_server: LiveServer) -> LiveServer:
    add_user(live_server, "alice", name="Alice Liddell", email="alice@example.com")
    return live_server


@pytest.fixture
def relying_parties(idp: LiveServer) -> Iterator[Callable[..., RelyingPartyApp]]:
    started: list[RelyingPartyApp] = []

    def make(name: str, **spec: object) -> RelyingPartyApp:
        rp = reserve(name, idp.issuer())
        spec.setdefault("first_party", True)
        rp.client_id, rp.client_secret = idp.create_client(
            f"app-{name}",
            name=f"App {name.upper()}",
            grant_types=["authorization_code", "refresh_token"],
            scopes=[],
            redirect_uris=[rp.redirect_uri],
            post_logout_redirect_uris=[rp.signed_out_uri],
            backchannel_logout_uri=rp.backchannel_uri,
            **spec,
        )
        rp.start()
        started.append(rp)
        return rp

    yield make
    for rp in started:
        rp.stop()


def screenshot(page: Page, name: str, tmp_path: Path) -> Path:
    """Into the test's folder; with TESSERA_UPDATE_SCREENSHOTS=1 also into docs/screenshots (committed)."""
    target = tmp_path / name
    page.screenshot(path=str(target), full_page=True)
    if os.environ.get("TESSERA_UPDATE_SCREENSHOTS") == "1":
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        shutil.copy(target, SCREENSHOTS / name)
    return target
