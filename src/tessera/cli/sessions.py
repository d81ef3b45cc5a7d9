"""``tessera session ...`` and ``tessera consent ...``: who is signed in, and what they allowed.

Revoking a session ends it at once (the next request needs a sign-in), revokes its refresh tokens
without ``offline_access`` and POSTs a logout token to every client of the session that registered
a ``backchannel_logout_uri`` (the command waits for those deliveries).
"""

from __future__ import annotations

import click

from tessera.cli.context import Context, pass_ctx, tenant_option
from tessera.cli.render import when
from tessera.compose import Services
from tessera.domain.consents import Consent
from tessera.domain.sessions import SsoSession
from tessera.errors import NotFound


@click.group()
def session() -> None:
    """Single sign-on sessions."""


@session.command("list")
@tenant_option
@click.option("--user", "username", default=None, help="Only this user's sessions.")
@pass_ctx
def session_list(ctx: Context, tenant: str, username: str | None) -> None:
    """Active sessions: sid, username, signed in at, last used, expires, source address, clients."""

    async def work(services: Services) -> list[tuple[SsoSession, str, list[str]]]:
        identity = services.identity
        user_id = (await identity.users.get(tenant, username)).user_id if username else None
        rows = []
        for item in await identity.sessions.list(tenant, user_id):
            owner = await services.store.users.get(tenant, item.user_id)
            rows.append((item, owner.username if owner else item.user_id, await identity.sessions.clients_of(item)))
        return rows

    for item, owner, clients in ctx.run(work, changes_store=False):
        fields = (item.session_id, owner, when(item.auth_time), when(item.last_seen_at), when(item.expires_at))
        click.echo("\t".join((*fields, item.source_ip or "-", ",".join(clients) or "-")))


@session.command("revoke")
@click.argument("session_id", required=False)
@tenant_option
@click.option("--user", "username", default=None, help="Revoke every session of this user instead.")
@pass_ctx
def session_revoke(ctx: Context, session_id: str | None, tenant: str, username: str | None) -> None:
    """End a session (by sid) or all of a user's; their clients get back-channel logout tokens."""
    if (session_id is None) == (username is None):
        raise click.UsageError("give a SESSION_ID or --user, not both")

    async def work(services: Services) -> int:
        identity = services.identity
        identity.sessions.wait_for_listeners = True
        if username is not None:
            user = await identity.users.get(tenant, username)
            return await identity.sessions.end_all_for_user(tenant, user.user_id, "admin", ctx.actor)
        assert session_id is not None
        found = await identity.sessions.get(tenant, session_id)
        if found is None or found.ended_at is not None:
            raise NotFound(f"no active session {session_id!r} in tenant {tenant!r}")
        return int(await identity.sessions.end(found, "admin", ctx.actor))

    click.echo(f"{ctx.run(work)} session(s) revoked")


@click.group()
def consent() -> None:
    """Consents people gave to third-party clients."""


@consent.command("list")
@tenant_option
@click.option("--user", "username", default=None, help="Only this user's consents.")
@pass_ctx
def consent_list(ctx: Context, tenant: str, username: str | None) -> None:
    """Consents: username, client, scopes, granted at; tab-separated."""

    async def work(services: Services) -> list[tuple[Consent, str]]:
        user_id = (await services.identity.users.get(tenant, username)).user_id if username else None
        rows = []
        for item in await services.store.consents.list(tenant, user_id):
            owner = await services.store.users.get(tenant, item.user_id)
            rows.append((item, owner.username if owner else item.user_id))
        return rows

    for item, owner in ctx.run(work, changes_store=False):
        click.echo("\t".join((owner, item.client_id, " ".join(item.scopes), when(item.granted_at))))


@consent.command("revoke")
@click.argument("username")
@click.argument("client_id")
@tenant_option
@pass_ctx
def consent_revoke(ctx: Context, username: str, client_id: str, tenant: str) -> None:
    """Withdraw a user's consent to a client: the consent screen appears again next time."""
    from tessera.domain.audit import AuditAction, AuditNotes

    async def work(services: Services) -> bool:
        user = await services.identity.users.get(tenant, username)
        revoked = await services.store.consents.revoke(tenant, user.user_id, client_id)
        if revoked:
            notes = AuditNotes(services.audit, services.clock.now(), tenant, None, None)
            notes.note(AuditAction.CONSENT_REVOKE, "success", actor=ctx.actor, client_id=client_id,
                       details={"user_id": user.user_id})  # fmt: skip
            await notes.flush()
        return revoked

    if not ctx.run(work):
        raise NotFound(f"{username} has no consent for {client_id}")
    click.echo(f"consent of {username} to {client_id} revoked")


__all__ = ["consent", "session"]
