"""AssumeRole, GetCallerIdentity, GetSessionToken and the other signed actions, driven by unmodified boto3."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import botocore.exceptions
import pyotp
import pytest

from support.awssts import ACCOUNT, Key, create_key, error_of, session_key, sts_client, sts_tenant
from support.live_server import LiveServer
from support.oidc import add_user
from tessera.clock import FixedClock
from tessera.domain.audit import AuditNotes
from tessera.protocols.awssts.authorization import ENCODED_PREFIX

pytestmark = pytest.mark.protocol

ROLE = f"arn:aws:iam::{ACCOUNT}:role/MyRole"


def client_error(call: Callable[[], Any]) -> tuple[str, int, str]:
    with pytest.raises(botocore.exceptions.ClientError) as caught:
        call()
    code, status = error_of(caught.value)
    return code, status, caught.value.response["Error"]["Message"]


def test_the_seed_snippet_returns_credentials_that_expire_in_one_hour(
    sts_server: LiveServer, ci_key: Key, audit_events: Callable[..., list[Any]]
) -> None:
    sts_client_ = sts_client(sts_server, ci_key)  # the seed: only endpoint_url and credentials added
    response = sts_client_.assume_role(RoleArn="arn:aws:iam::123456789012:role/MyRole", RoleSessionName="MySession")
    temporary = session_key(sts_server, response)
    expiration = response["Credentials"]["Expiration"]
    assert timedelta(minutes=59) < expiration - datetime.now(UTC) <= timedelta(hours=1)
    assert temporary.access_key_id.startswith("ASIA")
    assert len(temporary.access_key_id) == 20
    assert len(temporary.secret) == 40
    assert response["AssumedRoleUser"]["Arn"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/MyRole/MySession"
    assert response["AssumedRoleUser"]["AssumedRoleId"].startswith("AROA")
    assert response["AssumedRoleUser"]["AssumedRoleId"].endswith(":MySession")
    assert 0 <= response["PackedPolicySize"] <= 100
    assert response["ResponseMetadata"]["HTTPHeaders"]["x-amzn-requestid"] == response["ResponseMetadata"]["RequestId"]

    identity = sts_client(sts_server, temporary).get_caller_identity()
    assert identity["Arn"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/MyRole/MySession"
    assert identity["Account"] == ACCOUNT
    assert identity["UserId"] == response["AssumedRoleUser"]["AssumedRoleId"]

    [event] = audit_events("sts.assume_role")
    assert event.result == "success"
    assert event.details["access_key_id"] == ci_key.access_key_id
    assert event.details["role_arn"] == ROLE
    assert event.details["session_name"] == "MySession"
    assert event.source_ip == "127.0.0.1"
    assert temporary.secret not in json.dumps(dict(event.details))


def test_long_term_keys_answer_get_caller_identity_as_their_user(sts_server: LiveServer, ci_key: Key) -> None:
    identity = sts_client(sts_server, ci_key).get_caller_identity()
    assert identity["Arn"] == f"arn:aws:iam::{ACCOUNT}:user/ci"
    assert identity["UserId"].startswith("AIDA")
    assert len(identity["UserId"]) == 21
    info = sts_client(sts_server, ci_key).get_access_key_info(AccessKeyId=ci_key.access_key_id)
    assert info["Account"] == ACCOUNT


def test_any_region_and_the_tenant_path_work(sts_server: LiveServer, ci_key: Key) -> None:
    for path in ("/t/default/sts", "/t/default/sts/"):
        client = sts_client(sts_server, ci_key, path=path, region="ap-southeast-2")
        assert client.get_caller_identity()["Account"] == ACCOUNT


def test_regions_can_be_limited_per_tenant(start_server: Callable[..., LiveServer]) -> None:
    server = start_server(tenants=[sts_tenant(regions=["eu-west-1"])])
    key = create_key(server)
    assert sts_client(server, key, region="eu-west-1").get_caller_identity()["Account"] == ACCOUNT
    code, status, _ = client_error(lambda: sts_client(server, key, region="us-east-1").get_caller_identity())
    assert (code, status) == ("RegionDisabledException", 403)


def test_a_tampered_signature_is_signature_does_not_match(sts_server: LiveServer, ci_key: Key) -> None:
    wrong = Key(ci_key.access_key_id, ci_key.secret[:-1] + ("A" if ci_key.secret[-1] != "A" else "B"))
    code, status, _ = client_error(
        lambda: sts_client(sts_server, wrong).assume_role(RoleArn=ROLE, RoleSessionName="s1")
    )
    assert (code, status) == ("SignatureDoesNotMatch", 403)


def test_unknown_and_disabled_keys_are_invalid_client_token_id(sts_server: LiveServer, ci_key: Key) -> None:
    unknown = Key("AKIAAAAAAAAAAAAAAAAA", ci_key.secret)
    assert client_error(lambda: sts_client(sts_server, unknown).get_caller_identity())[:2] == (
        "InvalidClientTokenId",
        403,
    )
    sts_server.run(
        lambda: sts_server.services.aws.access_keys.set_status("default", ci_key.access_key_id, "Inactive", "t")
    )
    sts_server.run(sts_server.services.aws.directory.refresh)
    assert client_error(lambda: sts_client(sts_server, ci_key).get_caller_identity())[:2] == (
        "InvalidClientTokenId",
        403,
    )


def test_a_users_keys_stop_when_the_user_is_disabled_or_deleted(sts_server: LiveServer) -> None:
    add_user(sts_server, "carol")
    key = create_key(sts_server, "carol", principal_type="user")
    client = sts_client(sts_server, key)
    assert client.get_caller_identity()["Arn"] == f"arn:aws:iam::{ACCOUNT}:user/carol"
    users = sts_server.services.identity.users

    async def change(disabled: bool | None) -> None:
        notes = AuditNotes(sts_server.services.audit, sts_server.services.clock.now(), "default", None, None)
        if disabled is None:
            await users.delete("default", "carol", notes, "test")
        else:
            await users.set_disabled("default", "carol", disabled, notes, "test")
        await notes.flush()
        await sts_server.services.aws.directory.refresh()  # what every node's watcher does within a second

    sts_server.run(lambda: change(True))
    assert client_error(client.get_caller_identity)[:2] == ("InvalidClientTokenId", 403)
    sts_server.run(lambda: change(False))
    assert client.get_caller_identity()["Account"] == ACCOUNT
    sts_server.run(lambda: change(None))
    assert client_error(client.get_caller_identity)[:2] == ("InvalidClientTokenId", 403)


def test_garbage_and_tampered_session_tokens_are_invalid_client_token_id(sts_server: LiveServer, ci_key: Key) -> None:
    temporary = session_key(sts_server, sts_client(sts_server, ci_key).assume_role(RoleArn=ROLE, RoleSessionName="s1"))
    for token in ("garbage", "AQ" + "x" * 100, temporary.token[:-4] + "AAAA"):  # type: ignore[index]
        bad = Key(temporary.access_key_id, temporary.secret, token)
        assert client_error(lambda b=bad: sts_client(sts_server, b).get_caller_identity())[:2] == (  # type: ignore[misc]
            "InvalidClientTokenId",
            403,
        )
    other = Key("ASIAAAAAAAAAAAAAAAAA", temporary.secret, temporary.token)  # a token of another key id
    assert client_error(lambda: sts_client(sts_server, other).get_caller_identity())[:2] == (
        "InvalidClientTokenId",
        403,
    )


def test_duration_seconds_outside_the_range_is_a_validation_error(sts_server: LiveServer, ci_key: Key) -> None:
    client = sts_client(sts_server, ci_key, validate=False)  # boto3 would refuse 100 before sending
    for duration, text in ((100, "greater than or equal to 900"), (43_201, "less than or equal to 43200")):
        code, status, message = client_error(
            lambda d=duration: client.assume_role(RoleArn=ROLE, RoleSessionName="s1", DurationSeconds=d)  # type: ignore[misc]
        )
        assert (code, status) == ("ValidationError", 400)
        assert text in message
    code, status, message = client_error(
        lambda: client.assume_role(
            RoleArn=f"arn:aws:iam::{ACCOUNT}:role/OnlyCi", RoleSessionName="s1", DurationSeconds=7200
        )
    )
    assert (code, status) == ("ValidationError", 400)
    assert "MaxSessionDuration" in message
    response = client.assume_role(RoleArn=ROLE, RoleSessionName="s1", DurationSeconds=7200)  # MyRole allows 2 h
    session_key(sts_server, response)
    assert response["Credentials"]["Expiration"] - datetime.now(UTC) > timedelta(minutes=119)


def test_a_trust_policy_that_does_not_admit_the_caller_is_access_denied_and_decodable(
    sts_server: LiveServer, ci_key: Key, audit_events: Callable[..., list[Any]]
) -> None:
    other = create_key(sts_server, "intruder")
    code, status, message = client_error(
        lambda: sts_client(sts_server, other).assume_role(
            RoleArn=f"arn:aws:iam::{ACCOUNT}:role/OnlyCi", RoleSessionName="s1"
        )
    )
    assert (code, status) == ("AccessDenied", 403)
    assert message.startswith(
        f"User: arn:aws:iam::{ACCOUNT}:user/intruder is not authorized to perform: sts:AssumeRole"
    )
    encoded = message.split(ENCODED_PREFIX, 1)[1]
    session_key(
        sts_server,
        sts_client(sts_server, ci_key).assume_role(RoleArn=f"arn:aws:iam::{ACCOUNT}:role/OnlyCi", RoleSessionName="s1"),
    )

    decoder = session_key(
        sts_server,
        sts_client(sts_server, ci_key).assume_role(
            RoleArn=f"arn:aws:iam::{ACCOUNT}:role/Decoder", RoleSessionName="d1"
        ),
    )
    decoded = json.loads(
        sts_client(sts_server, decoder).decode_authorization_message(EncodedMessage=encoded)["DecodedMessage"]
    )
    assert decoded["allowed"] is False
    assert decoded["explicitDeny"] is False
    assert decoded["context"]["action"] == "sts:AssumeRole"
    assert decoded["context"]["principal"]["arn"] == f"arn:aws:iam::{ACCOUNT}:user/intruder"
    # A caller whose policies do not allow sts:DecodeAuthorizationMessage may not read it.
    assert client_error(lambda: sts_client(sts_server, ci_key).decode_authorization_message(EncodedMessage=encoded))[
        :2
    ] == (
        "AccessDenied",
        403,
    )
    assert client_error(lambda: sts_client(sts_server, decoder).decode_authorization_message(EncodedMessage="bm9wZQ"))[
        :2
    ] == (
        "InvalidAuthorizationMessageException",
        400,
    )
    failures = [e for e in audit_events("sts.assume_role") if e.result == "failure"]
    assert [(e.reason, e.details["access_key_id"]) for e in failures] == [("AccessDenied", other.access_key_id)]


def test_an_unknown_role_is_access_denied(sts_server: LiveServer, ci_key: Key) -> None:
    for arn in (f"arn:aws:iam::{ACCOUNT}:role/Nope", "arn:aws:iam::999999999999:role/MyRole"):
        code, status, _ = client_error(
            lambda a=arn: sts_client(sts_server, ci_key).assume_role(RoleArn=a, RoleSessionName="s1")
        )  # type: ignore[misc]
        assert (code, status) == ("AccessDenied", 403)


def test_external_id_is_a_trust_condition(sts_server: LiveServer, ci_key: Key) -> None:
    client = sts_client(sts_server, ci_key)
    arn = f"arn:aws:iam::{ACCOUNT}:role/external/Partner"
    assert client_error(lambda: client.assume_role(RoleArn=arn, RoleSessionName="s1"))[:2] == ("AccessDenied", 403)
    assert client_error(lambda: client.assume_role(RoleArn=arn, RoleSessionName="s1", ExternalId="wrong-one"))[:2] == (
        "AccessDenied",
        403,
    )
    session_key(sts_server, client.assume_role(RoleArn=arn, RoleSessionName="s1", ExternalId="s3cr3t-ext"))


def test_a_missing_mfa_code_where_required_is_access_denied_and_a_valid_one_passes(
    sts_server: LiveServer, ci_key: Key
) -> None:
    created = sts_server.run(
        lambda: sts_server.services.aws.mfa_devices.create("default", "ci-phone", "service-account", "ci", "t")
    )
    seed = created.secret.reveal()
    sts_server.watch(seed)
    serial = f"arn:aws:iam::{ACCOUNT}:mfa/ci-phone"
    client = sts_client(sts_server, ci_key)
    arn = f"arn:aws:iam::{ACCOUNT}:role/NeedsMfa"
    assert client_error(lambda: client.assume_role(RoleArn=arn, RoleSessionName="s1"))[:2] == ("AccessDenied", 403)
    code, status, message = client_error(
        lambda: (
            client.assume_role(RoleArn=arn, RoleSessionName="s1", SerialNumber=serial, TokenCode="000000")
            if pyotp.TOTP(seed).now() != "000000"
            else client.assume_role(RoleArn=arn, RoleSessionName="s1", SerialNumber=serial, TokenCode="111111")
        )
    )
    assert (code, status) == ("AccessDenied", 403)
    assert "invalid MFA one time pass code" in message
    code_now = pyotp.TOTP(seed).now()
    response = client.assume_role(RoleArn=arn, RoleSessionName="s1", SerialNumber=serial, TokenCode=code_now)
    session_key(sts_server, response)
    replay = client_error(
        lambda: client.assume_role(RoleArn=arn, RoleSessionName="s1", SerialNumber=serial, TokenCode=code_now)
    )
    assert replay[:2] == ("AccessDenied", 403)  # a code is spent once used


def test_get_session_token_with_mfa_then_assume_an_mfa_role(sts_server: LiveServer, ci_key: Key) -> None:
    created = sts_server.run(
        lambda: sts_server.services.aws.mfa_devices.create("default", "ci-token", "service-account", "ci", "t")
    )
    sts_server.watch(created.secret.reveal())
    code = pyotp.TOTP(created.secret.reveal()).now()
    response = sts_client(sts_server, ci_key).get_session_token(
        DurationSeconds=900, SerialNumber=f"arn:aws:iam::{ACCOUNT}:mfa/ci-token", TokenCode=code
    )
    session = session_key(sts_server, response)
    assert sts_client(sts_server, session).get_caller_identity()["Arn"] == f"arn:aws:iam::{ACCOUNT}:user/ci"
    assumed = sts_client(sts_server, session).assume_role(
        RoleArn=f"arn:aws:iam::{ACCOUNT}:role/NeedsMfa", RoleSessionName="m1"
    )
    session_key(sts_server, assumed)
    assert client_error(lambda: sts_client(sts_server, session).get_session_token())[:2] == ("AccessDenied", 403)
    # Disabling the long-term key cuts off the session it made.
    sts_server.run(
        lambda: sts_server.services.aws.access_keys.set_status("default", ci_key.access_key_id, "Inactive", "t")
    )
    sts_server.run(sts_server.services.aws.directory.refresh)
    assert client_error(lambda: sts_client(sts_server, session).get_caller_identity())[:2] == (
        "InvalidClientTokenId",
        403,
    )


def test_role_chaining_tags_and_source_identity(sts_server: LiveServer, ci_key: Key) -> None:
    tags = [{"Key": "team", "Value": "blue"}, {"Key": "cost", "Value": "42"}]
    chained_arn = f"arn:aws:iam::{ACCOUNT}:role/Chained"
    first = sts_client(sts_server, ci_key).assume_role(
        RoleArn=ROLE, RoleSessionName="alice", Tags=tags, TransitiveTagKeys=["team"], SourceIdentity="alice"
    )
    assert first["SourceIdentity"] == "alice"
    alice = session_key(sts_server, first)
    # MyRole's permissions do not allow sts:AssumeRole: chaining is refused by the caller's own policy.
    code, status, message = client_error(
        lambda: sts_client(sts_server, alice).assume_role(RoleArn=chained_arn, RoleSessionName="c1")
    )
    assert (code, status) == ("AccessDenied", 403)
    assert "assumed-role/MyRole/alice" in message

    decoder = session_key(
        sts_server,
        sts_client(sts_server, ci_key).assume_role(
            RoleArn=f"arn:aws:iam::{ACCOUNT}:role/Decoder",
            RoleSessionName="bob",
            Tags=tags,
            TransitiveTagKeys=["team"],
            SourceIdentity="bob",
        ),
    )
    client = sts_client(sts_server, decoder)
    code, status, message = client_error(
        lambda: client.assume_role(RoleArn=chained_arn, RoleSessionName="c1", DurationSeconds=7200)
    )
    assert (code, status) == ("ValidationError", 400)
    assert "role chaining" in message
    code, status, _ = client_error(
        lambda: client.assume_role(RoleArn=chained_arn, RoleSessionName="c1", Tags=[{"Key": "team", "Value": "red"}])
    )
    assert (code, status) == ("InvalidParameterValue", 400)  # a transitive tag cannot be overwritten
    chained = client.assume_role(RoleArn=chained_arn, RoleSessionName="c1")
    session_key(sts_server, chained)
    assert chained["SourceIdentity"] == "bob"  # passes on to chained sessions


def test_session_policies_are_validated(sts_server: LiveServer, ci_key: Key) -> None:
    client = sts_client(sts_server, ci_key)
    assert client_error(lambda: client.assume_role(RoleArn=ROLE, RoleSessionName="s1", Policy="{not json"))[:2] == (
        "MalformedPolicyDocument",
        400,
    )
    no_resource = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*"}]})
    assert client_error(lambda: client.assume_role(RoleArn=ROLE, RoleSessionName="s1", Policy=no_resource))[:2] == (
        "MalformedPolicyDocument",
        400,
    )
    huge = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "arn:aws:s3:::" + "a" * 2100}],
        }
    )
    assert client_error(lambda: client.assume_role(RoleArn=ROLE, RoleSessionName="s1", Policy=huge))[:2] == (
        "ValidationError",
        400,
    )
    import secrets

    tags = [{"Key": f"k{i}", "Value": secrets.token_urlsafe(180)[:250]} for i in range(50)]
    assert client_error(lambda: client.assume_role(RoleArn=ROLE, RoleSessionName="s1", Tags=tags))[:2] == (
        "PackedPolicyTooLarge",
        400,
    )
    unknown = f"arn:aws:iam::{ACCOUNT}:policy/Missing"
    assert client_error(lambda: client.assume_role(RoleArn=ROLE, RoleSessionName="s1", PolicyArns=[{"arn": unknown}]))[
        :2
    ] == ("InvalidParameterValue", 400)


def test_an_expired_session_token_is_expired_token(start_server: Callable[..., LiveServer]) -> None:
    clock = FixedClock(datetime.now(UTC).timestamp())  # botocore signs with the real clock: stay near it
    server = start_server(clock=clock, tenants=[sts_tenant()])
    key = create_key(server)
    temporary = session_key(
        server, sts_client(server, key).assume_role(RoleArn=ROLE, RoleSessionName="s1", DurationSeconds=900)
    )
    assert sts_client(server, temporary).get_caller_identity()["Account"] == ACCOUNT
    clock.advance(901)
    code, status, message = client_error(lambda: sts_client(server, temporary).get_caller_identity())
    assert (code, status) == ("ExpiredToken", 403)
    assert "expired" in message


def test_clock_skew_is_signature_does_not_match_with_signature_expired(start_server: Callable[..., LiveServer]) -> None:
    clock = FixedClock(datetime.now(UTC).timestamp() + 16 * 60)
    server = start_server(clock=clock, tenants=[sts_tenant()])
    key = create_key(server)
    code, status, message = client_error(lambda: sts_client(server, key).get_caller_identity())
    assert (code, status) == ("SignatureDoesNotMatch", 403)
    assert message.startswith("Signature expired:")


def test_a_presigned_get_caller_identity_url_works(sts_server: LiveServer, ci_key: Key) -> None:
    import requests

    url = sts_client(sts_server, ci_key).generate_presigned_url("get_caller_identity", HttpMethod="GET", ExpiresIn=60)
    response = requests.get(url, timeout=10)
    assert response.status_code == 200, response.text
    assert f"<Arn>arn:aws:iam::{ACCOUNT}:user/ci</Arn>" in response.text
    post_url = sts_client(sts_server, ci_key).generate_presigned_url("get_caller_identity", ExpiresIn=60)
    assert requests.post(post_url, timeout=10).status_code == 200
