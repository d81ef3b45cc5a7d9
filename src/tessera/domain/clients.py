"""OAuth clients: what they may ask for and how they prove who they are."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from tessera.secret import Secret
from tessera.settings import ClientConfig

SECRET_BYTES = 32  # 256 bits: a fast hash is enough for a secret nobody can guess


@dataclass(frozen=True, slots=True)
class Client:
    """A registered client: its declared attributes (``spec``) plus what only the server knows."""

    tenant_id: str
    spec: ClientConfig
    secret_hash: str | None = None
    managed: bool = False
    created_at: float = 0.0
    updated_at: float = 0.0

    @property
    def client_id(self) -> str:
        return self.spec.client_id

    @property
    def is_confidential(self) -> bool:
        return self.spec.type == "confidential"

    @property
    def is_enabled(self) -> bool:
        return not self.spec.disabled

    def allows_grant(self, grant_type: str) -> bool:
        return grant_type in self.spec.grant_types

    def allows_auth_method(self, method: str) -> bool:
        return method in self.spec.auth_methods

    def has_secret(self, presented: Secret[str]) -> bool:
        """Constant-time check of a presented secret against the stored hash."""
        if self.secret_hash is None:
            hash_secret(presented)  # same work either way
            return False
        return hmac.compare_digest(hash_secret(presented), self.secret_hash)

    def access_token_lifetime(self, default: float) -> float:
        lifetime = self.spec.access_token_lifetime
        return lifetime.total_seconds() if lifetime is not None else default


def generate_secret() -> Secret[str]:
    """A new client secret: 256 random bits, URL-safe."""
    return Secret(secrets.token_urlsafe(SECRET_BYTES))


def hash_secret(secret: Secret[str]) -> str:
    return "sha256:" + hashlib.sha256(secret.reveal().encode()).hexdigest()


__all__ = ["SECRET_BYTES", "Client", "generate_secret", "hash_secret"]
