"""The two-command path: ``tessera init`` then ``tessera serve`` (a real process), then a token with curl."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, quote, urlsplit

import boto3
import jwt
import pytest
import requests
from cli_harness import Tessera, secret_of

from support.oidc import read_form

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


def test_the_demo_configuration_runs_the_seed_articles_examples(
    demo_secret: str, serve: tuple[int, Path], tessera: Tessera
) -> None:
    """``tessera init``'s file as written: the boto3 ``assume_role`` snippet and the Okta-style sign-in link."""
    port, log = serve
    base = f"http://127.0.0.1:{port}"
    created = tessera.ok("aws-key", "create", "--service-account", "ci").stdout
    key_id = re.search(r"aws_access_key_id=(\S+)", created).group(1)  # type: ignore[union-attr]
    key_secret = re.search(r"aws_secret_access_key=(\S+)", created).group(1)  # type: ignore[union-attr]
    sts_client = boto3.client(
        "sts",
        endpoint_url=base,
        region_name="us-east-1",
        aws_access_key_id=key_id,
        aws_secret_access_key=key_secret,
    )
    response = sts_client.assume_role(RoleArn="arn:aws:iam::123456789012:role/MyRole", RoleSessionName="MySession")
    credentials = response["Credentials"]
    assert credentials["AccessKeyId"].startswith("ASIA")
    assert timedelta(minutes=59) < credentials["Expiration"] - datetime.now(UTC) <= timedelta(hours=1)

    password = "a long demo passphrase"
    tessera.ok("user", "add", "alice", "--email", "alice@example.com", "--password-stdin", input=password + "\n")
    web_secret = secret_of(tessera.ok("client", "rotate-secret", "demo-web"))
    callback = "http://127.0.0.1:8080/callback"
    link = (
        f"{base}/oauth2/default/v1/authorize?client_id=demo-web&response_type=code&"
        f"scope={quote('openid profile email')}&redirect_uri={quote(callback, safe='')}"
    )
    browser = requests.Session()
    page = browser.get(link, timeout=10)  # redirects to the sign-in page on this server
    assert page.status_code == 200
    assert "Sign in" in page.text
    form = read_form(page.text)
    fields = {**form.fields, "username": "alice", "password": password, "action": "login"}
    back = browser.post(base + str(form.action), data=fields, allow_redirects=False, timeout=10)
    back = follow_local(browser, base, back)
    assert "Allow" in back.text  # demo-web is a third-party client: the consent screen, once
    consent = read_form(back.text)
    back = browser.post(
        base + str(consent.action), data={**consent.fields, "decision": "allow"}, allow_redirects=False, timeout=10
    )
    back = follow_local(browser, base, back)
    assert back.headers["location"].startswith(callback + "?")
    code = parse_qs(urlsplit(back.headers["location"]).query)["code"][0]
    tokens = requests.post(
        f"{base}/oauth2/default/v1/token",
        data={"grant_type": "authorization_code", "code": code, "redirect_uri": callback},
        auth=("demo-web", web_secret),
        timeout=10,
    ).json()
    issuer = f"{base}/t/default"
    signing_key = jwt.PyJWKClient(f"{issuer}/oauth2/jwks").get_signing_key_from_jwt(tokens["id_token"])
    claims = jwt.decode(tokens["id_token"], signing_key.key, algorithms=["ES256"], audience="demo-web", issuer=issuer)
    assert claims["email"] == "alice@example.com"
    assert key_secret not in log.read_text()


def follow_local(browser: requests.Session, base: str, response: requests.Response) -> requests.Response:
    """Follow Tessera's own redirects; stop at the application's."""
    while response.status_code in (302, 303) and response.headers["location"].startswith("/"):
        response = browser.get(base + response.headers["location"], allow_redirects=False, timeout=10)
    return response
