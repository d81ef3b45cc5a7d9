"""Helpers of the AWS STS protocol tests: the tenant's roles, long-term keys, boto3 clients, error codes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import boto3
from botocore.config import Config

from support.live_server import LiveServer

ACCOUNT = "123456789012"
TENANT = "default"
PERMISSIONS = {
    "Version": "2012-10-17",
    "Statement": [
        {"Sid": "ReadReports", "Effect": "Allow", "Action": ["s3:GetObject", "s3:ListBucket"], "Resource": "*"},
        {"Sid": "NoSecrets", "Effect": "Deny", "Action": "s3:*", "Resource": "arn:aws:s3:::secrets/*"},
    ],
}


def trust(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def allow_account(*actions: str, **condition: Any) -> dict[str, Any]:
    statement: dict[str, Any] = {
        "Effect": "Allow",
        "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
        "Action": list(actions) or ["sts:AssumeRole"],
    }
    if condition:
        statement["Condition"] = condition
    return statement


def roles() -> list[dict[str, Any]]:
    """The seed's MyRole and a few roles each test uses for one rule."""
    return [
        {
            "name": "MyRole",
            "trust_policy": trust(allow_account("sts:AssumeRole", "sts:TagSession", "sts:SetSourceIdentity")),
            "permission_policy": PERMISSIONS,
            "max_session_duration": 7200,
        },
        {
            "name": "Partner",
            "path": "/external/",
            "trust_policy": trust(allow_account(StringEquals={"sts:ExternalId": "s3cr3t-ext"})),
            "permission_policy": PERMISSIONS,
        },
        {
            "name": "OnlyCi",
            "trust_policy": trust(
                {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:user/ci"}, "Action": "sts:AssumeRole"}
            ),
        },
        {
            "name": "NeedsMfa",
            "trust_policy": trust(allow_account(Bool={"aws:MultiFactorAuthPresent": "true"})),
            "permission_policy": PERMISSIONS,
        },
        {
            "name": "Chained",
            "trust_policy": trust(
                {
                    "Effect": "Allow",
                    "Principal": {
                        "AWS": [f"arn:aws:iam::{ACCOUNT}:role/MyRole", f"arn:aws:iam::{ACCOUNT}:role/Decoder"]
                    },
                    "Action": ["sts:AssumeRole", "sts:TagSession", "sts:SetSourceIdentity"],
                }
            ),
            "permission_policy": PERMISSIONS,
        },
        {
            "name": "Decoder",
            "trust_policy": trust(allow_account("sts:AssumeRole", "sts:TagSession", "sts:SetSourceIdentity")),
            "permission_policy": {
                "Version": "2012-10-17",
                "Statement": [
                    {"Effect": "Allow", "Action": ["sts:DecodeAuthorizationMessage", "sts:AssumeRole"], "Resource": "*"}
                ],
            },
        },
    ]


def sts_tenant(**aws: Any) -> dict[str, Any]:
    return {"id": TENANT, "name": "Default", "account_id": ACCOUNT, "aws": {"roles": roles(), **aws}}


@dataclass(frozen=True)
class Key:
    access_key_id: str
    secret: str
    token: str | None = None


def create_key(server: LiveServer, name: str = "ci", principal_type: str = "service-account", **options: Any) -> Key:
    """A long-term key made through the server's own registry (what `tessera aws-key create` does)."""
    created = server.run(
        lambda: server.services.aws.access_keys.create(TENANT, principal_type, name, "test", **options)  # type: ignore[arg-type]
    )
    server.watch(created.secret.reveal())
    return Key(created.key.access_key_id, created.secret.reveal())


def sts_client(
    server: LiveServer, key: Key, *, path: str = "", region: str = "us-east-1", validate: bool = True
) -> Any:
    return boto3.client(
        "sts",
        endpoint_url=server.base_url + path,
        region_name=region,
        aws_access_key_id=key.access_key_id,
        aws_secret_access_key=key.secret,
        aws_session_token=key.token,
        config=Config(retries={"max_attempts": 1}, parameter_validation=validate),
    )


def session_key(server: LiveServer, response: dict[str, Any]) -> Key:
    """The temporary credentials of an AssumeRole*/GetSessionToken response, watched for the log check."""
    credentials = response["Credentials"]
    server.watch(credentials["SecretAccessKey"], credentials["SessionToken"])
    return Key(credentials["AccessKeyId"], credentials["SecretAccessKey"], credentials["SessionToken"])


def error_of(exc: Any) -> tuple[str, int]:
    return exc.response["Error"]["Code"], exc.response["ResponseMetadata"]["HTTPStatusCode"]


__all__ = [
    "ACCOUNT",
    "PERMISSIONS",
    "TENANT",
    "Key",
    "allow_account",
    "create_key",
    "error_of",
    "roles",
    "session_key",
    "sts_client",
    "sts_tenant",
    "trust",
]
