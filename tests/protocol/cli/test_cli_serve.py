"""The two-command path: ``tessera init`` then ``tessera serve`` (a real process), then a token with curl."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import jwt
import pytest
from cli_harness import Tessera

pytestmark = pytest.mark.protocol

TESSERA = Path(sys.executable).parent / "tessera"
NEW_CLIENT = '\n[[tenants.clients]]\nclient_id = "added"\nscopes = ["api:read"]\n'


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(process: subprocess.Popen[bytes], port: int, log: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert process.poll() is None, f"tessera serve exited with {process.returncode}: {log.read_text()}"
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise AssertionError(f"tessera serve did not listen on {port} within 30 s: {log.read_text()}")


@pytest.fixture
def serve(tessera: Tessera, demo_secret: str, tmp_path: Path) -> Iterator[tuple[int, Path]]:
    """After init, ``tessera serve --port <free port>`` in the background; stopped with SIGTERM afterwards."""
    port, log = free_port(), tmp_path / "serve.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [str(TESSERA), "serve", "--port", str(port)],
            cwd=tessera.home,
            env=dict(os.environ),
            stdout=sink,
            stderr=sink,
        )
    try:
        wait_for_port(process, port, log)
        yield port, log
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            # uvicorn shuts down gracefully, then re-raises the signal it caught
            assert process.wait(timeout=15) in (0, -signal.SIGTERM), log.read_text()
            assert "Application shutdown complete" in log.read_text()
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()


@pytest.fixture
def demo_secret(tessera: Tessera) -> str:
    secret = tessera.init()
    tessera.config.write_text(tessera.config.read_text() + NEW_CLIENT)  # created by serve, whose stderr is a log
    return secret


def test_init_then_serve_then_a_token_with_curl(demo_secret: str, serve: tuple[int, Path], tessera: Tessera) -> None:
    port, log = serve
    issuer = f"http://127.0.0.1:{port}/t/default"
    result = subprocess.run(
        ["curl", "-s", "-u", f"demo:{demo_secret}", "-d", "grant_type=client_credentials", f"{issuer}/oauth2/token"],
        capture_output=True,
        check=True,
        timeout=10,
    )
    token = json.loads(result.stdout)
    assert token["token_type"] == "Bearer"
    assert token["scope"] == "api:read"
    signing_key = jwt.PyJWKClient(f"{issuer}/oauth2/jwks").get_signing_key_from_jwt(token["access_token"])
    claims = jwt.decode(
        token["access_token"], signing_key.key, algorithms=["ES256"], audience="urn:tessera:demo-api", issuer=issuer
    )
    assert claims["client_id"] == "demo"

    output = log.read_text()
    assert f"serving on http://127.0.0.1:{port}" in output
    assert "+ client default/added" in output
    assert "new client default/added has a generated secret, not shown because stderr is not a terminal" in output
    assert "client_secret=" not in output
    assert demo_secret not in output
    assert token["access_token"] not in output
    issued = tessera.ok("audit", "search", "--action", "token.issue", "--client", "demo").stdout.splitlines()
    assert [json.loads(line)["result"] for line in issued] == ["success"]


def test_serve_on_the_granian_engine(demo_secret: str, tessera: Tessera, tmp_path: Path) -> None:
    """server.engine = granian: the same app in a granian worker, reading the same configuration."""
    port, log = free_port(), tmp_path / "granian.log"
    env = {**os.environ, "TESSERA_SERVER__ENGINE": "granian"}
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [str(TESSERA), "serve", "--port", str(port)], cwd=tessera.home, env=env, stdout=sink, stderr=sink
        )
    try:
        wait_for_port(process, port, log)
        issuer = f"http://127.0.0.1:{port}/t/default"
        result = subprocess.run(
            [
                "curl",
                "-s",
                "-u",
                f"demo:{demo_secret}",
                "-d",
                "grant_type=client_credentials",
                f"{issuer}/oauth2/token",
            ],
            capture_output=True,
            check=True,
            timeout=10,
        )
        token = json.loads(result.stdout)
        key = jwt.PyJWKClient(f"{issuer}/oauth2/jwks").get_signing_key_from_jwt(token["access_token"])
        assert jwt.decode(token["access_token"], key.key, algorithms=["ES256"], audience="urn:tessera:demo-api")
        assert demo_secret not in log.read_text()
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=15)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
    assert not subprocess.run(["pgrep", "-f", f"--port {port}"], capture_output=True).stdout, "a worker outlived serve"
