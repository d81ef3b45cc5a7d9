"""Reading what an HTTP request carries, straight from the ASGI scope: headers, a bounded body, the peer.

The token, introspection and revocation endpoints run on this lean path (no framework request
object) because they are the hot path: see docs/benchmarks.md.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from functools import lru_cache

from starlette.requests import Request
from starlette.types import Receive, Scope

from tessera.protocols.oauth2.errors import InvalidRequest, RequestTooLarge
from tessera.protocols.oauth2.requests import FormParams, is_form_content_type, parse_form


class RawRequest:
    """The parts of an HTTP request the lean endpoints read."""

    __slots__ = ("_receive", "headers", "method", "path", "peer", "scope")

    def __init__(self, scope: Scope, receive: Receive) -> None:
        self.scope, self._receive = scope, receive
        self.method: str = scope["method"]
        self.path: str = scope["path"]
        headers: dict[str, str] = {}
        for name, value in scope["headers"]:
            key = name.decode("latin-1")
            if key not in headers:
                headers[key] = value.decode("latin-1")
        self.headers = headers
        client = scope.get("client")
        self.peer: str | None = client[0] if client else None

    async def body(self, limit: int) -> bytes:
        """The whole body, refusing anything larger than ``limit`` bytes before reading it all."""
        declared = self.headers.get("content-length")
        if declared is not None:
            if not (declared.isascii() and declared.isdigit()) or len(declared) > 18:
                raise InvalidRequest("invalid Content-Length")
            if int(declared) > limit:
                raise RequestTooLarge("the request body is too large")
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await self._receive()
            if message["type"] == "http.disconnect":
                raise InvalidRequest("the client went away")
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                raise RequestTooLarge("the request body is too large")
            chunks.append(chunk)
            if not message.get("more_body", False):
                return chunks[0] if len(chunks) == 1 else b"".join(chunks)

    def source_ip(self, trusted_proxies: Sequence[str]) -> str | None:
        return source_ip(self.peer, self.headers.get("x-forwarded-for"), tuple(trusted_proxies))


async def form_body(request: Request, limit: int) -> str:
    """A form-encoded body as text, read the token endpoint's way: bounded, UTF-8, no multipart (#11).

    Raises ``InvalidRequest`` (400) for another content type or bytes that are not UTF-8, and
    ``RequestTooLarge`` (413) past ``limit``; the pages turn both into an error page.
    """
    body = await _form_bytes(request, limit)
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidRequest("the request body is not valid UTF-8") from None


async def form_params(request: Request, limit: int) -> FormParams:
    """A form-encoded body's parameters, strictly: bounded, UTF-8 after percent-decoding, none repeated."""
    return parse_form(await _form_bytes(request, limit), repeatable=())


async def _form_bytes(request: Request, limit: int) -> bytes:
    if not is_form_content_type(request.headers.get("content-type")):
        raise InvalidRequest("Content-Type must be application/x-www-form-urlencoded")
    return await RawRequest(request.scope, request.receive).body(limit)


def source_ip(peer: str | None, forwarded_for: str | None, trusted_proxies: tuple[str, ...]) -> str | None:
    """The peer address, or the nearest untrusted X-Forwarded-For hop when the peer is a trusted proxy."""
    if peer is None or not trusted_proxies or not _is_trusted(peer, trusted_proxies):
        return peer
    hops = [h.strip() for h in (forwarded_for or "").split(",") if h.strip()]
    for hop in reversed(hops):
        if not _is_trusted(hop, trusted_proxies):
            return hop[:64]
    return peer


@lru_cache(maxsize=1024)
def _is_trusted(address: str, trusted: tuple[str, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in ipaddress.ip_network(net, strict=False) for net in trusted)


__all__ = ["RawRequest", "form_body", "form_params", "source_ip"]
