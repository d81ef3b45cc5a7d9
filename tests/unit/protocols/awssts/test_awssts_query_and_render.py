"""Query-protocol parsing, request validation, the XML renderer, encoded messages and TOTP steps."""

from __future__ import annotations

import json
from xml.etree import ElementTree

import pyotp
import pytest
from botocore.parsers import QueryParser
from botocore.session import get_session

from tessera.protocols.awssts.authorization_message import decode_message, encode_message
from tessera.protocols.awssts.errors import (
    AccessDenied,
    InvalidAction,
    InvalidAuthorizationMessageException,
    InvalidQueryParameter,
    MissingAction,
    MissingParameter,
    ValidationError,
)
from tessera.protocols.awssts.mfa import device_name, matching_step
from tessera.protocols.awssts.query import parse_parameters, parse_query_request
from tessera.protocols.awssts.requests import parse_assume_role, parse_get_session_token
from tessera.protocols.awssts.responses import Credentials, StsResult, assumed_role_user
from tessera.secret import Secret
from tessera.web.render import aws_error_xml, aws_result_xml

pytestmark = pytest.mark.unit

ROLE = "arn:aws:iam::123456789012:role/MyRole"


def query(body: str, qs: str = ""):  # type: ignore[no-untyped-def]
    return parse_query_request(parse_parameters(body.encode(), qs))


def test_parameters_come_from_body_and_query_string_without_sigv4_ones() -> None:
    params = parse_parameters(b"Action=AssumeRole&RoleSessionName=a+b%2Fc", "Version=2011-06-15&X-Amz-Date=x")
    assert params == {"Action": "AssumeRole", "RoleSessionName": "a b/c", "Version": "2011-06-15"}
    with pytest.raises(InvalidQueryParameter):
        parse_parameters(b"Action=A", "Action=B")
    with pytest.raises(InvalidQueryParameter):
        parse_parameters(b"Action=%ff", "")
    with pytest.raises(InvalidQueryParameter):
        parse_parameters("Action=é".encode(), "")


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ("Version=2011-06-15", MissingAction),
        ("Action=GetCallerIdentity", MissingParameter),
        ("Action=GetCallerIdentity&Version=2012-01-01", InvalidAction),
        ("Action=DeleteEverything&Version=2011-06-15", InvalidAction),
    ],
)
def test_the_action_and_version_are_required(body: str, error: type[Exception]) -> None:
    with pytest.raises(error):
        query(body)


def test_member_lists_are_read_in_index_order() -> None:
    parsed = parse_assume_role(
        query(
            "Action=AssumeRole&Version=2011-06-15&RoleArn=" + ROLE + "&RoleSessionName=s1"
            "&Tags.member.2.Key=b&Tags.member.2.Value=2&Tags.member.1.Key=a&Tags.member.1.Value=1"
            "&TransitiveTagKeys.member.1=a&PolicyArns.member.1.arn=arn:aws:iam::123456789012:policy/P"
            "&DurationSeconds=900&ExternalId=ext-1&SourceIdentity=alice&SerialNumber=arn:aws:iam::1:mfa/x&TokenCode=123456"
        )
    )
    assert parsed.tags == (("a", "1"), ("b", "2"))
    assert parsed.transitive_tag_keys == ("a",)
    assert parsed.session.policy_arns == ("arn:aws:iam::123456789012:policy/P",)
    assert parsed.session.duration_seconds == 900
    assert (parsed.external_id, parsed.source_identity) == ("ext-1", "alice")
    assert parsed.token_code is not None
    assert parsed.token_code.reveal() == "123456"


@pytest.mark.parametrize(
    ("extra", "member"),
    [
        ("", "roleSessionName"),
        ("&RoleSessionName=x", "roleSessionName"),
        ("&RoleSessionName=has space", "roleSessionName"),
        ("&RoleSessionName=s1&DurationSeconds=ten", "durationSeconds"),
        ("&RoleSessionName=s1&ExternalId=x", "externalId"),
        ("&RoleSessionName=s1&TokenCode=12", "tokenCode"),
        ("&RoleSessionName=s1&Tags.member.1.Key=a", "tags.1.member.value"),
        ("&RoleSessionName=s1&Tags.member.1.Key=a%00&Tags.member.1.Value=b", "tags.1.member.key"),
        ("&RoleSessionName=s1&Tags.member.0.Key=a", "Tags.member.0.Key"),
    ],
)
def test_constraints_are_validation_errors_worded_as_aws(extra: str, member: str) -> None:
    with pytest.raises(ValidationError) as caught:
        parse_assume_role(query("Action=AssumeRole&Version=2011-06-15&RoleArn=" + ROLE + extra))
    assert member in caught.value.description


def test_get_session_token_duration_is_optional() -> None:
    assert parse_get_session_token(query("Action=GetSessionToken&Version=2011-06-15")).duration_seconds is None


def _botocore_parse(operation: str, body: bytes, status: int = 200) -> dict:  # type: ignore[type-arg]
    model = get_session().get_service_model("sts").operation_model(operation)
    return QueryParser().parse({"body": body, "headers": {}, "status_code": status}, model.output_shape)


def test_botocore_parses_the_rendered_result() -> None:
    credentials = Credentials("ASIAEXAMPLE", Secret("s3cr3t<&>"), Secret("token"), 1_750_000_000.0)
    result = StsResult(
        "AssumeRole",
        [
            credentials.members(),
            assumed_role_user("AROAX:s1", "arn:aws:sts::1:assumed-role/R/s1"),
            ("PackedPolicySize", 6),
        ],
    )
    xml = aws_result_xml(result, "req-1")
    assert xml.startswith(b'<AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">')
    parsed = _botocore_parse("AssumeRole", xml)
    assert parsed["Credentials"]["SecretAccessKey"] == "s3cr3t<&>"
    assert parsed["Credentials"]["Expiration"].timestamp() == 1_750_000_000.0
    assert parsed["PackedPolicySize"] == 6
    assert parsed["ResponseMetadata"]["RequestId"] == "req-1"


def test_botocore_parses_the_rendered_error_and_control_characters_are_replaced() -> None:
    xml = aws_error_xml(AccessDenied("User: x is not <allowed> \x07"), "req-2")
    parsed = _botocore_parse("GetCallerIdentity", xml, 403)
    assert parsed["Error"] == {"Type": "Sender", "Code": "AccessDenied", "Message": "User: x is not <allowed> ?"}
    assert parsed["ResponseMetadata"]["RequestId"] == "req-2"
    ElementTree.fromstring(xml)  # well-formed


def test_encoded_messages_round_trip_and_refuse_tampering() -> None:
    key = bytes(range(32))
    encoded = encode_message({"allowed": False, "context": {"action": "s3:GetObject"}}, "k1", key)
    assert json.loads(decode_message(encoded, {"k1": key}))["context"]["action"] == "s3:GetObject"
    for bad in (encoded[:-2] + "AA", "nope", encoded.replace(encoded[5], "A" if encoded[5] != "A" else "B", 1)):
        with pytest.raises(InvalidAuthorizationMessageException):
            decode_message(bad, {"k1": key})
    with pytest.raises(InvalidAuthorizationMessageException):
        decode_message(encoded, {"k2": key})


def test_totp_steps_and_device_names() -> None:
    seed = pyotp.random_base32()
    now = 1_750_000_015.0
    totp = pyotp.TOTP(seed)
    assert matching_step(Secret(seed), Secret(totp.at(int(now))), now) == int(now) // 30
    assert matching_step(Secret(seed), Secret(totp.at(int(now) - 30)), now) == int(now) // 30 - 1
    assert matching_step(Secret(seed), Secret(totp.at(int(now) - 90)), now) is None
    assert device_name("arn:aws:iam::123456789012:mfa/phone", "123456789012") == "phone"
    assert device_name("arn:aws:iam::999999999999:mfa/phone", "123456789012") is None
