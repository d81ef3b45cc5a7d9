"""``tessera keys list|rotate`` and ``tessera audit tail|search`` on each backend."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from cli_harness import Tessera

from tessera.domain.audit import AuditEvent
from tessera.storage.sql.store import open_store

pytestmark = pytest.mark.protocol


def keys_by_state(tessera: Tessera) -> dict[str, list[str]]:
    states: dict[str, list[str]] = {}
    for line in tessera.ok("keys", "list").stdout.splitlines():
        kid, alg, state = line.split()[:3]
        states.setdefault(state, []).append(f"{kid}:{alg}")
    return states


def test_keys_list_and_rotate(tessera: Tessera) -> None:
    tessera.init()
    before = keys_by_state(tessera)
    assert sorted(before) == ["active", "next"]
    rotated = tessera.ok("keys", "rotate").stdout.splitlines()
    [active], [upcoming] = before["active"], before["next"]
    assert f"{active.split(':')[0]} is now retired" in rotated
    assert f"{upcoming.split(':')[0]} is now active" in rotated
    after = keys_by_state(tessera)
    assert after["retired"] == [active]
    assert after["active"] == [upcoming]
    assert len(after["next"]) == 1
    assert "published until" in tessera.ok("keys", "list").stdout
    tessera.ok("keys", "rotate", "--alg", "EdDSA")
    assert keys_by_state(tessera)["next"][0].endswith(":EdDSA")
    events = [json.loads(line) for line in tessera.ok("audit", "search", "--action", "key.rotate").stdout.splitlines()]
    assert len(events) == 4  # two rotations, each moving two keys
    assert all(e["actor"].startswith("cli:") for e in events)


def test_keys_of_an_unknown_tenant(tessera: Tessera) -> None:
    tessera.init()
    assert tessera.fails("keys", "list", "--tenant", "nope") == "no tenant 'nope'"
    assert tessera.fails("keys", "rotate", "--tenant", "nope") == "no tenant 'nope'"


def audit(tessera: Tessera, *args: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in tessera.ok("audit", *args).stdout.splitlines()]


def add_failure(tessera: Tessera, when: float) -> None:
    async def append() -> None:
        settings = tessera.settings()
        store = open_store(settings.database_url(), time.time, connect_args=settings.connect_args())
        try:
            event = AuditEvent(
                action="client.authenticate",
                result="failure",
                tenant_id="default",
                occurred_at=when,
                actor="anonymous",
                client_id="demo",
                source_ip="127.0.0.1",
                reason="bad_secret",
            )
            await store.audit.append([event])
        finally:
            await store.close()

    asyncio.run(append())


def test_audit_tail_prints_the_latest_events_as_json_lines(tessera: Tessera) -> None:
    tessera.init()
    tessera.ok("client", "create", "app")
    tessera.ok("client", "disable", "app")
    events = audit(tessera, "tail", "-n", "2")
    assert [(e["action"], e["client_id"]) for e in events] == [("client.create", "app"), ("client.update", "app")]
    assert events[0]["sequence"] < events[1]["sequence"]
    assert events[1]["actor"].startswith("cli:")
    assert set(events[1]) == {"sequence", "event_id", "occurred_at", "tenant_id", "action", "result", "actor"} | {
        "client_id",
        "details",
    }
    assert datetime.fromisoformat(events[1]["occurred_at"]) > datetime.now(UTC) - timedelta(minutes=5)
    assert len(audit(tessera, "tail")) == 9  # tenant, scopes, demo, demo-web, two keys, MyRole, app twice
    assert audit(tessera, "tail", "-n", "0") == []
    assert audit(tessera, "tail", "--tenant", "nope") == []


def test_audit_tail_follow_prints_new_events_until_interrupted(
    tessera: Tessera, monkeypatch: pytest.MonkeyPatch
) -> None:
    tessera.init()
    pauses = 0

    async def pause() -> None:
        nonlocal pauses
        pauses += 1
        if pauses == 1:
            await asyncio.to_thread(add_failure, tessera, time.time())
        else:
            raise KeyboardInterrupt

    monkeypatch.setattr("tessera.cli.audit.wait_for_more", pause)
    events = audit(tessera, "tail", "-n", "1", "--follow")
    assert [(e["action"], e["result"]) for e in events] == [
        ("role.create", "success"),
        ("client.authenticate", "failure"),
    ]


def test_audit_search_filters(tessera: Tessera) -> None:
    tessera.init()
    tessera.ok("client", "create", "app")
    add_failure(tessera, time.time() - 7200)
    creates = audit(tessera, "search", "--action", "client.create")
    assert [e["client_id"] for e in creates] == ["demo", "demo-web", "app"]
    assert [e["action"] for e in audit(tessera, "search", "--client", "app")] == ["client.create"]
    [failure] = audit(tessera, "search", "--result", "failure")
    assert (failure["reason"], failure["source_ip"], failure["actor"]) == ("bad_secret", "127.0.0.1", "anonymous")
    assert len(audit(tessera, "search", "--result", "success")) == 8
    assert failure not in audit(tessera, "search", "--since", "1h")
    assert failure in audit(tessera, "search", "--since", "3h")
    assert audit(tessera, "search", "--until", "1h") == [failure]
    an_hour_ago = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    assert audit(tessera, "search", "--until", an_hour_ago) == [failure]
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%S")
    assert audit(tessera, "search", "--since", tomorrow) == []
    assert audit(tessera, "search", "--tenant", "default", "--action", "client.create", "--limit", "1") == creates[-1:]


def test_audit_search_refuses_what_it_cannot_filter_by(tessera: Tessera) -> None:
    tessera.init()
    assert "neither an ISO 8601 time nor a duration" in tessera("audit", "search", "--since", "yesterday").stderr
    assert tessera("audit", "search", "--action", "client.explode").exit_code == 2
    assert tessera("audit", "search", "--result", "maybe").exit_code == 2


def test_reading_the_trail_needs_no_kek(tessera: Tessera) -> None:
    tessera.init()
    (tessera.home / ".tessera" / "kek").unlink()
    assert len(audit(tessera, "tail", "-n", "3")) == 3
    assert tessera.fails("client", "list").startswith("no key-encryption key")
