"""Sealed session tokens: round trip, tampering, keys and rotation, expiry, size, id shapes."""

from __future__ import annotations

import base64
import json
import re
import zlib
from collections.abc import Callable

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from tessera.protocols.awssts import (
    ExpiredToken,
    InvalidClientTokenId,
    SessionClaims,
    new_access_key_id,
    new_secret_access_key,
    open_session,
    seal_session,
)
from tessera.secret import Secret

pytestmark = pytest.mark.unit

KEY_1 = bytes(range(32))
KEY_2 = bytes(range(100, 132))
NOW = 1_750_000_000.0
POLICY = '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}'
CLAIMS = SessionClaims(
    tenant="acme",
    access_key_id="ASIAQWERTYUIOPASDFGH",
    secret_access_key=Secret("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"),
    principal_arn="arn:aws:sts::123456789012:assumed-role/deploy/alice@example.com",
    assumed_role_id="AROAEXAMPLEROLEID1234:alice@example.com",
    role_arn="arn:aws:iam::123456789012:role/ci/deploy",
    session_name="alice@example.com",
    issued_at=NOW,
    expires_at=NOW + 3600,
    source_identity="alice",
    session_policies=(POLICY,),
    policy_arns=("arn:aws:iam::aws:policy/ReadOnlyAccess",),
    session_tags={"team": "blue", "project": "tessera", "cost-center": "4242"},
    transitive_tag_keys=("team",),
    mfa_authenticated=True,
    source_principal="arn:aws:iam::123456789012:user/alice",
    generation=3,
)


def _counter_bytes() -> Callable[[int], bytes]:
    state = {"n": 0}

    def random_bytes(size: int) -> bytes:
        state["n"] += 1
        return bytes([state["n"]]) * size

    return random_bytes


def _raw(token: str) -> bytes:
    return base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))


def _token(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def test_round_trip_keeps_every_claim() -> None:
    token = seal_session(CLAIMS, KEY_1, "k1")
    opened = open_session(token, {"k1": KEY_1}, NOW + 10)
    assert opened == CLAIMS
    assert opened.secret_access_key.reveal() == CLAIMS.secret_access_key.reveal()
    assert re.fullmatch(r"[A-Za-z0-9_-]+", token)


def test_minimal_claims_round_trip_with_fractional_times() -> None:
    minimal = SessionClaims("t", "ASIAAAAAAAAAAAAAAAAA", Secret("s"), "p", "r", "a", "n", NOW + 0.25, NOW + 900.5)
    assert open_session(seal_session(minimal, KEY_1, "k1"), {"k1": KEY_1}, NOW) == minimal


def test_tokens_are_compact_with_typical_claims() -> None:
    assert len(seal_session(CLAIMS, KEY_1, "k1")) < 2048


def test_secret_never_appears_in_the_token_or_reprs() -> None:
    token = seal_session(CLAIMS, KEY_1, "k1")
    assert b"wJalrXUtnFEMI" not in _raw(token)
    assert "wJalrXUtnFEMI" not in repr(CLAIMS)


def test_fresh_nonce_per_token_and_injectable_randomness() -> None:
    assert seal_session(CLAIMS, KEY_1, "k1") != seal_session(CLAIMS, KEY_1, "k1")
    first = seal_session(CLAIMS, KEY_1, "k1", random_bytes=lambda n: b"\x07" * n)
    again = seal_session(CLAIMS, KEY_1, "k1", random_bytes=lambda n: b"\x07" * n)
    assert first == again


def test_every_flipped_byte_is_rejected() -> None:
    raw = _raw(seal_session(CLAIMS, KEY_1, "k1"))
    # Regions: version (0), key id length (1), key id (2-3), nonce (4-15), ciphertext, tag (last 16).
    for index in range(len(raw)):
        tampered = bytearray(raw)
        tampered[index] ^= 0x01
        with pytest.raises(InvalidClientTokenId) as caught:
            open_session(_token(bytes(tampered)), {"k1": KEY_1, "k0": KEY_1, "k3": KEY_1}, NOW)
        assert caught.value.description == "The security token included in the request is invalid."


@pytest.mark.parametrize(
    "token",
    [
        "",
        "!!!!",
        "abc=",
        "A",
        "AQ",
        " " + "A" * 40,
        "\u00e9" * 40,
        "A" * 9000,
        _token(b"\x02\x02k1" + bytes(40)),
    ],
    ids=["empty", "bang", "padding", "one-char", "two-bytes", "space", "unicode", "too-long", "version-2"],
)
def test_garbage_is_an_invalid_token(token: str) -> None:
    with pytest.raises(InvalidClientTokenId):
        open_session(token, {"k1": KEY_1}, NOW)


def test_truncated_token_is_rejected() -> None:
    raw = _raw(seal_session(CLAIMS, KEY_1, "k1"))
    for cut in (1, 3, 16, 20, len(raw) - 1):
        with pytest.raises(InvalidClientTokenId):
            open_session(_token(raw[:cut]), {"k1": KEY_1}, NOW)


def test_wrong_or_unknown_key_is_rejected() -> None:
    token = seal_session(CLAIMS, KEY_1, "k1")
    with pytest.raises(InvalidClientTokenId, match="invalid"):
        open_session(token, {"k1": KEY_2}, NOW)
    with pytest.raises(InvalidClientTokenId) as caught:
        open_session(token, {"k2": KEY_1}, NOW)
    assert "unknown session key id" in caught.value.detail


def test_key_id_is_bound_to_the_ciphertext() -> None:
    raw = _raw(seal_session(CLAIMS, KEY_1, "k1"))
    relabelled = raw[:2] + b"k2" + raw[4:]
    with pytest.raises(InvalidClientTokenId):
        open_session(_token(relabelled), {"k1": KEY_1, "k2": KEY_1}, NOW)


def test_key_rotation() -> None:
    old = seal_session(CLAIMS, KEY_1, "2025-01")
    new = seal_session(CLAIMS, KEY_2, "2025-06")
    both = {"2025-01": KEY_1, "2025-06": KEY_2}
    assert open_session(old, both, NOW) == open_session(new, both, NOW) == CLAIMS
    with pytest.raises(InvalidClientTokenId):
        open_session(old, {"2025-06": KEY_2}, NOW)


def test_expiry() -> None:
    token = seal_session(CLAIMS, KEY_1, "k1")
    assert open_session(token, {"k1": KEY_1}, CLAIMS.expires_at - 0.001) == CLAIMS
    with pytest.raises(ExpiredToken) as caught:
        open_session(token, {"k1": KEY_1}, CLAIMS.expires_at)
    assert caught.value.description == "The security token included in the request is expired"
    assert caught.value.code == "ExpiredToken"
    assert CLAIMS.is_expired(CLAIMS.expires_at)


def test_tampered_expired_token_is_invalid_not_expired() -> None:
    raw = bytearray(_raw(seal_session(CLAIMS, KEY_1, "k1")))
    raw[-1] ^= 0x80
    with pytest.raises(InvalidClientTokenId):
        open_session(_token(bytes(raw)), {"k1": KEY_1}, CLAIMS.expires_at + 1)


def _forge(plaintext: bytes, *, key: bytes = KEY_1, key_id: bytes = b"k1") -> str:
    """An authentic token around arbitrary plaintext, as only a key holder could make."""
    header = bytes((1, len(key_id))) + key_id
    nonce = bytes(12)
    return _token(header + nonce + AESGCM(key).encrypt(nonce, plaintext, header))


@pytest.mark.parametrize(
    "plaintext",
    [
        b"not zlib",
        zlib.compress(b"not json"),
        zlib.compress(b"[]"),
        zlib.compress(b'{"t": "acme"}'),
        zlib.compress(
            json.dumps({"t": 1, "k": "", "s": "", "p": "", "r": "", "a": "", "n": "", "i": 0, "e": 1}).encode()
        ),
        zlib.compress(
            json.dumps({"t": "", "k": "", "s": "", "p": "", "r": "", "a": "", "n": "", "i": True, "e": 1}).encode()
        ),
        zlib.compress(b'{"t":"","k":"","s":"","p":"","r":"","a":"","n":"","i":0,"e":9e99,"tg":{"a":1}}'),
        zlib.compress(b'{"t":"","k":"","s":"","p":"","r":"","a":"","n":"","i":0,"e":9e99,"sp":"abc"}'),
        zlib.compress(b'{"t":"","k":"","s":"","p":"","r":"","a":"","n":"","i":0,"e":9e99,"g":1.5}'),
        zlib.compress(b"{" + b" " * 1_000_000 + b"}"),
        zlib.compress(b'{"t":"')[:-4],
    ],
    ids=[
        "not-zlib",
        "not-json",
        "not-object",
        "missing",
        "wrong-type",
        "bool-time",
        "tag-type",
        "list-type",
        "int-type",
        "bomb",
        "truncated",
    ],
)
def test_authentic_but_malformed_claims_are_invalid(plaintext: bytes) -> None:
    with pytest.raises(InvalidClientTokenId):
        open_session(_forge(plaintext), {"k1": KEY_1}, NOW)


def test_forged_well_formed_claims_open() -> None:
    body = {"t": "x", "k": "ASIA", "s": "sec", "p": "p", "r": "r", "a": "a", "n": "n", "i": NOW, "e": NOW + 1}
    opened = open_session(_forge(zlib.compress(json.dumps(body).encode())), {"k1": KEY_1}, NOW)
    assert opened.secret_access_key.reveal() == "sec"
    assert opened.tenant == "x"
    assert opened.session_tags == {}


@pytest.mark.parametrize(("key", "key_id"), [(bytes(16), "k1"), (KEY_1, ""), (KEY_1, "has space"), (KEY_1, "k" * 65)])
def test_seal_refuses_bad_keys_and_ids(key: bytes, key_id: str) -> None:
    with pytest.raises(ValueError, match="session token"):
        seal_session(CLAIMS, key, key_id)


def test_access_key_ids_look_like_aws() -> None:
    assert re.fullmatch(r"ASIA[A-Z2-7]{16}", new_access_key_id())
    assert re.fullmatch(r"AKIA[A-Z2-7]{16}", new_access_key_id("AKIA"))
    assert new_access_key_id(random_bytes=lambda n: bytes(n)) == "ASIA" + "A" * 16
    assert new_access_key_id() != new_access_key_id()


def test_secret_access_keys_look_like_aws() -> None:
    secret = new_secret_access_key()
    assert isinstance(secret, Secret)
    assert re.fullmatch(r"[A-Za-z0-9+/]{40}", secret.reveal())
    assert repr(secret) == "Secret('****')"
    assert new_secret_access_key(random_bytes=_counter_bytes()).reveal() == base64.b64encode(b"\x01" * 30).decode()
