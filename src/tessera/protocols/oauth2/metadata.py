"""Authorization server metadata (RFC 8414 §2)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from tessera.protocols.oauth2.client_auth import ASSERTION_ALGORITHMS, METHODS


@dataclass(frozen=True, slots=True)
class EndpointUrls:
    issuer: str
    token: str
    jwks: str
    introspection: str
    revocation: str


def authorization_server_metadata(
    urls: EndpointUrls, grant_types: Sequence[str], scopes: Sequence[str], signing_alg: str
) -> dict[str, Any]:
    auth_methods = list(METHODS)
    assertion_algs = list(ASSERTION_ALGORITHMS)  # a copy: the allow-list itself must not leave this module
    return {
        "issuer": urls.issuer,
        "token_endpoint": urls.token,
        "jwks_uri": urls.jwks,
        "introspection_endpoint": urls.introspection,
        "revocation_endpoint": urls.revocation,
        "grant_types_supported": list(grant_types),
        "response_types_supported": [],
        "scopes_supported": list(scopes),
        "token_endpoint_auth_methods_supported": auth_methods,
        "token_endpoint_auth_signing_alg_values_supported": assertion_algs,
        "introspection_endpoint_auth_methods_supported": auth_methods,
        "introspection_endpoint_auth_signing_alg_values_supported": assertion_algs,
        "revocation_endpoint_auth_methods_supported": auth_methods,
        "revocation_endpoint_auth_signing_alg_values_supported": assertion_algs,
        "access_token_signing_alg_values_supported": [signing_alg],
        "service_documentation": "https://github.com/tessera-sts/tessera/tree/main/docs",
    }


__all__ = ["EndpointUrls", "authorization_server_metadata"]
