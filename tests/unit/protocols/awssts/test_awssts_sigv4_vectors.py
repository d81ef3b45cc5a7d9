"""Replay the AWS SigV4 test-suite vectors in tests/vectors/aws_sigv4.json byte for byte."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from tessera.protocols.awssts import (
    AwsRequest,
    calculate_signature,
    canonical_request,
    derive_signing_key,
    parse_authorization,
    string_to_sign,
    verify_signature,
)
from tessera.protocols.awssts.errors import SignatureDoesNotMatch
from tessera.secret import Secret

pytestmark = pytest.mark.unit

SUITE: dict[str, Any] = json.loads(
    (Path(__file__).parents[3] / "vectors" / "aws_sigv4.json").read_text(encoding="utf-8")
)
SECRET = Secret(SUITE["secret_access_key"])
NOW = datetime.strptime(SUITE["timestamp"], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC).timestamp()


def _request(vector: dict[str, Any]) -> AwsRequest:
    query = vector.get("raw_query")
    if query is None:
        query = "&".join(f"{quote(k, safe='-_.~')}={quote(v, safe='-_.~')}" for k, v in vector["query"])
    headers = [(name, value) for name, value in vector["headers"]]
    if "authorization" in vector:
        headers.append(("Authorization", vector["authorization"]))
    return AwsRequest(vector["method"], vector["path"], query, tuple(headers), vector["body"].encode())


@pytest.mark.parametrize("vector", SUITE["vectors"], ids=lambda v: v["name"])
def test_suite_vector_verifies(vector: dict[str, Any]) -> None:
    request = _request(vector)
    info = parse_authorization(request)
    assert info.access_key_id == SUITE["access_key_id"]
    assert verify_signature(info, request, SECRET, NOW, service=SUITE["service"]) is info


@pytest.mark.parametrize("vector", SUITE["vectors"], ids=lambda v: v["name"])
def test_suite_vector_rejects_another_secret(vector: dict[str, Any]) -> None:
    request = _request(vector)
    with pytest.raises(SignatureDoesNotMatch):
        verify_signature(
            parse_authorization(request),
            request,
            Secret("x" + SECRET.reveal()),
            NOW,
            service=SUITE["service"],
        )


@pytest.mark.parametrize("vector", [v for v in SUITE["vectors"] if "canonical_request" in v], ids=lambda v: v["name"])
def test_suite_canonical_request_and_string_to_sign(vector: dict[str, Any]) -> None:
    request = _request(vector)
    info = parse_authorization(request)
    creq = canonical_request(request, info, hashlib.sha256(request.body).hexdigest())
    assert creq == vector["canonical_request"]
    assert string_to_sign(info, creq) == vector["string_to_sign"]


def test_signing_key_derivation_example() -> None:
    # AWS SigV4 docs, "Derive a signing key" worked example (20150830 / us-east-1 / iam).
    key = derive_signing_key(SECRET, "20150830", "us-east-1", "iam")
    assert key.hex() == "c4afb1cc5771d871763a393e44b703571b55cc28424d1a5e86da6ed3c154a4b9"


def test_signature_over_get_vanilla_string_to_sign() -> None:
    vanilla = next(v for v in SUITE["vectors"] if v["name"] == "get-vanilla")
    key = derive_signing_key(SECRET, "20150830", "us-east-1", "service")
    assert vanilla["authorization"].endswith("Signature=" + calculate_signature(key, vanilla["string_to_sign"]))
