"""Driving the sign-in flow without a browser: a cookie-keeping HTTP session that reads the pages' forms.

Relying parties' redirect URIs point at loopback ports nobody listens on: the tests read the
``Location`` of the redirect back to the client instead of following it.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from html.parser import HTMLParser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import requests

from support.live_server import LiveServer
from tessera.domain.audit import AuditEvent, AuditNotes, AuditQuery
from tessera.domain.users import User, new_user_id
from tessera.secret import Secret

PASSWORD = "correct horse battery staple"


class FormReader(HTMLParser):
    """The first form of a page: its action and its named inputs (hidden ones included)."""

    def __init__(self) -> None:
        super().__init__()
        self.action: str | None = None
        self.fields: dict[str, str] = {}
        self.alerts: list[str] = []
        self._in_alert = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k: v or "" for k, v in attrs}
        if tag == "form" and self.action is None:
            self.action = values.get("action", "")
        elif tag == "input" and "name" in values:
            self.fields.setdefault(values["name"], values.get("value", ""))
        if values.get("role") == "alert":
            self._in_alert = True

    def handle_endtag(self, tag: str) -> None:
        if tag == "div":
            self._in_alert = False

    def handle_data(self, data: str) -> None:
        if self._in_alert and data.strip():
            self.alerts.append(data.strip())


def read_form(html: str) -> FormReader:
    reader = FormReader()
    reader.feed(html)
    return reader


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


def query_of(location: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


@dataclass
class Browser:
    """A person's browser: keeps cookies, follows Tessera's redirects, stops at the client's."""

    live: LiveServer
    tenant: str = "default"
    http: requests.Session = field(default_factory=requests.Session)
    last: requests.Response | None = None

    def get(self, url: str, **kwargs: Any) -> requests.Response:
        return self._follow(self.http.get(url, allow_redirects=False, timeout=10, **kwargs))

    def post(self, url: str, data: dict[str, str]) -> requests.Response:
        return self._follow(self.http.post(url, data=data, allow_redirects=False, timeout=10))

    def _follow(self, response: requests.Response) -> requests.Response:
        while response.status_code in (302, 303) and response.headers["location"].startswith(("/", self.live.base_url)):
            location = response.headers["location"]
            url = self.live.base_url + location if location.startswith("/") else location
            response = self.http.get(url, allow_redirects=False, timeout=10)
        self.last = response
        return response

    def authorize(self, **params: str) -> requests.Response:
        return self.get(self.live.url("/oauth2/authorize", self.tenant) + "?" + urlencode(params))

    def submit(self, page: requests.Response, **values: str) -> requests.Response:
        form = read_form(page.text)
        assert form.action, page.text[:500]
        data = {**form.fields, **values}
        return self.post(self.live.base_url + form.action, data)

    def login(self, page: requests.Response, username: str, password: str = PASSWORD) -> requests.Response:
        assert "Sign in" in page.text, page.text[:500]
        return self.submit(page, username=username, password=password, action="login")

    def code_from(self, response: requests.Response) -> dict[str, str]:
        """The parameters of the redirect back to the client (``code`` or ``error``, ``state``, ``iss``)."""
        assert response.status_code in (302, 303), (response.status_code, response.text[:800])
        params = query_of(response.headers["location"])
        if "code" in params:
            self.live.watch(params["code"])
        return params


@dataclass
class RelyingParty:
    client_id: str
    secret: str
    redirect_uri: str


def add_user(
    live: LiveServer, username: str = "alice", password: str = PASSWORD, tenant: str = "default", **profile: Any
) -> User:
    profile.setdefault("email", f"{username}@example.com")
    profile.setdefault("email_verified", True)
    profile.setdefault("name", username.title())
    profile.setdefault("groups", ("staff",))
    user = User(tenant_id=tenant, user_id=new_user_id(), username=username, **profile)

    async def create() -> User:
        notes = AuditNotes(live.services.audit, live.services.clock.now(), tenant, None, None)
        created = await live.services.identity.users.create(user, notes, "test", Secret(password))
        await notes.flush()
        return created

    return live.run(create)


def add_rp(live: LiveServer, client_id: str | None = None, tenant: str = "default", **spec: Any) -> RelyingParty:
    port = 40000 + secrets.randbelow(20000)
    redirect_uri = spec.pop("redirect_uri", f"http://127.0.0.1:{port}/callback")
    spec.setdefault("redirect_uris", [redirect_uri])
    spec.setdefault("grant_types", ["authorization_code", "refresh_token"])
    spec.setdefault("first_party", True)
    spec.setdefault("scopes", [])
    client_id, secret = live.create_client(client_id, tenant, **spec)
    return RelyingParty(client_id, secret, redirect_uri)


def events(live: LiveServer, action: str, tenant: str = "default") -> list[AuditEvent]:
    found = live.run(lambda: live.services.store.audit.search(AuditQuery(tenant_id=tenant, action=action, limit=1000)))
    return [e for _, e in found]


def sign_in(browser: Browser, rp: RelyingParty, username: str = "alice", **params: str) -> dict[str, str]:
    """The whole front channel: /authorize, the login page, back to the client. Returns the redirect's parameters."""
    verifier, challenge = pkce_pair()
    params.setdefault("scope", "openid profile email")
    params.setdefault("state", secrets.token_urlsafe(8))
    page = browser.authorize(
        client_id=rp.client_id,
        redirect_uri=rp.redirect_uri,
        response_type="code",
        code_challenge=challenge,
        code_challenge_method="S256",
        **params,
    )
    if page.status_code == 200 and "Sign in" in page.text:
        page = browser.login(page, username)
    result = browser.code_from(page)
    result["code_verifier"] = verifier
    return result


def exchange(
    live: LiveServer, rp: RelyingParty, code: str, verifier: str | None, tenant: str = "default", **extra: str
) -> requests.Response:
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": rp.redirect_uri, **extra}
    if verifier is not None:
        data["code_verifier"] = verifier
    response = requests.post(live.url("/oauth2/token", tenant), auth=(rp.client_id, rp.secret), data=data, timeout=10)
    if response.status_code == 200:
        body = response.json()
        live.watch(*(body.get(k, "") for k in ("access_token", "refresh_token", "id_token")))
    return response


def refresh(live: LiveServer, rp: RelyingParty, token: str, **extra: str) -> requests.Response:
    data = {"grant_type": "refresh_token", "refresh_token": token, **extra}
    response = requests.post(live.url("/oauth2/token"), auth=(rp.client_id, rp.secret), data=data, timeout=10)
    if response.status_code == 200:
        body = response.json()
        live.watch(*(body.get(k, "") for k in ("access_token", "refresh_token", "id_token")))
    return response


class LogoutReceiver:
    """A client's back-channel logout endpoint: records every ``logout_token`` POSTed to it."""

    def __init__(self) -> None:
        self.tokens: list[str] = []
        self.status = 200
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", "0"))
                body = parse_qs(self.rfile.read(length).decode())
                receiver.tokens.extend(body.get("logout_token", []))
                self.send_response(receiver.status)
                self.send_header("cache-control", "no-store")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.uri = f"http://127.0.0.1:{self.server.server_address[1]}/backchannel-logout"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def wait_for(self, count: int, timeout: float = 10.0) -> list[str]:
        import time

        deadline = time.monotonic() + timeout
        while len(self.tokens) < count and time.monotonic() < deadline:
            time.sleep(0.02)
        return list(self.tokens)


@contextmanager
def logout_receiver() -> Iterator[LogoutReceiver]:
    receiver = LogoutReceiver()
    receiver.thread.start()
    try:
        yield receiver
    finally:
        receiver.server.shutdown()
        receiver.server.server_close()
