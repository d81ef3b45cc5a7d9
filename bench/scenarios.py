"""What the benchmark measures: one ``Scenario`` per Tessera endpoint, compared with ``Reference`` servers.

A scenario is a name, a ``prepare`` function building the request wrk repeats against a Tessera node
(fetching a token first if it needs one), a ``verify`` function proving the node really does the work
before it is loaded, and the names of the references it is compared with. Adding a scenario (refresh
grants, logins, AssumeRole, SigV4...) is one function pair and one entry in ``SCENARIOS``.

``prepare`` is called right before every run, so tokens are always fresh; ``verify`` once, before
the warm-up. Both return/raise; a failed verification stops the benchmark.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from dataclasses import dataclass

from harness import BenchError
from load import Load, basic, form, send_once
from targets import CLIENT_ID, PEER_CLIENT_ID, SCOPE, SECRET, Paths, Peers, TesseraNode

TESSERA_AUTH = basic(CLIENT_ID, SECRET)
PEER_AUTH = basic(PEER_CLIENT_ID, SECRET)
CC_BODY = form(grant_type="client_credentials", scope=SCOPE)


@dataclass(frozen=True)
class Scenario:
    name: str
    summary: str
    prepare: Callable[[TesseraNode], Load]
    verify: Callable[[Paths, TesseraNode], str]
    references: tuple[str, ...]
    audit_action: str  # the audit event every request of this scenario must leave in the store


@dataclass(frozen=True)
class Reference:
    """A peer run. ``prepare`` gets the scenario's Tessera request (the floor repeats it byte for byte)."""

    name: str
    server: str  # the Processes name of the server it loads
    summary: str
    prepare: Callable[[Peers, Load], Load]
    verify: Callable[[Paths, Peers, Load], str]


# --- helpers --------------------------------------------------------------------------------------
def fetch_token(url: str, authorization: str, body: str = CC_BODY) -> str:
    status, data = send_once(Load(url, body, authorization))
    if status != 200:
        raise BenchError(f"{url}: token request answered {status}: {data[:300]!r}")
    token = json.loads(data).get("access_token")
    if not isinstance(token, str):
        raise BenchError(f"{url}: no access_token in {data[:300]!r}")
    return token


def verify_jwt_grant(paths: Paths, token_url: str, client_id: str, jwks_url: str) -> str:
    """The kit's ``verify_token.py``: 200, a Bearer token, JWT signature checked against the JWKS."""
    argv = [str(paths.floor_python), str(paths.kit / "verify_token.py"), token_url, client_id, SECRET, SCOPE, jwks_url]
    out = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=60)
    if out.returncode != 0 or "JWT signature OK" not in out.stdout:
        raise BenchError(f"verify_token.py failed for {token_url}:\n{out.stdout}{out.stderr}")
    return out.stdout


def verify_introspection(load: Load, client_id: str) -> str:
    status, data = send_once(load)
    answer = json.loads(data) if status == 200 else {}
    if not answer.get("active") or answer.get("client_id", client_id) != client_id:
        raise BenchError(f"{load.url}: introspection answered {status}: {data[:300]!r}")
    return f"status {status} {data[:300].decode(errors='replace')}"


def introspect_body(token: str) -> str:
    return form(token=token, token_type_hint="access_token")


# --- Tessera scenarios ----------------------------------------------------------------------------
def client_credentials(node: TesseraNode) -> Load:
    return Load(node.token_url, CC_BODY, TESSERA_AUTH)


def verify_client_credentials(paths: Paths, node: TesseraNode) -> str:
    return verify_jwt_grant(paths, node.token_url, CLIENT_ID, node.jwks_url)


def introspection(node: TesseraNode) -> Load:
    token = fetch_token(node.token_url, TESSERA_AUTH)
    return Load(node.introspect_url, introspect_body(token), TESSERA_AUTH)


def verify_introspection_scenario(_paths: Paths, node: TesseraNode) -> str:
    return verify_introspection(introspection(node), CLIENT_ID)


SCENARIOS: tuple[Scenario, ...] = (
    Scenario(
        "client-credentials",
        "`POST /t/default/oauth2/token`, `grant_type=client_credentials&scope=api:read`, HTTP Basic; "
        "ES256 JWT access token (RFC 9068); audit events persisted",
        client_credentials,
        verify_client_credentials,
        ("floor-starlette", "node-es256-jwt"),
        "token.issue",
    ),
    Scenario(
        "introspection",
        "`POST /t/default/oauth2/introspect`, `token=<JWT access token>&token_type_hint=access_token`, "
        "HTTP Basic (RFC 7662); audit event persisted",
        introspection,
        verify_introspection_scenario,
        ("floor-starlette", "node-introspect"),
        "token.introspect",
    ),
)


# --- references -----------------------------------------------------------------------------------
def floor(peers: Peers, mirror: Load) -> Load:
    return Load(f"{peers.floor}/token", mirror.body, mirror.authorization)


def verify_floor(_paths: Paths, peers: Peers, mirror: Load) -> str:
    status, data = send_once(floor(peers, mirror))
    if status != 200:
        raise BenchError(f"floor answered {status}")
    return f"status {status} {data[:100].decode(errors='replace')}"


def node_jwt(peers: Peers, _mirror: Load) -> Load:
    return Load(f"{peers.node_jwt}/token", CC_BODY, PEER_AUTH)


def verify_node_jwt(paths: Paths, peers: Peers, _mirror: Load) -> str:
    return verify_jwt_grant(paths, f"{peers.node_jwt}/token", PEER_CLIENT_ID, f"{peers.node_jwt}/jwks")


def node_introspect(peers: Peers, _mirror: Load) -> Load:
    """A fresh opaque token right before the run: the provider's memory adapter is an LRU."""
    token = fetch_token(f"{peers.node_opaque}/token", PEER_AUTH)
    return Load(f"{peers.node_opaque}/token/introspection", introspect_body(token), PEER_AUTH)


def verify_node_introspect(_paths: Paths, peers: Peers, mirror: Load) -> str:
    return verify_introspection(node_introspect(peers, mirror), PEER_CLIENT_ID)


REFERENCES: dict[str, Reference] = {
    ref.name: ref
    for ref in (
        Reference(
            "floor-starlette",
            "floor-starlette",
            "the kit's minimal Starlette app (`request.form()`, constant JSON) on uvicorn, sent the very same "
            "request (body and Authorization header) as Tessera",
            floor,
            verify_floor,
        ),
        Reference(
            "node-es256-jwt",
            "node-jwt",
            "node-oidc-provider 9 (`NODE_ENV=production`, in-memory adapter), client credentials, ES256 JWT "
            "access token",
            node_jwt,
            verify_node_jwt,
        ),
        Reference(
            "node-introspect",
            "node-opaque",
            "node-oidc-provider introspection (`/token/introspection`) of an opaque access token (it refuses to "
            "introspect its JWT access tokens)",
            node_introspect,
            verify_node_introspect,
        ),
    )
}


def by_name(names: list[str] | None) -> tuple[Scenario, ...]:
    if not names:
        return SCENARIOS
    known = {s.name: s for s in SCENARIOS}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise BenchError(f"unknown scenario(s) {unknown}; known: {sorted(known)}")
    return tuple(known[n] for n in names)
