"""Verification for resource services: /sts/verify, tessera.verifier, and the runnable example service."""

from __future__ import annotations

import importlib.util
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import uvicorn
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from support.awssts import ACCOUNT, Key, session_key, sts_client
from support.live_server import LiveServer
from tessera.settings_aws import RoleConfig
from tessera.verifier import VerifierError, verify_request

pytestmark = pytest.mark.protocol

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "resource_service.py"
READER = RoleConfig(
    name="ReportReader",
    trust_policy={
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
                "Action": ["sts:AssumeRole", "sts:TagSession"],
            }
        ],
    },
    permission_policy={
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": "reports:Get*", "Resource": "arn:aws:reports:::report/*"},
            {"Effect": "Deny", "Action": "reports:*", "Resource": "arn:aws:reports:::report/secret-*"},
            {
                "Effect": "Allow",
                "Action": "reports:PutReport",
                "Resource": "arn:aws:reports:::report/${aws:PrincipalTag/team}-*",
            },
        ],
    },
)


def _signed(key: Key, method: str, url: str, body: bytes = b"", service: str = "reports") -> AWSRequest:
    request = AWSRequest(method, url, data=body)
    SigV4Auth(Credentials(key.access_key_id, key.secret, key.token), service, "eu-west-1").add_auth(request)
    return request


@pytest.fixture
def reader(sts_server: LiveServer, ci_key: Key) -> Key:
    sts_server.run(lambda: sts_server.services.aws.roles.create("default", READER, "test"))
    response = sts_client(sts_server, ci_key).assume_role(
        RoleArn=f"arn:aws:iam::{ACCOUNT}:role/ReportReader",
        RoleSessionName="reader",
        Tags=[{"Key": "team", "Value": "blue"}],
    )
    return session_key(sts_server, response)


@pytest.fixture
def service_client(sts_server: LiveServer) -> tuple[str, str]:
    return sts_server.create_client("reports-service")


def test_the_verifier_returns_principal_tags_and_decisions(
    sts_server: LiveServer, reader: Key, ci_key: Key, service_client: tuple[str, str]
) -> None:
    client_id, secret = service_client
    endpoint = sts_server.issuer()
    url = "http://reports.example:8443/reports/public-2025?format=csv&x=a%2Fb"

    def verify(key: Key, method: str, target: str, action: str, resource: str, body: bytes = b"") -> Any:
        signed = _signed(key, method, target, body)
        return verify_request(
            method,
            target,
            dict(signed.headers),
            body,
            action=action,
            resource=resource,
            endpoint=endpoint,
            client_id=client_id,
            client_secret=secret,
            service="reports",
            source_ip="203.0.113.9",
        )

    allowed = verify(reader, "GET", url, "reports:GetReport", "arn:aws:reports:::report/public-2025")
    assert allowed.authenticated
    assert allowed.allowed
    assert allowed.reason == "allowed"
    assert allowed.principal is not None
    assert allowed.principal.arn == f"arn:aws:sts::{ACCOUNT}:assumed-role/ReportReader/reader"
    assert allowed.principal.type == "AssumedRole"
    assert allowed.principal.session_tags == {"team": "blue"}
    denied = verify(reader, "GET", url, "reports:GetReport", "arn:aws:reports:::report/secret-plans")
    assert denied.authenticated
    assert not denied.allowed
    assert denied.reason == "explicit_deny"
    assert denied.encoded_message
    tagged = verify(reader, "PUT", url, "reports:PutReport", "arn:aws:reports:::report/blue-q3", b"{}")
    assert tagged.allowed  # ${aws:PrincipalTag/team} resolved from the session tags
    assert not verify(reader, "PUT", url, "reports:PutReport", "arn:aws:reports:::report/red-q3", b"{}").allowed
    long_term = verify(ci_key, "GET", url, "reports:GetReport", "arn:aws:reports:::report/public-2025")
    assert long_term.authenticated
    assert not long_term.allowed
    assert long_term.reason == "implicit_deny"

    signed = _signed(reader, "GET", url)
    tampered = verify_request(
        "GET",
        url.replace("2025", "2026"),
        dict(signed.headers),
        action="reports:GetReport",
        endpoint=endpoint,
        client_id=client_id,
        client_secret=secret,
        service="reports",
    )
    assert not tampered.authenticated
    assert tampered.error_code == "SignatureDoesNotMatch"
    wrong_service = verify_request(
        "GET",
        url,
        dict(signed.headers),
        action="reports:GetReport",
        endpoint=endpoint,
        client_id=client_id,
        client_secret=secret,
        service="s3",
    )
    assert not wrong_service.authenticated
    assert wrong_service.error_code == "SignatureDoesNotMatch"
    with pytest.raises(VerifierError):
        verify_request(
            "GET",
            url,
            dict(signed.headers),
            action="reports:GetReport",
            endpoint=endpoint,
            client_id=client_id,
            client_secret="wrong",
            service="reports",
        )


def test_the_verify_endpoint_refuses_bad_input(sts_server: LiveServer, service_client: tuple[str, str]) -> None:
    url = sts_server.issuer() + "/sts/verify"
    assert requests.post(url, json={}, timeout=10).status_code == 401
    response = requests.post(url, json={"method": "GET"}, auth=service_client, timeout=10)
    assert response.status_code == 400
    assert response.json()["error"] == "ValidationError"
    assert requests.post(url, data=b"{not json", auth=service_client, timeout=10).status_code == 400
    assert requests.get(url, timeout=10).status_code == 405


@pytest.fixture
def example_service(sts_server: LiveServer, service_client: tuple[str, str]) -> Iterator[str]:
    spec = importlib.util.spec_from_file_location("resource_service_example", EXAMPLE)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    app = module.create_app(sts_server.issuer(), *service_client)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_config=None, access_log=False, lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "the example service did not start"
        time.sleep(0.01)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(10)


def test_the_example_service_accepts_botocore_signed_requests(example_service: str, reader: Key) -> None:
    ok = _signed(reader, "GET", f"{example_service}/reports/public-2025")
    response = requests.get(ok.url, headers=dict(ok.headers), timeout=10)
    assert response.status_code == 200, response.text
    assert response.json() == {
        "report": "public-2025",
        "principal": f"arn:aws:sts::{ACCOUNT}:assumed-role/ReportReader/reader",
        "session_tags": {"team": "blue"},
    }
    secret = _signed(reader, "GET", f"{example_service}/reports/secret-plans")
    denied = requests.get(secret.url, headers=dict(secret.headers), timeout=10)
    assert denied.status_code == 403
    assert denied.json()["error"] == "AccessDenied"
    unsigned = requests.get(f"{example_service}/reports/public-2025", timeout=10)
    assert unsigned.status_code == 403
    assert unsigned.json()["error"] == "MissingAuthenticationToken"
