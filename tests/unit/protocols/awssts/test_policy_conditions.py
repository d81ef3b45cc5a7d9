"""IAM condition operators: a table of (Condition block, request context keys, does it hold)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tessera.protocols.awssts import (
    ConditionOperator,
    MalformedPolicyDocument,
    RequestContext,
    SetOperator,
    evaluate,
    parse_operator,
    parse_policy,
)

pytestmark = pytest.mark.unit

Keys = dict[str, str | list[str]]
Case = tuple[dict[str, Any], Keys, bool]


def _holds(condition: dict[str, Any], keys: Keys, *, version: str = "2012-10-17") -> bool:
    statement = {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*", "Condition": condition}
    policy = parse_policy(json.dumps({"Version": version, "Statement": [statement]}))
    context = RequestContext(action="s3:GetObject", resource="arn:aws:s3:::b/k", condition_keys=keys)
    return evaluate([policy], context).allowed


def _run(cases: list[Case]) -> pytest.MarkDecorator:
    return pytest.mark.parametrize(("condition", "keys", "expected"), cases, ids=[str(c[:2])[:90] for c in cases])


# String operators, absent keys and negation.
# https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html#Conditions_String
# "If the key ... is not present in the request context, the values do not match and the condition is
#  false. If the policy condition requires that the key is not matched, such as StringNotLike ..., the
#  condition is true."
TAG = "aws:PrincipalTag/job-category"
STRING_CASES: list[Case] = [
    ({"StringEquals": {TAG: "iamuser-admin"}}, {TAG: "iamuser-admin"}, True),
    ({"StringEquals": {TAG: "iamuser-admin"}}, {TAG: "IAMUser-Admin"}, False),
    ({"StringEquals": {TAG: "iamuser-admin"}}, {}, False),
    ({"StringEquals": {TAG: "iam*"}}, {TAG: "iamuser-admin"}, False),
    ({"StringEquals": {TAG: "iam*"}}, {TAG: "iam*"}, True),
    ({"StringNotEquals": {TAG: "iamuser-admin"}}, {TAG: "other"}, True),
    ({"StringNotEquals": {TAG: "iamuser-admin"}}, {TAG: "iamuser-admin"}, False),
    ({"StringNotEquals": {TAG: "iamuser-admin"}}, {}, True),
    ({"StringEqualsIgnoreCase": {TAG: "IAMUSER-ADMIN"}}, {TAG: "iamuser-admin"}, True),
    ({"StringNotEqualsIgnoreCase": {TAG: "IAMUSER-ADMIN"}}, {TAG: "iamuser-admin"}, False),
    ({"StringNotEqualsIgnoreCase": {TAG: "IAMUSER-ADMIN"}}, {TAG: "dev"}, True),
    ({"StringLike": {"s3:prefix": "home/*"}}, {"s3:prefix": "home/alice/docs"}, True),
    ({"StringLike": {"s3:prefix": "home/*"}}, {"s3:prefix": "Home/alice"}, False),
    ({"StringLike": {"s3:prefix": "a?c"}}, {"s3:prefix": "abc"}, True),
    ({"StringLike": {"s3:prefix": "a?c"}}, {"s3:prefix": "abbc"}, False),
    ({"StringLike": {"s3:prefix": "*"}}, {"s3:prefix": ""}, True),
    ({"StringNotLike": {"aws:PrincipalTag/env": "*-prod"}}, {"aws:PrincipalTag/env": "app-prod"}, False),
    ({"StringNotLike": {"aws:PrincipalTag/env": "*-prod"}}, {"aws:PrincipalTag/env": "app-dev"}, True),
    ({"StringNotLike": {"aws:PrincipalTag/env": "*-prod"}}, {}, True),
    ({"StringEquals": {"AWS:PrincipalTag/Dept": "eng"}}, {"aws:principaltag/dept": "eng"}, True),
]


@_run(STRING_CASES)
def test_string_operators(condition: dict[str, Any], keys: Keys, expected: bool) -> None:
    assert _holds(condition, keys) is expected


# Several operators / keys are ANDed, several values ORed, a negated operator's values NORed.
# https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-logic-multiple-context-keys-or-values.html
LOGIC_CASES: list[Case] = [
    ({"StringEquals": {"k": ["a", "b"]}}, {"k": "b"}, True),
    ({"StringEquals": {"k": ["a", "b"]}}, {"k": "c"}, False),
    ({"StringNotEquals": {"k": ["a", "b"]}}, {"k": "b"}, False),
    ({"StringNotEquals": {"k": ["a", "b"]}}, {"k": "c"}, True),
    ({"StringEquals": {"k1": "a", "k2": "b"}}, {"k1": "a", "k2": "b"}, True),
    ({"StringEquals": {"k1": "a", "k2": "b"}}, {"k1": "a", "k2": "c"}, False),
    ({"StringEquals": {"k1": "a"}, "StringLike": {"k2": "b*"}}, {"k1": "a", "k2": "bee"}, True),
    ({"StringEquals": {"k1": "a"}, "StringLike": {"k2": "b*"}}, {"k1": "a", "k2": "cee"}, False),
    ({"StringEquals": {"k1": "a"}, "StringLike": {"k2": "b*"}}, {"k1": "a"}, False),
]


@_run(LOGIC_CASES)
def test_and_or_nor_logic(condition: dict[str, Any], keys: Keys, expected: bool) -> None:
    assert _holds(condition, keys) is expected


# Numeric, date, Bool, binary operators.
# https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html#Conditions_Numeric
# (#Conditions_Date: ISO 8601 or epoch; #Conditions_Boolean; #Conditions_BinaryEquals: base64 values)
TYPED_CASES: list[Case] = [
    ({"NumericLessThan": {"s3:max-keys": "10"}}, {"s3:max-keys": "9"}, True),
    ({"NumericLessThan": {"s3:max-keys": "10"}}, {"s3:max-keys": "10"}, False),
    ({"NumericLessThanEquals": {"s3:max-keys": 10}}, {"s3:max-keys": "10"}, True),
    ({"NumericGreaterThan": {"s3:max-keys": "10"}}, {"s3:max-keys": "10.5"}, True),
    ({"NumericGreaterThanEquals": {"s3:max-keys": "10"}}, {"s3:max-keys": "9.99"}, False),
    ({"NumericEquals": {"s3:max-keys": "10"}}, {"s3:max-keys": "10.0"}, True),
    ({"NumericNotEquals": {"s3:max-keys": ["10", "20"]}}, {"s3:max-keys": "20"}, False),
    ({"NumericNotEquals": {"s3:max-keys": ["10", "20"]}}, {"s3:max-keys": "30"}, True),
    ({"NumericEquals": {"s3:max-keys": "10"}}, {"s3:max-keys": "ten"}, False),
    ({"NumericEquals": {"s3:max-keys": "10"}}, {}, False),
    (
        {"DateGreaterThan": {"aws:CurrentTime": "2020-04-01T00:00:00Z"}},
        {"aws:CurrentTime": "2020-06-30T00:00:00Z"},
        True,
    ),
    (
        {"DateLessThan": {"aws:CurrentTime": "2020-04-01T00:00:00Z"}},
        {"aws:CurrentTime": "2020-06-30T00:00:00Z"},
        False,
    ),
    ({"DateLessThan": {"aws:EpochTime": "2020-01-02T00:00:00Z"}}, {"aws:EpochTime": "1577836800"}, True),
    ({"DateEquals": {"aws:EpochTime": "2020-01-01T00:00:00Z"}}, {"aws:EpochTime": "1577836800"}, True),
    (
        {"DateEquals": {"aws:CurrentTime": "2020-01-01"}},
        {"aws:CurrentTime": "2020-01-01T00:00:00+00:00"},
        True,
    ),
    ({"DateNotEquals": {"aws:CurrentTime": 1577836800}}, {"aws:CurrentTime": "2020-01-01T00:00:01Z"}, True),
    (
        {"DateGreaterThanEquals": {"aws:TokenIssueTime": "2020-01-01T00:00:00Z"}},
        {"aws:TokenIssueTime": "x"},
        False,
    ),
    (
        {"DateLessThanEquals": {"aws:CurrentTime": "2020-01-01T02:00:00+02:00"}},
        {"aws:CurrentTime": "2020-01-01T00:00:00Z"},
        True,
    ),
    ({"Bool": {"aws:SecureTransport": "false"}}, {"aws:SecureTransport": "false"}, True),
    ({"Bool": {"aws:SecureTransport": False}}, {"aws:SecureTransport": "true"}, False),
    ({"Bool": {"aws:SecureTransport": "false"}}, {}, False),
    ({"Bool": {"aws:MultiFactorAuthPresent": "true"}}, {"aws:MultiFactorAuthPresent": "True"}, True),
    (
        {"BinaryEquals": {"key": "QmluYXJ5VmFsdWVJbkJhc2U2NA=="}},
        {"key": "QmluYXJ5VmFsdWVJbkJhc2U2NA=="},
        True,
    ),
    ({"BinaryEquals": {"key": "QmluYXJ5VmFsdWVJbkJhc2U2NA=="}}, {"key": "b3RoZXI="}, False),
    ({"BinaryEquals": {"key": "QmluYXJ5VmFsdWVJbkJhc2U2NA=="}}, {"key": "not base64!"}, False),
]


@_run(TYPED_CASES)
def test_numeric_date_bool_binary(condition: dict[str, Any], keys: Keys, expected: bool) -> None:
    assert _holds(condition, keys) is expected


# IP address and ARN operators.
# https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html#Conditions_IPAddress
# https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html#Conditions_ARN
# ("Each of the six colon-delimited components of the ARN is checked separately")
IP = "aws:SourceIp"
ARN = "aws:SourceArn"
ADDRESS_CASES: list[Case] = [
    ({"IpAddress": {IP: "203.0.113.0/24"}}, {IP: "203.0.113.5"}, True),
    ({"IpAddress": {IP: "203.0.113.0/24"}}, {IP: "198.51.100.1"}, False),
    ({"IpAddress": {IP: "203.0.113.7"}}, {IP: "203.0.113.7"}, True),
    ({"IpAddress": {IP: "203.0.113.7"}}, {IP: "203.0.113.8"}, False),
    ({"IpAddress": {IP: "2001:DB8:1234:5678::/64"}}, {IP: "2001:db8:1234:5678::1"}, True),
    ({"IpAddress": {IP: "2001:DB8:1234:5678::/64"}}, {IP: "203.0.113.5"}, False),
    ({"IpAddress": {IP: ["203.0.113.0/24", "2001:DB8::/32"]}}, {IP: "2001:db8::9"}, True),
    ({"IpAddress": {IP: "203.0.113.0/24"}}, {IP: "not-an-ip"}, False),
    ({"NotIpAddress": {IP: ["192.0.2.0/24", "203.0.113.0/24"]}}, {IP: "198.51.100.1"}, True),
    ({"NotIpAddress": {IP: ["192.0.2.0/24", "203.0.113.0/24"]}}, {IP: "192.0.2.9"}, False),
    ({"NotIpAddress": {IP: "192.0.2.0/24"}}, {}, True),
    (
        {"ArnLike": {ARN: "arn:aws:sns:us-east-2:123456789012:*"}},
        {ARN: "arn:aws:sns:us-east-2:123456789012:t"},
        True,
    ),
    (
        {"ArnLike": {ARN: "arn:aws:sns:us-east-2:123456789012:*"}},
        {ARN: "arn:aws:sns:us-west-2:123456789012:t"},
        False,
    ),
    (
        {"ArnEquals": {ARN: "arn:aws:sns:*:123456789012:t"}},
        {ARN: "arn:aws:sns:eu-west-1:123456789012:t"},
        True,
    ),
    (
        {"ArnLike": {ARN: "arn:aws:iam::123456789012:role/*"}},
        {ARN: "arn:aws:iam::123456789012:role/path/x"},
        True,
    ),
    ({"ArnLike": {ARN: "arn:aws:iam::1234*9012:role/x"}}, {ARN: "arn:aws:iam::123456789012:role/x"}, True),
    ({"ArnLike": {ARN: "arn:aws:iam::1*:role/x"}}, {ARN: "arn:aws:iam::1:2:role/x"}, True),
    ({"ArnLike": {ARN: "arn:aws:iam::1*2:role/x"}}, {ARN: "arn:aws:iam::1:2:role/x"}, False),
    ({"ArnLike": {ARN: "arn:aws:s3:::Bucket"}}, {ARN: "arn:aws:s3:::bucket"}, False),
    ({"ArnNotLike": {ARN: "arn:aws:s3:::logs-*"}}, {ARN: "arn:aws:s3:::logs-1"}, False),
    ({"ArnNotEquals": {ARN: "arn:aws:s3:::logs-*"}}, {ARN: "arn:aws:s3:::data"}, True),
    ({"ArnNotLike": {ARN: "arn:aws:s3:::logs-*"}}, {}, True),
]


@_run(ADDRESS_CASES)
def test_ip_and_arn_operators(condition: dict[str, Any], keys: Keys, expected: bool) -> None:
    assert _holds(condition, keys) is expected


# ...IfExists and Null.
# https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html#Conditions_IfExists
# https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html#Conditions_Null
TYPES = ["t1.*", "t2.*", "m3.*"]
EXISTENCE_CASES: list[Case] = [
    ({"StringLikeIfExists": {"ec2:InstanceType": TYPES}}, {}, True),
    ({"StringLikeIfExists": {"ec2:InstanceType": TYPES}}, {"ec2:InstanceType": "t2.micro"}, True),
    ({"StringLikeIfExists": {"ec2:InstanceType": TYPES}}, {"ec2:InstanceType": "c5.large"}, False),
    ({"StringNotEqualsIfExists": {"k": "a"}}, {}, True),
    ({"StringNotEqualsIfExists": {"k": "a"}}, {"k": "a"}, False),
    ({"NumericLessThanIfExists": {"s3:max-keys": "10"}}, {}, True),
    ({"BoolIfExists": {"aws:MultiFactorAuthPresent": "false"}}, {}, True),
    (
        {"BoolIfExists": {"aws:MultiFactorAuthPresent": "false"}},
        {"aws:MultiFactorAuthPresent": "true"},
        False,
    ),
    ({"Null": {"aws:TokenIssueTime": "true"}}, {}, True),
    ({"Null": {"aws:TokenIssueTime": "true"}}, {"aws:TokenIssueTime": "2020-01-01T00:00:00Z"}, False),
    ({"Null": {"aws:TokenIssueTime": "false"}}, {"aws:TokenIssueTime": "2020-01-01T00:00:00Z"}, True),
    ({"Null": {"aws:TokenIssueTime": False}}, {}, False),
    ({"Null": {"aws:TagKeys": "true"}}, {"aws:TagKeys": []}, True),
]


@_run(EXISTENCE_CASES)
def test_if_exists_and_null(condition: dict[str, Any], keys: Keys, expected: bool) -> None:
    assert _holds(condition, keys) is expected


# Set operators on multivalued keys.
# https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-single-vs-multi-valued-context-keys.html
# ForAllValues: true when every request value matches a policy value, "also returns true if there are no
# context keys in the request"; ForAnyValue: true when at least one matches, false when the key is absent.
TAGS = "aws:TagKeys"
WANTED = ["environment", "cost-center"]
SET_CASES: list[Case] = [
    ({"ForAllValues:StringEquals": {TAGS: WANTED}}, {TAGS: ["environment"]}, True),
    ({"ForAllValues:StringEquals": {TAGS: WANTED}}, {TAGS: ["environment", "cost-center"]}, True),
    ({"ForAllValues:StringEquals": {TAGS: WANTED}}, {TAGS: ["environment", "other"]}, False),
    ({"ForAllValues:StringEquals": {TAGS: WANTED}}, {}, True),
    ({"ForAllValues:StringEquals": {TAGS: WANTED}}, {TAGS: []}, True),
    ({"ForAllValues:StringLike": {TAGS: "Created*"}}, {TAGS: ["CreatedBy", "CreatedAt"]}, True),
    ({"ForAnyValue:StringEquals": {TAGS: WANTED}}, {TAGS: ["other", "environment"]}, True),
    ({"ForAnyValue:StringEquals": {TAGS: WANTED}}, {TAGS: ["other"]}, False),
    ({"ForAnyValue:StringEquals": {TAGS: WANTED}}, {}, False),
    ({"ForAnyValue:StringEquals": {TAGS: WANTED}}, {TAGS: "environment"}, True),
    ({"ForAnyValue:StringNotEquals": {TAGS: ["a"]}}, {TAGS: ["a", "b"]}, True),
    ({"ForAnyValue:StringNotEquals": {TAGS: ["a"]}}, {TAGS: ["a"]}, False),
    ({"ForAnyValue:StringNotEquals": {TAGS: ["a"]}}, {}, False),
    ({"ForAllValues:StringNotEquals": {TAGS: ["a"]}}, {TAGS: ["b", "c"]}, True),
    ({"ForAllValues:StringNotEquals": {TAGS: ["a"]}}, {TAGS: ["a", "b"]}, False),
    ({"ForAllValues:StringNotEquals": {TAGS: ["a"]}}, {}, True),
    # Without a set operator (AWS does not document it; Tessera: positive = any value, negated = none).
    ({"StringEquals": {TAGS: "a"}}, {TAGS: ["x", "a"]}, True),
    ({"StringNotEquals": {TAGS: "a"}}, {TAGS: ["x", "a"]}, False),
    ({"StringNotEquals": {TAGS: "a"}}, {TAGS: ["x", "y"]}, True),
]


@_run(SET_CASES)
def test_set_operators(condition: dict[str, Any], keys: Keys, expected: bool) -> None:
    assert _holds(condition, keys) is expected


# Policy variables in condition values.
# https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_variables.html
# (substitution, "Policy variables with no value", "Specifying default values",
#  special characters ${*} ${?} ${$})
OWNER = "aws:ResourceTag/owner"
VARIABLE_CASES: list[Case] = [
    ({"StringEquals": {OWNER: "${aws:username}"}}, {OWNER: "alice", "aws:username": "alice"}, True),
    ({"StringEquals": {OWNER: "${aws:username}"}}, {OWNER: "alice", "aws:username": "bob"}, False),
    ({"StringEquals": {OWNER: "${aws:username}"}}, {OWNER: "alice"}, False),
    ({"StringEquals": {OWNER: "${aws:username, 'nobody'}"}}, {OWNER: "nobody"}, True),
    ({"StringEquals": {OWNER: "${aws:PrincipalTag/team, 'it''s'}"}}, {OWNER: "it's"}, True),
    ({"StringEquals": {OWNER: "${AWS:UserName}"}}, {OWNER: "alice", "aws:username": "alice"}, True),
    (
        {"StringEquals": {OWNER: "team-${aws:PrincipalTag/team}"}},
        {OWNER: "team-blue", "aws:PrincipalTag/team": "blue"},
        True,
    ),
    (
        {"StringLike": {"s3:prefix": "home/${aws:userid}/*"}},
        {"s3:prefix": "home/AIDA1:alice/x", "aws:userid": "AIDA1:alice"},
        True,
    ),
    (
        {"StringLike": {"s3:prefix": "home/${aws:userid}/*"}},
        {"s3:prefix": "home/AIDA2:bob/x", "aws:userid": "AIDA1:alice"},
        False,
    ),
    ({"StringLike": {"k": "a${*}"}}, {"k": "a*"}, True),
    ({"StringLike": {"k": "a${*}"}}, {"k": "ab"}, False),
    ({"StringLike": {"k": "a${?}"}}, {"k": "ab"}, False),
    ({"StringEquals": {"k": "${$}x"}}, {"k": "$x"}, True),
    ({"StringLike": {"k": "${aws:username}*"}}, {"k": "a*bc", "aws:username": "a*b"}, True),
    ({"StringLike": {"k": "${aws:username}*"}}, {"k": "axbc", "aws:username": "a*b"}, False),
    ({"StringEquals": {"k": "${aws:TagKeys}"}}, {"k": "a", "aws:TagKeys": ["a"]}, False),
    (
        {"ArnLike": {ARN: "arn:aws:iam::*:user/${aws:username}"}},
        {ARN: "arn:aws:iam::1:user/al", "aws:username": "al"},
        True,
    ),
    ({"Bool": {"k": "${aws:flag}"}}, {"k": "true", "aws:flag": "TRUE"}, True),
    # An unresolvable value matches nothing, so a negated operator over it holds (Tessera's reading).
    ({"StringNotEquals": {OWNER: "${aws:username}"}}, {OWNER: "alice"}, True),
]


@_run(VARIABLE_CASES)
def test_policy_variables_in_conditions(condition: dict[str, Any], keys: Keys, expected: bool) -> None:
    assert _holds(condition, keys) is expected


def test_variables_are_plain_text_in_2008_policies() -> None:
    # https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_version.html
    condition = {"StringEquals": {OWNER: "${aws:username}"}}
    assert not _holds(condition, {OWNER: "alice", "aws:username": "alice"}, version="2008-10-17")
    assert _holds(condition, {OWNER: "${aws:username}"}, version="2008-10-17")


@pytest.mark.parametrize(
    ("text", "parsed"),
    [
        ("StringEquals", ConditionOperator("StringEquals")),
        ("stringequals", ConditionOperator("StringEquals")),
        ("StringLikeIfExists", ConditionOperator("StringLike", if_exists=True)),
        ("ForAllValues:StringLike", ConditionOperator("StringLike", SetOperator.FOR_ALL_VALUES)),
        ("ForAnyValue:ArnNotLikeIfExists", ConditionOperator("ArnNotLike", SetOperator.FOR_ANY_VALUE, True)),
        ("Null", ConditionOperator("Null")),
    ],
)
def test_parse_operator(text: str, parsed: ConditionOperator) -> None:
    assert parse_operator(text) == parsed
    assert str(parse_operator(str(parsed))) == str(parsed)


@pytest.mark.parametrize(
    "condition",
    [
        {"StringEqualz": {"k": "v"}},
        {"IfExists": {"k": "v"}},
        {"ForSomeValues:StringEquals": {"k": "v"}},
        {"ForAnyValue:Null": {"k": "true"}},
        {"NullIfExists": {"k": "true"}},
        {"NumericEquals": {"k": "abc"}},
        {"NumericEquals": {"k": "NaN"}},
        {"DateEquals": {"k": "tomorrow"}},
        {"IpAddress": {"k": "300.1.1.1"}},
        {"Bool": {"k": "yes"}},
        {"Null": {"k": "maybe"}},
        {"BinaryEquals": {"k": "not base64!"}},
    ],
    ids=str,
)
def test_malformed_conditions_are_refused(condition: dict[str, Any]) -> None:
    with pytest.raises(MalformedPolicyDocument):
        _holds(condition, {})
