"""Interactions: an ``/authorize`` request that needs a person, suspended until login or consent completes.

The request is validated first and kept server-side as it was validated; the login and consent
pages only see an opaque handle (in their URL) and resume it [hydra login/consent challenges;
node-oidc-provider interactions]. An interaction is bound to the browser that started it (the hash
of a browser cookie), so a sign-in page link sent to someone else is useless, and its forms carry a
CSRF token derived from that cookie. It is single-use and short-lived.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

InteractionKind = Literal["login", "consent"]


@dataclass(frozen=True, slots=True)
class Interaction:
    tenant_id: str
    handle_hash: str
    kind: InteractionKind
    client_id: str
    request: Mapping[str, Any]  # the validated AuthorizationRequest, as ``to_record()``
    browser_hash: str
    created_at: float
    expires_at: float
    user_id: str | None = None  # known once the person signed in (consent step)
    session_id: str | None = None

    def is_expired(self, now: float) -> bool:
        return now >= self.expires_at


def csrf_token(browser_secret: str, purpose: str) -> str:
    """A synchronizer token: HMAC of the purpose (an interaction handle, ``logout``) under the browser cookie."""
    mac = hmac.new(browser_secret.encode(), f"tessera-csrf:{purpose}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).rstrip(b"=").decode()


def is_valid_csrf(browser_secret: str | None, purpose: str, presented: str | None) -> bool:
    if not browser_secret or not presented:
        return False
    return hmac.compare_digest(csrf_token(browser_secret, purpose).encode(), presented.encode("utf-8", "replace"))


__all__ = ["Interaction", "InteractionKind", "csrf_token", "is_valid_csrf"]
