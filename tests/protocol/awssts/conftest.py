"""The AWS STS feature's fixtures: a tenant with roles, a long-term key, the audit trail, no AWS config."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from support.awssts import Key, create_key, sts_tenant
from support.live_server import LiveServer


@pytest.fixture(autouse=True)
def _hermetic_aws(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    """Keep the machine's AWS configuration out: empty config and credential files, no profile."""
    empty = tmp_path / "aws-empty"
    empty.write_text("")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(empty))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(empty))
    for name in (
        "AWS_PROFILE",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_ENDPOINT_URL",
        "AWS_ENDPOINT_URL_STS",
        "AWS_STS_REGIONAL_ENDPOINTS",
        "AWS_DEFAULT_REGION",
    ):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def sts_server(start_server: Callable[..., LiveServer]) -> LiveServer:
    return start_server(tenants=[sts_tenant()])


@pytest.fixture
def ci_key(sts_server: LiveServer) -> Key:
    return create_key(sts_server)


@pytest.fixture
def audit_events(sts_server: LiveServer) -> Callable[..., list[Any]]:
    def search(action: str) -> list[Any]:
        from tessera.domain.audit import AuditQuery

        found = sts_server.run(lambda: sts_server.services.store.audit.search(AuditQuery(action=action, limit=1000)))
        return [event for _, event in found]

    return search
