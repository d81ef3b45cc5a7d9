"""SigV4-signed STS requests for wrk, signed by botocore (from Tessera's venv) as an AWS SDK signs them.

wrk repeats the signed bytes: Host (``127.0.0.1:<port>``, which wrk sends too), ``X-Amz-Date``,
``Content-Type`` and, with temporary credentials, ``X-Amz-Security-Token`` are signed. A header
signature is valid 15 minutes (AWS, and Tessera, refuse older ones), so loads are signed right
before each run; AWS STS accepts a signed request more than once in that window, so does Tessera.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from harness import BenchError
from load import Load, form, send_once
from targets import ACCOUNT_ID, ROLE_NAME, AwsKey

REGION = "us-east-1"
STS_VERSION = "2011-06-15"
CONTENT_TYPE = "application/x-www-form-urlencoded; charset=utf-8"
ROLE_ARN = f"arn:aws:iam::{ACCOUNT_ID}:role/{ROLE_NAME}"
SESSION_NAME = "bench"
ASSUMED_ARN = f"arn:aws:sts::{ACCOUNT_ID}:assumed-role/{ROLE_NAME}/{SESSION_NAME}"
ASSUME_ROLE_BODY = form(Action="AssumeRole", RoleArn=ROLE_ARN, RoleSessionName=SESSION_NAME, Version=STS_VERSION)
CALLER_IDENTITY_BODY = form(Action="GetCallerIdentity", Version=STS_VERSION)
_NS = {"sts": "https://sts.amazonaws.com/doc/2011-06-15/"}
_SIGNED_EXTRA = ("X-Amz-Date", "X-Amz-Security-Token")


def signed(url: str, body: str, key: AwsKey) -> Load:
    """``POST url`` with ``body``, signed for ``sts`` in us-east-1 with ``key``."""
    request = AWSRequest("POST", url, data=body, headers={"Content-Type": CONTENT_TYPE})
    SigV4Auth(Credentials(key.key_id, key.secret, key.session_token), "sts", REGION).add_auth(request)
    extra = tuple((name, str(request.headers[name])) for name in _SIGNED_EXTRA if name in request.headers)
    return Load(url, body, str(request.headers["Authorization"]), content_type=CONTENT_TYPE, headers=extra)


def call(load: Load, result: str) -> ET.Element:
    """Send a signed request once; the ``<{result}>`` element of its 200 answer."""
    status, data = send_once(load)
    found = ET.fromstring(data).find(f"sts:{result}", _NS) if status == 200 else None
    if found is None:
        raise BenchError(f"{load.url}: {load.body[:60]}... answered {status}: {data[:300]!r}")
    return found


def text_at(element: ET.Element, path: str) -> str:
    found = element.find("/".join(f"sts:{part}" for part in path.split("/")), _NS)
    if found is None or not found.text:
        raise BenchError(f"no {path} in the STS answer")
    return found.text


def assume_role(url: str, key: AwsKey, duration_s: int = 3600) -> AwsKey:
    """Temporary credentials for ``MyRole`` (an hour: they outlast every run signed with them)."""
    result = call(signed(url, f"{ASSUME_ROLE_BODY}&DurationSeconds={duration_s}", key), "AssumeRoleResult")
    return AwsKey(
        text_at(result, "Credentials/AccessKeyId"),
        text_at(result, "Credentials/SecretAccessKey"),
        text_at(result, "Credentials/SessionToken"),
    )


def check_assume_role(load: Load) -> str:
    result = call(load, "AssumeRoleResult")
    key_id, arn = text_at(result, "Credentials/AccessKeyId"), text_at(result, "AssumedRoleUser/Arn")
    if not key_id.startswith("ASIA") or arn != ASSUMED_ARN:
        raise BenchError(f"AssumeRole answered {key_id} for {arn}, expected ASIA... for {ASSUMED_ARN}")
    return f"status 200 AccessKeyId {key_id} AssumedRoleUser {arn}"


def check_caller_identity(load: Load) -> str:
    arn = text_at(call(load, "GetCallerIdentityResult"), "Arn")
    if arn != ASSUMED_ARN:
        raise BenchError(f"GetCallerIdentity answered {arn}, expected {ASSUMED_ARN}")
    return f"status 200 Arn {arn}"
