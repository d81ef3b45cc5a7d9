"""``tessera audit tail|search``: read the audit trail as JSON lines (fields as in ``docs/events.md``).

Reading the trail needs the store only, not the key-encryption key.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from datetime import UTC, datetime

import click

from tessera.cli.context import Context, pass_ctx
from tessera.cli.render import event_json
from tessera.domain.audit import AuditAction, AuditQuery, Result
from tessera.storage.sql.store import SqlStore

POLL_SECONDS = 1.0
_DURATION = re.compile(r"^(\d+)([smhd])$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


class TimeParam(click.ParamType):  # type: ignore[type-arg]
    """An ISO 8601 time (UTC unless it says otherwise) or a duration back from now: 30s, 15m, 2h, 7d."""

    name = "time"

    def convert(self, value: object, param: click.Parameter | None, ctx: click.Context | None) -> float:
        if isinstance(value, float):
            return value
        text = str(value).strip()
        duration = _DURATION.match(text)
        if duration:
            return time.time() - int(duration.group(1)) * _UNITS[duration.group(2)]
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError:
            self.fail(f"{text!r} is neither an ISO 8601 time nor a duration like 15m", param, ctx)
        return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).timestamp()


async def wait_for_more() -> None:
    """The pause between two looks at the trail in ``audit tail --follow``."""
    await asyncio.sleep(POLL_SECONDS)


@click.group()
def audit() -> None:
    """The audit trail."""


@audit.command("tail")
@click.option("-n", "count", default=20, show_default=True, type=click.IntRange(min=0), help="How many recent events.")
@click.option("--tenant", default=None, help="Only this tenant's events.")
@click.option("--follow", "-f", is_flag=True, help="Keep printing new events (Ctrl-C stops).")
@pass_ctx
def audit_tail(ctx: Context, count: int, tenant: str | None, follow: bool) -> None:
    """Print the most recent events, oldest first."""

    async def work(store: SqlStore) -> None:
        recent = await store.audit.search(AuditQuery(tenant_id=tenant, limit=max(count, 1)))
        for sequence, event in recent[len(recent) - count :] if count else []:
            click.echo(event_json(sequence, event))
        last = recent[-1][0] if recent else 0
        while follow:
            await wait_for_more()
            for sequence, event in await store.audit.search(
                AuditQuery(tenant_id=tenant, after_sequence=last, limit=1000)
            ):
                click.echo(event_json(sequence, event))
                last = sequence

    with contextlib.suppress(KeyboardInterrupt):
        ctx.run_on_store(work)


@audit.command("search")
@click.option("--tenant", default=None)
@click.option("--action", type=click.Choice([a.value for a in AuditAction]), default=None, help="What happened.")
@click.option("--result", type=click.Choice(["success", "failure"]), default=None)
@click.option("--client", "client_id", default=None, help="The client involved.")
@click.option("--token-id", default=None, help="The jti of a token.")
@click.option(
    "--since", type=TimeParam(), default=None, help="ISO 8601 time or a duration back from now (15m, 2h, 7d)."
)
@click.option("--until", type=TimeParam(), default=None, help="ISO 8601 time or a duration back from now.")
@click.option("--limit", default=100, show_default=True, type=click.IntRange(min=1), help="At most this many (newest).")
@pass_ctx
def audit_search(
    ctx: Context,
    tenant: str | None,
    action: str | None,
    result: Result | None,
    client_id: str | None,
    token_id: str | None,
    since: float | None,
    until: float | None,
    limit: int,
) -> None:
    """Find events; prints JSON lines, oldest first."""
    query = AuditQuery(
        tenant_id=tenant,
        action=action,
        result=result,
        client_id=client_id,
        token_id=token_id,
        since=since,
        until=until,
        limit=limit,
    )

    async def work(store: SqlStore) -> None:
        for sequence, event in await store.audit.search(query):
            click.echo(event_json(sequence, event))

    ctx.run_on_store(work)


__all__ = ["TimeParam", "audit"]
