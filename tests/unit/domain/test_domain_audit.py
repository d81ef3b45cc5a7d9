"""The audit trail: durable, group-committed recording, and the events a request notes."""

from __future__ import annotations

import asyncio
import dataclasses
import gc
from collections.abc import Sequence

import pytest

from tessera.domain.audit import (
    ACTION_DOCS,
    FIELD_DOCS,
    AuditAction,
    AuditEvent,
    AuditNotes,
    AuditTrail,
    AuditUnavailable,
)

pytestmark = pytest.mark.unit

T0 = 1_750_000_000.0


class MemorySink:
    """Accepts batches in memory; can be held (to build up a queue) and made to fail."""

    def __init__(self) -> None:
        self.batches: list[list[AuditEvent]] = []
        self.attempts = 0
        self.fail_next = 0
        self.gate: asyncio.Event | None = None  # the next append waits until it is set
        self.entered = asyncio.Event()

    def hold(self) -> asyncio.Event:
        """Make the next append (only that one) wait until the returned event is set."""
        self.gate = asyncio.Event()
        return self.gate

    async def append(self, events: Sequence[AuditEvent]) -> None:
        self.attempts += 1
        self.entered.set()
        gate, self.gate = self.gate, None
        if gate is not None:
            await gate.wait()
        if self.fail_next:
            self.fail_next -= 1
            raise RuntimeError("database is down")
        self.batches.append(list(events))

    @property
    def events(self) -> list[AuditEvent]:
        return [e for batch in self.batches for e in batch]


def _event(n: int, tenant: str = "acme") -> AuditEvent:
    return AuditEvent(action="token.issue", result="success", tenant_id=tenant, occurred_at=T0 + n, reason=str(n))


async def _settle() -> None:
    for _ in range(10):
        await asyncio.sleep(0)


@pytest.fixture
def sink() -> MemorySink:
    return MemorySink()


# Without a writer: direct appends -----------------------------------------------------------------
async def test_record_without_start_appends_directly(sink: MemorySink) -> None:
    trail = AuditTrail(sink)
    await trail.record(_event(1), _event(2))
    await trail.record(_event(3))
    assert [[e.reason for e in b] for b in sink.batches] == [["1", "2"], ["3"]]


async def test_record_nothing_does_not_touch_the_sink(sink: MemorySink) -> None:
    trail = AuditTrail(sink)
    await trail.record()
    await trail.start()
    await trail.record()
    await trail.stop()
    assert sink.attempts == 0


async def test_direct_append_failure_raises_audit_unavailable(sink: MemorySink) -> None:
    sink.fail_next = 1
    with pytest.raises(AuditUnavailable) as caught:
        await AuditTrail(sink).record(_event(1))
    assert isinstance(caught.value.__cause__, RuntimeError)


# Group commit -------------------------------------------------------------------------------------
async def test_record_returns_only_after_the_sink_accepted_the_batch(sink: MemorySink) -> None:
    trail = AuditTrail(sink)
    await trail.start()
    gate = sink.hold()
    task = asyncio.create_task(trail.record(_event(1)))
    await sink.entered.wait()
    await _settle()
    assert not task.done()
    assert sink.events == []
    gate.set()
    await task
    assert [e.reason for e in sink.events] == ["1"]
    await trail.stop()


async def test_concurrent_records_share_one_batch(sink: MemorySink) -> None:
    trail = AuditTrail(sink)
    await trail.start()
    await asyncio.gather(*(trail.record(_event(n)) for n in range(20)))
    assert sink.attempts == 1
    assert [e.reason for e in sink.events] == [str(n) for n in range(20)]
    await trail.stop()


async def test_events_arriving_during_a_write_form_the_next_batch(sink: MemorySink) -> None:
    trail = AuditTrail(sink)
    await trail.start()
    gate = sink.hold()
    first = asyncio.create_task(trail.record(_event(0)))
    await sink.entered.wait()  # batch [0] is being written
    rest = [asyncio.create_task(trail.record(_event(n))) for n in range(1, 10)]
    await _settle()
    assert not any(t.done() for t in [first, *rest])
    gate.set()
    await asyncio.gather(first, *rest)
    assert [[e.reason for e in b] for b in sink.batches] == [["0"], [str(n) for n in range(1, 10)]]
    await trail.stop()


async def test_batches_are_capped(sink: MemorySink) -> None:
    trail = AuditTrail(sink, max_batch=3)
    await trail.start()
    await asyncio.gather(*(trail.record(_event(n)) for n in range(7)))
    assert [len(b) for b in sink.batches] == [3, 3, 1]
    assert [e.reason for e in sink.events] == [str(n) for n in range(7)]
    await trail.stop()


async def test_one_record_of_several_events(sink: MemorySink) -> None:
    trail = AuditTrail(sink, max_batch=2)
    await trail.start()
    await trail.record(_event(1), _event(2), _event(3))
    assert [e.reason for e in sink.events] == ["1", "2", "3"]
    await trail.stop()


async def test_a_failed_batch_fails_every_waiter_and_the_next_batch_works(
    sink: MemorySink, caplog: pytest.LogCaptureFixture
) -> None:
    trail = AuditTrail(sink)
    await trail.start()
    sink.fail_next = 1
    results = await asyncio.gather(*(trail.record(_event(n)) for n in range(5)), return_exceptions=True)
    assert sink.attempts == 1
    assert all(isinstance(r, AuditUnavailable) for r in results)
    assert sink.events == []
    assert "audit store unavailable: RuntimeError" in caplog.text

    await asyncio.gather(*(trail.record(_event(n)) for n in range(5, 8)))
    assert [e.reason for e in sink.events] == ["5", "6", "7"]
    await trail.stop()


async def test_a_failure_reaches_a_record_of_several_events(sink: MemorySink, caplog: pytest.LogCaptureFixture) -> None:
    """A record's events travel together (even past max_batch); the failure is retrieved, never left dangling."""
    trail = AuditTrail(sink, max_batch=1)
    await trail.start()
    sink.fail_next = 1
    with pytest.raises(AuditUnavailable):
        await trail.record(_event(1), _event(2), _event(3))
    await trail.record(_event(4))
    assert [e.reason for e in sink.events] == ["4"]
    await trail.stop()
    gc.collect()  # an unretrieved exception is reported when its future is collected
    assert "exception was never retrieved" not in caplog.text


async def test_the_events_of_one_record_are_committed_in_one_batch(sink: MemorySink) -> None:
    trail = AuditTrail(sink, max_batch=2)
    await trail.start()
    await asyncio.gather(trail.record(_event(1), _event(2), _event(3)), trail.record(_event(4)))
    assert [len(batch) for batch in sink.batches] == [3, 1]
    await trail.stop()


async def test_failure_of_one_batch_leaves_other_batches_alone(sink: MemorySink) -> None:
    trail = AuditTrail(sink)
    await trail.start()
    gate = sink.hold()
    sink.fail_next = 1
    doomed = asyncio.create_task(trail.record(_event(0)))
    await sink.entered.wait()
    survivors = [asyncio.create_task(trail.record(_event(n))) for n in (1, 2)]
    await _settle()
    gate.set()
    with pytest.raises(AuditUnavailable):
        await doomed
    await asyncio.gather(*survivors)
    assert [e.reason for e in sink.events] == ["1", "2"]
    await trail.stop()


async def test_a_cancelled_waiter_does_not_break_the_batch(sink: MemorySink) -> None:
    trail = AuditTrail(sink)
    await trail.start()
    gate = sink.hold()
    first = asyncio.create_task(trail.record(_event(0)))
    await sink.entered.wait()
    cancelled = asyncio.create_task(trail.record(_event(1)))
    kept = asyncio.create_task(trail.record(_event(2)))
    await _settle()
    cancelled.cancel()
    gate.set()
    await asyncio.gather(first, kept)
    assert cancelled.cancelled()
    assert [e.reason for e in sink.events] == ["0", "1", "2"]  # written all the same
    await trail.stop()


# Stopping -----------------------------------------------------------------------------------------
async def test_stop_flushes_pending_events(sink: MemorySink) -> None:
    trail = AuditTrail(sink)
    await trail.start()
    gate = sink.hold()
    in_flight = asyncio.create_task(trail.record(_event(0)))
    await sink.entered.wait()
    pending = [asyncio.create_task(trail.record(_event(n))) for n in (1, 2)]
    await _settle()
    stopping = asyncio.create_task(trail.stop())
    await _settle()
    gate.set()
    await asyncio.wait_for(stopping, 1)
    await asyncio.wait_for(asyncio.gather(in_flight, *pending), 1)  # none of the waiters is left hanging
    assert sorted(str(e.reason) for e in sink.events) == ["0", "1", "2"]


async def test_stop_when_idle_and_twice(sink: MemorySink) -> None:
    trail = AuditTrail(sink)
    await trail.stop()  # never started
    await trail.start()
    await trail.record(_event(1))
    await trail.stop()
    await trail.stop()
    assert [e.reason for e in sink.events] == ["1"]


async def test_record_after_stop_appends_directly(sink: MemorySink) -> None:
    trail = AuditTrail(sink)
    await trail.start()
    await trail.stop()
    await trail.record(_event(1))
    assert [e.reason for e in sink.events] == ["1"]


async def test_restart_after_stop(sink: MemorySink) -> None:
    trail = AuditTrail(sink)
    await trail.start()
    await trail.stop()
    await trail.start()
    await asyncio.gather(*(trail.record(_event(n)) for n in range(3)))
    assert sink.attempts == 1
    await trail.stop()


async def test_start_twice_keeps_one_writer(sink: MemorySink) -> None:
    trail = AuditTrail(sink)
    await trail.start()
    await trail.start()
    await asyncio.gather(*(trail.record(_event(n)) for n in range(4)))
    assert sink.attempts == 1
    await trail.stop()


# Events and the notes of one request --------------------------------------------------------------
def test_event_ids_are_unique_32_hex() -> None:
    ids = {_event(0).event_id for _ in range(200)}
    assert len(ids) == 200
    assert all(len(i) == 32 and int(i, 16) >= 0 for i in ids)


def test_events_are_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        _event(0).result = "failure"  # type: ignore[misc]


def test_every_action_and_field_is_documented() -> None:
    assert set(ACTION_DOCS) == set(AuditAction)
    assert set(FIELD_DOCS) == {f.name for f in dataclasses.fields(AuditEvent)}
    assert all(doc.strip() for doc in [*ACTION_DOCS.values(), *FIELD_DOCS.values()])


def _notes(sink: MemorySink, source_ip: str | None = "192.0.2.7", request_id: str | None = "req-1") -> AuditNotes:
    return AuditNotes(AuditTrail(sink), T0, "acme", source_ip, request_id)


@pytest.mark.parametrize(
    ("actor", "client_id", "expected"),
    [
        (None, "svc", "client:svc"),
        (None, None, "anonymous"),
        (None, "", "anonymous"),
        ("cli:root", "svc", "cli:root"),
        ("config", None, "config"),
    ],
)
def test_actor_derivation(sink: MemorySink, actor: str | None, client_id: str | None, expected: str) -> None:
    notes = _notes(sink)
    notes.note(AuditAction.CLIENT_AUTHENTICATE, "success", actor=actor, client_id=client_id)
    (event,) = notes.events
    assert event.actor == expected
    assert event.client_id == client_id


def test_notes_carry_the_request_context(sink: MemorySink) -> None:
    notes = _notes(sink)
    notes.note(
        AuditAction.TOKEN_ISSUE,
        "failure",
        client_id="svc",
        reason="invalid_scope",
        token_id="jti-1",
        details={"grant_type": "client_credentials"},
    )
    (event,) = notes.events
    assert event.action == "token.issue"
    assert event.result == "failure"
    assert (event.tenant_id, event.occurred_at, event.source_ip, event.request_id) == ("acme", T0, "192.0.2.7", "req-1")
    assert (event.reason, event.token_id) == ("invalid_scope", "jti-1")
    assert event.details == {"grant_type": "client_credentials"}


def test_notes_without_source_or_request_id(sink: MemorySink) -> None:
    notes = _notes(sink, source_ip=None, request_id=None)
    notes.note(AuditAction.TOKEN_REVOKE, "success")
    (event,) = notes.events
    assert event.source_ip is None
    assert event.request_id is None
    assert event.details == {}
    assert event.reason is None


async def test_flush_writes_the_notes_once(sink: MemorySink) -> None:
    notes = _notes(sink)
    notes.note(AuditAction.CLIENT_AUTHENTICATE, "success", client_id="svc")
    notes.note(AuditAction.TOKEN_ISSUE, "success", client_id="svc", token_id="j")
    written = await notes.flush()
    assert [e.action for e in written] == ["client.authenticate", "token.issue"]
    assert sink.events == list(written)
    assert notes.events == ()
    assert await notes.flush() == ()
    assert sink.attempts == 1


async def test_flush_failure_raises(sink: MemorySink) -> None:
    notes = _notes(sink)
    notes.note(AuditAction.TOKEN_ISSUE, "success")
    sink.fail_next = 1
    with pytest.raises(AuditUnavailable):
        await notes.flush()


def test_events_property_is_a_snapshot(sink: MemorySink) -> None:
    notes = _notes(sink)
    notes.note(AuditAction.KEY_ROTATE, "success", actor="cli:root")
    snapshot = notes.events
    notes.note(AuditAction.KEY_DELETE, "success", actor="cli:root")
    assert len(snapshot) == 1
    assert len(notes.events) == 2
    assert notes.now == T0
