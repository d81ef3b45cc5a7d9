"""Which scopes and audiences a client gets (RFC 6749 §3.3, RFC 8707 §2, Azure's ``<resource>/.default``)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from tessera.domain.clients import Client
from tessera.protocols.oauth2.errors import InvalidScope, InvalidTarget

_SCOPE_TOKEN = re.compile(r"^[\x21\x23-\x5b\x5d-\x7e]+$")
_ABSOLUTE_URI = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:[^#\s]+$")
DEFAULT_SUFFIX = "/.default"


@dataclass(frozen=True, slots=True)
class ScopeGrant:
    scopes: tuple[str, ...]
    audiences: tuple[str, ...]


def parse_scope(scope: str | None) -> tuple[str, ...]:
    """Split a space-delimited scope parameter; every token must be a valid scope-token."""
    if scope is None:
        return ()
    tokens = tuple(dict.fromkeys(t for t in scope.split(" ") if t))
    for token in tokens:
        if not _SCOPE_TOKEN.fullmatch(token):
            raise InvalidScope("the scope parameter is malformed")
    return tokens


def resolve_scope_grant(
    scope: str | None, resources: Sequence[str], client: Client, default_audience: str
) -> ScopeGrant:
    """Requested scopes must be the client's; requested resources must be its audiences."""
    requested = parse_scope(scope)
    resources = tuple(dict.fromkeys(resources))
    defaults = [t for t in requested if t.endswith(DEFAULT_SUFFIX)]
    if defaults:
        if len(requested) != 1:
            raise InvalidScope("a <resource>/.default scope cannot be combined with other scopes")
        resources = (*resources, defaults[0].removesuffix(DEFAULT_SUFFIX))
        granted = tuple(client.spec.scopes)
    elif requested:
        if not set(requested) <= set(client.spec.scopes):
            raise InvalidScope("the requested scope is not allowed for this client")
        granted = requested
    else:
        chosen = client.spec.default_scopes if client.spec.default_scopes is not None else client.spec.scopes
        granted = tuple(chosen)
    return ScopeGrant(granted, resolve_audiences(resources, client, default_audience))


def resolve_audiences(resources: Sequence[str], client: Client, default_audience: str) -> tuple[str, ...]:
    for resource in resources:
        if not _ABSOLUTE_URI.fullmatch(resource):
            raise InvalidTarget("resource must be an absolute URI without a fragment")
        if resource not in client.spec.audiences:
            raise InvalidTarget("the requested resource is not allowed for this client")
    if resources:
        return tuple(dict.fromkeys(resources))
    if client.spec.audiences:
        return (client.spec.audiences[0],)
    return (default_audience,)


__all__ = ["DEFAULT_SUFFIX", "ScopeGrant", "parse_scope", "resolve_audiences", "resolve_scope_grant"]
