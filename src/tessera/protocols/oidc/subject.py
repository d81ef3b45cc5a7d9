"""Subject identifiers (OIDC Core §8): public (the user id) or pairwise (one per sector, unlinkable)."""

from __future__ import annotations

import hashlib
import hmac
import os
from typing import Protocol
from urllib.parse import urlsplit

from tessera.domain.clients import Client

PAIRWISE_SALT = "pairwise_salt"


def sector_of(client: Client) -> str:
    """The sector: the declared ``sector_identifier``, else the host of the first redirect URI (§8.1)."""
    if client.spec.sector_identifier:
        return client.spec.sector_identifier.lower()
    return (urlsplit(client.spec.redirect_uris[0]).hostname or "").lower()


def pairwise_subject(sector: str, user_id: str, salt: bytes) -> str:
    """HMAC-SHA-256 of sector and local id under the tenant's salt (§8.1), 64 hex digits."""
    return hmac.new(salt, f"{sector}\x00{user_id}".encode(), hashlib.sha256).hexdigest()


def subject_for(client: Client, user_id: str, salt: bytes) -> str:
    if client.spec.subject_type == "pairwise":
        return pairwise_subject(sector_of(client), user_id, salt)
    return user_id


class SecretSource(Protocol):
    async def get_or_create(self, tenant_id: str, name: str, candidate: bytes) -> bytes: ...


class SubjectMap(Protocol):
    async def remember(self, tenant_id: str, subject: str, user_id: str) -> None: ...
    async def user_for(self, tenant_id: str, subject: str) -> str | None: ...


class SubjectIdentifiers:
    """Computes the ``sub`` a client sees, and finds the user behind one (userinfo)."""

    def __init__(self, secrets: SecretSource, subjects: SubjectMap) -> None:
        self._secrets, self._subjects = secrets, subjects
        self._salts: dict[str, bytes] = {}

    async def subject(self, client: Client, user_id: str) -> str:
        if client.spec.subject_type != "pairwise":
            return user_id
        salt = await self._salt(client.tenant_id)
        subject = pairwise_subject(sector_of(client), user_id, salt)
        await self._subjects.remember(client.tenant_id, subject, user_id)
        return subject

    async def user_id(self, tenant_id: str, subject: str, subject_type: str) -> str | None:
        if subject_type != "pairwise":
            return subject
        return await self._subjects.user_for(tenant_id, subject)

    async def _salt(self, tenant_id: str) -> bytes:
        salt = self._salts.get(tenant_id)
        if salt is None:
            salt = self._salts[tenant_id] = await self._secrets.get_or_create(tenant_id, PAIRWISE_SALT, os.urandom(32))
        return salt


__all__ = ["PAIRWISE_SALT", "SubjectIdentifiers", "pairwise_subject", "sector_of", "subject_for"]
