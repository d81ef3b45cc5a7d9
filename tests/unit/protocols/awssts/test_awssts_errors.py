"""AWS STS wire errors: one class per code, with status and fault."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import botocore
import pytest

from tessera.errors import ProtocolError
from tessera.protocols.awssts import errors

pytestmark = pytest.mark.unit

ERROR_CLASSES = [
    obj
    for name in errors.__all__
    if isinstance(obj := getattr(errors, name), type)
    and issubclass(obj, errors.AwsError)
    and obj is not errors.AwsError
]

# https://docs.aws.amazon.com/STS/latest/APIReference/CommonErrors.html and the STS service model.
EXPECTED = {
    "AccessDenied": (403, "Sender"),
    "ExpiredToken": (403, "Sender"),
    "ExpiredTokenException": (400, "Sender"),
    "IDPCommunicationError": (400, "Sender"),
    "IDPRejectedClaim": (403, "Sender"),
    "IncompleteSignature": (400, "Sender"),
    "InternalFailure": (500, "Receiver"),
    "InvalidAction": (400, "Sender"),
    "InvalidAuthorizationMessageException": (400, "Sender"),
    "InvalidClientTokenId": (403, "Sender"),
    "InvalidIdentityToken": (400, "Sender"),
    "InvalidParameterCombination": (400, "Sender"),
    "InvalidParameterValue": (400, "Sender"),
    "InvalidQueryParameter": (400, "Sender"),
    "MalformedPolicyDocument": (400, "Sender"),
    "MalformedQueryString": (404, "Sender"),
    "MissingAction": (400, "Sender"),
    "MissingAuthenticationToken": (403, "Sender"),
    "MissingParameter": (400, "Sender"),
    "OptInRequired": (403, "Sender"),
    "PackedPolicyTooLarge": (400, "Sender"),
    "RegionDisabledException": (403, "Sender"),
    "RequestExpired": (400, "Sender"),
    "ServiceUnavailable": (503, "Receiver"),
    "SignatureDoesNotMatch": (403, "Sender"),
    "Throttling": (400, "Sender"),
    "ValidationError": (400, "Sender"),
}


@pytest.mark.parametrize("cls", ERROR_CLASSES, ids=lambda c: c.__name__)
def test_class_is_named_after_its_wire_code(cls: type[errors.AwsError]) -> None:
    assert cls.code == cls.__name__
    assert (cls.status, cls.fault) == EXPECTED[cls.code]
    assert issubclass(cls, ProtocolError)


def test_every_expected_code_has_a_class() -> None:
    assert {cls.code for cls in ERROR_CLASSES} == set(EXPECTED)


def test_modeled_sts_errors_match_botocore() -> None:
    model_path = Path(botocore.__file__).parent / "data" / "sts" / "2011-06-15" / "service-2.json.gz"
    shapes = json.loads(gzip.decompress(model_path.read_bytes()))["shapes"]
    modeled = {shape["error"]["code"]: shape["error"] for shape in shapes.values() if shape.get("exception")}
    ours = {cls.code: cls for cls in ERROR_CLASSES if cls.code in modeled}
    assert set(ours) >= {
        "ExpiredTokenException",
        "IDPCommunicationError",
        "IDPRejectedClaim",
        "InvalidAuthorizationMessageException",
        "InvalidIdentityToken",
        "MalformedPolicyDocument",
        "PackedPolicyTooLarge",
        "RegionDisabledException",
    }
    for code, cls in ours.items():
        assert cls.status == modeled[code]["httpStatusCode"]
        assert (cls.fault == "Sender") is modeled[code]["senderFault"]


def test_description_and_detail() -> None:
    error = errors.AccessDenied("User is not authorized to perform: sts:AssumeRole", detail="policy 3")
    assert error.description == "User is not authorized to perform: sts:AssumeRole"
    assert error.detail == "policy 3"
    assert repr(error) == "AccessDenied('User is not authorized to perform: sts:AssumeRole')"
    with pytest.raises(ValueError, match="ASCII"):
        errors.ValidationError("caf\u00e9")


def test_ascii_excerpt() -> None:
    assert errors.ascii_excerpt("caf\u00e9 \u1234", limit=6) == "caf\\xe9 \\u1234"
    assert errors.ascii_excerpt("x" * 100) == "x" * 80
