"""The scopes every tenant offers without declaring them: OpenID Connect's own (Core §5.4, §11) and ``groups``."""

from __future__ import annotations

OIDC_SCOPES = ("openid", "profile", "email", "groups", "offline_access")

__all__ = ["OIDC_SCOPES"]
