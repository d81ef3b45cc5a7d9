"""JWKS, key rotation as relying parties see it, and authorization server metadata (RFC 8414)."""

from __future__ import annotations

import time
from collections.abc import Callable

import jwt
import pytest
import requests

from support.live_server import LiveServer
from tessera.clock import FixedClock

pytestmark = pytest.mark.protocol


def token_for(live: LiveServer, client: tuple[str, str]) -> str:
    response = requests.post(
        live.url("/oauth2/token"), auth=client, data={"grant_type": "client_credentials"}, timeout=5
    )
    assert response.status_code == 200, response.text
    value: str = response.json()["access_token"]
    live.watch(value)
    return value


def jwks_kids(live: LiveServer) -> list[str]:
    response = requests.get(live.url("/oauth2/jwks"), timeout=5)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    keys = response.json()["keys"]
    for key in keys:
        assert {"kty", "kid", "alg", "use"} <= set(key)
        assert not {"d", "p", "q", "dp", "dq", "qi"} & set(key), "private key material in the JWKS"
    return [k["kid"] for k in keys]


def verify(live: LiveServer, token: str) -> dict[str, object]:
    key = jwt.PyJWKClient(live.url("/oauth2/jwks"), cache_jwk_set=False).get_signing_key_from_jwt(token)
    claims: dict[str, object] = jwt.decode(
        token, key.key, algorithms=["ES256", "RS256", "EdDSA"], options={"verify_aud": False}
    )
    return claims


def rotate(live: LiveServer, alg: str = "ES256") -> None:
    live.run(lambda: live.services.keys.rotate("default", alg, "test"))
    live.run(live.services.directory.refresh)


def test_jwks_publishes_the_active_and_the_next_key(live_server: LiveServer) -> None:
    kids = jwks_kids(live_server)
    assert len(kids) == 2
    token = token_for(live_server, live_server.create_client())
    assert jwt.get_unverified_header(token)["kid"] == kids[0]


def test_rotation_signs_with_the_key_published_ahead(start_server: Callable[..., LiveServer]) -> None:
    clock = FixedClock(time.time())
    live = start_server(clock=clock, tokens={"max_access_token_lifetime": "PT1H"})
    client = live.create_client()
    before = jwks_kids(live)
    old_token = token_for(live, client)

    rotate(live)
    after = jwks_kids(live)
    new_token = token_for(live, client)
    assert jwt.get_unverified_header(new_token)["kid"] == before[1], "the next key published before must sign"
    assert set(before) <= set(after), "the retired key stays published"
    assert len(after) == 3
    assert verify(live, old_token)["sub"] == client[0]
    assert verify(live, new_token)["sub"] == client[0]

    clock.advance(3601)  # every token the retired key signed has expired
    live.run(live.services.directory.refresh)
    final = jwks_kids(live)
    assert before[0] not in final
    assert len(final) == 2


def test_rs256_and_eddsa_tenants(start_server: Callable[..., LiveServer]) -> None:
    live = start_server(tenants=[{"id": "default", "signing_alg": "RS256"}, {"id": "ed", "signing_alg": "EdDSA"}])
    token = token_for(live, live.create_client())
    assert jwt.get_unverified_header(token)["alg"] == "RS256"
    verify(live, token)
    client = live.create_client(tenant="ed")
    response = requests.post(
        live.url("/oauth2/token", tenant="ed"), auth=client, data={"grant_type": "client_credentials"}, timeout=5
    )
    ed_token = response.json()["access_token"]
    live.watch(ed_token)
    assert jwt.get_unverified_header(ed_token)["alg"] == "EdDSA"
    jwks = jwt.PyJWKClient(live.url("/oauth2/jwks", tenant="ed"))
    jwt.decode(
        ed_token, jwks.get_signing_key_from_jwt(ed_token).key, algorithms=["EdDSA"], options={"verify_aud": False}
    )


def test_each_tenant_has_its_own_keys_and_issuer(start_server: Callable[..., LiveServer]) -> None:
    live = start_server(tenants=[{"id": "default"}, {"id": "acme"}])
    assert not set(jwks_kids(live)) & set(
        k["kid"] for k in requests.get(live.url("/oauth2/jwks", tenant="acme"), timeout=5).json()["keys"]
    )
    meta = requests.get(live.url("/.well-known/oauth-authorization-server", tenant="acme"), timeout=5).json()
    assert meta["issuer"] == live.issuer("acme")


def test_metadata_document(live_server: LiveServer) -> None:
    issuer = live_server.issuer()
    for url in (
        live_server.url("/.well-known/oauth-authorization-server"),
        f"{live_server.base_url}/.well-known/oauth-authorization-server/t/default",  # RFC 8414 §3.1 path form
    ):
        meta = requests.get(url, timeout=5).json()
        assert meta["issuer"] == issuer
        assert meta["token_endpoint"] == f"{issuer}/oauth2/token"
        assert meta["jwks_uri"] == f"{issuer}/oauth2/jwks"
        assert meta["introspection_endpoint"] == f"{issuer}/oauth2/introspect"
        assert meta["revocation_endpoint"] == f"{issuer}/oauth2/revoke"
        assert "client_credentials" in meta["grant_types_supported"]
        assert set(meta["token_endpoint_auth_methods_supported"]) == {
            "client_secret_basic",
            "client_secret_post",
            "private_key_jwt",
        }
        assert "none" not in meta["token_endpoint_auth_signing_alg_values_supported"]
    assert (
        requests.get(live_server.url("/.well-known/oauth-authorization-server", tenant="nope"), timeout=5).status_code
        == 404
    )


def test_authlib_discovers_the_token_endpoint_from_metadata(live_server: LiveServer) -> None:
    from authlib.integrations.requests_client import OAuth2Session

    client_id, secret = live_server.create_client()
    meta = requests.get(live_server.url("/.well-known/oauth-authorization-server"), timeout=5).json()
    token = OAuth2Session(client_id, secret).fetch_token(meta["token_endpoint"], grant_type="client_credentials")
    live_server.watch(token["access_token"])
    assert verify(live_server, token["access_token"])["iss"] == meta["issuer"]
