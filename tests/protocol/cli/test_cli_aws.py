"""``tessera aws-key``, ``role``, ``aws-mfa`` and ``sts``: secrets shown once, never stored in clear."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from cli_harness import Tessera

pytestmark = pytest.mark.protocol

TRUST = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"AWS": "123456789012"}, "Action": "sts:AssumeRole"}],
}


def test_access_keys_roles_mfa_and_session_keys(tessera: Tessera, tmp_path: Path) -> None:
    tessera.init()
    created = tessera.ok("aws-key", "create", "--service-account", "ci", "--description", "deploys")
    key_id = re.search(r"aws_access_key_id=(AKIA[A-Z2-7]{16})", created.stdout)
    secret = re.search(r"aws_secret_access_key=(\S{40})", created.stdout)
    assert key_id is not None
    assert secret is not None
    assert "shown once" in created.stderr
    listed = tessera.ok("aws-key", "list").stdout
    assert key_id.group(1) in listed
    assert secret.group(1) not in listed
    assert secret.group(1) not in json.dumps(tessera.snapshot())  # sealed under the KEK, never in clear
    assert tessera.ok("aws-key", "disable", key_id.group(1)).stdout.strip() == f"{key_id.group(1)} Inactive"
    assert tessera.ok("aws-key", "enable", key_id.group(1)).stdout.strip() == f"{key_id.group(1)} Active"
    assert "no user 'nobody'" in tessera.fails("aws-key", "create", "--user", "nobody")

    trust = tmp_path / "trust.json"
    trust.write_text(json.dumps(TRUST))
    arn = tessera.ok("role", "create", "Deployer", "--trust-policy-file", str(trust), "--path", "/ci/").stdout.strip()
    assert re.fullmatch(r"arn:aws:iam::\d{12}:role/ci/Deployer", arn)
    assert "Deployer" in tessera.ok("role", "list").stdout
    shown = json.loads(tessera.ok("role", "show", "Deployer").stdout)
    assert shown["trust_policy"] == TRUST
    assert shown["managed_by"] == "cli"
    assert "are refused" in tessera.ok("role", "revoke-sessions", "Deployer").stdout
    assert json.loads(tessera.ok("role", "show", "deployer").stdout)["sessions_revoked_before"] is not None
    bad = tmp_path / "bad.json"
    bad.write_text('{"Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole"}]}')
    refused = tessera("role", "create", "Other", "--trust-policy-file", str(bad))
    assert refused.exit_code == 2
    assert "not a valid IAM policy" in refused.output

    mfa = tessera.ok("aws-mfa", "create", "ci-phone", "--service-account", "ci").stdout
    assert re.search(r"serial_number=arn:aws:iam::\d{12}:mfa/ci-phone", mfa)
    seed = re.search(r"totp_secret=([A-Z2-7]{32})", mfa)
    assert seed is not None
    assert "ci-phone" in tessera.ok("aws-mfa", "list").stdout
    assert seed.group(1) not in json.dumps(tessera.snapshot())

    rotated = tessera.ok("sts", "rotate-key").stdout
    assert rotated.startswith("active ")
    assert "deleted" in tessera.ok("role", "delete", "Deployer", "--yes").stdout
    assert "deleted" in tessera.ok("aws-key", "delete", key_id.group(1), "--yes").stdout
    assert tessera.ok("aws-key", "list").stdout == ""
