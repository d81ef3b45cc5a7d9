"""Proof Key for Code Exchange (RFC 7636): S256 only; ``plain`` is refused (RFC 9700 §2.1.1)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re

S256 = "S256"
SUPPORTED_METHODS = (S256,)
# RFC 7636 §4.1: 43-128 characters of [A-Z] / [a-z] / [0-9] / "-" / "." / "_" / "~"
_VERIFIER = re.compile(r"^[A-Za-z0-9._~-]{43,128}$")
# §4.2: the S256 challenge is the unpadded base64url of a SHA-256 digest: exactly 43 characters
_CHALLENGE = re.compile(r"^[A-Za-z0-9_-]{43}$")


def s256_challenge(code_verifier: str) -> str:
    """``BASE64URL-ENCODE(SHA256(ASCII(code_verifier)))`` (RFC 7636 §4.2)."""
    digest = hashlib.sha256(code_verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def is_valid_verifier(code_verifier: str) -> bool:
    return bool(_VERIFIER.fullmatch(code_verifier))


def is_valid_challenge(code_challenge: str) -> bool:
    return bool(_CHALLENGE.fullmatch(code_challenge))


def verify_code_verifier(code_verifier: str, code_challenge: str, method: str = S256) -> bool:
    """Verify a PKCE code_verifier against the stored challenge (RFC 7636 §4.6), in constant time."""
    if method != S256 or not is_valid_verifier(code_verifier):
        return False
    return hmac.compare_digest(s256_challenge(code_verifier).encode(), code_challenge.encode())


__all__ = [
    "S256",
    "SUPPORTED_METHODS",
    "is_valid_challenge",
    "is_valid_verifier",
    "s256_challenge",
    "verify_code_verifier",
]
