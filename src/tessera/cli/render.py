"""How the commands print what they found: times, clients, audit events, generated secrets."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import click

from tessera.domain.audit import AuditEvent
from tessera.domain.clients import Client
from tessera.domain.reconcile import GeneratedSecret


def when(epoch: float | None) -> str:
    """ISO 8601 UTC, to the second."""
    if epoch is None:
        return "-"
    return datetime.fromtimestamp(epoch, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def event_json(sequence: int, event: AuditEvent) -> str:
    """One JSON line, with the field names of ``docs/events.md`` (empty fields left out)."""
    data: dict[str, Any] = {
        "sequence": sequence,
        "event_id": event.event_id,
        "occurred_at": when(event.occurred_at),
        "tenant_id": event.tenant_id,
        "action": event.action,
        "result": event.result,
        "actor": event.actor,
        "client_id": event.client_id,
        "source_ip": event.source_ip,
        "reason": event.reason,
        "token_id": event.token_id,
        "request_id": event.request_id,
        "details": dict(event.details),
    }
    return json.dumps({k: v for k, v in data.items() if v not in (None, {})}, separators=(",", ":"))


def client_view(client: Client) -> dict[str, Any]:
    """A client as ``client show`` prints it: never the secret or its hash."""
    view: dict[str, Any] = {"tenant": client.tenant_id}
    view.update(client.spec.model_dump(mode="json", exclude={"secret_hash"}))
    view.update(
        has_secret=client.secret_hash is not None,
        managed_by="config" if client.managed else "cli",
        created_at=when(client.created_at),
        updated_at=when(client.updated_at),
    )
    return view


def client_row(client: Client) -> str:
    state = "disabled" if client.spec.disabled else "enabled"
    origin = "config" if client.managed else "cli"
    return "\t".join((client.client_id, client.spec.type, state, origin, ",".join(client.spec.grant_types)))


def echo_generated_secrets(secrets: Sequence[GeneratedSecret], *, reveal: bool = True) -> None:
    """Show each new secret once; with ``reveal=False`` (a server whose stderr is a log) only say how to get one."""
    for item in secrets:
        if reveal:
            click.echo(f"new client {item.tenant_id}/{item.client_id}: client_secret={item.secret.reveal()}")
            click.echo("  (shown once and stored only as a hash)", err=True)
        else:
            click.echo(
                f"new client {item.tenant_id}/{item.client_id} has a generated secret, not shown because stderr "
                f"is not a terminal: `tessera client rotate-secret {item.client_id} --tenant {item.tenant_id}`",
                err=True,
            )


def stderr_is_terminal() -> bool:
    return sys.stderr.isatty()


__all__ = ["client_row", "client_view", "echo_generated_secrets", "event_json", "stderr_is_terminal", "when"]
