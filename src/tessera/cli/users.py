"""``tessera user ...``: people who sign in. Passwords are prompted (hidden, twice) or read from stdin.

The password policy (minimum length, the common-password list) applies to every password set here.
A user declared in the configuration can be changed here too, but the next ``tessera apply`` (or
start) puts the declared attributes back.
"""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from tessera.cli.context import Context, pass_ctx, tenant_option
from tessera.cli.render import when
from tessera.compose import Services
from tessera.domain.audit import AuditNotes
from tessera.domain.authn.password import PasswordHasher, PasswordPolicy, WeakPassword
from tessera.domain.users import User, new_user_id
from tessera.errors import TesseraError
from tessera.secret import Secret

password_stdin_option = click.option(
    "--password-stdin", is_flag=True, help="Read the password from the first line of standard input."
)


class PasswordRejected(TesseraError):
    """The password does not meet the policy."""


def read_password(from_stdin: bool) -> Secret[str]:
    if from_stdin or not sys.stdin.isatty():
        return Secret(sys.stdin.readline().rstrip("\r\n"))
    return Secret(click.prompt("password", hide_input=True, confirmation_prompt=True, err=True))


def _notes(services: Services, tenant: str) -> AuditNotes:
    return AuditNotes(services.audit, services.clock.now(), tenant, None, None)


def _checked(policy: PasswordPolicy, password: Secret[str], username: str) -> None:
    try:
        policy.check(password, username=username)
    except WeakPassword as exc:
        raise PasswordRejected(str(exc)) from None


def user_view(user: User) -> dict[str, Any]:
    view = user.profile()
    view.update(
        tenant=user.tenant_id,
        managed_by="config" if user.managed else "cli",
        created_at=when(user.created_at),
        updated_at=when(user.updated_at),
    )
    return view


@click.group()
def user() -> None:
    """Users who sign in with a password."""


@user.command("add")
@click.argument("username")
@tenant_option
@click.option("--email", default=None, help="E-mail address.")
@click.option("--email-verified", is_flag=True, help="The address is known to be the user's.")
@click.option("--name", default="", help="Display name.")
@click.option("--group", "groups", multiple=True, help="A group (repeatable).")
@click.option("--attribute", "attributes", multiple=True, metavar="KEY=VALUE", help="A free-form claim (repeatable).")
@click.option("--no-password", is_flag=True, help="Create the user without a password (cannot sign in yet).")
@password_stdin_option
@pass_ctx
def user_add(
    ctx: Context,
    username: str,
    tenant: str,
    email: str | None,
    email_verified: bool,
    name: str,
    groups: tuple[str, ...],
    attributes: tuple[str, ...],
    no_password: bool,
    password_stdin: bool,
) -> None:
    """Create a user; the password is asked twice (hidden) unless --password-stdin."""
    from tessera.settings import UserConfig

    UserConfig(username=username)  # the same rules as the configuration
    extra = _attributes(attributes)
    password = None if no_password else read_password(password_stdin)
    login = ctx.settings.login
    if password is not None:
        _checked(PasswordPolicy(login.password_min_length, login.reject_common_passwords), password, username)
    new = User(tenant, new_user_id(), username, email, email_verified, name, tuple(groups), extra)

    async def work(services: Services) -> User:
        notes = _notes(services, tenant)
        created = await services.identity.users.create(new, notes, ctx.actor, password)
        await notes.flush()
        return created

    created = ctx.run(work)
    click.echo(f"user {created.username} created (id {created.user_id})")


def _attributes(pairs: tuple[str, ...]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"{pair!r} is not KEY=VALUE", param_hint="--attribute")
        values[key] = value
    return values


@user.command("passwd")
@click.argument("username")
@tenant_option
@password_stdin_option
@pass_ctx
def user_passwd(ctx: Context, username: str, tenant: str, password_stdin: bool) -> None:
    """Set a user's password (the policy applies)."""
    password = read_password(password_stdin)

    async def work(services: Services) -> User:
        notes = _notes(services, tenant)
        try:
            changed = await services.identity.users.set_password(tenant, username, password, notes, ctx.actor)
        except WeakPassword as exc:
            raise PasswordRejected(str(exc)) from None
        await notes.flush()
        return changed

    click.echo(f"password of {ctx.run(work).username} changed")


def _set_disabled(ctx: Context, username: str, tenant: str, disabled: bool) -> None:
    async def work(services: Services) -> User:
        services.identity.sessions.wait_for_listeners = True  # deliver back-channel logouts before exiting
        notes = _notes(services, tenant)
        changed = await services.identity.users.set_disabled(tenant, username, disabled, notes, ctx.actor)
        await notes.flush()
        return changed

    changed = ctx.run(work)
    click.echo(f"{changed.username} {'disabled (sessions ended, refresh tokens revoked)' if disabled else 'enabled'}")


@user.command("disable")
@click.argument("username")
@tenant_option
@pass_ctx
def user_disable(ctx: Context, username: str, tenant: str) -> None:
    """Refuse sign-in and refresh; end the user's sessions (clients hear it by back-channel logout)."""
    _set_disabled(ctx, username, tenant, True)


@user.command("enable")
@click.argument("username")
@tenant_option
@pass_ctx
def user_enable(ctx: Context, username: str, tenant: str) -> None:
    """Allow a disabled user to sign in again."""
    _set_disabled(ctx, username, tenant, False)


@user.command("delete")
@click.argument("username")
@tenant_option
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@pass_ctx
def user_delete(ctx: Context, username: str, tenant: str, yes: bool) -> None:
    """Delete a user with their sessions, consents and refresh tokens."""
    if not yes:
        click.confirm(f"delete user {username} of tenant {tenant}?", abort=True, err=True)

    async def work(services: Services) -> User:
        services.identity.sessions.wait_for_listeners = True
        notes = _notes(services, tenant)
        deleted = await services.identity.users.delete(tenant, username, notes, ctx.actor)
        await notes.flush()
        return deleted

    click.echo(f"{ctx.run(work).username} deleted")


@user.command("list")
@tenant_option
@pass_ctx
def user_list(ctx: Context, tenant: str) -> None:
    """List users: username, id, state, origin (config or cli), e-mail; tab-separated."""

    async def work(services: Services) -> list[User]:
        return await services.identity.users.list(tenant)

    for item in ctx.run(work, changes_store=False):
        state = "disabled" if item.disabled else "enabled"
        origin = "config" if item.managed else "cli"
        click.echo("\t".join((item.username, item.user_id, state, origin, item.email or "-")))


@user.command("show")
@click.argument("username")
@tenant_option
@pass_ctx
def user_show(ctx: Context, username: str, tenant: str) -> None:
    """Show one user as JSON (never the password hash)."""

    async def work(services: Services) -> User:
        return await services.identity.users.get(tenant, username)

    click.echo(json.dumps(user_view(ctx.run(work, changes_store=False)), indent=2))


@user.command("hash-password")
@password_stdin_option
@pass_ctx
def user_hash_password(ctx: Context, password_stdin: bool) -> None:
    """Print the argon2id hash of a password, for ``password_hash`` in the configuration."""
    password = read_password(password_stdin)
    login = ctx.settings.login
    _checked(PasswordPolicy(login.password_min_length, login.reject_common_passwords), password, "")
    hasher = PasswordHasher(login.argon2_memory_kib, login.argon2_time_cost, login.argon2_parallelism)
    click.echo(hasher.hash(password))


__all__ = ["user"]
