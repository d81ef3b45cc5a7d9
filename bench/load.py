"""One closed-loop load run with wrk (exact non-2xx count), and the server CPU it cost.

A ``Load`` is one request wrk repeats through the peer kit's ``bench_post.lua``, or through one of
the scripts in ``bench/lua/``: ``post.lua`` when it needs more headers than ``Authorization`` (SigV4),
``refresh_pool.lua`` when no request may be repeated (rotating refresh tokens, from ``pool``).
"""

from __future__ import annotations

import base64
import os
import shlex
import subprocess
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import asdict, dataclass
from pathlib import Path

from harness import BenchError
from signin import LoginFlow

FORM = "application/x-www-form-urlencoded"
LUA = Path(__file__).resolve().parent / "lua"
POST_LUA = LUA / "post.lua"
REFRESH_LUA = LUA / "refresh_pool.lua"
REFRESH_PREFIX = "grant_type=refresh_token&refresh_token="


@dataclass(frozen=True)
class Load:
    """The request wrk sends: method, URL, body, Authorization and other headers.

    ``pool`` (refresh tokens) makes it a rotating refresh load: the body is ``REFRESH_PREFIX`` plus a
    token of the pool, never the same twice. ``login`` makes it a load of full logins, driven by
    ``login_load`` instead of wrk. Either way ``body`` is one request of the real size, which is what
    a reference repeating the load is sent.
    """

    url: str
    body: str
    authorization: str = ""
    method: str = "POST"
    content_type: str = FORM
    headers: tuple[tuple[str, str], ...] = ()
    pool: tuple[str, ...] = ()
    login: LoginFlow | None = None

    @property
    def script(self) -> Path | None:
        """The Lua script of this load; None: the kit's ``bench_post.lua``."""
        if self.pool:
            return REFRESH_LUA
        return POST_LUA if self.headers else None

    def repeated_at(self, url: str) -> Load:
        """The same bytes sent to ``url``, as one constant request (what a reference is sent)."""
        return Load(url, self.body, self.authorization, self.method, self.content_type, self.headers)


@dataclass(frozen=True)
class WrkResult:
    rps: float
    p50_ms: float
    p99_ms: float
    non2xx: int
    sockerr: int
    timeouts: int
    requests: int
    last_bad_status: int
    drained: int = 0  # answers after the window (the login generator lets them finish): CPU and audit only

    @property
    def answered(self) -> int:
        """Every answer the server gave during the run, late ones included."""
        return self.requests + self.drained

    @property
    def errors(self) -> int:
        return self.non2xx + self.sockerr + self.timeouts

    def as_dict(self) -> dict[str, float | int]:
        return asdict(self)


def basic(client_id: str, secret: str) -> str:
    """``Authorization: Basic`` value with RFC 6749 §2.3.1 form-encoding of id and secret."""
    pair = f"{urllib.parse.quote(client_id, safe='')}:{urllib.parse.quote(secret, safe='')}"
    return "Basic " + base64.b64encode(pair.encode()).decode()


def form(**fields: str) -> str:
    return urllib.parse.urlencode(fields)


def wrk_argv(lua: Path, load: Load, conns: int, seconds: float, cpu: int, timeout_s: int = 30) -> list[str]:
    """``lua`` is the kit's ``bench_post.lua``, used unless the load needs another script."""
    return [
        "taskset",
        "-c",
        str(cpu),
        "wrk",
        "-t1",
        f"-c{conns}",
        f"-d{seconds:g}s",
        "--timeout",
        f"{timeout_s}s",
        "-s",
        str(load.script or lua),
        load.url,
    ]


def wrk_env(load: Load, pool_file: str = "") -> dict[str, str]:
    env = {"AUTH_HEADER": load.authorization, "CONTENT_TYPE": load.content_type}
    if load.pool:
        return {**env, "POOL_FILE": pool_file, "THREADS": "1", "BODY_PREFIX": REFRESH_PREFIX}
    headers = "\n".join(f"{name}: {value}" for name, value in load.headers)
    return {**env, "BODY": load.body, "METHOD": load.method, "HEADERS": headers}


def describe(lua: Path, load: Load, conns: int, seconds: float, cpu: int) -> str:
    """The shell command equivalent to one run (for the report), long values shortened."""
    pool = f"<file of {len(load.pool)} refresh tokens, one a line>" if load.pool else ""
    shown = {k: _shorten(v) if k in ("BODY", "HEADERS", "AUTH_HEADER") else v for k, v in wrk_env(load, pool).items()}
    env = " ".join(f"{k}={shlex.quote(v)}" for k, v in shown.items() if v)
    return f"{env} {shlex.join(wrk_argv(lua, load, conns, seconds, cpu))}"


def _shorten(value: str, keep: int = 96) -> str:
    return value if len(value) <= keep else value[:keep] + "..."


def run_wrk(lua: Path, load: Load, conns: int, seconds: float, cpu: int) -> WrkResult:
    if not load.pool:
        return _wrk(lua, load, conns, seconds, cpu, "")
    if len(load.pool) < conns:
        raise BenchError(f"{load.url}: a pool of {len(load.pool)} refresh tokens cannot feed {conns} connections")
    with tempfile.NamedTemporaryFile("w", prefix="bench-pool-", suffix=".txt") as pool:
        pool.write("\n".join(load.pool) + "\n")
        pool.flush()
        return _wrk(lua, load, conns, seconds, cpu, pool.name)


def _wrk(lua: Path, load: Load, conns: int, seconds: float, cpu: int, pool_file: str) -> WrkResult:
    env = {**os.environ, **wrk_env(load, pool_file)}
    argv = wrk_argv(lua, load, conns, seconds, cpu)
    out = subprocess.run(argv, env=env, capture_output=True, text=True, check=False, timeout=seconds + 120)
    line = next((ln for ln in out.stdout.splitlines() if ln.startswith("rps=")), None)
    if out.returncode != 0 or line is None:
        raise BenchError(f"wrk failed ({out.returncode}): {out.stderr.strip() or out.stdout.strip()}")
    return parse_summary(line)


def parse_summary(line: str) -> WrkResult:
    """``rps=.. p50_ms=.. p99_ms=.. non2xx=.. sockerr=.. timeouts=.. requests=.. last_bad_status=..``"""
    values = dict(item.split("=", 1) for item in line.split())
    return WrkResult(
        rps=float(values["rps"]),
        p50_ms=float(values["p50_ms"]),
        p99_ms=float(values["p99_ms"]),
        non2xx=int(values["non2xx"]),
        sockerr=int(values["sockerr"]),
        timeouts=int(values["timeouts"]),
        requests=int(values["requests"]),
        last_bad_status=int(values["last_bad_status"]),
    )


def send_once(load: Load) -> tuple[int, bytes]:
    """Send the load's request once (verification, token fetch): (status, body)."""
    headers = {"Content-Type": load.content_type, **dict(load.headers)}
    if load.authorization:
        headers["Authorization"] = load.authorization
    request = urllib.request.Request(load.url, data=load.body.encode(), headers=headers, method=load.method)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return int(response.status), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()
    except (urllib.error.URLError, OSError) as exc:
        raise BenchError(f"{load.url}: {exc}") from exc
