"""IAM policy evaluation: tables of (policies, request, expected decision) following the IAM docs."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tessera.protocols.awssts import (
    Decision,
    DecisionReason,
    PolicyDocument,
    PolicyKind,
    Principal,
    RequestContext,
    evaluate,
    evaluate_session,
    parse_policy,
)

pytestmark = pytest.mark.unit

ALLOWED, EXPLICIT, IMPLICIT = (
    DecisionReason.ALLOWED,
    DecisionReason.EXPLICIT_DENY,
    DecisionReason.IMPLICIT_DENY,
)
BUCKET = "arn:aws:s3:::bucket"


def _policy(
    *statements: dict[str, Any], version: str = "2012-10-17", kind: PolicyKind = PolicyKind.IDENTITY
) -> PolicyDocument:
    return parse_policy(json.dumps({"Version": version, "Statement": list(statements)}), kind=kind)


def _allow(action: str | list[str], resource: str | list[str] = "*", **extra: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


def _deny(action: str | list[str], resource: str | list[str] = "*", **extra: Any) -> dict[str, Any]:
    return {"Effect": "Deny", "Action": action, "Resource": resource, **extra}


Case = tuple[list[list[dict[str, Any]]], str, str, DecisionReason]


def _cases(cases: list[Case]) -> pytest.MarkDecorator:
    return pytest.mark.parametrize(
        ("policies", "action", "resource", "reason"), cases, ids=[f"{c[1]} {c[2]}" for c in cases]
    )


def _decide(policies: list[list[dict[str, Any]]], action: str, resource: str, **context: Any) -> Decision:
    documents = [_policy(*statements) for statements in policies]
    return evaluate(documents, RequestContext(action=action, resource=resource, **context))


# Deny by default; an explicit Deny overrides any Allow, in any policy, in any order.
# https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html
LOGIC: list[Case] = [
    ([], "s3:GetObject", f"{BUCKET}/k", IMPLICIT),
    ([[_allow("s3:PutObject")]], "s3:GetObject", f"{BUCKET}/k", IMPLICIT),
    ([[_allow("s3:GetObject")]], "s3:GetObject", f"{BUCKET}/k", ALLOWED),
    ([[_allow("s3:*"), _deny("s3:GetObject")]], "s3:GetObject", f"{BUCKET}/k", EXPLICIT),
    ([[_deny("s3:GetObject"), _allow("s3:*")]], "s3:GetObject", f"{BUCKET}/k", EXPLICIT),
    ([[_allow("s3:*")], [_deny("s3:Get*")]], "s3:GetObject", f"{BUCKET}/k", EXPLICIT),
    ([[_allow("s3:*")], [_deny("s3:Delete*")]], "s3:GetObject", f"{BUCKET}/k", ALLOWED),
    ([[_deny("s3:*", f"{BUCKET}/private/*")], [_allow("s3:*")]], "s3:GetObject", f"{BUCKET}/k", ALLOWED),
    (
        [[_deny("s3:*", f"{BUCKET}/private/*")], [_allow("s3:*")]],
        "s3:GetObject",
        f"{BUCKET}/private/k",
        EXPLICIT,
    ),
]


@_cases(LOGIC)
def test_evaluation_logic(
    policies: list[list[dict[str, Any]]], action: str, resource: str, reason: DecisionReason
) -> None:
    decision = _decide(policies, action, resource)
    assert decision.reason is reason
    assert decision.allowed is (reason is ALLOWED)


# Action: case-insensitive, wildcards; NotAction matches every action not listed.
# https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_action.html
# https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_notaction.html
ACTIONS: list[Case] = [
    ([[_allow("S3:getobject")]], "s3:GetObject", BUCKET, ALLOWED),
    ([[_allow("s3:Get*")]], "s3:GetObjectAcl", BUCKET, ALLOWED),
    ([[_allow("s3:Get*")]], "s3:PutObject", BUCKET, IMPLICIT),
    ([[_allow("iam:*AccessKey*")]], "iam:CreateAccessKey", "arn:aws:iam::1:user/u", ALLOWED),
    ([[_allow("s3:?etObject")]], "s3:GetObject", BUCKET, ALLOWED),
    ([[_allow("s3:?etObject")]], "s3:GGetObject", BUCKET, IMPLICIT),
    ([[_allow("*")]], "sts:AssumeRole", "arn:aws:iam::1:role/r", ALLOWED),
    ([[_allow(["ec2:*", "s3:List*"])]], "s3:ListBucket", BUCKET, ALLOWED),
    ([[_allow("s3:Get")]], "s3:GetObject", BUCKET, IMPLICIT),
    ([[{"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}]], "s3:GetObject", BUCKET, ALLOWED),
    ([[{"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}]], "iam:CreateUser", "*", IMPLICIT),
    ([[{"Effect": "Allow", "NotAction": "IAM:*", "Resource": "*"}]], "iam:CreateUser", "*", IMPLICIT),
    (
        [[_allow("*"), {"Effect": "Deny", "NotAction": ["iam:*", "sts:GetSessionToken"], "Resource": "*"}]],
        "sts:GetSessionToken",
        "*",
        ALLOWED,
    ),
    (
        [[_allow("*"), {"Effect": "Deny", "NotAction": ["iam:*", "sts:GetSessionToken"], "Resource": "*"}]],
        "s3:GetObject",
        BUCKET,
        EXPLICIT,
    ),
]


@_cases(ACTIONS)
def test_action_matching(
    policies: list[list[dict[str, Any]]], action: str, resource: str, reason: DecisionReason
) -> None:
    assert _decide(policies, action, resource).reason is reason


# Resource: case-sensitive, wildcards within ARN segments; NotResource.
# https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_resource.html
# https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_notresource.html
USER_BOB = "arn:aws:iam::123456789012:user/Bob"
RESOURCES: list[Case] = [
    ([[_allow("iam:GetUser", USER_BOB)]], "iam:GetUser", USER_BOB, ALLOWED),
    ([[_allow("iam:GetUser", USER_BOB)]], "iam:GetUser", "arn:aws:iam::123456789012:user/bob", IMPLICIT),
    (
        [[_allow("iam:*", "arn:aws:iam::123456789012:user/accounting/*")]],
        "iam:GetUser",
        "arn:aws:iam::123456789012:user/accounting/eve",
        ALLOWED,
    ),
    ([[_allow("s3:*", f"{BUCKET}/*")]], "s3:GetObject", f"{BUCKET}/a/b/c.txt", ALLOWED),
    ([[_allow("s3:*", f"{BUCKET}/*")]], "s3:ListBucket", BUCKET, IMPLICIT),
    ([[_allow("s3:*", "arn:aws:s3:*")]], "s3:GetObject", f"{BUCKET}/k", ALLOWED),
    (
        [[_allow("sqs:*", "arn:aws:sqs:*:123456789012:queue?")]],
        "sqs:SendMessage",
        "arn:aws:sqs:us-east-2:123456789012:queue1",
        ALLOWED,
    ),
    (
        [[_allow("sqs:*", "arn:aws:sqs:us-*-2:123456789012:q")]],
        "sqs:SendMessage",
        "arn:aws:sqs:us-east-2:123456789012:q",
        ALLOWED,
    ),
    (
        [[_allow("sqs:*", "arn:aws:sqs:us-*-2:123456789012:q")]],
        "sqs:SendMessage",
        "arn:aws:sqs:us:x-2:123456789012:q",
        IMPLICIT,
    ),
    (
        [[_allow("logs:*", "arn:aws:logs:us-east-1:1:log-group:app:*")]],
        "logs:PutLogEvents",
        "arn:aws:logs:us-east-1:1:log-group:app:log-stream:s",
        ALLOWED,
    ),
    (
        [[{"Effect": "Allow", "Action": "s3:*", "NotResource": f"{BUCKET}/secret/*"}]],
        "s3:GetObject",
        f"{BUCKET}/k",
        ALLOWED,
    ),
    (
        [[{"Effect": "Allow", "Action": "s3:*", "NotResource": f"{BUCKET}/secret/*"}]],
        "s3:GetObject",
        f"{BUCKET}/secret/k",
        IMPLICIT,
    ),
]


@_cases(RESOURCES)
def test_resource_matching(
    policies: list[list[dict[str, Any]]], action: str, resource: str, reason: DecisionReason
) -> None:
    assert _decide(policies, action, resource).reason is reason


# Policy variables in Resource, and their absence in 2008-10-17 policies.
# https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_variables.html
# https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_version.html
HOME = f"{BUCKET}/home/${{aws:username}}/*"
VARIABLES: list[tuple[str, str, dict[str, Any], DecisionReason]] = [
    ("2012-10-17", f"{BUCKET}/home/alice/notes.txt", {"aws:username": "alice"}, ALLOWED),
    ("2012-10-17", f"{BUCKET}/home/bob/notes.txt", {"aws:username": "alice"}, IMPLICIT),
    ("2012-10-17", f"{BUCKET}/home/alice/notes.txt", {}, IMPLICIT),
    ("2012-10-17", f"{BUCKET}/home/${{aws:username}}/x", {}, IMPLICIT),
    ("2012-10-17", f"{BUCKET}/home/a*/x", {"aws:username": "a*"}, ALLOWED),
    ("2012-10-17", f"{BUCKET}/home/ab/x", {"aws:username": "a*"}, IMPLICIT),
    ("2008-10-17", f"{BUCKET}/home/alice/notes.txt", {"aws:username": "alice"}, IMPLICIT),
    ("2008-10-17", f"{BUCKET}/home/${{aws:username}}/x", {"aws:username": "alice"}, ALLOWED),
]


@pytest.mark.parametrize(("version", "resource", "keys", "reason"), VARIABLES)
def test_resource_policy_variables(version: str, resource: str, keys: dict[str, Any], reason: DecisionReason) -> None:
    policy = _policy(_allow("s3:GetObject", HOME), version=version)
    assert evaluate([policy], RequestContext("s3:GetObject", resource, condition_keys=keys)).reason is reason


def test_principal_tag_variable_with_default() -> None:
    policy = _policy(_allow("s3:*", f"{BUCKET}/${{aws:PrincipalTag/team, 'shared'}}/*"))
    tagged = RequestContext("s3:GetObject", f"{BUCKET}/blue/k", condition_keys={"aws:PrincipalTag/team": "blue"})
    untagged = RequestContext("s3:GetObject", f"{BUCKET}/shared/k")
    assert evaluate([policy], tagged).allowed
    assert evaluate([policy], untagged).allowed
    assert not evaluate([policy], RequestContext("s3:GetObject", f"{BUCKET}/blue/k")).allowed


# Principal and NotPrincipal in a role trust policy.
# https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_principal.html
# https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_notprincipal.html
ACCOUNT = "123456789012"
ALICE = Principal(f"arn:aws:iam::{ACCOUNT}:user/alice", account=ACCOUNT)
CI_SESSION = Principal(
    f"arn:aws:sts::{ACCOUNT}:assumed-role/ci/run-7",
    account=ACCOUNT,
    aliases=(f"arn:aws:iam::{ACCOUNT}:role/build/ci",),
)
STRANGER = Principal("arn:aws:iam::999999999999:user/mallory", account="999999999999")
GITHUB = Principal(f"arn:aws:iam::{ACCOUNT}:oidc-provider/token.actions.githubusercontent.com", type="Federated")
LAMBDA = Principal("lambda.amazonaws.com", type="Service")
PRINCIPALS: list[tuple[Any, Principal | None, bool]] = [
    ("*", ALICE, True),
    ("*", GITHUB, True),
    ("*", None, True),
    ({"AWS": "*"}, ALICE, True),
    ({"AWS": "*"}, GITHUB, False),
    ({"AWS": "*"}, None, False),
    ({"AWS": ACCOUNT}, ALICE, True),
    ({"AWS": ACCOUNT}, CI_SESSION, True),
    ({"AWS": ACCOUNT}, STRANGER, False),
    ({"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, ALICE, True),
    ({"AWS": f"arn:aws:iam::{ACCOUNT}:user/alice"}, ALICE, True),
    ({"AWS": f"arn:aws:iam::{ACCOUNT}:user/Alice"}, ALICE, False),
    ({"AWS": f"arn:aws:iam::{ACCOUNT}:role/build/ci"}, CI_SESSION, True),
    ({"AWS": f"arn:aws:sts::{ACCOUNT}:assumed-role/ci/run-7"}, CI_SESSION, True),
    ({"AWS": f"arn:aws:iam::{ACCOUNT}:role/build/other"}, CI_SESSION, False),
    ({"AWS": ["999999999999", f"arn:aws:iam::{ACCOUNT}:user/alice"]}, ALICE, True),
    ({"Federated": GITHUB.identifier}, GITHUB, True),
    ({"Federated": GITHUB.identifier}, ALICE, False),
    ({"Federated": "cognito-identity.amazonaws.com"}, GITHUB, False),
    ({"Service": ["ec2.amazonaws.com", "lambda.amazonaws.com"]}, LAMBDA, True),
    ({"Service": "ec2.amazonaws.com"}, LAMBDA, False),
]


@pytest.mark.parametrize(("principal", "caller", "allowed"), PRINCIPALS, ids=lambda v: str(v)[:60])
def test_trust_policy_principal(principal: Any, caller: Principal | None, allowed: bool) -> None:
    trust = _policy({"Effect": "Allow", "Principal": principal, "Action": "sts:AssumeRole"}, kind=PolicyKind.TRUST)
    context = RequestContext("sts:AssumeRole", f"arn:aws:iam::{ACCOUNT}:role/target", principal=caller)
    assert evaluate([trust], context).allowed is allowed


def test_not_principal_with_deny_spares_only_the_named_principal() -> None:
    trust = _policy(
        {"Effect": "Allow", "Principal": {"AWS": ACCOUNT}, "Action": "sts:AssumeRole"},
        {
            "Effect": "Deny",
            "NotPrincipal": {"AWS": f"arn:aws:iam::{ACCOUNT}:user/alice"},
            "Action": "sts:AssumeRole",
        },
        kind=PolicyKind.TRUST,
    )
    bob = Principal(f"arn:aws:iam::{ACCOUNT}:user/bob", account=ACCOUNT)
    assert evaluate([trust], RequestContext("sts:AssumeRole", principal=ALICE)).allowed
    assert evaluate([trust], RequestContext("sts:AssumeRole", principal=bob)).reason is EXPLICIT


def test_trust_policy_with_external_id_condition() -> None:
    # https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_create_for-user_externalid.html
    trust = _policy(
        {
            "Effect": "Allow",
            "Principal": {"AWS": "999999999999"},
            "Action": "sts:AssumeRole",
            "Condition": {"StringEquals": {"sts:ExternalId": "Unique1D"}},
        },
        kind=PolicyKind.TRUST,
    )
    with_id = RequestContext("sts:AssumeRole", principal=STRANGER, condition_keys={"sts:ExternalId": "Unique1D"})
    assert evaluate([trust], with_id).allowed
    assert not evaluate([trust], RequestContext("sts:AssumeRole", principal=STRANGER)).allowed


# Session policies: the session may do only what both the identity policies and the session policies allow.
# https://docs.aws.amazon.com/IAM/latest/UserGuide/access_policies.html#policies_session
# https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html
SESSION: list[tuple[list[dict[str, Any]], list[dict[str, Any]], str, DecisionReason, str]] = [
    ([_allow("s3:*")], [], "s3:PutObject", ALLOWED, "identity"),
    ([_allow("s3:*")], [_allow("s3:GetObject")], "s3:GetObject", ALLOWED, "identity"),
    ([_allow("s3:*")], [_allow("s3:GetObject")], "s3:PutObject", IMPLICIT, "session"),
    ([_allow("s3:GetObject")], [_allow("s3:*")], "s3:PutObject", IMPLICIT, "identity"),
    ([_allow("s3:*")], [_allow("*"), _deny("s3:PutObject")], "s3:PutObject", EXPLICIT, "session"),
    ([_allow("s3:*"), _deny("s3:PutObject")], [_allow("*")], "s3:PutObject", EXPLICIT, "identity"),
    ([], [_allow("*")], "s3:GetObject", IMPLICIT, "identity"),
    ([_deny("s3:*")], [_deny("s3:*")], "s3:GetObject", EXPLICIT, "identity"),
]


@pytest.mark.parametrize(("identity", "session", "action", "reason", "deciding"), SESSION)
def test_session_permissions_are_the_intersection(
    identity: list[dict[str, Any]],
    session: list[dict[str, Any]],
    action: str,
    reason: DecisionReason,
    deciding: str,
) -> None:
    identity_policies = [_policy(*identity)] if identity else []
    session_policies = [_policy(*session)] if session else []
    decision = evaluate_session(identity_policies, session_policies, RequestContext(action, f"{BUCKET}/k"))
    assert decision.reason is reason
    assert decision.policy_set == deciding


def test_decision_names_the_deciding_statement() -> None:
    policies = [
        _policy({"Sid": "ReadAll", **_allow("s3:Get*")}),
        _policy({"Sid": "Other", **_allow("ec2:*")}, {"Sid": "NoSecrets", **_deny("s3:*", f"{BUCKET}/secret/*")}),
    ]
    allowed = evaluate(policies, RequestContext("s3:GetObject", f"{BUCKET}/k"))
    assert allowed == Decision(True, ALLOWED, policy_index=0, statement_index=0, statement_sid="ReadAll")
    denied = evaluate(policies, RequestContext("s3:GetObject", f"{BUCKET}/secret/k"))
    assert denied == Decision(False, EXPLICIT, policy_index=1, statement_index=1, statement_sid="NoSecrets")
    assert denied.reason == "explicit_deny"
    assert evaluate(policies, RequestContext("iam:GetUser")) == Decision(False, IMPLICIT)


def test_request_context_lowercases_condition_keys() -> None:
    context = RequestContext("s3:GetObject", condition_keys={"AWS:SourceIp": "10.0.0.1", "aws:TagKeys": ["a", "b"]})
    assert context.condition_keys == {"aws:sourceip": "10.0.0.1", "aws:tagkeys": ("a", "b")}
