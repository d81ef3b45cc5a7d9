"""The servers under load: Tessera nodes (SQLite, PostgreSQL) and the peer kit's references.

Tessera runs exactly as an operator would run it (``tessera serve`` with a ``tessera.toml``), pinned
with ``taskset``; the references are started with the kit's own ``start.sh`` scripts.
"""

from __future__ import annotations

import json
import os
import secrets
import shlex
import shutil
import sqlite3
import subprocess
import time
from base64 import b64encode
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness import BenchError, Processes, Server, port_free, wait_http_ok, wait_port

CLIENT_ID = "bench"
PEER_CLIENT_ID = "demo"
SECRET = "s3cret-s3cret-s3cret-s3cret-s3cret"  # the kit's secret (34 characters): same request sizes everywhere
SCOPE = "api:read"
TENANT = "default"
WEB_CLIENT_ID = "bench-web"  # signs people in (authorization code + refresh); first party: no consent page
REDIRECT_URI = "http://127.0.0.1:9/callback"  # never followed: the code is read from the 303
USERNAME = "bench"
# One person per concurrent browser of the login benchmark: a person signs in once at a time (the
# per-account throttle counts attempts in flight), many people sign in at once from one address.
BROWSER_USERS = 64


def browser_username(index: int) -> str:
    return f"{USERNAME}-{index}"


PASSWORD = "bench-password-7f3a9c2e"  # a benchmark user on a scratch store
ACCOUNT_ID = "123456789012"
ROLE_NAME = "MyRole"
AWS_SERVICE_ACCOUNT = "bench"
TRUST_POLICY = (
    '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", '
    f'"Principal": {{"AWS": "arn:aws:iam::{ACCOUNT_ID}:root"}}, "Action": "sts:AssumeRole"}}]}}'
)


@dataclass(frozen=True)
class Paths:
    repo: Path
    kit: Path
    perf_work: Path
    work: Path  # scratch for this run: Tessera configs and data
    results: Path  # bench/results/<stamp>: raw results and logs

    @property
    def venv_bin(self) -> Path:
        return self.repo / ".venv" / "bin"

    @property
    def floor_python(self) -> Path:
        return self.perf_work / "venv-floor" / "bin" / "python"

    @property
    def lua(self) -> Path:
        return self.kit / "bench_post.lua"


@dataclass(frozen=True)
class Cpus:
    server: int = 0
    load: int = 1


# --- Tessera ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class AwsKey:
    """A long-term access key (``tessera aws-key create``), or temporary credentials with their token."""

    key_id: str
    secret: str
    session_token: str | None = None


@dataclass
class TesseraNode:
    """One Tessera node and the store it writes to."""

    backend: str  # "sqlite" | "postgresql"
    port: int
    home: Path
    storage_url: str | None = None  # None: SQLite in data_dir
    schema: str | None = None
    env: dict[str, str] = field(default_factory=dict)
    aws_key: AwsKey | None = None  # created once the store exists (provision)

    @property
    def name(self) -> str:
        return f"tessera-{self.backend}"

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def issuer(self) -> str:
        return f"{self.base}/t/{TENANT}"

    @property
    def token_url(self) -> str:
        return f"{self.issuer}/oauth2/token"

    @property
    def introspect_url(self) -> str:
        return f"{self.issuer}/oauth2/introspect"

    @property
    def jwks_url(self) -> str:
        return f"{self.issuer}/oauth2/jwks"

    @property
    def authorize_url(self) -> str:
        return f"{self.issuer}/oauth2/authorize"

    @property
    def sts_url(self) -> str:
        return f"{self.issuer}/sts"

    @property
    def health_url(self) -> str:
        return f"{self.base}/healthz"

    @property
    def config(self) -> Path:
        return self.home / "tessera.toml"

    @property
    def data_dir(self) -> Path:
        return self.home / "data"

    @property
    def sqlite_path(self) -> Path:
        return self.data_dir / "tessera.db"


def tessera_cli(paths: Paths, argv: list[str], stdin: str = "", env: dict[str, str] | None = None) -> str:
    """Run ``tessera <argv>``; its standard output."""
    out = subprocess.run(
        [str(paths.venv_bin / "tessera"), *argv],
        input=stdin,
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, **(env or {})},
        timeout=120,
    )
    if out.returncode != 0:
        raise BenchError(f"tessera {' '.join(argv)} failed: {out.stderr.strip() or out.stdout.strip()}")
    return out.stdout.strip()


def hash_secret(paths: Paths, secret: str) -> str:
    """``secret_hash`` for the configuration, from the CLI (``tessera client hash-secret``)."""
    return tessera_cli(paths, ["client", "hash-secret"], secret + "\n")


def hash_password(paths: Paths, password: str) -> str:
    """``password_hash`` for the configuration (``tessera user hash-password``: argon2id, the server's defaults)."""
    return tessera_cli(paths, ["user", "hash-password", "--password-stdin"], password + "\n")


def create_aws_key(paths: Paths, node: TesseraNode) -> AwsKey:
    """``tessera aws-key create --service-account bench`` on the node's store (prints id and secret once)."""
    env = {**node.env, "TESSERA_CONFIG": str(node.config)}
    text = tessera_cli(paths, ["aws-key", "create", "--service-account", AWS_SERVICE_ACCOUNT], env=env)
    values = dict(line.split("=", 1) for line in text.splitlines() if "=" in line)
    try:
        return AwsKey(values["aws_access_key_id"], values["aws_secret_access_key"])
    except KeyError:
        raise BenchError(f"tessera aws-key create printed no key: {text[:200]!r}") from None


def new_kek() -> str:
    return b64encode(secrets.token_bytes(32)).decode()


def write_config(node: TesseraNode, secret_hash: str, password_hash: str) -> None:
    """One tenant: the client-credentials client, a first-party web client, users, an AWS role."""
    node.data_dir.mkdir(parents=True, exist_ok=True)
    storage = ""
    if node.storage_url:
        storage = f'\n[storage]\nurl = "{node.storage_url}"\nschema_name = "{node.schema}"\n'
    users = "".join(
        f"[[tenants.users]]\nusername = \"{name}\"\npassword_hash = '{password_hash}'\n\n"
        for name in (USERNAME, *(browser_username(i) for i in range(BROWSER_USERS)))
    )
    node.config.write_text(
        f'data_dir = "{node.data_dir}"\n\n[server]\nhost = "127.0.0.1"\nport = {node.port}\naccess_log = false\n'
        f'{storage}\n[[tenants]]\nid = "{TENANT}"\naccount_id = "{ACCOUNT_ID}"\n\n'
        f'[[tenants.clients]]\nclient_id = "{CLIENT_ID}"\nsecret_hash = "{secret_hash}"\nscopes = ["{SCOPE}"]\n\n'
        f'[[tenants.clients]]\nclient_id = "{WEB_CLIENT_ID}"\nsecret_hash = "{secret_hash}"\n'
        f'grant_types = ["authorization_code", "refresh_token"]\nredirect_uris = ["{REDIRECT_URI}"]\n'
        f"first_party = true\n\n{users}"
        f"[[tenants.aws.roles]]\nname = \"{ROLE_NAME}\"\ntrust_policy = '{TRUST_POLICY}'\n"
    )


def serve_argv(paths: Paths, cpus: Cpus) -> list[str]:
    return ["taskset", "-c", str(cpus.server), str(paths.venv_bin / "tessera"), "serve"]


def serve_command(paths: Paths, cpus: Cpus, node: TesseraNode) -> str:
    argv = serve_argv(paths, cpus)
    argv[3] = str(Path(argv[3]).relative_to(paths.repo)) if Path(argv[3]).is_relative_to(paths.repo) else argv[3]
    return f"TESSERA_CONFIG={node.config} TESSERA_KEYS__KEK=<base64 of 32 random bytes> {shlex.join(argv)}"


def preflight(paths: Paths, cpus: Cpus, postgres: bool) -> None:
    """Fail early, with the fix, when a tool the benchmark needs is missing."""
    tools = {
        "wrk": "apt-get install wrk",
        "taskset": "apt-get install util-linux",
        "node": "install Node.js 20+",
        "npm": "install Node.js 20+",
    }
    if postgres:
        tools["psql"] = "apt-get install postgresql-client"
    missing = [f"{tool} ({fix})" for tool, fix in tools.items() if shutil.which(tool) is None]
    if not (paths.venv_bin / "tessera").exists():
        missing.append(f"{paths.venv_bin / 'tessera'} (make, or pip install -e . in .venv)")
    if not paths.lua.exists():
        missing.append(f"the peer kit at {paths.kit} (--kit or BENCH_KIT)")
    if cpus.server == cpus.load or max(cpus.server, cpus.load) >= (os.cpu_count() or 1):
        missing.append(f"two distinct CPU cores for the server ({cpus.server}) and the load ({cpus.load})")
    if missing:
        raise BenchError("missing: " + "; ".join(missing))


def start_tessera(procs: Processes, paths: Paths, cpus: Cpus, node: TesseraNode) -> tuple[Server, float]:
    """Start the node; returns the server and the seconds from spawn to the first 200 from /healthz."""
    if not port_free(node.port):
        raise BenchError(f"port {node.port} is already in use (another benchmark?)")
    env = {**os.environ, **node.env, "TESSERA_CONFIG": str(node.config)}
    log = paths.results / f"{node.name}.log"
    started = time.monotonic()
    server = procs.spawn(node.name, serve_argv(paths, cpus), env, log)
    ready = wait_http_ok(node.health_url, server)
    return server, ready - started


_PASSWORD_CHECK = """
import json, statistics, sys, time
from pathlib import Path
from tessera.domain.authn.password import PasswordHasher
from tessera.secret import Secret
from tessera.settings import load_settings

login = load_settings(Path(sys.argv[1])).login
hasher = PasswordHasher(login.argon2_memory_kib, login.argon2_time_cost, login.argon2_parallelism)
password = Secret(sys.argv[3])
stored = hasher.hash(password)
cpu, wall = [], []
for _ in range(int(sys.argv[2])):
    c, w = time.process_time(), time.perf_counter()
    assert hasher.verify(stored, password)
    cpu.append(1000 * (time.process_time() - c))
    wall.append(1000 * (time.perf_counter() - w))
print(json.dumps({"parameters": stored.split("$")[3], "checks": len(cpu), "cpu_ms": cpu, "wall_ms": wall,
                  "cpu_ms_median": statistics.median(cpu), "wall_ms_median": statistics.median(wall)}))
"""


def measure_password_check(paths: Paths, cpus: Cpus, node: TesseraNode, checks: int) -> dict[str, Any]:
    """``checks`` argon2id verifications alone (Tessera's ``PasswordHasher``, the node's parameters), timed
    in a process pinned to the server core: what one password check costs, without HTTP around it."""
    argv = ["taskset", "-c", str(cpus.server), str(paths.venv_bin / "python"), "-c", _PASSWORD_CHECK]
    out = subprocess.run(
        [*argv, str(node.config), str(checks), PASSWORD],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, **node.env},
        timeout=300,
    )
    if out.returncode != 0:
        raise BenchError(f"password check failed: {out.stderr.strip()[-500:]}")
    result: dict[str, Any] = json.loads(out.stdout)
    return result


def audit_counts(node: TesseraNode, pg: Postgres | None, after: int = 0) -> dict[str, int]:
    """Rows of the node's ``audit_events`` table (with ``sequence`` > ``after``), per action.

    Successes are counted under the action's name, other results as ``action (result)``.
    """
    sql = (
        "SELECT action || CASE WHEN result = 'success' THEN '' ELSE ' (' || result || ')' END, count(*) "
        "FROM {table} WHERE sequence > " + str(int(after)) + " GROUP BY 1 ORDER BY 1"
    )
    return {k: int(v) for k, v in _audit_query(node, pg, sql)}


def audit_mark(node: TesseraNode, pg: Postgres | None) -> int:
    """The highest audit ``sequence`` so far: the rows a run writes are the ones above it."""
    rows = _audit_query(node, pg, "SELECT 'max', coalesce(max(sequence), 0) FROM {table}")
    return int(rows[0][1]) if rows else 0


def _audit_query(node: TesseraNode, pg: Postgres | None, sql: str) -> list[tuple[str, str]]:
    if node.backend == "sqlite":
        conn = sqlite3.connect(f"file:{node.sqlite_path}?mode=ro", uri=True)
        try:
            return [(str(a), str(n)) for a, n in conn.execute(sql.format(table="audit_events"))]
        finally:
            conn.close()
    if pg is None or node.schema is None:
        raise BenchError("a PostgreSQL node needs its schema")
    lines = pg.query(sql.format(table=f"{node.schema}.audit_events")).splitlines()
    return [(a, n) for a, _, n in (line.rpartition("|") for line in lines if line)]


# --- PostgreSQL -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Postgres:
    """The database a PostgreSQL node uses; schemas are created and dropped with psql."""

    url: str  # postgresql+asyncpg://...

    @property
    def psql_url(self) -> str:
        return self.url.replace("postgresql+asyncpg://", "postgresql://", 1)

    def query(self, sql: str) -> str:
        if shutil.which("psql") is None:
            raise BenchError("psql not found (apt-get install postgresql-client)")
        out = subprocess.run(
            ["psql", "-X", "-q", "-tA", "-v", "ON_ERROR_STOP=1", self.psql_url, "-c", sql],
            capture_output=True,
            text=True,
            check=False,
            timeout=60,
        )
        if out.returncode != 0:
            raise BenchError(f"psql {sql!r} failed: {out.stderr.strip()}")
        return out.stdout.strip()

    def create_schema(self) -> str:
        schema = f"bench_{secrets.token_hex(4)}"
        self.query(f"CREATE SCHEMA {schema}")
        return schema

    def drop_schema(self, schema: str) -> None:
        self.query(f"DROP SCHEMA IF EXISTS {schema} CASCADE")

    def version(self) -> str:
        return self.query("SHOW server_version")


# --- the peer kit -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Peers:
    """Where the references listen."""

    floor_port: int
    node_jwt_port: int
    node_opaque_port: int
    node_refresh_port: int

    @property
    def floor(self) -> str:
        return f"http://127.0.0.1:{self.floor_port}"

    @property
    def node_jwt(self) -> str:
        return f"http://127.0.0.1:{self.node_jwt_port}"

    @property
    def node_opaque(self) -> str:
        return f"http://127.0.0.1:{self.node_opaque_port}"

    @property
    def node_refresh(self) -> str:
        return f"http://127.0.0.1:{self.node_refresh_port}"


def kit_env(paths: Paths, cpus: Cpus, **extra: str) -> dict[str, str]:
    return {**os.environ, "PERF_WORK": str(paths.perf_work), "SERVER_CPU": str(cpus.server), **extra}


def ensure_peers(paths: Paths, cpus: Cpus, log: list[str]) -> None:
    """Run the kit's setup scripts when their products are missing (fresh machine)."""
    needed = {
        "floors/setup.sh": paths.perf_work / "venv-floor" / "bin" / "uvicorn",
        "node-oidc-provider/setup.sh": paths.perf_work / "node-oidc-provider" / "node_modules" / "oidc-provider",
    }
    for script, product in needed.items():
        if product.exists():
            continue
        log.append(f"running {paths.kit / script} (missing {product})")
        out = subprocess.run([str(paths.kit / script)], env=kit_env(paths, cpus), check=False)
        if out.returncode != 0:
            raise BenchError(f"{script} failed ({out.returncode})")


def kit_command(paths: Paths, cpus: Cpus, argv: list[str], **extra: str) -> str:
    env = {"PERF_WORK": str(paths.perf_work), "SERVER_CPU": str(cpus.server), **extra}
    return " ".join(f"{k}={v}" for k, v in env.items()) + " " + shlex.join(argv)


def start_floor(procs: Processes, paths: Paths, cpus: Cpus, port: int) -> str:
    """The kit's Starlette floor on ``port``; returns the command that started it."""
    argv = [str(paths.kit / "floors/start.sh"), "starlette"]
    server = procs.adopt(
        "floor-starlette", argv, kit_env(paths, cpus, PORT=str(port)), paths.perf_work / f"floor-{port}.log"
    )
    wait_port(port, server)
    return kit_command(paths, cpus, argv, PORT=str(port))


def start_node(procs: Processes, paths: Paths, cpus: Cpus, port: int, at_format: str) -> str:
    """node-oidc-provider (ES256 key, ``at_format`` access tokens) on ``port``; returns its command."""
    extra = {"PORT": str(port), "ALG": "ES256", "AT_FORMAT": at_format}
    argv = [str(paths.kit / "node-oidc-provider/start.sh")]
    log = paths.perf_work / "node-oidc-provider" / f"server-{port}.log"
    server = procs.adopt(f"node-{at_format}", argv, kit_env(paths, cpus, **extra), log)
    wait_port(port, server)
    return kit_command(paths, cpus, argv, **extra)


NODE_REFRESH_SCRIPT = Path(__file__).resolve().parent / "peers" / "node_refresh.mjs"


def start_node_refresh(procs: Processes, paths: Paths, cpus: Cpus, port: int) -> str:
    """``bench/peers/node_refresh.mjs`` (node-oidc-provider with rotating refresh tokens) on ``port``.

    It is copied next to the kit's installed ``node_modules`` (as the kit's ``start.sh`` does with its
    ``server.mjs``) and started the same way: ``NODE_ENV=production``, pinned to the server core.
    """
    home = paths.perf_work / "node-oidc-provider"
    script = home / "bench-refresh.mjs"
    shutil.copyfile(NODE_REFRESH_SCRIPT, script)
    argv = ["taskset", "-c", str(cpus.server), "node", str(script)]
    env = {**os.environ, "NODE_ENV": "production", "PORT": str(port)}
    server = procs.spawn("node-refresh", argv, env, home / f"server-{port}.log")
    wait_port(port, server)
    return f"NODE_ENV=production PORT={port} {shlex.join(argv)}  # bench/peers/node_refresh.mjs, copied"


def check_ports_free(ports: list[int]) -> None:
    busy = [p for p in ports if not port_free(p)]
    if busy:
        raise BenchError(f"ports already in use: {busy} (another benchmark running? pick --base-port)")
