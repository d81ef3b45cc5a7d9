"""PKCE (RFC 7636): Appendix B replayed byte for byte; S256 only; constant-time verification."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path

import pytest

from tessera.protocols.oauth2.pkce import is_valid_challenge, is_valid_verifier, s256_challenge, verify_code_verifier

pytestmark = pytest.mark.unit
VECTOR = json.loads((Path(__file__).parents[3] / "vectors" / "pkce_rfc7636.json").read_text())


def test_rfc7636_appendix_b() -> None:
    verifier = base64.urlsafe_b64encode(bytes(VECTOR["verifier_octets"])).rstrip(b"=").decode()
    assert verifier == VECTOR["code_verifier"]
    assert list(hashlib.sha256(verifier.encode("ascii")).digest()) == VECTOR["sha256_octets"]
    assert s256_challenge(verifier) == VECTOR["code_challenge"]
    assert verify_code_verifier(verifier, VECTOR["code_challenge"], "S256")


def test_plain_and_malformed_verifiers_fail() -> None:
    verifier, challenge = VECTOR["code_verifier"], VECTOR["code_challenge"]
    assert not verify_code_verifier(verifier, verifier, "plain")
    assert not verify_code_verifier(verifier, challenge, "plain")
    assert not verify_code_verifier(verifier[:-1] + "x", challenge)
    assert not verify_code_verifier("short", s256_challenge("short"))
    assert not verify_code_verifier("a" * 129, s256_challenge("a" * 129))
    assert not verify_code_verifier("a" * 42 + "!", s256_challenge("a" * 42 + "!"))


@pytest.mark.parametrize(
    ("value", "valid"),
    [
        ("a" * 43, True),
        ("a" * 128, True),
        ("A-._~" * 9, True),
        ("a" * 42, False),
        ("a" * 129, False),
        ("a" * 42 + "+", False),
        ("", False),
    ],
)
def test_verifier_syntax(value: str, valid: bool) -> None:
    assert is_valid_verifier(value) is valid


def test_challenge_syntax() -> None:
    assert is_valid_challenge(VECTOR["code_challenge"])
    assert not is_valid_challenge(VECTOR["code_challenge"] + "=")
    assert not is_valid_challenge(VECTOR["code_challenge"][:-1])
    assert not is_valid_challenge("+" * 43)
