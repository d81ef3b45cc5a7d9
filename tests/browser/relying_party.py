"""A real relying party: a small Starlette app signing people in with Authlib's Starlette client.

It discovers Tessera, sends the person to /authorize (PKCE S256, nonce), exchanges the code and
verifies the ID token (Authlib does, against the JWKS), keeps the person in its own session
cookie, signs out through Tessera's end_session_endpoint, and accepts back-channel logout tokens
(verified with PyJWT against the JWKS) on ``/backchannel-logout``.
"""

from __future__ import annotations

import asyncio
import html
import socket
import threading
import time
import warnings
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import jwt
import uvicorn
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route

with warnings.catch_warnings():  # Authlib announces its httpx integration's rename at import time
    warnings.simplefilter("ignore")
    from authlib.integrations.starlette_client import OAuth


@dataclass
class RelyingPartyApp:
    name: str
    issuer: str
    port: int
    sock: socket.socket
    client_id: str = ""
    client_secret: str = ""
    id_tokens: list[str] = field(default_factory=list)
    logout_tokens: list[dict[str, Any]] = field(default_factory=list)
    ended_sids: set[str] = field(default_factory=set)
    server: uvicorn.Server | None = None
    thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def redirect_uri(self) -> str:
        return self.base_url + "/callback"

    @property
    def backchannel_uri(self) -> str:
        return self.base_url + "/backchannel-logout"

    @property
    def signed_out_uri(self) -> str:
        return self.base_url + "/signed-out"

    def app(self) -> Starlette:
        oauth = OAuth()
        oauth.register(
            name="tessera",
            client_id=self.client_id,
            client_secret=self.client_secret,
            server_metadata_url=f"{self.issuer}/.well-known/openid-configuration",
            client_kwargs={"scope": "openid profile email", "code_challenge_method": "S256"},
        )
        rp = self

        async def home(request: Request) -> Response:
            user = request.session.get("user")
            if user and user.get("sid") in rp.ended_sids:
                request.session.clear()  # the back-channel said this session is over
                user = None
            if not user:
                body = f'<h1>{rp.name}</h1><p id="status">Signed out</p><a id="login" href="/login">Sign in</a>'
            else:
                body = (
                    f'<h1>{rp.name}</h1><p id="status">Hello {html.escape(user["name"])}</p>'
                    f'<p id="email">{html.escape(user.get("email", ""))}</p><a id="logout" href="/logout">Sign out</a>'
                )
            return HTMLResponse(f"<!doctype html><html lang=en><title>{rp.name}</title><body>{body}</body></html>")

        async def login(request: Request) -> Response:
            client = oauth.create_client("tessera")
            assert client is not None
            response: Response = await client.authorize_redirect(request, rp.redirect_uri)
            return response

        async def callback(request: Request) -> Response:
            client = oauth.create_client("tessera")
            assert client is not None
            token = await client.authorize_access_token(request)  # code exchange + ID token validation
            rp.id_tokens.append(token["id_token"])
            claims = token["userinfo"]
            request.session["user"] = {
                "name": claims.get("name", ""),
                "email": claims.get("email", ""),
                "sid": claims["sid"],
            }
            request.session["id_token"] = token["id_token"]
            return RedirectResponse("/", 303)

        async def logout(request: Request) -> Response:
            client = oauth.create_client("tessera")
            assert client is not None
            metadata = await client.load_server_metadata()
            hint = request.session.pop("id_token", "")
            request.session.clear()
            query = urlencode({"id_token_hint": hint, "post_logout_redirect_uri": rp.signed_out_uri, "state": "bye"})
            return RedirectResponse(f"{metadata['end_session_endpoint']}?{query}", 303)

        async def signed_out(request: Request) -> Response:
            state = html.escape(request.query_params.get("state", ""))
            return HTMLResponse(
                f'<!doctype html><html lang=en><body><p id="status">Signed out ({state})</p></body></html>'
            )

        async def backchannel(request: Request) -> Response:
            form = await request.form()
            token = str(form.get("logout_token", ""))
            jwks = jwt.PyJWKClient(f"{rp.issuer}/oauth2/jwks")
            key = await asyncio.to_thread(jwks.get_signing_key_from_jwt, token)
            claims = jwt.decode(token, key.key, algorithms=["ES256"], audience=rp.client_id, issuer=rp.issuer)
            if jwt.get_unverified_header(token).get("typ") != "logout+jwt" or "nonce" in claims:
                return PlainTextResponse("bad logout token", 400)
            rp.logout_tokens.append(claims)
            rp.ended_sids.add(claims["sid"])
            return PlainTextResponse("", 200, headers={"cache-control": "no-store"})

        return Starlette(
            routes=[
                Route("/", home),
                Route("/login", login),
                Route("/callback", callback),
                Route("/logout", logout),
                Route("/signed-out", signed_out),
                Route("/backchannel-logout", backchannel, methods=["POST"]),
            ],
            middleware=[
                Middleware(SessionMiddleware, secret_key="rp-test-secret-" + rp.name, session_cookie=f"rp_{rp.name}")
            ],
        )

    def start(self) -> None:
        config = uvicorn.Config(self.app(), log_config=None, access_log=False, lifespan="off")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=lambda: asyncio.run(self.server.serve(sockets=[self.sock])), daemon=True)  # type: ignore[union-attr]
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline:
                raise RuntimeError(f"relying party {self.name} did not start")
            time.sleep(0.01)

    def stop(self) -> None:
        if self.server is not None:
            self.server.should_exit = True
        if self.thread is not None:
            self.thread.join(10)

    def wait_for_logout(self, timeout: float = 10.0) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while not self.logout_tokens and time.monotonic() < deadline:
            time.sleep(0.02)
        return list(self.logout_tokens)


def reserve(name: str, issuer: str) -> RelyingPartyApp:
    """A relying party with its port chosen (the client registration needs its redirect URI first)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    return RelyingPartyApp(name, issuer, sock.getsockname()[1], sock)
