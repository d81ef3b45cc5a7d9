"""The identity packages export exactly their public names, and each module's ``__all__`` is real."""

from __future__ import annotations

import importlib
import inspect

import pytest

pytestmark = pytest.mark.unit

PACKAGES = ["tessera.protocols.oidc", "tessera.domain.authn", "tessera.protocols.oauth2.grants"]
MODULES = [
    "tessera.protocols.oidc.authorization_flow",
    "tessera.protocols.oidc.backchannel",
    "tessera.protocols.oidc.claims",
    "tessera.protocols.oidc.discovery",
    "tessera.protocols.oidc.errors",
    "tessera.protocols.oidc.id_token",
    "tessera.protocols.oidc.logout",
    "tessera.protocols.oidc.subject",
    "tessera.protocols.oidc.userinfo",
    "tessera.protocols.oauth2.authorization",
    "tessera.protocols.oauth2.pkce",
    "tessera.domain.authn.login",
    "tessera.domain.authn.password",
    "tessera.domain.authn.throttle",
    "tessera.domain.users",
    "tessera.domain.sessions",
    "tessera.domain.interactions",
    "tessera.domain.consents",
    "tessera.domain.codes",
    "tessera.domain.refresh_tokens",
    "tessera.domain.handles",
    "tessera.domain.user_reconciler",
]


@pytest.mark.parametrize("name", PACKAGES)
def test_all_is_exactly_the_public_names(name: str) -> None:
    package = importlib.import_module(name)
    public = {n for n in dir(package) if not n.startswith("_") and not inspect.ismodule(getattr(package, n))}
    assert set(package.__all__) == public
    assert len(package.__all__) == len(set(package.__all__))


@pytest.mark.parametrize("name", MODULES)
def test_every_exported_name_exists(name: str) -> None:
    module = importlib.import_module(name)
    assert all(hasattr(module, exported) for exported in module.__all__)
    assert list(module.__all__) == sorted(module.__all__, key=lambda n: (not n.isupper(), n))
