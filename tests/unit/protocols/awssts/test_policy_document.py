"""Parsing and validation of IAM JSON policy documents."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tessera.protocols.awssts import (
    Effect,
    MalformedPolicyDocument,
    PolicyKind,
    PrincipalSpec,
    minify_policy,
    parse_policy,
)

pytestmark = pytest.mark.unit

ALLOW_ALL = {"Effect": "Allow", "Action": "*", "Resource": "*"}
TRUST = {"Effect": "Allow", "Principal": {"AWS": "123456789012"}, "Action": "sts:AssumeRole"}


def _doc(*statements: dict[str, Any], version: str | None = "2012-10-17", **top: Any) -> str:
    body: dict[str, Any] = {"Statement": list(statements), **top}
    if version is not None:
        body["Version"] = version
    return json.dumps(body)


def test_statement_may_be_a_single_object() -> None:
    # https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_grammar.html
    policy = parse_policy(
        '{"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Action": "s3:*", "Resource": "*"}}'
    )
    assert len(policy.statements) == 1
    assert policy.statements[0].effect is Effect.ALLOW
    assert policy.statements[0].actions == ("s3:*",)


def test_missing_version_means_2008_without_variables() -> None:
    # https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_version.html
    policy = parse_policy(_doc(ALLOW_ALL, version=None))
    assert policy.version == "2008-10-17"
    assert not policy.supports_variables
    assert parse_policy(_doc(ALLOW_ALL)).supports_variables


def test_elements_are_read_into_the_model() -> None:
    policy = parse_policy(
        _doc(
            {
                "Sid": "DenyOthers",
                "Effect": "Deny",
                "NotAction": ["iam:*", "sts:*"],
                "NotResource": "arn:aws:s3:::public/*",
                "Condition": {
                    "Bool": {"aws:MultiFactorAuthPresent": False},
                    "NumericLessThan": {"s3:max-keys": 10},
                },
            },
            Id="p1",
        )
    )
    statement = policy.statements[0]
    assert policy.id == "p1"
    assert statement.sid == "DenyOthers"
    assert statement.effect is Effect.DENY
    assert statement.negates_action
    assert statement.actions == ("iam:*", "sts:*")
    assert statement.negates_resource
    assert statement.resources == ("arn:aws:s3:::public/*",)
    assert [(str(c.operator), c.key, c.values) for c in statement.conditions] == [
        ("Bool", "aws:multifactorauthpresent", ("false",)),
        ("NumericLessThan", "s3:max-keys", ("10",)),
    ]


def test_trust_policy_principals_are_normalised() -> None:
    # https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_principal.html
    policy = parse_policy(
        _doc(
            {
                "Effect": "Allow",
                "Principal": {
                    "AWS": ["123456789012", "arn:aws:iam::111122223333:role/ci"],
                    "Service": "ec2.amazonaws.com",
                },
                "Action": ["sts:AssumeRole", "sts:TagSession"],
            }
        ),
        kind=PolicyKind.TRUST,
    )
    statement = policy.statements[0]
    assert statement.resources is None
    assert statement.principal == PrincipalSpec(
        is_anyone=False,
        entries=(
            ("AWS", "arn:aws:iam::123456789012:root"),
            ("AWS", "arn:aws:iam::111122223333:role/ci"),
            ("Service", "ec2.amazonaws.com"),
        ),
    )
    anyone = parse_policy(_doc({**TRUST, "Principal": "*"}), kind=PolicyKind.TRUST)
    assert anyone.statements[0].principal == PrincipalSpec(is_anyone=True)


def test_mapping_input_is_accepted() -> None:
    assert parse_policy({"Version": "2012-10-17", "Statement": [ALLOW_ALL]}).statements[0].actions == ("*",)


def test_resource_policy_allows_free_form_sids() -> None:
    statement = {"Sid": "Allow read for CI", **ALLOW_ALL, "Principal": "*"}
    assert parse_policy(_doc(statement), kind=PolicyKind.RESOURCE).statements[0].sid == "Allow read for CI"


# Malformed documents. Element rules: https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements.html
# and the grammar https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_grammar.html
MALFORMED: list[tuple[str, PolicyKind, str]] = [
    ("not json", PolicyKind.IDENTITY, "Syntax errors in policy."),
    ("[]", PolicyKind.IDENTITY, "Syntax errors in policy."),
    (
        '{"Version": "2012-10-17", "Version": "2012-10-17", "Statement": []}',
        PolicyKind.IDENTITY,
        "repeats the key",
    ),
    (_doc(ALLOW_ALL, Statements=[]), PolicyKind.IDENTITY, "Unknown element 'Statements'"),
    (_doc(ALLOW_ALL, version="2012-10-18"), PolicyKind.IDENTITY, "Version must be"),
    (_doc(ALLOW_ALL, Id=5), PolicyKind.IDENTITY, "Id must be a string"),
    ('{"Version": "2012-10-17"}', PolicyKind.IDENTITY, "Statement must be"),
    (_doc(), PolicyKind.IDENTITY, "Statement must be"),
    ('{"Statement": ["x"]}', PolicyKind.IDENTITY, "Each statement must be an object"),
    (_doc({**ALLOW_ALL, "Effect": "allow"}), PolicyKind.IDENTITY, 'Effect must be "Allow" or "Deny"'),
    (_doc({**ALLOW_ALL, "Actions": "*"}), PolicyKind.IDENTITY, "Unknown element 'Actions'"),
    (_doc({**ALLOW_ALL, "NotAction": "iam:*"}), PolicyKind.IDENTITY, "both Action and NotAction"),
    (_doc({"Effect": "Allow", "Resource": "*"}), PolicyKind.IDENTITY, "must contain actions"),
    (_doc({**ALLOW_ALL, "Action": "GetObject"}), PolicyKind.IDENTITY, "prefaced by a vendor"),
    (_doc({**ALLOW_ALL, "Action": []}), PolicyKind.IDENTITY, "non-empty string or a non-empty list"),
    (_doc({**ALLOW_ALL, "Action": ["s3:*", 5]}), PolicyKind.IDENTITY, "non-empty string or a non-empty list"),
    (_doc({"Effect": "Allow", "Action": "s3:*"}), PolicyKind.IDENTITY, "Missing required field Resource"),
    (_doc({**ALLOW_ALL, "NotResource": "*"}), PolicyKind.IDENTITY, "both Resource and NotResource"),
    (_doc({**ALLOW_ALL, "Resource": "my-bucket"}), PolicyKind.IDENTITY, "must be in ARN format"),
    (_doc({**ALLOW_ALL, "Principal": "*"}), PolicyKind.IDENTITY, "should not specify a principal"),
    (_doc({**TRUST, "Resource": "*"}), PolicyKind.TRUST, "Has prohibited field Resource"),
    (_doc({**TRUST, "NotResource": "*"}), PolicyKind.TRUST, "Has prohibited field NotResource"),
    (
        _doc({"Effect": "Allow", "Action": "sts:AssumeRole"}),
        PolicyKind.TRUST,
        "Missing required field Principal",
    ),
    (_doc({**TRUST, "NotPrincipal": "*"}), PolicyKind.TRUST, "exactly one of Principal and NotPrincipal"),
    (
        _doc({**TRUST, "Principal": {"AWS": "bob"}}),
        PolicyKind.TRUST,
        'Invalid principal in policy: "AWS":"bob"',
    ),
    (
        _doc({**TRUST, "Principal": {"AWS": "arn:aws:iam::123456789012:user/*"}}),
        PolicyKind.TRUST,
        "Invalid principal",
    ),
    (_doc({**TRUST, "Principal": {"Humans": "x"}}), PolicyKind.TRUST, "Invalid principal type"),
    (_doc({**TRUST, "Principal": {}}), PolicyKind.TRUST, 'must be "*" or an object'),
    (_doc({**TRUST, "Principal": "anyone"}), PolicyKind.TRUST, 'must be "*" or an object'),
    (_doc({**TRUST, "Principal": {"AWS": []}}), PolicyKind.TRUST, "non-empty"),
    (_doc(ALLOW_ALL), PolicyKind.RESOURCE, "Missing required field Principal"),
    (
        _doc({"Effect": "Allow", "Action": "s3:*", "Principal": "*"}),
        PolicyKind.RESOURCE,
        "Missing required field Resource",
    ),
    (_doc({**ALLOW_ALL, "Sid": 1}), PolicyKind.IDENTITY, "Sid must be a string"),
    (_doc({**ALLOW_ALL, "Sid": "has space"}), PolicyKind.IDENTITY, "alpha-numeric"),
    (_doc({**ALLOW_ALL, "Sid": "A"}, {**ALLOW_ALL, "Sid": "A"}), PolicyKind.IDENTITY, "must be unique"),
    (_doc({**ALLOW_ALL, "Condition": ["x"]}), PolicyKind.IDENTITY, "Condition must be an object"),
    (
        _doc({**ALLOW_ALL, "Condition": {"StringEqualz": {"k": "v"}}}),
        PolicyKind.IDENTITY,
        "Invalid Condition type",
    ),
    (_doc({**ALLOW_ALL, "Condition": {"StringEquals": "v"}}), PolicyKind.IDENTITY, "must map condition keys"),
    (_doc({**ALLOW_ALL, "Condition": {"StringEquals": {}}}), PolicyKind.IDENTITY, "must map condition keys"),
    (
        _doc({**ALLOW_ALL, "Condition": {"StringEquals": {"": "v"}}}),
        PolicyKind.IDENTITY,
        "empty condition key",
    ),
    (_doc({**ALLOW_ALL, "Condition": {"StringEquals": {"k": []}}}), PolicyKind.IDENTITY, "has no values"),
    (
        _doc({**ALLOW_ALL, "Condition": {"StringEquals": {"k": {"a": 1}}}}),
        PolicyKind.IDENTITY,
        "string, number or",
    ),
    (
        _doc({**ALLOW_ALL, "Condition": {"StringEquals": {"k": None}}}),
        PolicyKind.IDENTITY,
        "string, number or",
    ),
]


@pytest.mark.parametrize(("text", "kind", "message"), MALFORMED, ids=lambda v: str(v)[:40])
def test_malformed_policy_is_refused(text: str, kind: PolicyKind, message: str) -> None:
    with pytest.raises(MalformedPolicyDocument) as caught:
        parse_policy(text, kind=kind)
    assert message in caught.value.description
    assert caught.value.code == "MalformedPolicyDocument"
    assert caught.value.status == 400


def test_descriptions_stay_ascii_for_non_ascii_input() -> None:
    with pytest.raises(MalformedPolicyDocument) as caught:
        parse_policy(_doc({**ALLOW_ALL, "Resource": "b\u00fccket"}))
    assert caught.value.description.isascii()
    assert "b\\xfccket" in caught.value.description


def test_deeply_nested_json_is_a_syntax_error() -> None:
    with pytest.raises(MalformedPolicyDocument, match="Syntax errors"):
        parse_policy("[" * 100_000 + "]" * 100_000)


def test_minify_policy_drops_whitespace_only() -> None:
    text = '{\n  "Version": "2012-10-17",\n  "Statement": [ {"Effect": "Allow", "Action": "s3:*", "Resource": "*"} ]\n}'
    minified = minify_policy(text)
    assert minified == '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}'
    assert parse_policy(minified) == parse_policy(text)
    with pytest.raises(MalformedPolicyDocument):
        minify_policy("{")
