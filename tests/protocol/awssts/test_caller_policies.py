"""AssumeRole weighs the caller's own policies as well as the role's trust policy (key policies), driven by boto3.

The rules (``tessera.protocols.awssts.assume_role``'s module docstring): an explicit Deny in a key
policy refuses whatever the trust policy says; a key with a key policy that the trust policy
admits only through the account root or ``"*"`` needs its key policy to allow the action on the
role; a trust policy naming the key's user ARN suffices on its own; a key without a key policy
relies on the trust policy alone.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import botocore.exceptions
import pytest

from support.awssts import ACCOUNT, Key, create_key, error_of, session_key, sts_client
from support.live_server import LiveServer
from tessera.protocols.awssts.authorization import ENCODED_PREFIX
from tessera.settings_aws import RoleConfig

pytestmark = pytest.mark.protocol

MY_ROLE = f"arn:aws:iam::{ACCOUNT}:role/MyRole"  # trusts the account root
ONLY_CI = f"arn:aws:iam::{ACCOUNT}:role/OnlyCi"  # trusts arn:aws:iam::<account>:user/ci by name
PARTNER = f"arn:aws:iam::{ACCOUNT}:role/external/Partner"  # trusts the account root, with an ExternalId
DECODER = f"arn:aws:iam::{ACCOUNT}:role/Decoder"
ANYONE = f"arn:aws:iam::{ACCOUNT}:role/Anyone"


def key_policy(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def statement(effect: str, actions: str | list[str], resource: str | list[str] = "*", sid: str = "") -> dict[str, Any]:
    found: dict[str, Any] = {"Effect": effect, "Action": actions, "Resource": resource}
    if sid:
        found["Sid"] = sid
    return found


READ_ONLY = key_policy(statement("Allow", ["s3:GetObject", "s3:ListBucket"]))


def refused(call: Callable[[], Any]) -> tuple[str, int, str]:
    with pytest.raises(botocore.exceptions.ClientError) as caught:
        call()
    code, status = error_of(caught.value)
    return code, status, caught.value.response["Error"]["Message"]


def decoded(server: LiveServer, message: str) -> dict[str, Any]:
    """The AccessDenied message's encoded part, opened by a session allowed sts:DecodeAuthorizationMessage."""
    admin = create_key(server, "decoder-admin")  # no key policy: the trust policy of Decoder alone decides
    decoder = session_key(server, sts_client(server, admin).assume_role(RoleArn=DECODER, RoleSessionName="d1"))
    encoded = message.split(ENCODED_PREFIX, 1)[1]
    answer = sts_client(server, decoder).decode_authorization_message(EncodedMessage=encoded)
    document: dict[str, Any] = json.loads(answer["DecodedMessage"])
    return document


def assume(server: LiveServer, key: Key, role_arn: str, **extra: Any) -> dict[str, Any]:
    response: dict[str, Any] = sts_client(server, key).assume_role(RoleArn=role_arn, RoleSessionName="s1", **extra)
    session_key(server, response)
    return response


def test_an_explicit_deny_in_the_key_policy_refuses_even_a_role_that_names_the_key(
    sts_server: LiveServer, audit_events: Callable[..., list[Any]]
) -> None:
    policy = key_policy(
        statement("Allow", "sts:AssumeRole"),
        statement("Deny", "sts:AssumeRole", ONLY_CI, sid="NotOnlyCi"),
    )
    key = create_key(sts_server, "ci", policy=policy)
    assert assume(sts_server, key, MY_ROLE)["AssumedRoleUser"]["Arn"].endswith("assumed-role/MyRole/s1")
    code, status, message = refused(
        lambda: sts_client(sts_server, key).assume_role(RoleArn=ONLY_CI, RoleSessionName="s1")
    )
    assert (code, status) == ("AccessDenied", 403)
    assert message.startswith(
        f"User: arn:aws:iam::{ACCOUNT}:user/ci is not authorized to perform: sts:AssumeRole on resource: {ONLY_CI}"
        " with an explicit deny."
    )
    details = decoded(sts_server, message)
    assert details["allowed"] is False
    assert details["explicitDeny"] is True
    assert [m["statementId"] for m in details["matchedStatements"]["items"]] == ["NotOnlyCi"]
    assert details["context"]["resource"] == ONLY_CI
    # The same key without the Deny would have passed: OnlyCi names the key's user ARN.
    plain = create_key(sts_server, "ci")
    assume(sts_server, plain, ONLY_CI)
    failures = [e for e in audit_events("sts.assume_role") if e.result == "failure"]
    assert [(e.reason, e.details["access_key_id"], e.details["role_arn"]) for e in failures] == [
        ("AccessDenied", key.access_key_id, ONLY_CI)
    ]


def test_a_key_policy_must_allow_a_role_its_trust_policy_admits_only_through_the_account(
    sts_server: LiveServer,
) -> None:
    reader = create_key(sts_server, "ci", policy=READ_ONLY)
    code, status, message = refused(
        lambda: sts_client(sts_server, reader).assume_role(RoleArn=MY_ROLE, RoleSessionName="s1")
    )
    assert (code, status) == ("AccessDenied", 403)
    assert message.startswith(
        f"User: arn:aws:iam::{ACCOUNT}:user/ci is not authorized to perform: sts:AssumeRole on resource: {MY_ROLE}."
    )
    details = decoded(sts_server, message)
    assert (details["allowed"], details["explicitDeny"]) == (False, False)
    # A trust policy that names the key's user ARN suffices, whatever the key policy omits.
    assert assume(sts_server, reader, ONLY_CI)["AssumedRoleUser"]["Arn"] == (
        f"arn:aws:sts::{ACCOUNT}:assumed-role/OnlyCi/s1"
    )

    scoped = create_key(sts_server, "deployer", policy=key_policy(statement("Allow", "sts:AssumeRole", MY_ROLE)))
    assume(sts_server, scoped, MY_ROLE)
    code, status, message = refused(
        lambda: sts_client(sts_server, scoped).assume_role(
            RoleArn=PARTNER, RoleSessionName="s1", ExternalId="s3cr3t-ext"
        )
    )
    assert (code, status) == ("AccessDenied", 403)  # the trust policy admits it; its key policy does not
    assert f"on resource: {PARTNER}" in message
    # Not named by OnlyCi and not allowed by its key policy: refused by the trust policy already.
    assert refused(lambda: sts_client(sts_server, scoped).assume_role(RoleArn=ONLY_CI, RoleSessionName="s1"))[:2] == (
        "AccessDenied",
        403,
    )


def test_session_tags_and_source_identity_need_their_own_actions_in_the_key_policy(sts_server: LiveServer) -> None:
    only_assume = create_key(sts_server, "tagger", policy=key_policy(statement("Allow", "sts:AssumeRole", MY_ROLE)))
    assume(sts_server, only_assume, MY_ROLE)
    tags = [{"Key": "team", "Value": "blue"}]
    code, status, message = refused(
        lambda: sts_client(sts_server, only_assume).assume_role(RoleArn=MY_ROLE, RoleSessionName="s1", Tags=tags)
    )
    assert (code, status) == ("AccessDenied", 403)
    assert f"is not authorized to perform: sts:TagSession on resource: {MY_ROLE}" in message
    code, status, message = refused(
        lambda: sts_client(sts_server, only_assume).assume_role(
            RoleArn=MY_ROLE, RoleSessionName="s1", SourceIdentity="alice"
        )
    )
    assert (code, status) == ("AccessDenied", 403)
    assert f"is not authorized to perform: sts:SetSourceIdentity on resource: {MY_ROLE}" in message

    full = create_key(
        sts_server,
        "tagger",
        policy=key_policy(statement("Allow", ["sts:AssumeRole", "sts:TagSession", "sts:SetSourceIdentity"], MY_ROLE)),
    )
    response = assume(sts_server, full, MY_ROLE, Tags=tags, SourceIdentity="alice")
    assert response["SourceIdentity"] == "alice"


def test_a_trust_policy_open_to_anyone_does_not_override_a_key_policy(sts_server: LiveServer) -> None:
    open_trust = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": "*", "Action": "sts:AssumeRole"}],
    }
    sts_server.run(
        lambda: sts_server.services.aws.roles.create("default", RoleConfig(name="Anyone", trust_policy=open_trust), "t")
    )
    unrestricted = create_key(sts_server, "admin")  # no key policy: the trust policy alone decides
    assume(sts_server, unrestricted, ANYONE)
    reader = create_key(sts_server, "reader", policy=READ_ONLY)
    code, status, message = refused(
        lambda: sts_client(sts_server, reader).assume_role(RoleArn=ANYONE, RoleSessionName="s1")
    )
    assert (code, status) == ("AccessDenied", 403)
    assert f"user/reader is not authorized to perform: sts:AssumeRole on resource: {ANYONE}" in message
    allowed = create_key(sts_server, "assumer", policy=key_policy(statement("Allow", "sts:AssumeRole")))
    assume(sts_server, allowed, ANYONE)


def test_get_session_token_sessions_carry_their_keys_policy(sts_server: LiveServer) -> None:
    reader = create_key(sts_server, "ci", policy=READ_ONLY)
    session = session_key(sts_server, sts_client(sts_server, reader).get_session_token(DurationSeconds=900))
    assert sts_client(sts_server, session).get_caller_identity()["Arn"] == f"arn:aws:iam::{ACCOUNT}:user/ci"
    code, status, _ = refused(
        lambda: sts_client(sts_server, session).assume_role(RoleArn=MY_ROLE, RoleSessionName="s2")
    )
    assert (code, status) == ("AccessDenied", 403)
    assume(sts_server, session, ONLY_CI)  # named by ARN: the trust policy suffices

    denying = create_key(sts_server, "ci", policy=key_policy(statement("Deny", "sts:*")))
    denied = session_key(sts_server, sts_client(sts_server, denying).get_session_token(DurationSeconds=900))
    code, status, message = refused(
        lambda: sts_client(sts_server, denied).assume_role(RoleArn=ONLY_CI, RoleSessionName="s2")
    )
    assert (code, status) == ("AccessDenied", 403)
    assert "with an explicit deny" in message

    unrestricted = create_key(sts_server, "admin")
    free = session_key(sts_server, sts_client(sts_server, unrestricted).get_session_token(DurationSeconds=900))
    assume(sts_server, free, MY_ROLE)  # no key policy: the account root's trust is enough
