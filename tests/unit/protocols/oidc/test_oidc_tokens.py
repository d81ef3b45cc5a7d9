"""ID token and logout token claims, at_hash (OIDC Core §3.1.3.6, replayed from Appendix A), claims, subjects."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tessera.domain.clients import Client
from tessera.domain.users import User
from tessera.protocols.oidc import (
    BACKCHANNEL_EVENT,
    IdTokenContext,
    InvalidLogoutRequest,
    id_token_claims,
    logout_token_claims,
    pairwise_subject,
    sector_of,
    subject_for,
    token_hash,
    user_claims,
    validate_logout_request,
)
from tessera.settings import ClientConfig

pytestmark = pytest.mark.unit
HASHES = json.loads((Path(__file__).parents[3] / "vectors" / "oidc_core_hashes.json").read_text())


@pytest.mark.parametrize("case", HASHES["cases"], ids=lambda c: c["hash"])
def test_at_hash_and_c_hash_vectors(case: dict[str, str]) -> None:
    assert token_hash(case["value"], case["alg"]) == case["hash"]


def test_at_hash_uses_the_algorithms_hash() -> None:
    assert token_hash("x", "ES256") == token_hash("x", "RS256")
    assert len(token_hash("x", "EdDSA")) == 43  # half of SHA-512, base64url


def test_id_token_claims() -> None:
    context = IdTokenContext("https://sts/t/a", "sub-1", "app", 1000.9, "1", ("pwd",), "sid-1", "nonce-1")
    claims = id_token_claims(
        context, 2000, 600, "ES256", access_token="tok", user_claims={"email": "a@x", "sub": "forged"}
    )
    assert claims["sub"] == "sub-1"  # protocol claims win over profile claims
    assert (claims["iss"], claims["aud"], claims["azp"]) == ("https://sts/t/a", "app", "app")
    assert (claims["iat"], claims["exp"], claims["auth_time"]) == (2000, 2600, 1000)
    assert (claims["nonce"], claims["sid"], claims["acr"], claims["amr"]) == ("nonce-1", "sid-1", "1", ["pwd"])
    assert claims["at_hash"] == token_hash("tok", "ES256")
    assert claims["email"] == "a@x"
    bare = id_token_claims(IdTokenContext("i", "s", "c", 1, "1", ()), 2, 3, "ES256")
    assert "nonce" not in bare
    assert "sid" not in bare
    assert "at_hash" not in bare


def test_logout_token_claims() -> None:
    claims = logout_token_claims("https://sts/t/a", "app", "sub-1", "sid-1", 100, "jti-1")
    assert claims == {
        "iss": "https://sts/t/a",
        "aud": "app",
        "iat": 100,
        "exp": 220,
        "jti": "jti-1",
        "events": {BACKCHANNEL_EVENT: {}},
        "sub": "sub-1",
        "sid": "sid-1",
    }
    with pytest.raises(ValueError, match="sub, a sid"):
        logout_token_claims("i", "a", None, None, 1, "j")


def user(**fields: object) -> User:
    return User(
        "t",
        "u1",
        "alice",
        email="a@x",
        email_verified=True,
        name="Alice",
        groups=("g",),
        attributes={"dept": "r", "sub": "forged", "email": "forged"},
        updated_at=5.5,
        **fields,
    )  # type: ignore[arg-type]


def test_scopes_release_claims() -> None:
    assert user_claims(user(), ["openid"]) == {}
    assert user_claims(user(), ["email"]) == {"email": "a@x", "email_verified": True}
    assert user_claims(user(), ["groups"]) == {"groups": ["g"]}
    profile = user_claims(user(), ["profile"])
    assert profile == {"dept": "r", "name": "Alice", "preferred_username": "alice", "updated_at": 5}


def client(**spec: object) -> Client:
    spec.setdefault("redirect_uris", ["https://app.example:8443/cb"])
    return Client("t", ClientConfig(client_id="app", grant_types=["authorization_code"], **spec))  # type: ignore[arg-type]


def test_subjects() -> None:
    salt = b"s" * 32
    assert subject_for(client(), "u1", salt) == "u1"
    pairwise = client(subject_type="pairwise")
    assert sector_of(pairwise) == "app.example"
    assert subject_for(pairwise, "u1", salt) == pairwise_subject("app.example", "u1", salt)
    assert subject_for(pairwise, "u1", salt) != subject_for(pairwise, "u2", salt)
    assert subject_for(pairwise, "u1", salt) != subject_for(pairwise, "u1", b"t" * 32)
    other = client(subject_type="pairwise", sector_identifier="other.example")
    assert subject_for(other, "u1", salt) != subject_for(pairwise, "u1", salt)


def test_logout_request_validation() -> None:
    rp = client(post_logout_redirect_uris=["https://app.example/out"])
    hint = {"aud": "app", "sid": "s1", "sub": "u1"}
    ok = validate_logout_request({"post_logout_redirect_uri": "https://app.example/out", "state": "x"}, hint, rp)
    assert (ok.client_id, ok.post_logout_redirect_uri, ok.state, ok.hinted_session_id) == (
        "app",
        "https://app.example/out",
        "x",
        "s1",
    )
    for params, claims in (
        ({"post_logout_redirect_uri": "https://evil.example/"}, hint),
        ({"post_logout_redirect_uri": "https://app.example/out"}, None),
        ({"client_id": "other"}, hint),
    ):
        with pytest.raises(InvalidLogoutRequest):
            validate_logout_request(params, claims, rp if claims else None)
    assert validate_logout_request({"state": "x"}, None, None).state is None  # no redirect, no state
