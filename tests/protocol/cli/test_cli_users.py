"""``tessera user|session|consent ...`` and users declared in the configuration, on each backend."""

from __future__ import annotations

import asyncio
import json

import pytest
from cli_harness import Tessera

from tessera.compose import open_services
from tessera.domain.audit import AuditNotes, AuditQuery
from tessera.domain.authn.password import ACR_PASSWORD, Authentication
from tessera.domain.consents import Consent

pytestmark = pytest.mark.protocol
GOOD = "a long and unusual passphrase\n"


def test_user_lifecycle(tessera: Tessera) -> None:
    tessera.init()
    created = tessera.ok(
        "user",
        "add",
        "alice",
        "--email",
        "alice@example.com",
        "--email-verified",
        "--name",
        "Alice",
        "--group",
        "staff",
        "--attribute",
        "dept=research",
        "--password-stdin",
        input=GOOD,
    )
    assert "user alice created" in created.stdout
    [row] = tessera.rows("users")
    assert row["password_hash"].startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    assert "passphrase" not in json.dumps(row, default=str)
    listed = tessera.ok("user", "list").stdout.split("\t")
    assert listed[0] == "alice"
    assert listed[2:4] == ["enabled", "cli"]
    view = json.loads(tessera.ok("user", "show", "ALICE").stdout)  # usernames are case-insensitive
    assert view["groups"] == ["staff"]
    assert view["attributes"] == {"dept": "research"}
    assert view["has_password"] is True
    assert "password_hash" not in view
    assert "at least 12" in tessera.fails("user", "passwd", "alice", "--password-stdin", input="short\n")
    assert "commonly used" in tessera.fails("user", "passwd", "alice", "--password-stdin", input="1qaz2wsx3edc\n")
    assert "username" in tessera.fails("user", "add", "bobbybobbybob", "--password-stdin", input="bobbybobbybob\n")
    tessera.ok("user", "passwd", "alice", "--password-stdin", input="another fine passphrase\n")
    assert "disabled" in tessera.ok("user", "disable", "alice").stdout
    assert tessera.ok("user", "list").stdout.split("\t")[2] == "disabled"
    tessera.ok("user", "enable", "alice")
    assert "already exists" in tessera.fails("user", "add", "Alice", "--no-password")
    tessera.ok("user", "delete", "alice", "--yes")
    assert tessera.rows("users") == []
    assert "no user" in tessera.fails("user", "show", "alice")
    actions = [e["action"] for e in tessera.rows("audit_events")]
    for action in ("user.create", "user.password_change", "user.update", "user.delete"):
        assert action in actions


def test_hash_password_for_the_configuration_then_apply(tessera: Tessera) -> None:
    tessera.init()
    digest = tessera.ok("user", "hash-password", "--password-stdin", input=GOOD).stdout.strip()
    assert digest.startswith("$argon2id$")
    text = tessera.config.read_text()
    text += (
        f'\n[[tenants.users]]\nusername = "carol"\nemail = "carol@example.com"\n'
        f'password_hash = "{digest}"\ngroups = ["ops"]\n'
    )
    tessera.config.write_text(text)
    applied = tessera.ok("apply")
    assert "+ user default/carol" in applied.output
    assert "no changes" in tessera.ok("apply", "--dry-run").output
    listed = tessera.ok("user", "list").stdout.split("\t")
    assert listed[0] == "carol"
    assert listed[3] == "config"
    tessera.config.write_text(text.replace('groups = ["ops"]', 'groups = ["ops", "dev"]'))
    assert "~ user default/carol (groups)" in tessera.ok("apply").output
    tessera.config.write_text(text.replace("[[tenants.users]]", "[[tenants.nothing]]").split("[[tenants.nothing]]")[0])
    assert "- user default/carol" in tessera.ok("apply").output
    assert tessera.rows("users") == []


def test_session_and_consent_commands(tessera: Tessera) -> None:
    tessera.init()
    tessera.ok("user", "add", "alice", "--password-stdin", input=GOOD)
    settings = tessera.settings()

    async def sign_in() -> str:
        services = await open_services(settings)
        try:
            user = await services.identity.users.get("default", "alice")
            notes = AuditNotes(services.audit, services.clock.now(), "default", "192.0.2.7", None)
            session, _cookie = await services.identity.sessions.start(
                "default", user.user_id, Authentication(("pwd",), ACR_PASSWORD, notes.now), notes
            )
            await services.store.consents.put(Consent("default", user.user_id, "printer", ("openid",), notes.now))
            await notes.flush()
            return session.session_id
        finally:
            await services.close()

    sid = asyncio.run(sign_in())
    [line] = tessera.ok("session", "list").stdout.splitlines()
    assert line.startswith(sid + "\talice\t")
    assert "192.0.2.7" in line
    assert tessera.ok("session", "list", "--user", "alice").stdout.startswith(sid)
    assert "1 session(s) revoked" in tessera.ok("session", "revoke", sid).stdout
    assert tessera.ok("session", "list").stdout == ""
    assert "no active session" in tessera.fails("session", "revoke", sid)
    assert tessera.ok("consent", "list").stdout.startswith("alice\tprinter\topenid\t")
    tessera.ok("consent", "revoke", "alice", "printer")
    assert "no consent" in tessera.fails("consent", "revoke", "alice", "printer")

    async def audit_actions() -> list[str]:
        services = await open_services(settings)
        try:
            return [e.action for _, e in await services.store.audit.search(AuditQuery(tenant_id="default", limit=1000))]
        finally:
            await services.close()

    actions = asyncio.run(audit_actions())
    assert "session.revoke" in actions
    assert "consent.revoke" in actions
