"""The awssts package exports exactly its public names [httpx test_exported_members]."""

from __future__ import annotations

import importlib
import inspect

import pytest

import tessera.protocols.awssts as awssts

pytestmark = pytest.mark.unit

MODULES = [
    "errors",
    "policy_conditions",
    "policy_document",
    "policy_evaluation",
    "policy_matching",
    "policy_size",
    "session_token",
    "sigv4",
    "sigv4_authorization",
]


def test_all_is_exactly_the_public_names() -> None:
    public = {name for name in dir(awssts) if not name.startswith("_") and not inspect.ismodule(getattr(awssts, name))}
    assert set(awssts.__all__) == public
    assert len(awssts.__all__) == len(set(awssts.__all__))


def test_package_reexports_every_module_all() -> None:
    union: set[str] = set()
    for name in MODULES:
        module = importlib.import_module(f"tessera.protocols.awssts.{name}")
        names = set(module.__all__)
        assert not names & union, f"{name} repeats an exported name"
        union |= names
        for exported in names:
            assert getattr(awssts, exported) is getattr(module, exported)
    assert set(awssts.__all__) == union


def test_core_is_pure() -> None:
    for name in MODULES:
        source = inspect.getsource(importlib.import_module(f"tessera.protocols.awssts.{name}"))
        for forbidden in (
            "starlette",
            "sqlalchemy",
            "tessera.web",
            "tessera.storage",
            "tessera.cache",
            "redis",
        ):
            assert f"import {forbidden}" not in source
            assert f"from {forbidden}" not in source
