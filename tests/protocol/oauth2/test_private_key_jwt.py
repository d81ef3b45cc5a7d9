"""private_key_jwt client authentication (RFC 7523 §2.2, OIDC Core §9) with Authlib's client."""

from __future__ import annotations

import time
import uuid

import jwt
import pytest
import requests
from authlib.integrations.requests_client import OAuth2Session
from authlib.oauth2.rfc7523 import PrivateKeyJWT
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from joserfc.jwk import ECKey

from support.live_server import LiveServer

pytestmark = pytest.mark.protocol

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


@pytest.fixture
def key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def register(live: LiveServer, key: ec.EllipticCurvePrivateKey) -> str:
    public = ECKey.import_key(key.public_key()).as_dict()
    public.update(kid="k1", alg="ES256", use="sig")
    client_id, _ = live.create_client(auth_methods=["private_key_jwt"], jwks={"keys": [public]})
    return client_id


def assertion(key: ec.EllipticCurvePrivateKey, client_id: str, audience: str, **overrides: object) -> str:
    now = int(time.time())
    claims = {"iss": client_id, "sub": client_id, "aud": audience, "iat": now, "exp": now + 60, "jti": uuid.uuid4().hex}
    claims.update(overrides)
    return jwt.encode(
        {k: v for k, v in claims.items() if v is not None}, pem(key), algorithm="ES256", headers={"kid": "k1"}
    )


def post_assertion(live: LiveServer, value: str) -> requests.Response:
    data = {"grant_type": "client_credentials", "client_assertion_type": ASSERTION_TYPE, "client_assertion": value}
    return requests.post(live.url("/oauth2/token"), data=data, timeout=5)


def test_authlib_private_key_jwt(live_server: LiveServer, key: ec.EllipticCurvePrivateKey) -> None:
    client_id = register(live_server, key)
    token_url = live_server.url("/oauth2/token")
    session = OAuth2Session(
        client_id, ECKey.import_key(pem(key)), token_endpoint_auth_method=PrivateKeyJWT(token_url, alg="ES256")
    )
    token = session.fetch_token(token_url, grant_type="client_credentials")
    live_server.watch(token["access_token"])
    assert jwt.decode(token["access_token"], options={"verify_signature": False})["client_id"] == client_id


def test_the_issuer_is_an_accepted_audience(live_server: LiveServer, key: ec.EllipticCurvePrivateKey) -> None:
    client_id = register(live_server, key)
    response = post_assertion(live_server, assertion(key, client_id, live_server.issuer()))
    assert response.status_code == 200, response.text


def test_replayed_assertion_is_refused(live_server: LiveServer, key: ec.EllipticCurvePrivateKey) -> None:
    client_id = register(live_server, key)
    value = assertion(key, client_id, live_server.url("/oauth2/token"))
    assert post_assertion(live_server, value).status_code == 200
    replay = post_assertion(live_server, value)
    assert replay.status_code == 401
    assert replay.json()["error"] == "invalid_client"


def test_bad_assertions(live_server: LiveServer, key: ec.EllipticCurvePrivateKey) -> None:
    client_id = register(live_server, key)
    url = live_server.url("/oauth2/token")
    other_key = ec.generate_private_key(ec.SECP256R1())
    now = int(time.time())
    bad = [
        assertion(key, client_id, "https://someone-else.example/token"),
        assertion(key, client_id, url, exp=now - 120),
        assertion(key, client_id, url, exp=now + 7200),
        assertion(key, client_id, url, jti=None),
        assertion(key, client_id, url, iss="intruder"),
        assertion(other_key, client_id, url),
        jwt.encode(
            {"iss": client_id, "sub": client_id, "aud": url, "exp": now + 60, "jti": "x"}, None, algorithm="none"
        ),
    ]
    for value in bad:
        response = post_assertion(live_server, value)
        assert response.status_code == 401, value
        assert response.json()["error"] == "invalid_client"


def test_wrong_assertion_type(live_server: LiveServer, key: ec.EllipticCurvePrivateKey) -> None:
    client_id = register(live_server, key)
    data = {
        "grant_type": "client_credentials",
        "client_assertion_type": "urn:something:else",
        "client_assertion": assertion(key, client_id, live_server.url("/oauth2/token")),
    }
    response = requests.post(live_server.url("/oauth2/token"), data=data, timeout=5)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"
