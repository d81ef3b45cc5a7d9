"""Fixtures shared by every test folder."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from support.backends import BACKENDS, PostgresUnavailable, postgres_schema, storage_overrides
from support.live_server import LiveServer, start_live_server
from tessera.clock import Clock
from tessera.logs import JsonFormatter
from tessera.settings import Settings

TEST_KEK = "dGVzc2VyYS10ZXN0LWtlay0zMi1ieXRlcy1sb25nISE="  # base64 of 32 bytes, tests only


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def storage_kwargs(backend: str, tmp_path: Path) -> Iterator[dict[str, Any]]:
    """Settings keyword arguments for the parametrised backend (a fresh schema on PostgreSQL)."""
    if backend == "sqlite":
        yield storage_overrides("sqlite", tmp_path, None)
        return
    try:
        with postgres_schema() as schema:
            yield storage_overrides("postgresql", tmp_path, schema)
    except PostgresUnavailable as exc:
        pytest.fail(str(exc), pytrace=False)


@pytest.fixture
def make_settings(storage_kwargs: dict[str, Any]) -> Callable[..., Settings]:
    def build(**overrides: Any) -> Settings:
        values: dict[str, Any] = {"keys": {"kek": TEST_KEK}, **storage_kwargs}
        for key, value in overrides.items():
            if isinstance(value, dict) and isinstance(values.get(key), dict):
                values[key] = {**values[key], **value}
            else:
                values[key] = value
        values.setdefault("server", {}).setdefault("access_log", True)
        return Settings(**values)

    return build


class LogWatch(logging.Handler):
    """Collects every log line (formatted as in production) so tests can check what was logged."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []
        self.setFormatter(JsonFormatter())

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@pytest.fixture
def log_watch() -> Iterator[LogWatch]:
    handler = LogWatch()
    root = logging.getLogger()
    previous = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        yield handler
    finally:
        root.removeHandler(handler)
        root.setLevel(previous)


@pytest.fixture
def start_server(
    make_settings: Callable[..., Settings], backend: str, log_watch: LogWatch
) -> Iterator[Callable[..., LiveServer]]:
    """Start live servers; on teardown stop them and fail if any handed-out secret reached a log line."""
    servers: list[LiveServer] = []

    def start(clock: Clock | None = None, **overrides: Any) -> LiveServer:
        server = start_live_server(make_settings(**overrides), backend, clock)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()
    leaked = [
        (secret[:12] + "...", line[:200])
        for server in servers
        for secret in server.watched
        for line in log_watch.lines
        if secret in line
    ]
    assert not leaked, f"a token or secret reached the logs: {leaked}"


@pytest.fixture
def live_server(start_server: Callable[..., LiveServer]) -> LiveServer:
    return start_server()
