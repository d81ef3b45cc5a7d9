"""Bearer handles (session cookies, codes, refresh tokens, interaction ids): 256 random bits, stored hashed.

The store only ever sees ``handle_hash(value)``: a database dump does not hand out live sessions
or tokens [fosite stores signatures, not tokens].
"""

from __future__ import annotations

import hashlib
import secrets

from tessera.secret import Secret

HANDLE_BYTES = 32


def new_handle() -> Secret[str]:
    return Secret(secrets.token_urlsafe(HANDLE_BYTES))


def handle_hash(value: Secret[str] | str) -> str:
    raw = value.reveal() if isinstance(value, Secret) else value
    return hashlib.sha256(raw.encode("utf-8", "surrogatepass")).hexdigest()


def new_public_id() -> str:
    """An identifier that may be shown (``sid``, refresh-token family): 128 random bits."""
    return secrets.token_hex(16)


__all__ = ["HANDLE_BYTES", "handle_hash", "new_handle", "new_public_id"]
