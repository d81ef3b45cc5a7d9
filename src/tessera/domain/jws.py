"""Compact JWS signing and verification (RFC 7515 §7.1) over ``cryptography``.

The hot path signs one JWT per token request; a hand-assembled compact serialisation over
``cryptography`` costs about half of what a general JOSE library adds (docs/benchmarks.md).
Only the algorithms in ``ALGORITHMS`` exist here: ``none`` and HMAC cannot be selected.
Tokens from elsewhere (client assertions) are verified with joserfc instead (``assertions``).
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

import orjson
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature

ALGORITHMS = ("ES256", "RS256", "EdDSA")

_ECDSA_SHA256 = ec.ECDSA(hashes.SHA256())

PrivateKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey
PublicKey = ec.EllipticCurvePublicKey | rsa.RSAPublicKey | ed25519.Ed25519PublicKey


class MalformedJws(ValueError):
    """The input is not a compact JWS we can verify."""


def b64url(data: bytes) -> bytes:
    return base64.urlsafe_b64encode(data).rstrip(b"=")


def b64url_decode(data: str | bytes) -> bytes:
    """Strict, unpadded base64url (RFC 7515 §2): one spelling per value, so tokens are not malleable."""
    try:
        if isinstance(data, str):
            data = data.encode("ascii")
        decoded = base64.urlsafe_b64decode(data + b"=" * (-len(data) % 4))
    except (binascii.Error, ValueError) as exc:  # UnicodeEncodeError is a ValueError
        raise MalformedJws("invalid base64url") from exc
    if b64url(decoded) != data:  # padding, '+', '/', stray characters or non-zero trailing bits
        raise MalformedJws("invalid base64url")
    return decoded


def encode_header(alg: str, kid: str, typ: str) -> bytes:
    """The protected header, base64url-encoded once per key and type (it never changes)."""
    return b64url(orjson.dumps({"alg": alg, "kid": kid, "typ": typ}))


def sign_compact(encoded_header: bytes, claims: dict[str, Any], alg: str, key: PrivateKey) -> str:
    """``header.payload.signature`` for ``claims`` under a pre-encoded header."""
    signing_input = encoded_header + b"." + b64url(orjson.dumps(claims))
    return (signing_input + b"." + b64url(_sign(signing_input, alg, key))).decode("ascii")


def _sign(message: bytes, alg: str, key: PrivateKey) -> bytes:
    if alg == "ES256" and isinstance(key, ec.EllipticCurvePrivateKey):
        r, s = decode_dss_signature(key.sign(message, _ECDSA_SHA256))
        return r.to_bytes(32, "big") + s.to_bytes(32, "big")
    if alg == "RS256" and isinstance(key, rsa.RSAPrivateKey):
        return key.sign(message, padding.PKCS1v15(), hashes.SHA256())
    if alg == "EdDSA" and isinstance(key, ed25519.Ed25519PrivateKey):
        return key.sign(message)
    raise ValueError(f"key does not match algorithm {alg}")


def split_compact(token: str) -> tuple[dict[str, Any], dict[str, Any], bytes, bytes]:
    """Parse ``token`` into (header, claims, signing input, signature) without verifying it."""
    parts = token.split(".")
    if len(parts) != 3 or not all(parts[:2]):
        raise MalformedJws("not a compact JWS")
    try:
        header = orjson.loads(b64url_decode(parts[0]))
        claims = orjson.loads(b64url_decode(parts[1]))
    except orjson.JSONDecodeError as exc:  # also invalid UTF-8, NaN and other non-JSON
        raise MalformedJws("header or payload is not JSON") from exc
    if not isinstance(header, dict) or not isinstance(claims, dict):
        raise MalformedJws("header and payload must be JSON objects")
    return header, claims, f"{parts[0]}.{parts[1]}".encode("ascii"), b64url_decode(parts[2])


def verify_signature(signing_input: bytes, signature: bytes, alg: str, key: PublicKey) -> bool:
    """True when ``signature`` is valid for ``signing_input`` under ``alg`` and ``key``."""
    try:
        if alg == "ES256" and isinstance(key, ec.EllipticCurvePublicKey) and isinstance(key.curve, ec.SECP256R1):
            if len(signature) != 64:
                return False
            der = encode_dss_signature(int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big"))
            key.verify(der, signing_input, _ECDSA_SHA256)
        elif alg == "RS256" and isinstance(key, rsa.RSAPublicKey):
            key.verify(signature, signing_input, padding.PKCS1v15(), hashes.SHA256())
        elif alg == "EdDSA" and isinstance(key, ed25519.Ed25519PublicKey):
            key.verify(signature, signing_input)
        else:
            return False
    except InvalidSignature:
        return False
    return True


__all__ = [
    "ALGORITHMS",
    "MalformedJws",
    "PrivateKey",
    "PublicKey",
    "b64url",
    "b64url_decode",
    "encode_header",
    "sign_compact",
    "split_compact",
    "verify_signature",
]
