"""Exact versions of everything on the measured path, and the machine it ran on."""

from __future__ import annotations

import json
import platform
import subprocess
from pathlib import Path

from targets import Paths, Postgres

TESSERA_PACKAGES = (
    "tessera",
    "uvicorn",
    "uvloop",
    "httptools",
    "starlette",
    "python-multipart",
    "cryptography",
    "joserfc",
    "pydantic",
    "sqlalchemy",
    "aiosqlite",
    "asyncpg",
)
FLOOR_PACKAGES = ("uvicorn", "uvloop", "httptools", "starlette", "python-multipart")
NODE_PACKAGES = ("oidc-provider", "jose", "koa")

_PROBE = """
import importlib.metadata as m, json, platform, sqlite3, sys
out = {"python": platform.python_version(), "sqlite": sqlite3.sqlite_version}
for name in sys.argv[1:]:
    try:
        out[name] = m.version(name)
    except m.PackageNotFoundError:
        out[name] = "-"
try:
    from cryptography.hazmat.backends.openssl.backend import backend
    out["openssl"] = backend.openssl_version_text()
except ImportError:
    pass
print(json.dumps(out))
"""


def _run(argv: list[str]) -> str:
    try:
        out = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"unavailable ({exc})"
    return (out.stdout or out.stderr).strip()


def python_packages(python: Path, names: tuple[str, ...]) -> dict[str, str]:
    text = _run([str(python), "-c", _PROBE, *names])
    try:
        return dict(json.loads(text))
    except json.JSONDecodeError:
        return {"error": text[:200]}


def node_packages(modules: Path) -> dict[str, str]:
    out = {"node": _run(["node", "--version"]).lstrip("v")}
    for name in NODE_PACKAGES:
        try:
            out[name] = json.loads((modules / name / "package.json").read_text())["version"]
        except (OSError, ValueError, KeyError):
            out[name] = "-"
    return out


def wrk_version() -> str:
    """``wrk -v`` prints e.g. ``wrk debian/4.1.0-3+b2 [epoll] ...``; the package version is the exact one."""
    words = (_run(["wrk", "-v"]).splitlines() or ["?"])[0].split()
    build = words[1] if len(words) > 1 else "?"
    package = _run(["dpkg-query", "-W", "-f", "${Version}", "wrk"])
    return f"{build.removeprefix('debian/').split('-')[0]} (Debian package {package})"


def git_revision(repo: Path) -> str:
    head = _run(["git", "-C", str(repo), "rev-parse", "--short=12", "HEAD"])
    dirty = _run(["git", "-C", str(repo), "status", "--porcelain", "--untracked-files=no"])
    return head + (" (with uncommitted changes)" if dirty else "")


def collect(paths: Paths, pg: Postgres | None) -> dict[str, object]:
    return {
        "tessera_venv": python_packages(paths.venv_bin / "python", TESSERA_PACKAGES),
        "floor_venv": python_packages(paths.floor_python, FLOOR_PACKAGES),
        "node": node_packages(paths.perf_work / "node-oidc-provider" / "node_modules"),
        "wrk": wrk_version(),
        "postgresql": pg.version() if pg else "-",
        "git": git_revision(paths.repo),
    }


def machine() -> dict[str, str]:
    lscpu = dict((k.strip(), v.strip()) for k, _, v in (line.partition(":") for line in _run(["lscpu"]).splitlines()))
    mem_kib = next(
        (
            int(line.split()[1])
            for line in Path("/proc/meminfo").read_text().splitlines()
            if line.startswith("MemTotal")
        ),
        0,
    )
    return {
        "cpu_model": lscpu.get("Model name", "?"),
        "cpus": lscpu.get("CPU(s)", "?"),
        "hypervisor": lscpu.get("Hypervisor vendor", "none"),
        "memory_gib": f"{mem_kib / 1024 / 1024:.0f}",
        "kernel": platform.release(),
        "os": _os_name(),
    }


def _os_name() -> str:
    try:
        for line in Path("/etc/os-release").read_text().splitlines():
            if line.startswith("PRETTY_NAME="):
                return line.split("=", 1)[1].strip('"')
    except OSError:
        pass
    return platform.platform()
