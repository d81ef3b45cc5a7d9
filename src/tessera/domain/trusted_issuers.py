"""Signing keys of trusted external OpenID Connect issuers (OpenID Connect Discovery 1.0 §4, RFC 7517).

Keys come from the provider's inline ``jwks``, else its ``jwks_uri``, else the ``jwks_uri`` of
``{issuer}/.well-known/openid-configuration`` (whose ``issuer`` must be the configured one).
Fetched key sets are cached for ``jwks_cache_seconds``; a token naming a ``kid`` the cache lacks
triggers one refetch, at most once per ``MIN_REFETCH_SECONDS`` per issuer, so a stream of forged
``kid``s cannot make Tessera hammer the issuer. Responses are bounded in size and time, and
redirects are not followed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # imported on first use: httpx costs ~100 ms of start-up
    import httpx

import asyncio
import json
from dataclasses import dataclass
from typing import Any

from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from tessera.clock import Clock
from tessera.errors import TesseraError
from tessera.settings_aws import OidcProviderConfig

MIN_REFETCH_SECONDS = 30.0
MAX_DOCUMENT_BYTES = 256 * 1024
FETCH_TIMEOUT_SECONDS = 5.0


class IssuerUnavailable(TesseraError):
    """The issuer's discovery document or key set could not be fetched or read."""


@dataclass(frozen=True, slots=True)
class _Cached:
    keys: KeySet
    kids: frozenset[str]
    fetched_at: float


class TrustedIssuerKeys:
    def __init__(self, clock: Clock, client: httpx.AsyncClient | None = None) -> None:
        self._clock = clock
        self._client = client
        self._cache: dict[str, _Cached] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    async def keys_for(self, provider: OidcProviderConfig, kid: str | None) -> KeySet:
        """The issuer's key set, refetched (rate-limited) when it lacks ``kid``."""
        if provider.jwks is not None:
            return _key_set(provider.jwks)
        now = self._clock.now()
        cached = self._cache.get(provider.issuer)
        if cached is not None and self._is_fresh(cached, provider, kid, now):
            return cached.keys
        lock = self._locks.setdefault(provider.issuer, asyncio.Lock())
        async with lock:
            cached = self._cache.get(provider.issuer)
            if cached is not None and self._is_fresh(cached, provider, kid, self._clock.now()):
                return cached.keys
            keys, kids = await self._fetch(provider)
            self._cache[provider.issuer] = _Cached(keys, kids, self._clock.now())
            return keys

    def _is_fresh(self, cached: _Cached, provider: OidcProviderConfig, kid: str | None, now: float) -> bool:
        age = now - cached.fetched_at
        if age >= provider.jwks_cache_seconds:
            return False
        return kid is None or kid in cached.kids or age < MIN_REFETCH_SECONDS

    async def _fetch(self, provider: OidcProviderConfig) -> tuple[KeySet, frozenset[str]]:
        jwks_uri = provider.jwks_uri or await self._discover(provider)
        document = await self._get_json(jwks_uri)
        keys = _key_set(document)
        kids = frozenset(str(k.get("kid")) for k in document.get("keys", []) if isinstance(k, dict) and "kid" in k)
        return keys, kids

    async def _discover(self, provider: OidcProviderConfig) -> str:
        url = provider.issuer.rstrip("/") + "/.well-known/openid-configuration"
        document = await self._get_json(url)
        if str(document.get("issuer", "")).rstrip("/") != provider.issuer.rstrip("/"):
            raise IssuerUnavailable(f"the discovery document at {url} names another issuer")
        jwks_uri = document.get("jwks_uri")
        if not isinstance(jwks_uri, str) or not jwks_uri.startswith(("https://", "http://")):
            raise IssuerUnavailable(f"the discovery document at {url} has no jwks_uri")
        return jwks_uri

    async def _get_json(self, url: str) -> dict[str, Any]:
        import httpx

        client = self._client or httpx.AsyncClient(timeout=FETCH_TIMEOUT_SECONDS, follow_redirects=False)
        try:
            async with client.stream("GET", url, headers={"accept": "application/json"}) as response:
                if response.status_code != 200:
                    raise IssuerUnavailable(f"GET {url} answered {response.status_code}")
                body = b""
                async for chunk in response.aiter_bytes():
                    body += chunk
                    if len(body) > MAX_DOCUMENT_BYTES:
                        raise IssuerUnavailable(f"GET {url} answered more than {MAX_DOCUMENT_BYTES} bytes")
        except httpx.HTTPError as exc:
            raise IssuerUnavailable(f"GET {url} failed: {type(exc).__name__}") from None
        finally:
            if self._client is None:
                await client.aclose()
        try:
            document = json.loads(body)
        except ValueError:
            raise IssuerUnavailable(f"GET {url} did not answer JSON") from None
        if not isinstance(document, dict):
            raise IssuerUnavailable(f"GET {url} did not answer a JSON object")
        return document

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()


def _key_set(document: dict[str, Any]) -> KeySet:
    try:
        public = {"keys": [k for k in document.get("keys", []) if isinstance(k, dict) and "d" not in k]}
        return KeySet.import_key_set(public)  # type: ignore[arg-type]
    except (JoseError, ValueError, TypeError) as exc:
        raise IssuerUnavailable(f"the key set cannot be read: {type(exc).__name__}") from None


__all__ = ["MIN_REFETCH_SECONDS", "IssuerUnavailable", "TrustedIssuerKeys"]
