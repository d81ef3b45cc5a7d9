"""Signing a person in over HTTP, as a browser does (httpx, from Tessera's venv).

One login is three requests with a fresh cookie jar: ``GET /oauth2/authorize`` (303 to the sign-in
page, sets the ``tessera_browser`` cookie), ``GET /login?interaction=H`` (the form, with hidden
``interaction`` and ``csrf_token``), ``POST /login`` with the password (303 to the client's
callback with a ``code``, sets the session cookie). With the session cookie, ``GET /authorize``
answers 303 to the callback straight away: that is how the refresh scenarios mint many codes,
then refresh tokens, from one login.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import re
from dataclasses import dataclass
from urllib.parse import parse_qs, urlencode, urljoin, urlsplit

import httpx
from harness import BenchError

VERIFIER = "bench-pkce-verifier-" + "0" * 30  # 50 characters of RFC 7636 unreserved: one verifier for all
CHALLENGE = base64.urlsafe_b64encode(hashlib.sha256(VERIFIER.encode()).digest()).rstrip(b"=").decode()
_HIDDEN = re.compile(r'<input type="hidden" name="([\w-]+)" value="([^"]*)">')


class FlowError(BenchError):
    """A step of the flow answered something else than a browser expects (``status`` is what it got)."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class LoginFlow:
    """Who signs in where: the tenant's issuer, a web client, a scope, a person and their password."""

    issuer: str
    client_id: str
    redirect_uri: str
    scope: str
    username: str
    password: str

    @property
    def authorize_url(self) -> str:
        query = {
            "response_type": "code",
            "client_id": self.client_id,
            "redirect_uri": self.redirect_uri,
            "scope": self.scope,
            "state": "bench",
            "code_challenge": CHALLENGE,
            "code_challenge_method": "S256",
        }
        return f"{self.issuer}/oauth2/authorize?{urlencode(query)}"

    def login_body(self, interaction: str, csrf_token: str) -> dict[str, str]:
        return {
            "interaction": interaction,
            "csrf_token": csrf_token,
            "username": self.username,
            "password": self.password,
            "action": "login",
        }


def _expect(response: httpx.Response, status: int, what: str) -> None:
    if response.status_code != status:
        raise FlowError(f"{what}: expected {status}, got {response.status_code}: {response.text[:200]!r}", status)


def _location(response: httpx.Response) -> str:
    return urljoin(str(response.url), str(response.headers.get("location", "")))


def code_of(response: httpx.Response, flow: LoginFlow) -> str:
    """The code in a 303 to the client's callback."""
    _expect(response, 303, "redirect to the client")
    location = _location(response)
    code = parse_qs(urlsplit(location).query).get("code", [""])[0]
    if not location.startswith(flow.redirect_uri + "?") or not code:
        raise FlowError(f"not a redirect with a code to the client: {location[:200]}", response.status_code)
    return code


async def sign_in(http: httpx.AsyncClient, flow: LoginFlow) -> str:
    """One full login with the cookies already in ``http`` (none: a new browser); the code it ends with."""
    start = await http.get(flow.authorize_url)
    _expect(start, 303, "GET /authorize")
    page = await http.get(_location(start))
    _expect(page, 200, "GET /login")
    fields = dict(_HIDDEN.findall(page.text))
    if "interaction" not in fields or "csrf_token" not in fields:
        raise FlowError("the sign-in page has no interaction or csrf_token field", page.status_code)
    submitted = await http.post(str(page.url.copy_with(query=None)), data=flow.login_body(**fields))
    return code_of(submitted, flow)


async def code_with_session(http: httpx.AsyncClient, flow: LoginFlow) -> str:
    """``GET /authorize`` with the session cookie: 303 to the callback with a code, no page."""
    return code_of(await http.get(flow.authorize_url), flow)


async def exchange(http: httpx.AsyncClient, flow: LoginFlow, secret: str, code: str) -> dict[str, object]:
    """The authorization code grant (HTTP Basic, PKCE verifier): the token response."""
    answer = await http.post(
        f"{flow.issuer}/oauth2/token",
        data={"grant_type": "authorization_code", "code": code, "redirect_uri": flow.redirect_uri,
              "code_verifier": VERIFIER},
        auth=(flow.client_id, secret),
    )  # fmt: skip
    _expect(answer, 200, "authorization code grant")
    tokens: dict[str, object] = answer.json()
    return tokens


async def _refresh_token(http: httpx.AsyncClient, flow: LoginFlow, secret: str, slots: asyncio.Semaphore) -> str:
    async with slots:
        tokens = await exchange(http, flow, secret, await code_with_session(http, flow))
    token = tokens.get("refresh_token")
    if not isinstance(token, str):
        raise BenchError(f"no refresh_token for scope {flow.scope!r}: {sorted(tokens)}")
    return token


async def mint_refresh_tokens(flow: LoginFlow, secret: str, count: int, parallel: int = 4) -> list[str]:
    """``count`` refresh tokens (each of its own family): one login, then ``count`` codes exchanged."""
    async with httpx.AsyncClient(timeout=30) as http:
        await sign_in(http, flow)
        slots = asyncio.Semaphore(parallel)
        return list(await asyncio.gather(*(_refresh_token(http, flow, secret, slots) for _ in range(count))))


def refresh_tokens(flow: LoginFlow, secret: str, count: int) -> list[str]:
    try:
        return asyncio.run(mint_refresh_tokens(flow, secret, count))
    except httpx.HTTPError as exc:
        raise BenchError(f"{flow.issuer}: minting refresh tokens failed: {exc!r}") from exc


def one_login(flow: LoginFlow) -> str:
    """One login with a new cookie jar (verification); the callback's code."""

    async def run() -> str:
        async with httpx.AsyncClient(timeout=30) as http:
            return await sign_in(http, flow)

    try:
        return asyncio.run(run())
    except httpx.HTTPError as exc:
        raise BenchError(f"{flow.issuer}: sign-in failed: {exc!r}") from exc
