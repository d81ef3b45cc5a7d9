"""Tenants: issuer URLs, AWS account ids and the default audience."""

from __future__ import annotations

import pytest

from tessera.domain.tenants import DEFAULT_TENANT, Tenant

pytestmark = pytest.mark.unit


def test_default_tenant_id() -> None:
    assert DEFAULT_TENANT == "default"


@pytest.mark.parametrize("base", ["https://sts.example", "https://sts.example/", "https://sts.example//"])
def test_issuer_is_derived_from_the_base_url(base: str) -> None:
    assert Tenant("acme", "Acme").issuer_url(base) == "https://sts.example/t/acme"


def test_configured_issuer_wins() -> None:
    assert Tenant("acme", "Acme", issuer="https://id.acme.example").issuer_url("https://x") == "https://id.acme.example"


def test_aws_account_id_is_twelve_digits_stable_and_per_tenant() -> None:
    ids = {Tenant(f"t{n}", "").aws_account_id() for n in range(200)}
    assert len(ids) == 200
    assert all(len(i) == 12 and i.isdigit() for i in ids)
    assert Tenant("acme", "").aws_account_id() == Tenant("acme", "other name").aws_account_id()


def test_configured_account_id_wins() -> None:
    assert Tenant("acme", "", account_id="123456789012").aws_account_id() == "123456789012"


def test_default_audience() -> None:
    assert Tenant("acme", "").audience_default("https://iss") == "https://iss"
    assert Tenant("acme", "", default_audience="https://api").audience_default("https://iss") == "https://api"
