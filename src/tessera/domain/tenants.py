"""Tenants: each has its own issuer URL, keys, clients and users."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

DEFAULT_TENANT = "default"


@dataclass(frozen=True, slots=True)
class Tenant:
    id: str
    name: str
    issuer: str | None = None
    account_id: str | None = None
    signing_alg: str | None = None
    default_audience: str | None = None
    managed: bool = False

    def issuer_url(self, base_url: str) -> str:
        """The tenant's issuer: the configured one, else ``<base_url>/t/<id>``."""
        return self.issuer or f"{base_url.rstrip('/')}/t/{self.id}"

    def aws_account_id(self) -> str:
        """The 12-digit account id in the tenant's ARNs (derived from the id unless configured)."""
        if self.account_id:
            return self.account_id
        digest = int.from_bytes(hashlib.sha256(f"tessera-account:{self.id}".encode()).digest()[:8], "big")
        return f"{digest % 10**12:012d}"

    def audience_default(self, issuer: str) -> str:
        """``aud`` of an access token requested without a resource indicator."""
        return self.default_audience or issuer


__all__ = ["DEFAULT_TENANT", "Tenant"]
