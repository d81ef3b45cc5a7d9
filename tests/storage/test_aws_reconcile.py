"""The AWS API's declarative bootstrap and registries on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from tessera.clock import FixedClock
from tessera.compose import Services, open_services
from tessera.domain.aws_identities import InvalidAwsIdentity, unseal_secret
from tessera.errors import ConfigurationError, NotFound
from tessera.protocols.awssts.errors import MalformedPolicyDocument
from tessera.settings import Settings
from tessera.settings_aws import RoleConfig

pytestmark = pytest.mark.storage

TRUST = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"AWS": "111122223333"}, "Action": "sts:AssumeRole"}],
}
POLICY = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]}


def aws_tenant(**aws: Any) -> dict[str, Any]:
    return {"id": "acme", "account_id": "111122223333", "aws": aws}


@pytest.fixture
async def services(make_settings: Callable[..., Settings]) -> AsyncIterator[Services]:
    opened = await open_services(make_settings(tenants=[]), FixedClock())
    yield opened
    await opened.close()


async def test_roles_policies_and_providers_are_reconciled(
    services: Services, make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    settings = make_settings(
        tenants=[
            aws_tenant(
                roles=[
                    {
                        "name": "Deploy",
                        "trust_policy": TRUST,
                        "managed_policy_arns": ["arn:aws:iam::111122223333:policy/Read"],
                    }
                ],
                policies=[{"name": "Read", "document": POLICY}],
                oidc_providers=[
                    {"issuer": "https://token.actions.githubusercontent.com", "audiences": ["sts.amazonaws.com"]}
                ],
            )
        ]
    )
    plan = await services.reconciler.plan(settings)
    kinds = sorted(c.describe() for c in plan.changes if c.kind in ("role", "aws-policy", "oidc-provider"))
    assert kinds == [
        "+ aws-policy acme/Read",
        "+ oidc-provider acme/token.actions.githubusercontent.com",
        "+ role acme/Deploy",
    ]
    await services.reconciler.apply(settings)
    assert (await services.reconciler.plan(settings)).is_empty()  # idempotent
    known = await services.aws.directory.role("acme", "111122223333", "deploy")
    assert known is not None
    assert len(known.permissions) == 1
    provider = await services.aws.directory.oidc_provider("acme", "token.actions.githubusercontent.com")
    assert provider is not None
    assert provider.audiences == ["sts.amazonaws.com"]

    changed = make_settings(
        tenants=[aws_tenant(roles=[{"name": "Deploy", "trust_policy": TRUST, "max_session_duration": 7200}])]
    )
    described = sorted(c.describe() for c in (await services.reconciler.plan(changed)).changes if c.kind != "tenant")
    assert "~ role acme/Deploy (managed_policy_arns, max_session_duration)" in described
    assert "- aws-policy acme/Read" in described
    assert "- oidc-provider acme/token.actions.githubusercontent.com" in described
    await services.reconciler.apply(changed)
    assert (await services.aws.roles.get("acme", "Deploy")).spec.max_session_duration == 7200
    await services.reconciler.apply(make_settings(tenants=[aws_tenant()]))
    with pytest.raises(NotFound):
        await services.aws.roles.get("acme", "Deploy")


async def test_a_cli_role_is_kept_unless_declared(services: Services, make_settings: Callable[..., Settings]) -> None:
    await services.reconciler.apply(make_settings(tenants=[aws_tenant()]))
    await services.aws.roles.create("acme", RoleConfig(name="Handmade", trust_policy=TRUST), "cli:test")
    assert not [
        c for c in (await services.reconciler.plan(make_settings(tenants=[aws_tenant()]))).changes if c.kind == "role"
    ]
    declared = make_settings(tenants=[aws_tenant(roles=[{"name": "Handmade", "trust_policy": TRUST}])])
    [change] = [c for c in (await services.reconciler.plan(declared)).changes if c.kind == "role"]
    assert change.describe() == "~ role acme/Handmade (managed)"


async def test_saml_provider_certificates_are_read_from_files(
    services: Services, make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    missing = make_settings(
        tenants=[aws_tenant(saml_providers=[{"name": "Okta", "certificate_files": [str(tmp_path / "nope.pem")]}])]
    )
    with pytest.raises(ConfigurationError, match="Okta"):
        await services.reconciler.plan(missing)
    bad = tmp_path / "bad.pem"
    bad.write_text("-----BEGIN CERTIFICATE-----\nnope\n-----END CERTIFICATE-----\n")
    with pytest.raises(ConfigurationError, match="not PEM"):
        await services.reconciler.plan(
            make_settings(tenants=[aws_tenant(saml_providers=[{"name": "Okta", "certificate_files": [str(bad)]}])])
        )


async def test_access_keys_are_sealed_and_limited(services: Services, make_settings: Callable[..., Settings]) -> None:
    await services.reconciler.apply(make_settings(tenants=[aws_tenant()]))
    registry = services.aws.access_keys
    first = await registry.create("acme", "service-account", "deployer", "cli:test")
    assert first.key.access_key_id.startswith("AKIA")
    assert first.secret.reveal().encode() not in first.key.sealed_secret
    stored = await services.store.aws_access_keys.get("acme", first.key.access_key_id)
    assert stored is not None
    assert unseal_secret(stored, services.kek) == first.secret
    await registry.create("acme", "service-account", "deployer", "cli:test")
    with pytest.raises(InvalidAwsIdentity):
        await registry.create("acme", "service-account", "deployer", "cli:test")
    with pytest.raises(InvalidAwsIdentity):
        await registry.create("acme", "service-account", "bad name", "cli:test")
    with pytest.raises(MalformedPolicyDocument):
        await registry.create("acme", "service-account", "other", "cli:test", policy='{"Statement": []}')
    with pytest.raises(NotFound):
        await registry.create("acme", "user", "nobody-here", "cli:test")  # users come from the user store


async def test_session_keys_are_created_on_first_use_and_rotated(
    services: Services, make_settings: Callable[..., Settings]
) -> None:
    await services.reconciler.apply(make_settings(tenants=[aws_tenant()]))
    assert await services.aws.session_keys.keys_of("acme") == []
    ring = await services.aws.directory.session_keys("acme")
    assert list(ring.keys) == [ring.sealing_key_id]
    changes = await services.aws.session_keys.rotate("acme", "cli:test")
    services.aws.directory.invalidate()
    rotated = await services.aws.directory.session_keys("acme")
    assert rotated.sealing_key_id == changes.added[0].key_id
    assert ring.sealing_key_id in rotated.keys
