"""Outbound HTTP (back-channel logout POSTs) over one shared httpx client: no redirects followed."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # imported on first use: httpx costs ~100 ms of start-up
    import httpx


class HttpFormPoster:
    def __init__(self) -> None:
        self._client: httpx.AsyncClient | None = None

    async def post_form(self, url: str, data: dict[str, str], time_limit: float) -> int:
        import httpx

        if self._client is None:
            self._client = httpx.AsyncClient(follow_redirects=False, headers={"user-agent": "tessera"})
        try:
            response = await self._client.post(url, data=data, timeout=time_limit)
        except httpx.TimeoutException:
            raise TimeoutError(f"no answer from {url} within {time_limit} s") from None
        except httpx.HTTPError as exc:
            raise OSError(str(exc)) from None
        return response.status_code

    async def close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            await client.aclose()


__all__ = ["HttpFormPoster"]
