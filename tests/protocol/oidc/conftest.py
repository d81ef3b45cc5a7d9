"""OIDC protocol tests: a live server per test on both backends; users and clients come through the services."""

from __future__ import annotations

import pytest

from support.live_server import LiveServer
from support.oidc import add_user


@pytest.fixture
def alice(live_server: LiveServer) -> LiveServer:
    """The live server with the user ``alice`` (password ``support.oidc.PASSWORD``)."""
    add_user(live_server, "alice", name="Alice Liddell", groups=("staff", "admins"))
    return live_server
