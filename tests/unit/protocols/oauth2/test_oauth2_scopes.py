"""Scopes (RFC 6749 §3.3), resource indicators (RFC 8707 §2) and ``<resource>/.default``."""

from __future__ import annotations

import pytest

from tessera.domain.clients import Client
from tessera.protocols.oauth2.errors import InvalidScope, InvalidTarget
from tessera.protocols.oauth2.scopes import (
    DEFAULT_SUFFIX,
    ScopeGrant,
    parse_scope,
    resolve_audiences,
    resolve_scope_grant,
)
from tessera.settings import ClientConfig

pytestmark = pytest.mark.unit

ISSUER = "https://sts.example/t/acme"
API = "https://api.example"
OTHER_API = "urn:example:billing"


def _client(
    scopes: list[str] | None = None, audiences: list[str] | None = None, default_scopes: list[str] | None = None
) -> Client:
    config = ClientConfig(
        client_id="svc",
        scopes=["read", "write", "admin"] if scopes is None else scopes,
        audiences=[API, OTHER_API] if audiences is None else audiences,
        default_scopes=default_scopes,
    )
    return Client("acme", config)


# The scope-token grammar --------------------------------------------------------------------------
def test_parse_scope() -> None:
    assert parse_scope(None) == ()
    assert parse_scope("") == ()
    assert parse_scope("read") == ("read",)
    assert parse_scope("read write") == ("read", "write")


def test_extra_spaces_are_tolerated() -> None:
    assert parse_scope("  read   write ") == ("read", "write")


def test_duplicates_are_dropped_keeping_the_order() -> None:
    assert parse_scope("write read write read") == ("write", "read")


@pytest.mark.parametrize(
    "token", ["!", "#", "[", "]", "~", "a:b", "https://api.example/read", "x.y/z", "%41", "'", "api://x/.default"]
)
def test_every_nqchar_but_quote_and_backslash_is_allowed(token: str) -> None:
    assert parse_scope(f"read {token}") == ("read", token)


@pytest.mark.parametrize(
    "scope",
    [
        'read "write"',
        "read\\write",
        "read\twrite",
        "read\nwrite",
        "read\n",  # '$' in a regex also matches before a final newline
        "read\r",
        "lés",
        "read\x00",
        "read\x7f",
        "read\u00a0write",
    ],
)
def test_characters_outside_the_grammar_are_invalid_scope(scope: str) -> None:
    with pytest.raises(InvalidScope) as caught:
        parse_scope(scope)
    assert caught.value.code == "invalid_scope"


# Granting scopes ----------------------------------------------------------------------------------
def test_requested_scopes_are_granted() -> None:
    grant = resolve_scope_grant("write read", [], _client(), ISSUER)
    assert grant == ScopeGrant(scopes=("write", "read"), audiences=(API,))


def test_a_scope_the_client_may_not_have_is_invalid_scope() -> None:
    with pytest.raises(InvalidScope, match="not allowed"):
        resolve_scope_grant("read delete", [], _client(), ISSUER)


def test_no_scope_grants_the_default_scopes() -> None:
    assert resolve_scope_grant(None, [], _client(default_scopes=["read"]), ISSUER).scopes == ("read",)


def test_no_scope_and_no_default_scopes_grants_every_scope() -> None:
    assert resolve_scope_grant(None, [], _client(), ISSUER).scopes == ("read", "write", "admin")


def test_empty_default_scopes_grant_nothing() -> None:
    assert resolve_scope_grant(None, [], _client(default_scopes=[]), ISSUER).scopes == ()


def test_client_without_scopes_may_ask_for_none() -> None:
    client = _client(scopes=[])
    assert resolve_scope_grant(None, [], client, ISSUER).scopes == ()
    with pytest.raises(InvalidScope):
        resolve_scope_grant("read", [], client, ISSUER)


# <resource>/.default ------------------------------------------------------------------------------
def test_dot_default_alone_grants_every_scope_for_that_resource() -> None:
    grant = resolve_scope_grant(f"{OTHER_API}{DEFAULT_SUFFIX}", [], _client(), ISSUER)
    assert grant == ScopeGrant(scopes=("read", "write", "admin"), audiences=(OTHER_API,))


def test_dot_default_with_the_same_resource_parameter() -> None:
    grant = resolve_scope_grant(f"{API}/.default", [API], _client(), ISSUER)
    assert grant.audiences == (API,)


def test_dot_default_adds_to_the_resource_parameters() -> None:
    grant = resolve_scope_grant(f"{OTHER_API}/.default", [API], _client(), ISSUER)
    assert grant.audiences == (API, OTHER_API)


@pytest.mark.parametrize(
    "scope", [f"{API}/.default read", f"read {API}/.default", f"{API}/.default {OTHER_API}/.default"]
)
def test_dot_default_mixed_with_other_scopes_is_invalid_scope(scope: str) -> None:
    with pytest.raises(InvalidScope, match="cannot be combined"):
        resolve_scope_grant(scope, [], _client(), ISSUER)


def test_dot_default_of_a_resource_the_client_may_not_use_is_invalid_target() -> None:
    with pytest.raises(InvalidTarget):
        resolve_scope_grant("https://elsewhere.example/.default", [], _client(), ISSUER)


def test_dot_default_without_a_resource_is_invalid_target() -> None:
    with pytest.raises(InvalidTarget):
        resolve_scope_grant("/.default", [], _client(), ISSUER)


def test_a_repeated_dot_default_counts_once() -> None:
    grant = resolve_scope_grant(f"{API}/.default {API}/.default", [], _client(), ISSUER)
    assert grant.audiences == (API,)


# Resources and audiences --------------------------------------------------------------------------
def test_resources_become_the_audiences_in_order_without_repeats() -> None:
    assert resolve_audiences([OTHER_API, API, OTHER_API], _client(), ISSUER) == (OTHER_API, API)


def test_no_resource_gives_the_clients_first_audience() -> None:
    assert resolve_audiences([], _client(), ISSUER) == (API,)


def test_no_resource_and_no_client_audience_gives_the_default_audience() -> None:
    assert resolve_audiences([], _client(audiences=[]), "https://default.example") == ("https://default.example",)


@pytest.mark.parametrize(
    "resource",
    [
        "api",
        "/relative/path",
        "//host/path",
        "",
        "https://api.example#fragment",
        "https://api.example/#",
        "1https://api.example",
        "https:",
        "https://api example",
        f"{API}\n",
        f"{API} ",
    ],
)
def test_a_resource_must_be_an_absolute_uri_without_fragment(resource: str) -> None:
    with pytest.raises(InvalidTarget, match="absolute URI") as caught:
        resolve_audiences([resource], _client(), ISSUER)
    assert caught.value.code == "invalid_target"


@pytest.mark.parametrize("resource", ["https://elsewhere.example", f"{API}/", "HTTPS://api.example", "urn:example"])
def test_a_resource_the_client_may_not_use_is_invalid_target(resource: str) -> None:
    """Resources are compared exactly."""
    with pytest.raises(InvalidTarget, match="not allowed"):
        resolve_audiences([resource], _client(), ISSUER)


def test_one_bad_resource_fails_the_request() -> None:
    with pytest.raises(InvalidTarget):
        resolve_audiences([API, "https://elsewhere.example"], _client(), ISSUER)
