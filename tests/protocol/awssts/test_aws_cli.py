"""The AWS CLI (awscli from PyPI), unmodified: `aws sts assume-role --endpoint-url ...`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from support.awssts import ACCOUNT, Key, sts_client
from support.live_server import LiveServer

pytestmark = pytest.mark.protocol

AWS = Path(sys.executable).with_name("aws")


def run_aws(server: LiveServer, key: Key, *args: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    empty = tmp_path / "empty-aws-config"
    empty.write_text("")
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(tmp_path),
        "AWS_ACCESS_KEY_ID": key.access_key_id,
        "AWS_SECRET_ACCESS_KEY": key.secret,
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_CONFIG_FILE": str(empty),
        "AWS_SHARED_CREDENTIALS_FILE": str(empty),
        "PYTHONWARNINGS": "ignore",
    }
    if key.token:
        env["AWS_SESSION_TOKEN"] = key.token
    return subprocess.run(
        [str(AWS), "sts", *args, "--endpoint-url", server.base_url, "--output", "json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_aws_sts_assume_role_works_and_errors_are_aws_errors(
    sts_server: LiveServer, ci_key: Key, tmp_path: Path
) -> None:
    done = run_aws(
        sts_server,
        ci_key,
        "assume-role",
        "--role-arn",
        f"arn:aws:iam::{ACCOUNT}:role/MyRole",
        "--role-session-name",
        "cli-session",
        tmp_path=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    output = json.loads(done.stdout)
    credentials = output["Credentials"]
    sts_server.watch(credentials["SecretAccessKey"], credentials["SessionToken"])
    assert output["AssumedRoleUser"]["Arn"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/MyRole/cli-session"
    temporary = Key(credentials["AccessKeyId"], credentials["SecretAccessKey"], credentials["SessionToken"])
    assert sts_client(sts_server, temporary).get_caller_identity()["Arn"].endswith("/cli-session")

    refused = run_aws(
        sts_server,
        ci_key,
        "assume-role",
        "--role-arn",
        f"arn:aws:iam::{ACCOUNT}:role/OnlyCi",
        "--role-session-name",
        "cli-session",
        "--duration-seconds",
        "7200",
        tmp_path=tmp_path,
    )
    assert refused.returncode != 0
    assert "(ValidationError)" in refused.stderr
    assert "MaxSessionDuration" in refused.stderr
