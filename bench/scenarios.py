"""What the benchmark measures: one ``Scenario`` per Tessera endpoint, compared with ``Reference`` servers.

A scenario is a name, a ``prepare`` function building the load of one run against a Tessera node
(fetching tokens, minting a pool of refresh tokens, signing a request... first), a ``verify``
function proving the node really does the work before it is loaded, the names of the references it
is compared with, and the audit events each answer must leave. Adding a scenario is one function
pair and one entry in ``SCENARIOS``.

``prepare`` is called right before every run (with its connection count), so tokens and signatures
are always fresh; ``verify`` once, before the warm-up. Both return/raise; a failed verification
stops the benchmark.
"""

from __future__ import annotations

import base64
import json
import subprocess
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass

import signin
import sigv4
from harness import BenchError
from load import REFRESH_PREFIX, Load, basic, form, send_once
from login_load import LOGIN_SCOPE
from targets import (
    CLIENT_ID,
    PASSWORD,
    PEER_CLIENT_ID,
    REDIRECT_URI,
    SCOPE,
    SECRET,
    USERNAME,
    WEB_CLIENT_ID,
    AwsKey,
    Paths,
    Peers,
    TesseraNode,
)

TESSERA_AUTH = basic(CLIENT_ID, SECRET)
WEB_AUTH = basic(WEB_CLIENT_ID, SECRET)
PEER_AUTH = basic(PEER_CLIENT_ID, SECRET)
CC_BODY = form(grant_type="client_credentials", scope=SCOPE)
POOL_PER_CONNECTION = 2  # refresh tokens per connection: the pool never runs dry while answers succeed


@dataclass(frozen=True)
class Scenario:
    name: str
    summary: str
    prepare: Callable[[TesseraNode, int], Load]  # (node, connections) -> the load of one run
    verify: Callable[[Paths, TesseraNode], str]
    references: tuple[str, ...]
    audit_actions: tuple[str, ...]  # the audit events every answer of this scenario must leave in the store
    conns: tuple[int, ...] | None = None  # connection counts; None: the run's (--conns)
    unit: str = "req/s"  # what one answer is, as a rate


@dataclass(frozen=True)
class Reference:
    """A peer run. ``prepare`` gets the scenario's Tessera request (the floor repeats it byte for byte)."""

    name: str
    server: str  # the Processes name of the server it loads
    summary: str
    prepare: Callable[[Peers, Load, int], Load]  # (peers, the scenario's Tessera load, connections)
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


def login_flow(node: TesseraNode, scope: str) -> signin.LoginFlow:
    return signin.LoginFlow(node.issuer, WEB_CLIENT_ID, REDIRECT_URI, scope, USERNAME, PASSWORD)


def aws_key(node: TesseraNode) -> AwsKey:
    if node.aws_key is None:
        raise BenchError(f"{node.name} has no AWS access key (provisioning did not run)")
    return node.aws_key


# --- Tessera scenarios ----------------------------------------------------------------------------
def client_credentials(node: TesseraNode, _conns: int) -> Load:
    return Load(node.token_url, CC_BODY, TESSERA_AUTH)


def verify_client_credentials(paths: Paths, node: TesseraNode) -> str:
    return verify_jwt_grant(paths, node.token_url, CLIENT_ID, node.jwks_url)


def introspection(node: TesseraNode, _conns: int) -> Load:
    token = fetch_token(node.token_url, TESSERA_AUTH)
    return Load(node.introspect_url, introspect_body(token), TESSERA_AUTH)


def verify_introspection_scenario(_paths: Paths, node: TesseraNode) -> str:
    return verify_introspection(introspection(node, 1), CLIENT_ID)


def refresh_load(scope: str) -> Callable[[TesseraNode, int], Load]:
    """A pool of fresh refresh tokens (``scope``), two per connection, minted by signing in over HTTP."""

    def prepare(node: TesseraNode, conns: int) -> Load:
        pool = signin.refresh_tokens(login_flow(node, scope), SECRET, POOL_PER_CONNECTION * conns)
        return Load(node.token_url, REFRESH_PREFIX + pool[0], WEB_AUTH, pool=tuple(pool))

    return prepare


def verify_refresh(scope: str) -> Callable[[Paths, TesseraNode], str]:
    """A refresh answers a new refresh token; the old one, presented again, is refused (rotation)."""

    def verify(_paths: Paths, node: TesseraNode) -> str:
        (token,) = signin.refresh_tokens(login_flow(node, scope), SECRET, 1)
        first = Load(node.token_url, REFRESH_PREFIX + token, WEB_AUTH)
        status, data = send_once(first)
        answer = json.loads(data) if status == 200 else {}
        if not answer.get("access_token") or answer.get("refresh_token") in (None, token):
            raise BenchError(f"{node.token_url}: refresh answered {status}: {data[:300]!r}")
        if ("id_token" in answer) != ("openid" in scope.split()):
            raise BenchError(f"{node.token_url}: refresh with scope {scope!r} answered keys {sorted(answer)}")
        again, body = send_once(first)
        if again != 400 or b"invalid_grant" not in body:
            raise BenchError(f"{node.token_url}: a reused refresh token answered {again}: {body[:200]!r}")
        return f"status 200 keys {sorted(answer)} scope {answer.get('scope')!r}; reused token: {again} invalid_grant"

    return verify


def login(node: TesseraNode, _conns: int) -> Load:
    """The login generator's flow; ``body`` is a login form of the real size (for the floor)."""
    flow = login_flow(node, LOGIN_SCOPE)
    sample = form(**flow.login_body("i" * 43, "c" * 43))
    return Load(f"{node.issuer}/login", sample, login=flow)


def verify_login(_paths: Paths, node: TesseraNode) -> str:
    code = signin.one_login(login_flow(node, LOGIN_SCOPE))
    return f"GET /authorize 303, GET /login 200, POST /login 303 to {REDIRECT_URI}?code=<{len(code)} characters>"


def assume_role(node: TesseraNode, _conns: int) -> Load:
    return sigv4.signed(node.sts_url, sigv4.ASSUME_ROLE_BODY, aws_key(node))


def verify_assume_role(_paths: Paths, node: TesseraNode) -> str:
    return sigv4.check_assume_role(assume_role(node, 1))


def caller_identity(node: TesseraNode, _conns: int) -> Load:
    """GetCallerIdentity signed with temporary credentials of a fresh AssumeRole (one hour)."""
    temporary = sigv4.assume_role(node.sts_url, aws_key(node))
    return sigv4.signed(node.sts_url, sigv4.CALLER_IDENTITY_BODY, temporary)


def verify_caller_identity(_paths: Paths, node: TesseraNode) -> str:
    return sigv4.check_caller_identity(caller_identity(node, 1))


REFRESH_SUMMARY = (
    "`POST /t/default/oauth2/token`, `grant_type=refresh_token&refresh_token=<from the pool>`, HTTP Basic, "
    "client `bench-web`; every answer rotates the token (a reused one revokes its family), so wrk runs "
    "`bench/lua/refresh_pool.lua`: two live tokens per connection, each answer's successor goes back in the "
    "pool. The pool is minted before each run by signing in over HTTP (one login, then `GET /authorize` "
    "with the session cookie and a code exchange per token)"
)
SCENARIOS: tuple[Scenario, ...] = (
    Scenario(
        "client-credentials",
        "`POST /t/default/oauth2/token`, `grant_type=client_credentials&scope=api:read`, HTTP Basic; "
        "ES256 JWT access token (RFC 9068); audit events persisted",
        client_credentials,
        verify_client_credentials,
        ("floor-starlette", "node-es256-jwt"),
        ("client.authenticate", "token.issue"),
    ),
    Scenario(
        "introspection",
        "`POST /t/default/oauth2/introspect`, `token=<JWT access token>&token_type_hint=access_token`, "
        "HTTP Basic (RFC 7662); audit event persisted",
        introspection,
        verify_introspection_scenario,
        ("floor-starlette", "node-introspect"),
        ("client.authenticate", "token.introspect"),
    ),
    Scenario(
        "refresh-token",
        REFRESH_SUMMARY + "; scope `offline_access`: one ES256 signature per grant (the access token), "
        "as client credentials",
        refresh_load("offline_access"),
        verify_refresh("offline_access"),
        ("floor-starlette", "node-refresh"),
        ("client.authenticate", "token.issue"),
    ),
    Scenario(
        "refresh-token-openid",
        "the same with scope `openid offline_access`: two signatures per grant (access token and ID token)",
        refresh_load("openid offline_access"),
        verify_refresh("openid offline_access"),
        ("floor-starlette",),
        ("client.authenticate", "token.issue"),
    ),
    Scenario(
        "login",
        "a full sign-in with the password checked (argon2id, the server's defaults m=19456 KiB t=2 p=1): "
        "`GET /t/default/oauth2/authorize` (303 to the sign-in page, sets `tessera_browser`), "
        "`GET /t/default/login?interaction=H` (the form), `POST /t/default/login` "
        "(`interaction`, `csrf_token`, `username`, `password`, `action=login`; 303 to the callback with a "
        "`code`, not followed), a fresh cookie jar per login; driven by `bench/login_load.py` (httpx, "
        "closed loop, one keep-alive connection per browser); the floor row is wrk sending a same-sized "
        "form POST, for context",
        login,
        verify_login,
        ("floor-starlette",),
        ("user.login", "session.create", "authorization"),
        conns=(4, 16),
        unit="logins/s",
    ),
    Scenario(
        "assume-role",
        "`POST /t/default/sts`, `Action=AssumeRole&RoleArn=arn:aws:iam::123456789012:role/MyRole"
        "&RoleSessionName=bench&Version=2011-06-15`, SigV4-signed by botocore with a long-term key "
        "(`tessera aws-key create --service-account bench`), signed right before each run (wrk repeats it: "
        "SigV4 allows that for 15 minutes); temporary credentials in STS XML",
        assume_role,
        verify_assume_role,
        ("floor-starlette",),
        ("sts.assume_role",),
    ),
    Scenario(
        "get-caller-identity",
        "SigV4 verification: `POST /t/default/sts`, `Action=GetCallerIdentity&Version=2011-06-15` signed with "
        "the temporary credentials of an AssumeRole (`DurationSeconds=3600`, `X-Amz-Security-Token` signed): "
        "the session token is opened (AES-256-GCM) and the signature checked",
        caller_identity,
        verify_caller_identity,
        ("floor-starlette",),
        ("sts.get_caller_identity",),
    ),
)


# --- references -----------------------------------------------------------------------------------
def floor(peers: Peers, mirror: Load, _conns: int = 1) -> Load:
    """The floor is sent the bytes Tessera gets (body and headers), as one constant request."""
    return mirror.repeated_at(f"{peers.floor}/token")


def verify_floor(_paths: Paths, peers: Peers, mirror: Load) -> str:
    status, data = send_once(floor(peers, mirror))
    if status != 200:
        raise BenchError(f"floor answered {status}")
    return f"status {status} {data[:100].decode(errors='replace')}"


def node_jwt(peers: Peers, _mirror: Load, _conns: int = 1) -> Load:
    return Load(f"{peers.node_jwt}/token", CC_BODY, PEER_AUTH)


def verify_node_jwt(paths: Paths, peers: Peers, _mirror: Load) -> str:
    return verify_jwt_grant(paths, f"{peers.node_jwt}/token", PEER_CLIENT_ID, f"{peers.node_jwt}/jwks")


def node_introspect(peers: Peers, _mirror: Load, _conns: int = 1) -> Load:
    """A fresh opaque token right before the run: the provider's memory adapter is an LRU."""
    token = fetch_token(f"{peers.node_opaque}/token", PEER_AUTH)
    return Load(f"{peers.node_opaque}/token/introspection", introspect_body(token), PEER_AUTH)


def verify_node_introspect(_paths: Paths, peers: Peers, mirror: Load) -> str:
    return verify_introspection(node_introspect(peers, mirror), PEER_CLIENT_ID)


def node_refresh(peers: Peers, _mirror: Load, conns: int = 1) -> Load:
    """A pool of fresh refresh tokens (two per connection) from the peer's bench-only mint route."""
    with urllib.request.urlopen(f"{peers.node_refresh}/bench/mint?n={POOL_PER_CONNECTION * conns}", timeout=30) as r:
        pool = json.loads(r.read())["refresh_tokens"]
    return Load(f"{peers.node_refresh}/token", REFRESH_PREFIX + pool[0], PEER_AUTH, pool=tuple(pool))


def verify_node_refresh(_paths: Paths, peers: Peers, mirror: Load) -> str:
    """As for Tessera: a new refresh token and an ES256 JWT access token; the old token then refused."""
    first = node_refresh(peers, mirror).repeated_at(f"{peers.node_refresh}/token")
    status, data = send_once(first)
    answer = json.loads(data) if status == 200 else {}
    header = str(answer.get("access_token", "")).split(".")[0]
    alg = json.loads(base64.urlsafe_b64decode(header + "=" * (-len(header) % 4))).get("alg") if header else None
    if alg != "ES256" or answer.get("refresh_token") in (None, first.body.removeprefix(REFRESH_PREFIX)):
        raise BenchError(f"node refresh answered {status}: {data[:300]!r}")
    again, body = send_once(first)
    if again != 400 or b"invalid_grant" not in body:
        raise BenchError(f"node: a reused refresh token answered {again}: {body[:200]!r}")
    return f"status 200 ES256 JWT scope {answer.get('scope')!r}, new refresh token; reused token: {again} invalid_grant"


REFERENCES: dict[str, Reference] = {
    ref.name: ref
    for ref in (
        Reference(
            "floor-starlette",
            "floor-starlette",
            "the kit's minimal Starlette app (`request.form()`, constant JSON) on uvicorn, sent the very same "
            "request (body and headers) as Tessera, as one constant request (a refresh request with one token "
            "of the pool; a login form POST of the real size)",
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
        Reference(
            "node-refresh",
            "node-refresh",
            "node-oidc-provider 9 (`bench/peers/node_refresh.mjs`: the kit's settings, `NODE_ENV=production`, "
            "in-memory adapter) with `rotateRefreshToken: true`; refresh grant of a token with scope "
            "`offline_access api:read` and resource `urn:bench:api`, answered with an ES256 JWT access token "
            "(one signature, as Tessera's) and the rotated refresh token; the pool is minted by a bench-only route "
            "of that script (grants created in memory) instead of sign-ins",
            node_refresh,
            verify_node_refresh,
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
