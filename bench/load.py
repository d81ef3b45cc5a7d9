"""One closed-loop load run with wrk, through the peer kit's ``bench_post.lua`` (exact non-2xx count)."""

from __future__ import annotations

import base64
import os
import shlex
import subprocess
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import asdict, dataclass
from pathlib import Path

from harness import BenchError

FORM = "application/x-www-form-urlencoded"


@dataclass(frozen=True)
class Load:
    """The one request wrk repeats: method, URL, body and Authorization header."""

    url: str
    body: str
    authorization: str = ""
    method: str = "POST"
    content_type: str = FORM


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
        str(lua),
        load.url,
    ]


def wrk_env(load: Load) -> dict[str, str]:
    return {
        "BODY": load.body,
        "AUTH_HEADER": load.authorization,
        "METHOD": load.method,
        "CONTENT_TYPE": load.content_type,
    }


def describe(lua: Path, load: Load, conns: int, seconds: float, cpu: int) -> str:
    """The shell command equivalent to one run (for the report), with the body and header shown."""
    env = " ".join(f"{k}={shlex.quote(_shorten(v) if k == 'BODY' else v)}" for k, v in wrk_env(load).items() if v)
    return f"{env} {shlex.join(wrk_argv(lua, load, conns, seconds, cpu))}"


def _shorten(value: str, keep: int = 48) -> str:
    return value if len(value) <= keep else value[:keep] + "..."


def run_wrk(lua: Path, load: Load, conns: int, seconds: float, cpu: int) -> WrkResult:
    env = {**os.environ, **wrk_env(load)}
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
    headers = {"Content-Type": load.content_type}
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
