"""Compact JWS signing and verification (RFC 7515 §7.1): round trips, interop and every way to be rejected."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from pathlib import Path
from typing import Any

import jwt as pyjwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from joserfc import jws as jose_jws
from joserfc import jwt as jose_jwt
from joserfc.jwk import ECKey, OKPKey, RSAKey

from tessera.domain import jws
from tessera.domain.jws import (
    ALGORITHMS,
    MalformedJws,
    PrivateKey,
    PublicKey,
    b64url,
    b64url_decode,
    encode_header,
    sign_compact,
    split_compact,
    verify_signature,
)
from tessera.domain.keys import generate_private_key, public_jwk

pytestmark = pytest.mark.unit

# joserfc >= 1.8 warns that "EdDSA" is deprecated by RFC 9864 (fully specified "Ed25519"); it still verifies it.
joserfc_eddsa = pytest.mark.filterwarnings("ignore:EdDSA is deprecated:joserfc.errors.SecurityWarning")

VECTORS = Path(__file__).parents[2] / "vectors"
RFC7515: dict[str, Any] = json.loads((VECTORS / "jws_rfc7515.json").read_text(encoding="utf-8"))
RFC7520: dict[str, Any] = json.loads((VECTORS / "jws_rfc7520.json").read_text(encoding="utf-8"))
RFC8037: dict[str, Any] = json.loads((VECTORS / "jws_rfc8037.json").read_text(encoding="utf-8"))
CLAIMS: dict[str, Any] = {"iss": "https://issuer.example", "sub": "svc", "scope": "read write", "n": 1, "é": "ü"}


@pytest.fixture(scope="module")
def keys() -> dict[str, PrivateKey]:
    """One key per algorithm (RSA generation is slow: once per module)."""
    return {alg: generate_private_key(alg) for alg in ALGORITHMS}


@pytest.fixture(scope="module")
def other_keys() -> dict[str, PrivateKey]:
    return {alg: generate_private_key(alg) for alg in ALGORITHMS}


def _sign(alg: str, key: PrivateKey, claims: dict[str, Any] | None = None, typ: str = "JWT", kid: str = "k1") -> str:
    return sign_compact(encode_header(alg, kid, typ), claims if claims is not None else CLAIMS, alg, key)


def _forge(header: dict[str, Any], claims: dict[str, Any], signature: bytes) -> str:
    """A compact JWS with any header and signature (for attacks)."""
    h = b64url(json.dumps(header).encode()).decode()
    p = b64url(json.dumps(claims).encode()).decode()
    return f"{h}.{p}.{b64url(signature).decode()}"


def _public_pem(key: PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def _joserfc_key(key: PrivateKey | PublicKey) -> ECKey | RSAKey | OKPKey:
    if isinstance(key, ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey):
        return ECKey.import_key(key)
    if isinstance(key, rsa.RSAPrivateKey | rsa.RSAPublicKey):
        return RSAKey.import_key(key)
    return OKPKey.import_key(key)


def _import_jwk(jwk: dict[str, Any]) -> ECKey | RSAKey | OKPKey:
    if jwk["kty"] == "EC":
        return ECKey.import_key(jwk)
    if jwk["kty"] == "RSA":
        return RSAKey.import_key(jwk)
    return OKPKey.import_key(jwk)


# base64url ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("length", range(12))
def test_b64url_round_trips_without_padding(length: int) -> None:
    data = bytes(range(250, 256))[:length] + bytes(range(length))
    encoded = b64url(data)
    assert b"=" not in encoded
    assert b"+" not in encoded
    assert b"/" not in encoded
    assert b64url_decode(encoded) == data
    assert b64url_decode(encoded.decode()) == data


@pytest.mark.parametrize(
    "text",
    [
        "e30=",  # padding is not part of base64url in JWS (RFC 7515 §2)
        "e30==",
        "+/8",  # the standard alphabet
        "e3 0",
        "e30\n",
        "ab\ncd",
        "e30!",
        "e",  # a length no encoding has
        "e31",  # non-zero trailing bits: a second spelling of "{}"
        "é30",
        "e30\u00a0",
    ],
)
def test_b64url_decode_is_strict(text: str) -> None:
    with pytest.raises(MalformedJws):
        b64url_decode(text)


# Round trips --------------------------------------------------------------------------------------
@pytest.mark.parametrize("alg", ALGORITHMS)
def test_sign_then_split_and_verify(alg: str, keys: dict[str, PrivateKey]) -> None:
    token = _sign(alg, keys[alg], typ="at+jwt")
    header, claims, signing_input, signature = split_compact(token)
    assert header == {"alg": alg, "kid": "k1", "typ": "at+jwt"}
    assert claims == CLAIMS
    assert signing_input == token.rsplit(".", 1)[0].encode("ascii")
    assert verify_signature(signing_input, signature, alg, keys[alg].public_key())


@pytest.mark.parametrize("alg", ALGORITHMS)
def test_header_is_compact_json_in_a_fixed_order(alg: str) -> None:
    assert b64url_decode(encode_header(alg, "kid-1", "at+jwt")) == (
        f'{{"alg":"{alg}","kid":"kid-1","typ":"at+jwt"}}'.encode()
    )


def test_es256_signature_is_raw_r_and_s(keys: dict[str, PrivateKey]) -> None:
    """RFC 7518 §3.4: 64 octets R || S, not DER."""
    _, _, _, signature = split_compact(_sign("ES256", keys["ES256"]))
    assert len(signature) == 64


def test_ed25519_signing_is_deterministic(keys: dict[str, PrivateKey]) -> None:
    assert _sign("EdDSA", keys["EdDSA"]) == _sign("EdDSA", keys["EdDSA"])


@pytest.mark.parametrize("alg", ALGORITHMS)
def test_payload_is_compact_utf8_json(alg: str, keys: dict[str, PrivateKey]) -> None:
    """RFC 7519 §7.1: the claims are the UTF-8 octets of a JSON object (no whitespace needed)."""
    payload = b64url_decode(_sign(alg, keys[alg]).split(".")[1])
    assert json.loads(payload.decode("utf-8")) == CLAIMS
    assert b" " not in payload.replace(b"read write", b"")


@pytest.mark.parametrize(("alg", "wrong"), [("ES256", "RS256"), ("RS256", "EdDSA"), ("EdDSA", "ES256")])
def test_sign_refuses_a_key_of_another_algorithm(alg: str, wrong: str, keys: dict[str, PrivateKey]) -> None:
    with pytest.raises(ValueError, match=alg):
        sign_compact(encode_header(alg, "k", "JWT"), CLAIMS, alg, keys[wrong])


def test_sign_refuses_an_unknown_algorithm(keys: dict[str, PrivateKey]) -> None:
    with pytest.raises(ValueError, match="HS256"):
        sign_compact(encode_header("HS256", "k", "JWT"), CLAIMS, "HS256", keys["ES256"])


# Interop: real JOSE libraries verify what we sign, and we verify what they sign ------------------
@joserfc_eddsa
@pytest.mark.parametrize("alg", ALGORITHMS)
def test_joserfc_verifies_our_tokens(alg: str, keys: dict[str, PrivateKey]) -> None:
    token = _sign(alg, keys[alg], typ="at+jwt")
    public = _joserfc_key(keys[alg].public_key())
    obj = jose_jws.deserialize_compact(token, public, algorithms=[alg])
    assert obj.protected == {"alg": alg, "kid": "k1", "typ": "at+jwt"}
    assert json.loads(obj.payload) == CLAIMS
    assert dict(jose_jwt.decode(token, public, algorithms=[alg]).claims) == CLAIMS


@joserfc_eddsa
@pytest.mark.parametrize("alg", ALGORITHMS)
def test_joserfc_verifies_our_tokens_through_our_jwk(alg: str, keys: dict[str, PrivateKey]) -> None:
    """The published JWK (keys.public_jwk) is what relying parties import."""
    jwk = public_jwk(keys[alg], alg)
    imported = _import_jwk(jwk)
    token = _sign(alg, keys[alg], kid=jwk["kid"])
    assert dict(jose_jwt.decode(token, imported, algorithms=[alg]).claims) == CLAIMS


@pytest.mark.parametrize("alg", ALGORITHMS)
def test_pyjwt_verifies_our_tokens(alg: str, keys: dict[str, PrivateKey]) -> None:
    token = _sign(alg, keys[alg], typ="at+jwt")
    assert pyjwt.get_unverified_header(token) == {"alg": alg, "kid": "k1", "typ": "at+jwt"}
    assert pyjwt.decode(token, keys[alg].public_key(), algorithms=[alg]) == CLAIMS


@pytest.mark.parametrize("alg", ALGORITHMS)
def test_pyjwt_verifies_our_tokens_through_our_jwk(alg: str, keys: dict[str, PrivateKey]) -> None:
    jwk = pyjwt.PyJWK(public_jwk(keys[alg], alg))
    assert pyjwt.decode(_sign(alg, keys[alg]), jwk, algorithms=[alg]) == CLAIMS


@joserfc_eddsa
@pytest.mark.parametrize("alg", ALGORITHMS)
def test_we_verify_joserfc_and_pyjwt_tokens(alg: str, keys: dict[str, PrivateKey]) -> None:
    key = keys[alg]
    tokens = [
        jose_jwt.encode({"alg": alg, "kid": "k1"}, CLAIMS, _joserfc_key(key), algorithms=[alg]),
        pyjwt.encode(CLAIMS, key, algorithm=alg, headers={"kid": "k1"}),
    ]
    for token in tokens:
        header, claims, signing_input, signature = split_compact(token)
        assert header["alg"] == alg
        assert claims == CLAIMS
        assert verify_signature(signing_input, signature, alg, key.public_key())


# Published examples, replayed byte for byte -------------------------------------------------------
def _public_key(jwk: dict[str, Any]) -> PublicKey:
    public = {k: v for k, v in jwk.items() if k in ("kty", "crv", "x", "y", "n", "e")}
    key = _import_jwk(public).public_key
    assert isinstance(key, ec.EllipticCurvePublicKey | rsa.RSAPublicKey | ed25519.Ed25519PublicKey)
    return key


def _private_key(jwk: dict[str, Any]) -> PrivateKey:
    key = _import_jwk(jwk).private_key
    assert isinstance(key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey)
    return key


RFC_EXAMPLES = [*RFC7515["examples"], *RFC7520["examples"]]


@pytest.mark.parametrize("example", RFC_EXAMPLES, ids=lambda e: e["section"].split(" (")[0])
def test_published_jws_verifies(example: dict[str, Any]) -> None:
    signing_input, signature = example["compact"].rsplit(".", 1)
    assert json.loads(b64url_decode(signing_input.split(".")[0]))["alg"] == example["alg"]
    assert verify_signature(
        signing_input.encode(), b64url_decode(signature), example["alg"], _public_key(example["key"])
    )


@pytest.mark.parametrize("example", RFC7515["examples"], ids=lambda e: e["alg"])
def test_published_rfc7515_jws_splits_and_verifies(example: dict[str, Any]) -> None:
    header, _claims, signing_input, signature = split_compact(example["compact"])
    assert header == {"alg": example["alg"]}
    assert verify_signature(signing_input, signature, example["alg"], _public_key(example["key"]))


def test_rfc7515_payload_is_the_published_json() -> None:
    for example in RFC7515["examples"]:
        _, claims, _, _ = split_compact(example["compact"])
        assert b64url_decode(example["compact"].split(".")[1]).decode() == RFC7515["payload"]
        assert claims == {"iss": "joe", "exp": 1300819380, "http://example.com/is_root": True}


def test_rfc7520_payload_is_the_published_text() -> None:
    payload = RFC7520["examples"][0]["compact"].split(".")[1]
    assert b64url_decode(payload).decode("utf-8") == RFC7520["payload"]


def test_rfc7515_a2_rs256_signature_is_reproduced_byte_for_byte() -> None:
    """RSASSA-PKCS1-v1_5 is deterministic: our signer must give the RFC's signature."""
    example = next(e for e in RFC7515["examples"] if e["alg"] == "RS256")
    signing_input, published = example["compact"].rsplit(".", 1)
    assert b64url(jws._sign(signing_input.encode(), "RS256", _private_key(example["key"]))).decode() == published


def test_rfc7515_a3_private_key_matches_the_public_key() -> None:
    example = next(e for e in RFC7515["examples"] if e["alg"] == "ES256")
    private = _private_key(example["key"])
    assert private.public_key().public_numbers() == _public_key(example["key"]).public_numbers()  # type: ignore[union-attr]
    # ECDSA is randomised, so a fresh signature differs but verifies
    signing_input = example["compact"].rsplit(".", 1)[0].encode()
    assert verify_signature(signing_input, jws._sign(signing_input, "ES256", private), "ES256", private.public_key())


def test_rfc8037_a4_eddsa_verifies_and_is_reproduced_byte_for_byte() -> None:
    signing_input, published = RFC8037["compact"].rsplit(".", 1)
    public = _public_key(RFC8037["key"])
    assert b64url_decode(signing_input.split(".")[1]).decode() == RFC8037["payload"]
    assert verify_signature(signing_input.encode(), b64url_decode(published), "EdDSA", public)
    assert b64url(jws._sign(signing_input.encode(), "EdDSA", _private_key(RFC8037["key"]))).decode() == published


@pytest.mark.parametrize("example", RFC_EXAMPLES, ids=lambda e: e["section"].split(" (")[0])
def test_published_jws_with_one_bit_changed_fails(example: dict[str, Any]) -> None:
    signing_input, signature = example["compact"].rsplit(".", 1)
    raw = bytearray(b64url_decode(signature))
    raw[len(raw) // 2] ^= 0x01
    assert not verify_signature(signing_input.encode(), bytes(raw), example["alg"], _public_key(example["key"]))
    tampered = signing_input[:-1] + ("A" if signing_input[-1] != "A" else "B")
    assert not verify_signature(
        tampered.encode(), b64url_decode(signature), example["alg"], _public_key(example["key"])
    )


def test_a_second_spelling_of_a_published_signature_is_malformed() -> None:
    """'+' for '-' or other trailing bits would decode to the same bytes with a lenient decoder."""
    example = next(e for e in RFC7515["examples"] if e["alg"] == "ES256")
    token: str = example["compact"]
    assert "-" in token.rsplit(".", 1)[1]
    assert token.endswith("Q")
    for variant in (token[:-1] + "R", token.rsplit(".", 1)[0] + "." + token.rsplit(".", 1)[1].replace("-", "+")):
        with pytest.raises(MalformedJws):
            split_compact(variant)


# Rejections ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("alg", ["none", "None", "NONE", "", "HS256", "HS384", "HS512", "PS256", "ES384", "ES256K"])
def test_verify_signature_rejects_algorithms_outside_the_allow_list(alg: str, keys: dict[str, PrivateKey]) -> None:
    for key in keys.values():
        signing_input = b"eyJhbGciOiJub25lIn0.e30"
        assert not verify_signature(signing_input, b"", alg, key.public_key())
        secret = _public_pem(key.public_key())
        assert not verify_signature(
            signing_input, hmac.new(secret, signing_input, hashlib.sha256).digest(), alg, key.public_key()
        )


@pytest.mark.parametrize("alg", ALGORITHMS)
def test_hs256_with_the_public_key_as_secret_is_rejected(alg: str, keys: dict[str, PrivateKey]) -> None:
    """The classic key confusion: an HMAC keyed with the published public key."""
    public = keys[alg].public_key()
    for secret in (_public_pem(public), json.dumps(public_jwk(public, alg)).encode()):
        header = {"alg": "HS256", "kid": "k1", "typ": "JWT"}
        unsigned = _forge(header, CLAIMS, b"").rsplit(".", 1)[0]
        mac = hmac.new(secret, unsigned.encode(), hashlib.sha256).digest()
        _, _, signing_input, signature = split_compact(f"{unsigned}.{b64url(mac).decode()}")
        assert not verify_signature(signing_input, signature, "HS256", public)
        assert not verify_signature(signing_input, signature, alg, public)


@pytest.mark.parametrize("alg", ALGORITHMS)
def test_wrong_key_is_rejected(alg: str, keys: dict[str, PrivateKey], other_keys: dict[str, PrivateKey]) -> None:
    _, _, signing_input, signature = split_compact(_sign(alg, keys[alg]))
    assert not verify_signature(signing_input, signature, alg, other_keys[alg].public_key())


@pytest.mark.parametrize("alg", ALGORITHMS)
@pytest.mark.parametrize("wrong", ALGORITHMS)
def test_algorithm_and_key_type_must_agree(alg: str, wrong: str, keys: dict[str, PrivateKey]) -> None:
    _, _, signing_input, signature = split_compact(_sign(alg, keys[alg]))
    for claimed, key in ((wrong, keys[alg]), (alg, keys[wrong])):
        expected = claimed == alg and key is keys[alg]
        assert verify_signature(signing_input, signature, claimed, key.public_key()) is expected


def test_es256_signature_of_the_wrong_length_is_rejected(keys: dict[str, PrivateKey]) -> None:
    _, _, signing_input, signature = split_compact(_sign("ES256", keys["ES256"]))
    public = keys["ES256"].public_key()
    for bad in (signature[:63], signature + b"\x00", b"\x00" + signature, b"", signature[:32]):
        assert not verify_signature(signing_input, bad, "ES256", public)


def test_es256_der_signature_is_rejected(keys: dict[str, PrivateKey]) -> None:
    key = keys["ES256"]
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    from cryptography.hazmat.primitives import hashes

    der = key.sign(b"a.b", ec.ECDSA(hashes.SHA256()))
    assert not verify_signature(b"a.b", der, "ES256", key.public_key())


@pytest.mark.parametrize("alg", ALGORITHMS)
def test_truncated_signature_is_rejected(alg: str, keys: dict[str, PrivateKey]) -> None:
    token = _sign(alg, keys[alg])
    for cut in (1, 4, 8):
        shortened = token[: len(token) - cut]
        try:
            _, _, signing_input, signature = split_compact(shortened)
        except MalformedJws:
            continue
        assert not verify_signature(signing_input, signature, alg, keys[alg].public_key())


@pytest.mark.parametrize(
    "token",
    [
        "",
        ".",
        "..",
        "a.b",
        "a.b.c.d",
        "eyJhbGciOiJFUzI1NiJ9..c2ln",  # empty payload
        ".e30.c2ln",  # empty header
        "eyJhbGciOiJFUzI1NiJ9.e30",  # two parts
        "eyJhbGciOiJFUzI1NiJ9.e30.c2ln.c2ln",  # four parts (JWE-like has five)
        "a.b.c.d.e",
    ],
)
def test_split_rejects_wrong_shapes(token: str) -> None:
    with pytest.raises(MalformedJws):
        split_compact(token)


@pytest.mark.parametrize(
    ("header", "payload"),
    [
        (b"not json", b"{}"),
        (b"{}", b"not json"),
        (b"[1, 2]", b"{}"),  # JSON, but not an object
        (b"{}", b'"a string"'),
        (b"{}", b"null"),
        (b"\xff\xfe{}", b"{}"),  # not UTF-8
        (b"{}", b"\xc3("),
        (b'{"alg": "ES256"', b"{}"),  # truncated JSON
    ],
)
def test_split_rejects_non_json_parts(header: bytes, payload: bytes) -> None:
    token = f"{b64url(header).decode()}.{b64url(payload).decode()}.c2ln"
    with pytest.raises(MalformedJws):
        split_compact(token)


@pytest.mark.parametrize(
    "token",
    [
        "eyJhbGciOiJFUzI1NiJ9.e30.c2ln!",
        "eyJhbGciOiJFUzI1NiJ9.e30=.c2ln",
        "eyJhbGciOiJFUzI1NiJ9.e30.c2ln=",
        "eyJhbGciOiJFUzI1NiJ9.e30.c2l",  # non-zero trailing bits
        "eyJhbGciOiJFUzI1NiJ9.e30.c2ln c2ln",
        "eyJhbGciOiJFUzI1NiJ9.e3ô0.c2ln",  # non-ASCII
        "éyJhbGciOiJFUzI1NiJ9.e30.c2ln",
        "eyJhbGciOiJFUzI1NiJ9.e30.c2lu\u200b",
        "eyJhbGciOiJFUzI1NiJ9\n.e30.c2ln",
    ],
)
def test_split_rejects_bad_base64url(token: str) -> None:
    with pytest.raises(MalformedJws):
        split_compact(token)


def test_split_does_not_verify(keys: dict[str, PrivateKey]) -> None:
    """Splitting only parses; a forged token splits fine and fails verification."""
    forged = _forge({"alg": "none"}, {"sub": "admin"}, b"")
    header, claims, signing_input, signature = split_compact(forged)
    assert header == {"alg": "none"}
    assert claims == {"sub": "admin"}
    assert signature == b""
    for alg, key in keys.items():
        assert not verify_signature(signing_input, signature, alg, key.public_key())


def test_standard_base64_with_padding_is_not_base64url() -> None:
    assert base64.b64encode(b"\xfb\xff").decode() == "+/8="
    with pytest.raises(MalformedJws):
        b64url_decode("+/8=")
    assert b64url_decode("-_8") == b"\xfb\xff"
