"""The client credentials grant, driven by real clients: Authlib, PyJWT, curl."""

from __future__ import annotations

import json
import subprocess

import jwt
import pytest
import requests
from authlib.integrations.requests_client import OAuth2Session

from support.live_server import LiveServer

pytestmark = pytest.mark.protocol


def test_authlib_client_gets_a_jwt_that_pyjwt_verifies_against_the_jwks(live_server: LiveServer) -> None:
    client_id, secret = live_server.create_client(audiences=["https://api.example.com"])
    session = OAuth2Session(client_id, secret, scope="api:read")
    token = session.fetch_token(live_server.url("/oauth2/token"), grant_type="client_credentials")
    live_server.watch(token["access_token"])

    assert token["token_type"] == "Bearer"
    assert token["expires_in"] == 900
    assert token["scope"] == "api:read"

    jwks_client = jwt.PyJWKClient(live_server.url("/oauth2/jwks"))
    signing_key = jwks_client.get_signing_key_from_jwt(token["access_token"])
    claims = jwt.decode(
        token["access_token"],
        signing_key.key,
        algorithms=["ES256"],
        audience="https://api.example.com",
        issuer=live_server.issuer(),
    )
    header = jwt.get_unverified_header(token["access_token"])
    assert (header["typ"], header["alg"], header["kid"]) == ("at+jwt", "ES256", signing_key.key_id)
    assert claims["sub"] == claims["client_id"] == client_id
    assert claims["scope"] == "api:read"
    assert claims["exp"] - claims["iat"] == 900
    assert set(claims) >= {"iss", "sub", "aud", "exp", "iat", "jti", "client_id", "scope"}


def test_client_secret_post_and_resource_indicator(live_server: LiveServer) -> None:
    client_id, secret = live_server.create_client(audiences=["urn:a", "urn:b"], auth_methods=["client_secret_post"])
    response = requests.post(
        live_server.url("/oauth2/token"),
        data=[
            ("grant_type", "client_credentials"),
            ("client_id", client_id),
            ("client_secret", secret),
            ("resource", "urn:b"),
        ],
        timeout=5,
    )
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    claims = jwt.decode(response.json()["access_token"], options={"verify_signature": False})
    assert claims["aud"] == "urn:b"


def test_two_resources_give_two_audiences(live_server: LiveServer) -> None:
    client_id, secret = live_server.create_client(audiences=["urn:a", "urn:b"])
    response = requests.post(
        live_server.url("/oauth2/token"),
        auth=(client_id, secret),
        data=[("grant_type", "client_credentials"), ("resource", "urn:a"), ("resource", "urn:b")],
        timeout=5,
    )
    claims = jwt.decode(response.json()["access_token"], options={"verify_signature": False})
    assert claims["aud"] == ["urn:a", "urn:b"]


def test_seed_article_azure_curl_example(live_server: LiveServer) -> None:
    """The seed's curl, with only host, tenant and credentials changed."""
    client_id, secret = live_server.create_client(audiences=["https://graph.microsoft.com"])
    tenant_id = "default"
    url = f"{live_server.base_url}/{tenant_id}/oauth2/v2.0/token"
    result = subprocess.run(
        [
            "curl", "-s", "-X", "POST", url,
            "-H", "Content-Type: application/x-www-form-urlencoded",
            "-d", f"client_id={client_id}",
            "-d", f"client_secret={secret}",
            "-d", "scope=https://graph.microsoft.com/.default",
            "-d", "grant_type=client_credentials",
        ],
        capture_output=True, text=True, timeout=10, check=True,
    )  # fmt: skip
    body = json.loads(result.stdout)
    live_server.watch(body["access_token"])
    assert body["token_type"] == "Bearer"
    assert isinstance(body["expires_in"], int)
    assert body["expires_in"] > 0
    claims = jwt.decode(body["access_token"], options={"verify_signature": False})
    assert claims["aud"] == "https://graph.microsoft.com"
    assert claims["scope"] == "api:read api:write"  # .default = everything the client was granted


def test_okta_style_token_path(live_server: LiveServer) -> None:
    client_id, secret = live_server.create_client()
    response = requests.post(
        f"{live_server.base_url}/oauth2/default/v1/token",
        auth=(client_id, secret),
        data={"grant_type": "client_credentials"},
        timeout=5,
    )
    assert response.status_code == 200, response.text


def test_per_client_lifetime(live_server: LiveServer) -> None:
    client_id, secret = live_server.create_client(access_token_lifetime=120)
    response = requests.post(
        live_server.url("/oauth2/token"),
        auth=(client_id, secret),
        data={"grant_type": "client_credentials"},
        timeout=5,
    )
    assert response.json()["expires_in"] == 120


def test_default_scopes_when_none_requested(live_server: LiveServer) -> None:
    client_id, secret = live_server.create_client(scopes=["a", "b"], default_scopes=["a"])
    response = requests.post(
        live_server.url("/oauth2/token"),
        auth=(client_id, secret),
        data={"grant_type": "client_credentials"},
        timeout=5,
    )
    assert response.json()["scope"] == "a"
