"""Revocation across nodes, and bad input: every refusal is an AWS error document, never a 500."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any
from xml.etree import ElementTree

import botocore.exceptions
import pytest
import requests
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from support.awssts import ACCOUNT, Key, create_key, error_of, session_key, sts_client, sts_tenant
from support.live_server import LiveServer

pytestmark = pytest.mark.protocol

ROLE = f"arn:aws:iam::{ACCOUNT}:role/MyRole"
NS = {"a": "https://sts.amazonaws.com/doc/2011-06-15/"}
FORM = {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}


def test_revoking_a_roles_sessions_is_honoured_on_another_node(start_server: Callable[..., LiveServer]) -> None:
    first = start_server(tenants=[sts_tenant()], storage={"cache_refresh_seconds": 0.2})
    second = start_server(
        tenants=[sts_tenant()],
        storage={"cache_refresh_seconds": 0.2},
        server={"public_url": first.settings.server.public_url},
    )
    key = create_key(first)
    temporary = session_key(first, sts_client(first, key).assume_role(RoleArn=ROLE, RoleSessionName="node-a"))
    second.watch(temporary.secret, temporary.token or "")
    assert sts_client(second, temporary).get_caller_identity()["Account"] == ACCOUNT  # any node validates it

    first.run(lambda: first.services.aws.roles.revoke_sessions("default", "MyRole", "test"))
    deadline = time.monotonic() + 10
    refused: tuple[str, int] | None = None
    while refused is None:
        try:
            sts_client(second, temporary).get_caller_identity()
        except botocore.exceptions.ClientError as exc:
            refused = error_of(exc)
            continue
        assert time.monotonic() < deadline, "the revocation did not reach the second node"
        time.sleep(0.05)
    assert refused == ("InvalidClientTokenId", 403)
    time.sleep(0.01)  # sessions issued after the revocation work again
    fresh = session_key(second, sts_client(second, key).assume_role(RoleArn=ROLE, RoleSessionName="after"))
    first.watch(fresh.secret, fresh.token or "")
    assert sts_client(first, fresh).get_caller_identity()["Arn"].endswith("assumed-role/MyRole/after")


def _signed_post(server: LiveServer, key: Key, body: str, path: str = "/") -> requests.Response:
    request = AWSRequest("POST", server.base_url + path, data=body.encode(), headers=dict(FORM))
    SigV4Auth(Credentials(key.access_key_id, key.secret, key.token), "sts", "us-east-1").add_auth(request)
    return requests.post(request.url, data=body.encode(), headers=dict(request.headers), timeout=10)


def _error(response: requests.Response) -> tuple[int, str, str]:
    assert response.headers["content-type"] == "text/xml"
    root = ElementTree.fromstring(response.content)
    assert root.tag == "{https://sts.amazonaws.com/doc/2011-06-15/}ErrorResponse"
    assert root.findtext("a:RequestId", namespaces=NS) == response.headers["x-amzn-requestid"]
    fault = root.findtext("a:Error/a:Type", namespaces=NS)
    assert fault in ("Sender", "Receiver")
    return response.status_code, root.findtext("a:Error/a:Code", namespaces=NS) or "", fault or ""


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ("Action=Frobnicate&Version=2011-06-15", 400, "InvalidAction"),
        ("Action=GetCallerIdentity&Version=2010-01-01", 400, "InvalidAction"),
        ("Version=2011-06-15", 400, "MissingAction"),
        ("Action=GetCallerIdentity", 400, "MissingParameter"),
        ("Action=GetCallerIdentity&Version=2011-06-15&Version=2011-06-15", 400, "InvalidQueryParameter"),
        ("Action=AssumeRole&Version=2011-06-15&RoleArn=" + ROLE, 400, "ValidationError"),
        ("Action=AssumeRole&Version=2011-06-15&RoleSessionName=x1", 400, "ValidationError"),
        (
            "Action=AssumeRole&Version=2011-06-15&RoleArn=" + ROLE + "&RoleSessionName=bad%20name",
            400,
            "ValidationError",
        ),
        (
            "Action=AssumeRole&Version=2011-06-15&RoleArn=" + ROLE + "&RoleSessionName=x1&Tags.member.x.Key=a",
            400,
            "ValidationError",
        ),
        (
            "Action=AssumeRole&Version=2011-06-15&RoleArn=" + ROLE + "&RoleSessionName=x1&DurationSeconds=abc",
            400,
            "ValidationError",
        ),
        (
            "Action=AssumeRole&Version=2011-06-15&RoleArn=" + ROLE + "&RoleSessionName=x1&Policy=%7B%22a",
            400,
            "MalformedPolicyDocument",
        ),
        ("Action=GetAccessKeyInfo&Version=2011-06-15", 400, "ValidationError"),
        ("Action=GetCallerIdentity&Version=2011-06-15&x=%ff", 400, "InvalidQueryParameter"),
    ],
)
def test_malformed_requests_get_aws_error_documents(
    sts_server: LiveServer, ci_key: Key, body: str, status: int, code: str
) -> None:
    assert _error(_signed_post(sts_server, ci_key, body))[:2] == (status, code)


def test_unsigned_and_half_signed_requests(sts_server: LiveServer, ci_key: Key) -> None:
    body = "Action=GetCallerIdentity&Version=2011-06-15"
    unsigned = requests.post(sts_server.base_url + "/", data=body, headers=FORM, timeout=10)
    assert _error(unsigned) == (403, "MissingAuthenticationToken", "Sender")
    broken = requests.post(
        sts_server.base_url + "/",
        data=body,
        headers={**FORM, "Authorization": "AWS4-HMAC-SHA256 Credential=AKIA/x", "X-Amz-Date": "20250101T000000Z"},
        timeout=10,
    )
    assert _error(broken)[:2] == (400, "IncompleteSignature")
    garbage_token = Key(ci_key.access_key_id.replace("AKIA", "ASIA"), ci_key.secret, "!!not-a-token!!")
    assert _error(_signed_post(sts_server, garbage_token, body))[:2] == (403, "InvalidClientTokenId")
    wrong_type = requests.post(
        sts_server.base_url + "/t/default/sts", data=body, headers={"Content-Type": "text/plain"}, timeout=10
    )
    assert _error(wrong_type)[:2] == (400, "InvalidQueryParameter")


def test_unknown_tenants_and_other_paths(sts_server: LiveServer, ci_key: Key) -> None:
    body = "Action=GetCallerIdentity&Version=2011-06-15"
    assert _error(_signed_post(sts_server, ci_key, body, "/t/nobody/sts/"))[:2] == (404, "NotFound")
    assert requests.get(sts_server.base_url + "/healthz", timeout=10).status_code == 200  # Starlette still routes


def test_a_disabled_sts_api_does_not_answer(start_server: Callable[..., LiveServer]) -> None:
    server = start_server(tenants=[{"id": "default", "account_id": ACCOUNT, "aws": {"enabled": False}}])
    response = requests.post(
        server.base_url + "/", data="Action=GetCallerIdentity&Version=2011-06-15", headers=FORM, timeout=10
    )
    assert _error(response)[:2] == (404, "NotFound")


def test_every_refusal_is_audited_with_its_code(
    sts_server: LiveServer, ci_key: Key, audit_events: Callable[..., list[Any]]
) -> None:
    requests.post(sts_server.base_url + "/", data="Action=Nope&Version=2011-06-15", headers=FORM, timeout=10)
    requests.post(
        sts_server.base_url + "/", data="Action=GetCallerIdentity&Version=2011-06-15", headers=FORM, timeout=10
    )
    [invalid] = audit_events("sts.request")
    assert (invalid.result, invalid.reason, invalid.details["action"]) == ("failure", "InvalidAction", "Nope")
    [missing] = audit_events("sts.get_caller_identity")
    assert (missing.result, missing.reason) == ("failure", "MissingAuthenticationToken")
    with pytest.raises(botocore.exceptions.ClientError):
        sts_client(sts_server, Key(ci_key.access_key_id, "x" * 40)).get_caller_identity()
    tampered = [e for e in audit_events("sts.get_caller_identity") if e.reason == "SignatureDoesNotMatch"]
    assert tampered
    assert tampered[0].details["access_key_id"] == ci_key.access_key_id
