"""The AWS API's repositories on SQLite and PostgreSQL, each method with a two-tenant isolation check."""

from __future__ import annotations

import pytest

from tessera.domain.aws_documents import AwsDocument
from tessera.domain.aws_identities import AccessKey, MfaDevice
from tessera.domain.keys import KeyEncryptionKey
from tessera.domain.roles import Role
from tessera.domain.sts_keys import SessionKeyChanges, new_session_key, plan_session_key_rotation
from tessera.errors import Conflict
from tessera.settings_aws import RoleConfig
from tessera.storage.sql.store import SqlStore

pytestmark = pytest.mark.storage

KEK = KeyEncryptionKey(b"k" * 32)
TRUST = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": "*", "Action": "sts:AssumeRole"}]}


def access_key(tenant: str, key_id: str = "AKIAEXAMPLE000000001", name: str = "ci") -> AccessKey:
    return AccessKey(tenant, key_id, "service-account", name, "Active", b"sealed-" + tenant.encode(), KEK.kek_id)


def role(tenant: str, name: str = "Deploy", **spec: object) -> Role:
    return Role(tenant, RoleConfig(name=name, trust_policy=TRUST, **spec), role_id=f"AROA{tenant.upper()}")  # type: ignore[arg-type]


async def test_access_keys_are_isolated_per_tenant(store: SqlStore) -> None:
    keys = store.aws_access_keys
    await keys.create(access_key("alpha"))
    await keys.create(access_key("beta"))  # the same id in another tenant is another row
    with pytest.raises(Conflict):
        await keys.create(access_key("alpha"))
    await keys.create(access_key("alpha", "AKIAEXAMPLE000000002", "other"))
    alpha = await keys.get("alpha", "AKIAEXAMPLE000000001")
    assert alpha is not None
    assert alpha.sealed_secret == b"sealed-alpha"
    assert [k.access_key_id for k in await keys.list("alpha")] == ["AKIAEXAMPLE000000001", "AKIAEXAMPLE000000002"]
    assert [k.principal_name for k in await keys.list("alpha", "other")] == ["other"]
    assert [k.tenant_id for k in await keys.list("beta")] == ["beta"]
    assert await keys.set_status("alpha", "AKIAEXAMPLE000000001", "Inactive", 5.0) is True
    beta = await keys.get("beta", "AKIAEXAMPLE000000001")
    assert beta is not None
    assert beta.status == "Active"
    assert await keys.delete("alpha", "AKIAEXAMPLE000000001") is True
    assert await keys.get("alpha", "AKIAEXAMPLE000000001") is None
    assert await keys.get("beta", "AKIAEXAMPLE000000001") is not None
    assert await keys.delete("alpha", "AKIAEXAMPLE000000001") is False


async def test_roles_are_isolated_per_tenant_and_unique_regardless_of_case(store: SqlStore) -> None:
    roles = store.aws_roles
    await roles.create(role("alpha", max_session_duration=7200))
    await roles.create(role("beta"))
    with pytest.raises(Conflict):
        await roles.create(role("alpha", "deploy"))  # IAM names are unique case-insensitively
    found = await roles.get("alpha", "DEPLOY")
    assert found is not None
    assert found.spec.max_session_duration == 7200
    assert found.role_id == "AROAALPHA"
    await roles.update(role("alpha", description="changed"))
    beta = await roles.get("beta", "Deploy")
    assert beta is not None
    assert beta.spec.description == ""
    assert await roles.revoke_sessions("alpha", "Deploy", 1234.5) is True
    alpha = await roles.get("alpha", "Deploy")
    assert alpha is not None
    assert alpha.sessions_revoked_before == 1234.5
    assert alpha.spec.description == "changed"
    beta = await roles.get("beta", "Deploy")
    assert beta is not None
    assert beta.sessions_revoked_before is None
    assert [r.name for r in await roles.list("alpha")] == ["Deploy"]
    assert await roles.delete("alpha", "Deploy") is True
    assert await roles.get("alpha", "Deploy") is None
    assert [r.tenant_id for r in await roles.list("beta")] == ["beta"]


async def test_session_keys_are_isolated_per_tenant(store: SqlStore) -> None:
    keys = store.aws_session_keys
    first = new_session_key("alpha", KEK, 100.0)
    await keys.apply("alpha", SessionKeyChanges(added=[first]))
    await keys.apply("beta", SessionKeyChanges(added=[new_session_key("beta", KEK, 100.0)]))
    rotation = plan_session_key_rotation("alpha", [first], KEK, 200.0)
    await keys.apply("alpha", rotation)
    alpha = await keys.list("alpha")
    assert [(k.key_id == first.key_id, k.state) for k in alpha] == [(True, "retired"), (False, "active")]
    assert alpha[0].decrypts_until == 200.0 + 129_600
    assert [k.state for k in await keys.list("beta")] == ["active"]
    await keys.apply("alpha", SessionKeyChanges(deleted=[alpha[0]]))
    assert len(await keys.list("alpha")) == 1
    assert len(await keys.list("beta")) == 1


async def test_mfa_devices_are_isolated_per_tenant(store: SqlStore) -> None:
    devices = store.aws_mfa_devices
    for tenant in ("alpha", "beta"):
        await devices.create(MfaDevice(tenant, "phone", "user", "alice", b"seed-" + tenant.encode(), KEK.kek_id))
    with pytest.raises(Conflict):
        await devices.create(MfaDevice("alpha", "phone", "user", "bob", b"x", KEK.kek_id))
    alpha = await devices.get("alpha", "phone")
    assert alpha is not None
    assert alpha.sealed_secret == b"seed-alpha"
    assert [d.name for d in await devices.list("alpha")] == ["phone"]
    assert await devices.delete("alpha", "phone") is True
    assert await devices.get("alpha", "phone") is None
    assert await devices.get("beta", "phone") is not None


async def test_documents_are_isolated_per_tenant_and_kind(store: SqlStore) -> None:
    documents = store.aws_documents
    await documents.put(AwsDocument("alpha", "policy", "ReadOnly", {"path": "/", "document": "{}"}))
    await documents.put(AwsDocument("alpha", "saml-provider", "ReadOnly", {"certificates": []}))
    await documents.put(AwsDocument("beta", "policy", "ReadOnly", {"path": "/b/"}))
    await documents.put(AwsDocument("alpha", "policy", "ReadOnly", {"path": "/x/"}))  # replaces
    alpha = await documents.get("alpha", "policy", "ReadOnly")
    assert alpha is not None
    assert alpha.spec == {"path": "/x/"}
    beta = await documents.get("beta", "policy", "ReadOnly")
    assert beta is not None
    assert beta.spec == {"path": "/b/"}
    assert [d.kind for d in await documents.list("alpha", "saml-provider")] == ["saml-provider"]
    assert await documents.delete("alpha", "policy", "ReadOnly") is True
    assert await documents.get("alpha", "policy", "ReadOnly") is None
    assert await documents.get("alpha", "saml-provider", "ReadOnly") is not None
    assert await documents.get("beta", "policy", "ReadOnly") is not None


async def test_deleting_a_tenant_deletes_its_aws_rows(store: SqlStore) -> None:
    await store.aws_access_keys.create(access_key("alpha"))
    await store.aws_roles.create(role("alpha"))
    await store.tenants.delete("alpha")
    assert await store.aws_access_keys.list("alpha") == []
    assert await store.aws_roles.list("alpha") == []
