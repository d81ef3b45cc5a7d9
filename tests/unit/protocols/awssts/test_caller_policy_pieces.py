"""AssumeRole's own-policy pieces: which trust statements name the caller itself (``direct_grant``)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tessera.protocols.awssts import PolicyKind, Principal, RequestContext, evaluate, parse_policy
from tessera.protocols.awssts.authorization import direct_grant

pytestmark = pytest.mark.unit

ACCOUNT = "123456789012"
CI = f"arn:aws:iam::{ACCOUNT}:user/ci"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/Deploy"


def trust(*statements: dict[str, Any]) -> Any:
    return parse_policy(json.dumps({"Version": "2012-10-17", "Statement": list(statements)}), kind=PolicyKind.TRUST)


def allow(principal: Any, sid: str, **extra: Any) -> dict[str, Any]:
    return {"Sid": sid, "Effect": "Allow", "Principal": principal, "Action": "sts:AssumeRole", **extra}


def test_only_allow_statements_naming_the_arn_itself_are_kept() -> None:
    policy = trust(
        allow({"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, "Account"),
        allow({"AWS": ACCOUNT}, "AccountId"),  # stored as the root ARN
        allow("*", "Anyone"),
        allow({"AWS": "*"}, "AnyAws"),
        allow({"AWS": f"arn:aws:iam::{ACCOUNT}:user/other"}, "Other"),
        allow({"AWS": [f"arn:aws:iam::{ACCOUNT}:user/other", CI]}, "Listed"),
        allow({"AWS": CI}, "Named"),
        {"Sid": "DenyCi", "Effect": "Deny", "Principal": {"AWS": CI}, "Action": "sts:TagSession"},
        {"Sid": "AllButCi", "Effect": "Allow", "NotPrincipal": {"AWS": CI}, "Action": "sts:AssumeRole"},
        allow({"Federated": CI}, "NotAws"),
    )
    named = direct_grant(policy, CI)
    assert [s.sid for s in named.statements] == ["Listed", "Named"]
    assert named.version == policy.version
    assert direct_grant(policy, f"arn:aws:iam::{ACCOUNT}:user/nobody").statements == ()
    assert [s.sid for s in direct_grant(policy, f"arn:aws:iam::{ACCOUNT}:root").statements] == [
        "Account",
        "AccountId",
    ]


def test_a_direct_grant_keeps_its_conditions_and_actions() -> None:
    policy = trust(
        allow({"AWS": CI}, "Named", Condition={"StringEquals": {"sts:ExternalId": "x-1"}}),
        allow({"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, "Account"),
    )
    named = direct_grant(policy, CI)
    principal = Principal(CI, "AWS", ACCOUNT)

    def allowed(action: str, **keys: str) -> bool:
        return evaluate([named], RequestContext(action, ROLE, principal, keys)).allowed

    assert allowed("sts:AssumeRole", **{"sts:ExternalId": "x-1"})
    assert not allowed("sts:AssumeRole")  # the condition still holds
    assert not allowed("sts:TagSession", **{"sts:ExternalId": "x-1"})  # only the statement's actions
    # The full trust policy admits the account (root): the direct grant alone does not.
    assert evaluate([policy], RequestContext("sts:AssumeRole", ROLE, principal, {})).allowed
