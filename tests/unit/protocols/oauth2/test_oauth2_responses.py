"""Token and introspection response models (RFC 6749 §5.1, RFC 7662 §2.2) and server metadata (RFC 8414 §2)."""

from __future__ import annotations

import pytest

from tessera.protocols.oauth2.client_auth import ASSERTION_ALGORITHMS, METHODS
from tessera.protocols.oauth2.metadata import EndpointUrls, authorization_server_metadata
from tessera.protocols.oauth2.responses import IntrospectionResponse, TokenResponse
from tessera.secret import Secret

pytestmark = pytest.mark.unit


def test_token_response_minimal() -> None:
    response = TokenResponse(Secret("at"), 600)
    assert response.to_json() == {"access_token": "at", "token_type": "Bearer", "expires_in": 600}


def test_token_response_full() -> None:
    response = TokenResponse(
        Secret("at"),
        60,
        scope="read",
        refresh_token=Secret("rt"),
        id_token=Secret("it"),
        extra={"issued_token_type": "x"},
    )
    assert response.to_json() == {
        "access_token": "at",
        "token_type": "Bearer",
        "expires_in": 60,
        "scope": "read",
        "refresh_token": "rt",
        "id_token": "it",
        "issued_token_type": "x",
    }


def test_token_response_repr_hides_tokens() -> None:
    text = repr(TokenResponse(Secret("access-value"), 60, refresh_token=Secret("refresh-value")))
    assert "access-value" not in text
    assert "refresh-value" not in text


def test_inactive_introspection_says_nothing_else() -> None:
    """RFC 7662 §2.2: an inactive token gets only {"active": false}."""
    assert IntrospectionResponse(active=False, claims={"sub": "leak"}).to_json() == {"active": False}


def test_active_introspection_carries_the_claims() -> None:
    body = IntrospectionResponse(active=True, claims={"sub": "svc", "scope": "read"}).to_json()
    assert body == {"active": True, "sub": "svc", "scope": "read"}


URLS = EndpointUrls(
    issuer="https://sts.example/t/acme",
    token="https://sts.example/t/acme/oauth2/token",
    jwks="https://sts.example/t/acme/jwks.json",
    introspection="https://sts.example/t/acme/oauth2/introspect",
    revocation="https://sts.example/t/acme/oauth2/revoke",
)


def test_metadata() -> None:
    metadata = authorization_server_metadata(URLS, ["client_credentials"], ["read", "write"], "ES256")
    assert metadata["issuer"] == URLS.issuer
    assert metadata["token_endpoint"] == URLS.token
    assert metadata["jwks_uri"] == URLS.jwks
    assert metadata["introspection_endpoint"] == URLS.introspection
    assert metadata["revocation_endpoint"] == URLS.revocation
    assert metadata["grant_types_supported"] == ["client_credentials"]
    assert metadata["scopes_supported"] == ["read", "write"]
    assert metadata["access_token_signing_alg_values_supported"] == ["ES256"]
    assert metadata["response_types_supported"] == []
    for endpoint in ("token_endpoint", "introspection_endpoint", "revocation_endpoint"):
        assert metadata[f"{endpoint}_auth_methods_supported"] == list(METHODS)
        assert metadata[f"{endpoint}_auth_signing_alg_values_supported"] == ASSERTION_ALGORITHMS


def test_metadata_never_offers_none_or_hmac_for_assertions() -> None:
    metadata = authorization_server_metadata(URLS, [], [], "EdDSA")
    algs = metadata["token_endpoint_auth_signing_alg_values_supported"]
    assert "none" not in algs
    assert not [a for a in algs if a.startswith("HS")]


def test_metadata_lists_are_copies() -> None:
    """Changing a rendered document must not change the server's own lists (least of all an allow-list)."""
    grants = ["client_credentials"]
    metadata = authorization_server_metadata(URLS, grants, [], "ES256")
    metadata["grant_types_supported"].append("password")
    assert grants == ["client_credentials"]
    before = list(ASSERTION_ALGORITHMS)
    for endpoint in ("token_endpoint", "introspection_endpoint", "revocation_endpoint"):
        metadata[f"{endpoint}_auth_signing_alg_values_supported"].append("HS256")
        metadata[f"{endpoint}_auth_methods_supported"].append("client_secret_jwt")
    assert before == ASSERTION_ALGORITHMS
    assert "HS256" not in ASSERTION_ALGORITHMS
    assert "client_secret_jwt" not in METHODS
