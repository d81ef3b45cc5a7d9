"""JWT access tokens (RFC 9068): the claims issued and every reason a token does not verify."""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

import jwt as pyjwt
import pytest
from joserfc import jwt as jose_jwt
from joserfc.jwk import KeySet

from tessera.clock import FixedClock
from tessera.domain.jws import b64url, encode_header, sign_compact, split_compact
from tessera.domain.keys import KeyEncryptionKey, KeyRing, KeyState, StoredKey, new_stored_key, unseal_private_key
from tessera.domain.tokens import ACCESS_TOKEN_TYP, AccessTokens, IssuedToken, new_token_id, verify_jwt
from tessera.secret import Secret

pytestmark = pytest.mark.unit

KEK = KeyEncryptionKey(b"\x07" * 32)
T0 = 1_750_000_000.0
ISSUER = "https://sts.example/t/acme"
AUDIENCE = "https://api.example"


class FakeKeyRings:
    """In-memory KeyRings: each tenant's stored keys, built into a ring at the clock's time."""

    def __init__(self, clock: FixedClock, keys: dict[str, list[StoredKey]]) -> None:
        self.clock, self.keys = clock, keys
        self.calls: list[str] = []

    async def keyring(self, tenant_id: str) -> KeyRing:
        self.calls.append(tenant_id)
        return KeyRing.build(self.keys[tenant_id], KEK, self.clock.now())


def _keys(alg: str = "ES256") -> list[StoredKey]:
    return [new_stored_key("t", alg, KEK, T0, KeyState.ACTIVE), new_stored_key("t", alg, KEK, T0, KeyState.NEXT)]


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(T0)


@pytest.fixture
def rings(clock: FixedClock) -> FakeKeyRings:
    return FakeKeyRings(clock, {"acme": _keys(), "other": _keys("EdDSA")})


@pytest.fixture
def tokens(rings: FakeKeyRings, clock: FixedClock) -> AccessTokens:
    return AccessTokens(rings, clock)


async def _issue(tokens: AccessTokens, **overrides: Any) -> IssuedToken:
    arguments: dict[str, Any] = {
        "subject": "svc",
        "client_id": "svc",
        "audiences": [AUDIENCE],
        "scopes": ["read", "write"],
        "lifetime": 600.0,
    }
    arguments.update(overrides)
    return await tokens.issue("acme", ISSUER, **arguments)


def _resign(rings: FakeKeyRings, tenant: str, header: dict[str, Any], claims: dict[str, Any]) -> str:
    """Sign arbitrary header and claims with the tenant's active key (what only the server can do)."""
    active = next(k for k in rings.keys[tenant] if k.state == KeyState.ACTIVE)
    encoded = b64url(json.dumps(header, separators=(",", ":")).encode())
    return sign_compact(encoded, claims, active.alg, unseal_private_key(active, KEK))


# Issuing ------------------------------------------------------------------------------------------
async def test_issued_claims_follow_rfc9068(tokens: AccessTokens, rings: FakeKeyRings) -> None:
    issued = await _issue(tokens)
    header, claims, _, _ = split_compact(issued.value.reveal())
    active = next(k for k in rings.keys["acme"] if k.state == KeyState.ACTIVE)
    assert header == {"alg": "ES256", "kid": active.kid, "typ": "at+jwt"}
    assert claims == {
        "iss": ISSUER,
        "sub": "svc",
        "aud": AUDIENCE,
        "exp": int(T0) + 600,
        "iat": int(T0),
        "jti": issued.token_id,
        "client_id": "svc",
        "scope": "read write",
    }
    assert (issued.issued_at, issued.expires_at) == (int(T0), int(T0) + 600)
    assert rings.calls == ["acme"]


async def test_issued_token_is_a_secret(tokens: AccessTokens) -> None:
    issued = await _issue(tokens)
    assert isinstance(issued.value, Secret)
    assert issued.value.reveal() not in repr(issued)
    assert "****" in repr(issued)


async def test_audience_list_when_several(tokens: AccessTokens) -> None:
    issued = await _issue(tokens, audiences=["https://a.example", "https://b.example"])
    assert split_compact(issued.value.reveal())[1]["aud"] == ["https://a.example", "https://b.example"]


async def test_no_scope_claim_without_scopes(tokens: AccessTokens) -> None:
    claims = split_compact((await _issue(tokens, scopes=[])).value.reveal())[1]
    assert "scope" not in claims


async def test_jti_is_unique(tokens: AccessTokens) -> None:
    issued = [await _issue(tokens) for _ in range(50)]
    ids = {t.token_id for t in issued}
    assert len(ids) == 50
    assert all(split_compact(t.value.reveal())[1]["jti"] == t.token_id for t in issued)


async def test_times_are_whole_seconds(tokens: AccessTokens, clock: FixedClock) -> None:
    clock.set(T0 + 0.75)
    issued = await _issue(tokens, lifetime=90.9)
    claims = split_compact(issued.value.reveal())[1]
    assert (claims["iat"], claims["exp"]) == (int(T0), int(T0) + 90)
    assert isinstance(claims["exp"], int)


async def test_extra_claims_are_added(tokens: AccessTokens) -> None:
    claims = split_compact((await _issue(tokens, extra={"tenant": "acme", "roles": ["a"]})).value.reveal())[1]
    assert claims["tenant"] == "acme"
    assert claims["roles"] == ["a"]


def test_new_token_id_is_32_hex() -> None:
    token_id = new_token_id()
    assert len(token_id) == 32
    int(token_id, 16)


# Verifying ----------------------------------------------------------------------------------------
async def test_issued_token_verifies(tokens: AccessTokens) -> None:
    issued = await _issue(tokens)
    claims = await tokens.verify("acme", ISSUER, issued.value.reveal())
    assert claims is not None
    assert claims["jti"] == issued.token_id


async def test_expired_token_does_not_verify(tokens: AccessTokens, clock: FixedClock) -> None:
    issued = await _issue(tokens, lifetime=60)
    clock.advance(59)
    assert await tokens.verify("acme", ISSUER, issued.value.reveal()) is not None
    clock.advance(1)  # now == exp: expired (RFC 7519 §4.1.4 "on or after")
    assert await tokens.verify("acme", ISSUER, issued.value.reveal()) is None


async def test_clock_skew_extends_exp_and_nbf(rings: FakeKeyRings, clock: FixedClock) -> None:
    tokens = AccessTokens(rings, clock, clock_skew=30)
    issued = await _issue(tokens, lifetime=60, extra={"nbf": int(T0) + 20})
    assert await tokens.verify("acme", ISSUER, issued.value.reveal()) is not None  # nbf within skew
    clock.advance(60 + 29)
    assert await tokens.verify("acme", ISSUER, issued.value.reveal()) is not None
    clock.advance(1)
    assert await tokens.verify("acme", ISSUER, issued.value.reveal()) is None


async def test_not_yet_valid_token_does_not_verify(tokens: AccessTokens, clock: FixedClock) -> None:
    issued = await _issue(tokens, extra={"nbf": int(T0) + 10})
    assert await tokens.verify("acme", ISSUER, issued.value.reveal()) is None
    clock.advance(10)
    assert await tokens.verify("acme", ISSUER, issued.value.reveal()) is not None


async def test_wrong_issuer_does_not_verify(tokens: AccessTokens) -> None:
    issued = await _issue(tokens)
    assert await tokens.verify("acme", "https://sts.example/t/other", issued.value.reveal()) is None
    assert await tokens.verify("acme", ISSUER + "/", issued.value.reveal()) is None


async def test_another_tenants_token_does_not_verify(tokens: AccessTokens) -> None:
    theirs = await tokens.issue("other", ISSUER, subject="s", client_id="c", audiences=["x:y"], scopes=[], lifetime=60)
    assert await tokens.verify("other", ISSUER, theirs.value.reveal()) is not None
    assert await tokens.verify("acme", ISSUER, theirs.value.reveal()) is None  # unknown kid


@pytest.mark.parametrize("typ", ["JWT", "id_token", "application/at+jwt", "AT+JWT", None])
async def test_a_jwt_of_another_type_is_not_an_access_token(
    tokens: AccessTokens, rings: FakeKeyRings, typ: str | None
) -> None:
    """An ID token (typ JWT) signed by the same key must not pass as an access token (RFC 9068 §4)."""
    active = next(k for k in rings.keys["acme"] if k.state == KeyState.ACTIVE)
    header: dict[str, Any] = {"alg": "ES256", "kid": active.kid}
    if typ is not None:
        header["typ"] = typ
    claims = {"iss": ISSUER, "sub": "svc", "aud": AUDIENCE, "exp": int(T0) + 60, "iat": int(T0), "jti": "j"}
    token = _resign(rings, "acme", header, claims)
    assert await tokens.verify("acme", ISSUER, token) is None
    ring = await rings.keyring("acme")
    assert verify_jwt(ring, token, T0, 0.0, typ=None) == claims  # the signature itself is fine


async def test_tampered_payload_does_not_verify(tokens: AccessTokens) -> None:
    token = (await _issue(tokens)).value.reveal()
    claims = split_compact(token)[1]
    for change in ({"sub": "admin"}, {"scope": "read write admin"}, {"exp": claims["exp"] + 3600}):
        forged_payload = b64url(json.dumps({**claims, **change}).encode()).decode()
        h, _, s = token.split(".")
        assert await tokens.verify("acme", ISSUER, f"{h}.{forged_payload}.{s}") is None


async def test_tampered_header_does_not_verify(tokens: AccessTokens, rings: FakeKeyRings) -> None:
    token = (await _issue(tokens)).value.reveal()
    header = split_compact(token)[0]
    nxt = next(k for k in rings.keys["acme"] if k.state == KeyState.NEXT)
    for change in ({"kid": nxt.kid}, {"typ": "at+jwt", "extra": 1}):
        forged = b64url(json.dumps({**header, **change}).encode()).decode()
        assert await tokens.verify("acme", ISSUER, forged + token[token.index(".") :]) is None


async def test_unknown_kid_does_not_verify(tokens: AccessTokens, rings: FakeKeyRings) -> None:
    claims = {"iss": ISSUER, "sub": "svc", "exp": int(T0) + 60}
    token = _resign(rings, "acme", {"alg": "ES256", "kid": "unknown", "typ": ACCESS_TOKEN_TYP}, claims)
    assert await tokens.verify("acme", ISSUER, token) is None
    no_kid = _resign(rings, "acme", {"alg": "ES256", "typ": ACCESS_TOKEN_TYP}, claims)
    assert await tokens.verify("acme", ISSUER, no_kid) is None
    numeric_kid = _resign(rings, "acme", {"alg": "ES256", "kid": 1, "typ": ACCESS_TOKEN_TYP}, claims)
    assert await tokens.verify("acme", ISSUER, numeric_kid) is None


@pytest.mark.parametrize(
    "exp", [None, "9999999999", [9999999999], {"t": 1}], ids=["missing", "string", "list", "object"]
)
async def test_exp_is_required_and_numeric(tokens: AccessTokens, rings: FakeKeyRings, exp: object) -> None:
    active = next(k for k in rings.keys["acme"] if k.state == KeyState.ACTIVE)
    claims: dict[str, Any] = {"iss": ISSUER, "sub": "svc"}
    if exp is not None:
        claims["exp"] = exp
    token = _resign(rings, "acme", {"alg": "ES256", "kid": active.kid, "typ": ACCESS_TOKEN_TYP}, claims)
    assert await tokens.verify("acme", ISSUER, token) is None


async def test_alg_none_does_not_verify(tokens: AccessTokens, rings: FakeKeyRings) -> None:
    active = next(k for k in rings.keys["acme"] if k.state == KeyState.ACTIVE)
    genuine = (await _issue(tokens)).value.reveal()
    _, payload, _ = genuine.split(".")
    for alg in ("none", "None", "NONE"):
        header = b64url(json.dumps({"alg": alg, "kid": active.kid, "typ": ACCESS_TOKEN_TYP}).encode()).decode()
        for signature in ("", genuine.split(".")[2]):
            assert await tokens.verify("acme", ISSUER, f"{header}.{payload}.{signature}") is None


async def test_hs256_with_the_published_key_as_secret_does_not_verify(
    tokens: AccessTokens, rings: FakeKeyRings
) -> None:
    """The algorithm-confusion attack: HMAC keyed with the public JWK or PEM the server publishes."""
    ring = await rings.keyring("acme")
    active = next(k for k in rings.keys["acme"] if k.state == KeyState.ACTIVE)
    public = ring.verification_keys[active.kid][1]
    from cryptography.hazmat.primitives import serialization

    pem = public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    claims = {"iss": ISSUER, "sub": "admin", "aud": AUDIENCE, "exp": int(T0) + 60, "jti": "x"}
    for secret in (pem, json.dumps(active.public_jwk).encode(), ring.jwks_json):
        header = b64url(json.dumps({"alg": "HS256", "kid": active.kid, "typ": ACCESS_TOKEN_TYP}).encode())
        signing_input = header + b"." + b64url(json.dumps(claims).encode())
        mac = b64url(hmac.new(secret, signing_input, hashlib.sha256).digest())
        assert await tokens.verify("acme", ISSUER, (signing_input + b"." + mac).decode()) is None


async def test_wrong_alg_for_the_kid_does_not_verify(rings: FakeKeyRings, clock: FixedClock) -> None:
    """An EdDSA token naming an ES256 kid is refused before any signature check."""
    acme_active = next(k for k in rings.keys["acme"] if k.state == KeyState.ACTIVE)
    other_active = next(k for k in rings.keys["other"] if k.state == KeyState.ACTIVE)
    claims = {"iss": ISSUER, "exp": int(T0) + 60}
    header = encode_header("EdDSA", acme_active.kid, ACCESS_TOKEN_TYP)
    token = sign_compact(header, claims, "EdDSA", unseal_private_key(other_active, KEK))
    ring = await rings.keyring("acme")
    assert verify_jwt(ring, token, clock.now(), 0.0, ACCESS_TOKEN_TYP) is None


@pytest.mark.parametrize(
    "token",
    [
        "",
        "not a jwt",
        "a.b.c",
        "a.b",
        "é.é.é",  # non-ASCII
        "eyJhbGciOiJFUzI1NiJ9.e30.\u00ff",
        "eyJhbGciOiJFUzI1NiJ9.e30=.c2ln",
        "W10.e30.c2ln",  # header is a JSON array
        "bm90IGpzb24.e30.c2ln",  # header is not JSON
        "e30.e30.c2ln",  # no alg
        "eyJhbGciOiJFUzI1NiJ9.e30." + "A" * 86,  # no kid
    ],
)
async def test_garbage_does_not_verify(tokens: AccessTokens, token: str) -> None:
    assert await tokens.verify("acme", ISSUER, token) is None


async def test_truncated_token_does_not_verify(tokens: AccessTokens) -> None:
    token = (await _issue(tokens)).value.reveal()
    for cut in range(1, 6):
        assert await tokens.verify("acme", ISSUER, token[:-cut]) is None
    assert await tokens.verify("acme", ISSUER, token.rsplit(".", 1)[0]) is None
    assert await tokens.verify("acme", ISSUER, token + ".") is None


# Interop: what relying parties do with the JWKS ---------------------------------------------------
async def test_pyjwt_verifies_an_access_token_with_the_jwks(tokens: AccessTokens, rings: FakeKeyRings) -> None:
    issued = await _issue(tokens, audiences=[AUDIENCE, "https://b.example"])
    token = issued.value.reveal()
    ring = await rings.keyring("acme")
    keyset = pyjwt.PyJWKSet.from_json(ring.jwks_json.decode())
    kid = pyjwt.get_unverified_header(token)["kid"]
    assert pyjwt.get_unverified_header(token)["typ"] == "at+jwt"
    claims = pyjwt.decode(
        token,
        keyset[kid],
        algorithms=["ES256"],
        audience=AUDIENCE,
        issuer=ISSUER,
        options={"verify_exp": False, "require": ["exp", "iat", "jti", "sub", "aud", "iss"]},
    )
    assert claims["jti"] == issued.token_id


@pytest.mark.filterwarnings("ignore:EdDSA is deprecated:joserfc.errors.SecurityWarning")
async def test_joserfc_verifies_an_access_token_with_the_jwks(rings: FakeKeyRings, clock: FixedClock) -> None:
    tokens = AccessTokens(rings, clock)
    issued = await tokens.issue("other", ISSUER, subject="s", client_id="c", audiences=["x:y"], scopes=[], lifetime=60)
    ring = await rings.keyring("other")
    keyset = KeySet.import_key_set(json.loads(ring.jwks_json))
    # joserfc >= 1.8 no longer lists EdDSA among its default algorithms (RFC 9864): it must be asked for
    decoded = jose_jwt.decode(issued.value.reveal(), keyset, algorithms=["EdDSA"])
    assert decoded.header["typ"] == "at+jwt"
    assert decoded.header["alg"] == "EdDSA"
    assert decoded.claims["jti"] == issued.token_id
