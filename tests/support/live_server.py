"""The real server (uvicorn, the same ASGI stack as production) on an ephemeral loopback port."""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import socket
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import uvicorn
import uvloop
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tessera.clock import Clock
from tessera.compose import Services
from tessera.domain.reconcile import GeneratedSecret
from tessera.settings import ClientConfig, Settings
from tessera.web.app import create_app

T = TypeVar("T")
SECRET_FIELDS = (
    "access_token",
    "refresh_token",
    "id_token",
    "client_secret",
    "code",
    "SessionToken",
    "SecretAccessKey",
)


class SecretRecorder:
    """ASGI wrapper remembering every token and secret the server hands out (for the log check)."""

    def __init__(self, app: ASGIApp, watched: list[str]) -> None:
        self.app, self.watched = app, watched

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        is_json = False

        async def recording_send(message: Message) -> None:
            nonlocal is_json
            if message["type"] == "http.response.start":
                is_json = any(k == b"content-type" and b"json" in v for k, v in message.get("headers", []))
            elif message["type"] == "http.response.body" and is_json:
                chunks.append(message.get("body", b""))
            await send(message)

        await self.app(scope, receive, recording_send)
        if is_json and chunks:
            self._collect(b"".join(chunks))

    def _collect(self, body: bytes) -> None:
        try:
            data = json.loads(body)
        except ValueError:
            return
        if isinstance(data, dict):
            for name in SECRET_FIELDS:
                value = data.get(name)
                if isinstance(value, str) and len(value) >= 8:
                    self.watched.append(value)


@dataclass
class LiveServer:
    settings: Settings
    base_url: str
    backend: str
    watched: list[str] = field(default_factory=list)
    generated: list[GeneratedSecret] = field(default_factory=list)
    app: Any = None
    loop: asyncio.AbstractEventLoop | None = None
    server: uvicorn.Server | None = None
    thread: threading.Thread | None = None

    def url(self, path: str, tenant: str = "default") -> str:
        """``path`` under the tenant's issuer (``/oauth2/token`` → ``…/t/default/oauth2/token``)."""
        if path.startswith("/t/"):
            return self.base_url + path
        return f"{self.base_url}/t/{tenant}{path}"

    def issuer(self, tenant: str = "default") -> str:
        return f"{self.settings.server.public_url}/t/{tenant}"

    def watch(self, *values: str) -> None:
        self.watched.extend(v for v in values if v)

    @property
    def services(self) -> Services:
        services: Services = self.app.state.services
        return services

    def run(self, coro_factory: Callable[[], Awaitable[T]]) -> T:
        """Run a coroutine on the server's event loop (to use its services) and wait for the result."""
        assert self.loop is not None
        return asyncio.run_coroutine_threadsafe(_as_coroutine(coro_factory), self.loop).result(30)

    def create_client(self, client_id: str | None = None, tenant: str = "default", **spec: Any) -> tuple[str, str]:
        """Register a confidential client through the server's own registry; returns (id, secret)."""
        client_id = client_id or f"c-{secrets.token_hex(4)}"
        spec.setdefault("scopes", ["api:read", "api:write"])
        config = ClientConfig(client_id=client_id, **spec)
        registered = self.run(lambda: self.services.clients.create(tenant, config, "test"))
        secret = registered.secret.reveal() if registered.secret is not None else ""
        self.watch(secret)
        return client_id, secret

    def stop(self) -> None:
        if self.server is not None:
            self.server.should_exit = True
        if self.thread is not None:
            self.thread.join(15)


async def _as_coroutine(factory: Callable[[], Awaitable[T]]) -> T:
    return await factory()


def start_live_server(settings: Settings, backend: str, clock: Clock | None = None) -> LiveServer:
    logging.getLogger("uvicorn.access").disabled = True  # as in production: Tessera writes its own access log
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    base_url = f"http://127.0.0.1:{port}"
    public_url = settings.server.public_url or base_url  # nodes of one deployment share their public URL
    settings = settings.model_copy(
        update={"server": settings.server.model_copy(update={"port": port, "public_url": public_url})}
    )
    live = LiveServer(settings=settings, base_url=base_url, backend=backend)
    app = create_app(settings, clock=clock, on_generated_secrets=live.generated.extend)
    live.app = app
    config = uvicorn.Config(
        SecretRecorder(app, live.watched),
        http="httptools",
        lifespan="on",
        log_config=None,
        access_log=False,
        proxy_headers=False,  # as in production: X-Forwarded-For is believed only from trusted_proxies
        ws="none",
    )
    server = uvicorn.Server(config)
    live.server = server
    errors: list[BaseException] = []

    def serve() -> None:
        loop = uvloop.new_event_loop()
        live.loop = loop
        try:
            loop.run_until_complete(server.serve(sockets=[sock]))
        except BaseException as exc:  # pragma: no cover - surfaced below
            errors.append(exc)
        finally:
            loop.close()

    thread = threading.Thread(target=serve, name=f"live-server-{port}", daemon=True)
    live.thread = thread
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if errors or not thread.is_alive():
            raise RuntimeError(f"the server did not start: {errors!r}")
        if time.monotonic() > deadline:
            raise RuntimeError("the server did not start within 30 s")
        time.sleep(0.01)
    return live


__all__ = ["LiveServer", "SecretRecorder", "start_live_server"]
