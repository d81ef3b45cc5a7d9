"""Typed STS requests, validated against the STS service model's constraints (botocore ``sts/2011-06-15``).

Each violation is a ``ValidationError`` worded as AWS words it ("1 validation error detected:
Value 'x' at 'roleSessionName' failed to satisfy constraint: ..."), so tools that match on the
text keep working. Policy documents are parsed later, by the action (``MalformedPolicyDocument``).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from tessera.protocols.awssts.errors import ValidationError, ascii_excerpt
from tessera.protocols.awssts.query import QueryRequest
from tessera.secret import Secret

MAX_TAGS = 50
MAX_POLICY_ARNS = 10
_SESSION_NAME = (r"[\w+=,.@-]*", re.compile(r"^[\w+=,.@-]*\Z", re.ASCII))
_EXTERNAL_ID = (r"[\w+=,.@:\/-]*", re.compile(r"^[\w+=,.@:/-]*\Z", re.ASCII))
_SERIAL = (r"[\w+=/:,.@-]*", re.compile(r"^[\w+=/:,.@-]*\Z", re.ASCII))
_TOKEN_CODE = (r"[\d]*", re.compile(r"^\d*\Z", re.ASCII))
_ACCESS_KEY = (r"[\w]*", re.compile(r"^\w*\Z", re.ASCII))
_TAG_PATTERN = r"[\p{L}\p{Z}\p{N}_.:/=+\-@]*"
_TAG_EXTRA = frozenset("_.:/=+-@")


def _invalid(value: str, member: str, constraint: str) -> ValidationError:
    return ValidationError(
        f"1 validation error detected: Value '{ascii_excerpt(value, 64)}' at '{member}' failed to satisfy "
        f"constraint: Member must {constraint}"
    )


def check_text(
    value: str, member: str, *, min_len: int, max_len: int, pattern: tuple[str, re.Pattern[str]] | None = None
) -> str:
    if len(value) < min_len:
        raise _invalid(value, member, f"have length greater than or equal to {min_len}")
    if len(value) > max_len:
        raise _invalid(value, member, f"have length less than or equal to {max_len}")
    if pattern is not None and not pattern[1].match(value):
        raise _invalid(value, member, f"satisfy regular expression pattern: {pattern[0]}")
    return value


def check_range(value: int, member: str, low: int, high: int) -> int:
    if value < low:
        raise _invalid(str(value), member, f"have value greater than or equal to {low}")
    if value > high:
        raise _invalid(str(value), member, f"have value less than or equal to {high}")
    return value


def _is_tag_text(value: str) -> bool:
    return all(unicodedata.category(ch)[0] in "LZN" or ch in _TAG_EXTRA for ch in value)


def check_tag(key: str, value: str, index: int) -> tuple[str, str]:
    member = f"tags.{index}.member"
    if not 1 <= len(key) <= 128:
        raise _invalid(key, f"{member}.key", "have length less than or equal to 128")
    if not _is_tag_text(key):
        raise _invalid(key, f"{member}.key", "satisfy regular expression pattern: " + _TAG_PATTERN.replace("*", "+"))
    if len(value) > 256:
        raise _invalid(value, f"{member}.value", "have length less than or equal to 256")
    if not _is_tag_text(value):
        raise _invalid(value, f"{member}.value", "satisfy regular expression pattern: " + _TAG_PATTERN)
    return key, value


@dataclass(frozen=True, slots=True)
class SessionPolicyInput:
    """What every AssumeRole* request may add to narrow the session: an inline policy and managed ARNs."""

    policy: str | None = None
    policy_arns: tuple[str, ...] = ()
    duration_seconds: int | None = None


@dataclass(frozen=True, slots=True)
class AssumeRoleRequest:
    role_arn: str
    role_session_name: str
    session: SessionPolicyInput
    external_id: str | None = None
    tags: tuple[tuple[str, str], ...] = ()
    transitive_tag_keys: tuple[str, ...] = ()
    source_identity: str | None = None
    serial_number: str | None = None
    token_code: Secret[str] | None = None


@dataclass(frozen=True, slots=True)
class AssumeRoleWithWebIdentityRequest:
    role_arn: str
    role_session_name: str
    web_identity_token: Secret[str]
    session: SessionPolicyInput
    provider_id: str | None = None


@dataclass(frozen=True, slots=True)
class AssumeRoleWithSAMLRequest:
    role_arn: str
    principal_arn: str
    saml_assertion: Secret[str]
    session: SessionPolicyInput


@dataclass(frozen=True, slots=True)
class GetSessionTokenRequest:
    duration_seconds: int | None = None
    serial_number: str | None = None
    token_code: Secret[str] | None = None


def _arn(query: QueryRequest, name: str, member: str) -> str:
    return check_text(query.require(name, member), member, min_len=20, max_len=2048)


def _session_name(query: QueryRequest) -> str:
    name = query.require("RoleSessionName", "roleSessionName")
    return check_text(name, "roleSessionName", min_len=2, max_len=64, pattern=_SESSION_NAME)


def _session_input(query: QueryRequest) -> SessionPolicyInput:
    arns = []
    for index, member in enumerate(query.member_structs("PolicyArns", ("arn",)), start=1):
        if "arn" not in member:
            raise _invalid("null", f"policyArns.{index}.member.arn", "not be null")
        arns.append(check_text(member["arn"], f"policyArns.{index}.member.arn", min_len=20, max_len=2048))
    if len(arns) > MAX_POLICY_ARNS:
        raise ValidationError(f"Cannot exceed quota for PolicyArnsPerSession: {MAX_POLICY_ARNS}")
    duration = query.integer("DurationSeconds", "durationSeconds")
    return SessionPolicyInput(query.get("Policy"), tuple(arns), duration)


def _mfa(query: QueryRequest) -> tuple[str | None, Secret[str] | None]:
    serial = query.get("SerialNumber")
    code = query.get("TokenCode")
    if serial is not None:
        check_text(serial, "serialNumber", min_len=9, max_len=256, pattern=_SERIAL)
    if code is not None:
        check_text(code, "tokenCode", min_len=6, max_len=6, pattern=_TOKEN_CODE)
    return serial, None if code is None else Secret(code)


def _tags(query: QueryRequest) -> tuple[tuple[str, str], ...]:
    tags = []
    for index, member in enumerate(query.member_structs("Tags", ("Key", "Value")), start=1):
        if "Key" not in member or "Value" not in member:
            raise _invalid("null", f"tags.{index}.member.{'key' if 'Key' not in member else 'value'}", "not be null")
        tags.append(check_tag(member["Key"], member["Value"], index))
    if len(tags) > MAX_TAGS:
        raise _invalid(str(len(tags)), "tags", f"have length less than or equal to {MAX_TAGS}")
    return tuple(tags)


def parse_assume_role(query: QueryRequest) -> AssumeRoleRequest:
    external_id = query.get("ExternalId")
    if external_id is not None:
        check_text(external_id, "externalId", min_len=2, max_len=1224, pattern=_EXTERNAL_ID)
    source_identity = query.get("SourceIdentity")
    if source_identity is not None:
        check_text(source_identity, "sourceIdentity", min_len=2, max_len=64, pattern=_SESSION_NAME)
    transitive = query.member_list("TransitiveTagKeys")
    if len(transitive) > MAX_TAGS:
        raise _invalid(str(len(transitive)), "transitiveTagKeys", f"have length less than or equal to {MAX_TAGS}")
    serial, code = _mfa(query)
    return AssumeRoleRequest(
        role_arn=_arn(query, "RoleArn", "roleArn"),
        role_session_name=_session_name(query),
        session=_session_input(query),
        external_id=external_id,
        tags=_tags(query),
        transitive_tag_keys=tuple(transitive),
        source_identity=source_identity,
        serial_number=serial,
        token_code=code,
    )


def parse_assume_role_with_web_identity(query: QueryRequest) -> AssumeRoleWithWebIdentityRequest:
    token = query.require("WebIdentityToken", "webIdentityToken")
    check_text("*" * len(token), "webIdentityToken", min_len=4, max_len=20_000)  # never echo the token
    provider = query.get("ProviderId")
    if provider is not None:
        check_text(provider, "providerId", min_len=4, max_len=2048)
    return AssumeRoleWithWebIdentityRequest(
        role_arn=_arn(query, "RoleArn", "roleArn"),
        role_session_name=_session_name(query),
        web_identity_token=Secret(token),
        session=_session_input(query),
        provider_id=provider,
    )


def parse_assume_role_with_saml(query: QueryRequest) -> AssumeRoleWithSAMLRequest:
    assertion = query.require("SAMLAssertion", "sAMLAssertion")
    check_text("*" * len(assertion), "sAMLAssertion", min_len=4, max_len=100_000)
    return AssumeRoleWithSAMLRequest(
        role_arn=_arn(query, "RoleArn", "roleArn"),
        principal_arn=_arn(query, "PrincipalArn", "principalArn"),
        saml_assertion=Secret(assertion),
        session=_session_input(query),
    )


def parse_get_session_token(query: QueryRequest) -> GetSessionTokenRequest:
    serial, code = _mfa(query)
    return GetSessionTokenRequest(query.integer("DurationSeconds", "durationSeconds"), serial, code)


def parse_access_key_id(query: QueryRequest) -> str:
    value = query.require("AccessKeyId", "accessKeyId")
    return check_text(value, "accessKeyId", min_len=16, max_len=128, pattern=_ACCESS_KEY)


def parse_encoded_message(query: QueryRequest) -> str:
    value = query.require("EncodedMessage", "encodedMessage")
    return check_text("*" * len(value), "encodedMessage", min_len=1, max_len=10_240) and value


__all__ = [
    "MAX_POLICY_ARNS",
    "MAX_TAGS",
    "AssumeRoleRequest",
    "AssumeRoleWithSAMLRequest",
    "AssumeRoleWithWebIdentityRequest",
    "GetSessionTokenRequest",
    "SessionPolicyInput",
    "check_range",
    "check_tag",
    "check_text",
    "parse_access_key_id",
    "parse_assume_role",
    "parse_assume_role_with_saml",
    "parse_assume_role_with_web_identity",
    "parse_encoded_message",
    "parse_get_session_token",
]
