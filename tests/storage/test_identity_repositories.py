"""Every identity repository method on SQLite and PostgreSQL, each with a two-tenant isolation check."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import replace

import pytest

from tessera.domain.authn.throttle import FailureRecord
from tessera.domain.codes import AuthorizationCode, CodeBinding, Redemption
from tessera.domain.consents import Consent
from tessera.domain.interactions import Interaction
from tessera.domain.refresh_tokens import RefreshToken
from tessera.domain.sessions import SsoSession
from tessera.domain.users import User
from tessera.errors import Conflict
from tessera.storage.sql.store import SqlStore

pytestmark = pytest.mark.storage
NOW = time.time()


def user(tenant: str, username: str = "alice", user_id: str = "u1", **fields: object) -> User:
    return User(tenant_id=tenant, user_id=user_id, username=username, email=f"{username}@x", **fields)  # type: ignore[arg-type]


def session(tenant: str, session_id: str = "s1", user_id: str = "u1", **fields: object) -> SsoSession:
    values: dict[str, object] = {
        "tenant_id": tenant,
        "session_id": session_id,
        "user_id": user_id,
        "auth_time": NOW,
        "amr": ("pwd",),
        "acr": "1",
        "created_at": NOW,
        "last_seen_at": NOW,
        "expires_at": NOW + 3600,
    }
    values.update(fields)
    return SsoSession(**values)  # type: ignore[arg-type]


def code(tenant: str, **fields: object) -> AuthorizationCode:
    values: dict[str, object] = {
        "tenant_id": tenant,
        "client_id": "app",
        "redirect_uri": "https://app/cb",
        "scopes": ("openid",),
        "user_id": "u1",
        "subject": "u1",
        "session_id": "s1",
        "auth_time": NOW,
        "amr": ("pwd",),
        "acr": "1",
        "issued_at": NOW,
        "expires_at": NOW + 60,
        "code_challenge": "c" * 43,
        "code_challenge_method": "S256",
    }
    values.update(fields)
    return AuthorizationCode(**values)  # type: ignore[arg-type]


def refresh_token(tenant: str, family: str = "f1", **fields: object) -> RefreshToken:
    values: dict[str, object] = {
        "tenant_id": tenant,
        "family_id": family,
        "client_id": "app",
        "user_id": "u1",
        "subject": "u1",
        "session_id": "s1",
        "scopes": ("openid",),
        "auth_time": NOW,
        "amr": ("pwd",),
        "acr": "1",
        "offline": False,
        "issued_at": NOW,
        "expires_at": NOW + 3600,
        "access_token_id": "at-" + family,
        "access_token_expires_at": NOW + 900,
    }
    values.update(fields)
    return RefreshToken(**values)  # type: ignore[arg-type]


async def test_users(store: SqlStore) -> None:
    await store.users.create(user("alpha", groups=("g",), attributes={"dept": "x"}, password_hash="h1"))
    await store.users.create(user("beta"))  # same id and name in another tenant
    with pytest.raises(Conflict):
        await store.users.create(user("alpha", username="ALICE", user_id="u2"))  # case-insensitive
    found = await store.users.find("alpha", "Alice")
    assert found is not None
    assert found.groups == ("g",)
    assert found.attributes == {"dept": "x"}
    assert (await store.users.get("alpha", "u1")) == found
    assert await store.users.get("alpha", "nope") is None
    await store.users.update(replace(found, name="Alice L", disabled=True))
    beta = await store.users.get("beta", "u1")
    assert beta is not None
    assert beta.name == ""
    assert not beta.disabled
    assert await store.users.replace_password_hash("alpha", "u1", "h1", "h2") is True
    assert await store.users.replace_password_hash("alpha", "u1", "h1", "h3") is False  # someone changed it meanwhile
    assert await store.users.replace_password_hash("beta", "u1", "h2", "h3") is False
    assert [u.username for u in await store.users.list("alpha")] == ["alice"]
    assert await store.users.delete("alpha", "u1") is True
    assert await store.users.get("beta", "u1") is not None
    assert await store.users.delete("alpha", "u1") is False


async def test_sessions(store: SqlStore) -> None:
    await store.sessions.create(session("alpha"), "cookie-a")
    await store.sessions.create(session("beta"), "cookie-b")
    assert (await store.sessions.find_by_cookie("alpha", "cookie-a")) == session("alpha")
    assert await store.sessions.find_by_cookie("beta", "cookie-a") is None
    await store.sessions.touch("alpha", "s1", NOW + 10)
    got = await store.sessions.get("alpha", "s1")
    assert got is not None
    assert got.last_seen_at == NOW + 10
    beta = await store.sessions.get("beta", "s1")
    assert beta is not None
    assert beta.last_seen_at == NOW
    await store.sessions.update_authentication(replace(session("alpha"), auth_time=NOW + 20, last_seen_at=NOW + 20))
    assert (await store.sessions.get("alpha", "s1")).auth_time == NOW + 20  # type: ignore[union-attr]
    await store.sessions.add_client("alpha", "s1", "app")
    await store.sessions.add_client("alpha", "s1", "app")  # idempotent
    await store.sessions.add_client("alpha", "s1", "other")
    assert await store.sessions.clients("alpha", "s1") == ["app", "other"]
    assert await store.sessions.clients("beta", "s1") == []
    assert [s.session_id for s in await store.sessions.list("alpha", "u1")] == ["s1"]
    assert await store.sessions.end("alpha", "s1", NOW) is True
    assert await store.sessions.end("alpha", "s1", NOW) is False  # only one caller ends it
    assert await store.sessions.list("alpha") == []
    assert len(await store.sessions.list("beta")) == 1
    assert await store.sessions.purge_expired(NOW + 7200) == 2
    assert await store.sessions.clients("alpha", "s1") == []


async def test_interactions(store: SqlStore) -> None:
    def interaction(tenant: str) -> Interaction:
        return Interaction(tenant, "h1", "login", "app", {"client_id": "app", "scopes": ["openid"]}, "b", NOW, NOW + 60)

    await store.interactions.create(interaction("alpha"))
    await store.interactions.create(interaction("beta"))
    assert await store.interactions.get("alpha", "h1") == interaction("alpha")
    await store.interactions.update(replace(interaction("alpha"), kind="consent", user_id="u1", session_id="s1"))
    assert (await store.interactions.get("alpha", "h1")).kind == "consent"  # type: ignore[union-attr]
    assert (await store.interactions.get("beta", "h1")).kind == "login"  # type: ignore[union-attr]
    assert await store.interactions.consume("alpha", "h1") is True
    assert await store.interactions.consume("alpha", "h1") is False
    assert await store.interactions.get("beta", "h1") is not None
    assert await store.interactions.purge_expired(NOW + 120) == 1


async def test_consents(store: SqlStore) -> None:
    await store.consents.put(Consent("alpha", "u1", "app", ("openid",), NOW))
    await store.consents.put(Consent("alpha", "u1", "app", ("email", "openid"), NOW + 1))  # upsert
    await store.consents.put(Consent("beta", "u1", "app", ("openid",), NOW))
    got = await store.consents.get("alpha", "u1", "app")
    assert got is not None
    assert got.scopes == ("email", "openid")
    assert [c.tenant_id for c in await store.consents.list("alpha", "u1")] == ["alpha"]
    assert len(await store.consents.list("beta")) == 1
    assert await store.consents.revoke("alpha", "u1", "app") is True
    assert await store.consents.revoke("alpha", "u1", "app") is False
    assert await store.consents.get("beta", "u1", "app") is not None


async def test_codes_are_consumed_once_and_only_when_bound_right(store: SqlStore) -> None:
    await store.codes.create(code("alpha"), "hash")
    await store.codes.create(code("beta"), "hash")
    right = CodeBinding("app", "https://app/cb", "c" * 43)
    redemption = Redemption("jti", NOW + 900, "fam")
    for wrong in (
        replace(right, client_id="x"),
        replace(right, redirect_uri="https://app/cb2"),
        replace(right, code_challenge=None),
    ):
        assert await store.codes.consume("alpha", "hash", NOW, wrong, redemption) is None
    assert await store.codes.consume("alpha", "hash", NOW + 61, right, redemption) is None  # expired
    won = await store.codes.consume("alpha", "hash", NOW, right, redemption)
    assert won is not None
    assert won.access_token_id == "jti"
    assert won.family_id == "fam"
    assert await store.codes.consume("alpha", "hash", NOW, right, redemption) is None
    used = await store.codes.get("alpha", "hash")
    assert used is not None
    assert used.used_at == NOW
    fresh = await store.codes.get("beta", "hash")
    assert fresh is not None
    assert fresh.used_at is None
    assert await store.codes.purge_expired(NOW + 120) == 1  # beta's unused expired code; alpha's used one is kept a day
    assert await store.codes.purge_expired(NOW + 90_000) == 1


async def test_concurrent_code_consumption_has_one_winner(store: SqlStore) -> None:
    await store.codes.create(code("alpha"), "race")
    binding = CodeBinding("app", "https://app/cb", "c" * 43)
    results = await asyncio.gather(
        *(store.codes.consume("alpha", "race", NOW, binding, Redemption(f"j{i}", NOW, None)) for i in range(8))
    )
    assert sum(r is not None for r in results) == 1


async def test_refresh_token_rotation_and_revocation(store: SqlStore) -> None:
    await store.users.create(user("alpha"))
    await store.users.create(user("beta"))
    await store.sessions.create(session("alpha"), "cookie-a")
    await store.sessions.create(session("beta"), "cookie-b")
    await store.refresh_tokens.create(refresh_token("alpha"), "t1")
    await store.refresh_tokens.create(refresh_token("beta"), "t1")

    def successor(old: RefreshToken) -> tuple[RefreshToken, str]:
        return old.successor(NOW, 3600, "at-2", NOW + 900), "t2"

    assert await store.refresh_tokens.rotate("alpha", "t1", "other-client", NOW, successor) is None
    rotated = await store.refresh_tokens.rotate("alpha", "t1", "app", NOW, successor)
    assert rotated is not None
    assert rotated[1].access_token_id == "at-2"
    assert await store.refresh_tokens.rotate("alpha", "t1", "app", NOW, successor) is None  # already used
    old = await store.refresh_tokens.get("alpha", "t1")
    assert old is not None
    assert old.used_at == NOW
    beta = await store.refresh_tokens.get("beta", "t1")
    assert beta is not None
    assert beta.used_at is None
    revoked = await store.refresh_tokens.revoke_family("alpha", "f1", NOW)
    assert sorted(revoked) == [("at-2", NOW + 900), ("at-f1", NOW + 900)]
    assert await store.refresh_tokens.rotate("alpha", "t2", "app", NOW, lambda o: (o, "t3")) is None  # family revoked
    assert (
        await store.refresh_tokens.rotate("beta", "t1", "app", NOW, lambda o: (o.successor(NOW, 60, "x", NOW), "t9"))
        is not None
    )


async def test_refresh_tokens_of_disabled_users_and_ended_sessions(store: SqlStore) -> None:
    await store.users.create(user("alpha"))
    await store.users.create(user("beta", disabled=True))
    await store.refresh_tokens.create(refresh_token("beta"), "t1")
    assert await store.refresh_tokens.rotate("beta", "t1", "app", NOW, lambda o: (o, "t2")) is None  # disabled user
    await store.refresh_tokens.create(refresh_token("alpha", "online"), "on")
    await store.refresh_tokens.create(refresh_token("alpha", "offline", offline=True), "off")
    assert len(await store.refresh_tokens.revoke_session("alpha", "s1", NOW)) == 1
    assert (await store.refresh_tokens.get("alpha", "on")).revoked_at == NOW  # type: ignore[union-attr]
    assert (await store.refresh_tokens.get("alpha", "off")).revoked_at is None  # type: ignore[union-attr]
    assert len(await store.refresh_tokens.revoke_user("alpha", "u1", NOW)) == 2
    assert (await store.refresh_tokens.get("beta", "t1")).revoked_at is None  # type: ignore[union-attr]
    await store.refresh_tokens.create(refresh_token("alpha", "old", expires_at=NOW - 90_000), "old")
    assert await store.refresh_tokens.purge_expired(NOW) == 1


async def test_session_bound_refresh_tokens_rotate_only_while_their_session_is_active(store: SqlStore) -> None:
    """Tokens without offline_access end with the SSO session: ended, expired or idle (#17)."""
    await store.users.create(user("alpha"))
    await store.users.create(user("beta"))
    await store.sessions.create(session("alpha", "live", last_seen_at=NOW - 100), "c-live")
    await store.sessions.create(session("alpha", "idle", last_seen_at=NOW - 4000), "c-idle")
    await store.sessions.create(session("alpha", "expired", expires_at=NOW - 1), "c-expired")
    await store.sessions.create(session("alpha", "ended", ended_at=NOW - 5), "c-ended")
    await store.sessions.create(session("beta", "other"), "c-other")
    for sid in ("live", "idle", "expired", "ended", "missing", "other"):
        await store.refresh_tokens.create(refresh_token("alpha", f"on-{sid}", session_id=sid), f"on-{sid}")
        await store.refresh_tokens.create(
            refresh_token("alpha", f"off-{sid}", session_id=sid, offline=True), f"off-{sid}"
        )

    async def rotates(token_hash: str) -> bool:
        def successor(old: RefreshToken) -> tuple[RefreshToken, str]:
            return old.successor(NOW, 60, "at-" + token_hash, NOW + 60), token_hash + "-next"

        return await store.refresh_tokens.rotate("alpha", token_hash, "app", NOW, successor, 1800.0) is not None

    assert await rotates("on-live")
    for sid in ("idle", "expired", "ended", "missing", "other"):  # "other" is beta's session of the same id
        assert not await rotates(f"on-{sid}"), sid
        assert (await store.refresh_tokens.get("alpha", f"on-{sid}")).used_at is None  # type: ignore[union-attr]
    for sid in ("live", "idle", "expired", "ended", "missing", "other"):
        assert await rotates(f"off-{sid}"), sid


async def test_a_barrier_bars_its_family_once(store: SqlStore) -> None:
    """A reused code's family gets a revoked member, even before the family exists (#8)."""
    await store.users.create(user("alpha"))
    await store.users.create(user("beta"))
    await store.sessions.create(session("alpha"), "cookie-a")
    await store.sessions.create(session("beta"), "cookie-b")
    barrier = refresh_token("alpha", "fam", used_at=NOW, revoked_at=NOW)
    await store.refresh_tokens.bar_family(barrier, "barrier")
    await store.refresh_tokens.bar_family(barrier, "barrier")  # a second reuse: still one barrier
    await store.refresh_tokens.create(refresh_token("alpha", "fam"), "late")  # the racing exchange's token
    await store.refresh_tokens.create(refresh_token("beta", "fam"), "late")  # the same family id elsewhere

    def successor(old: RefreshToken) -> tuple[RefreshToken, str]:
        return old.successor(NOW, 60, "at-x", NOW + 60), "next"

    assert await store.refresh_tokens.rotate("alpha", "late", "app", NOW, successor) is None
    assert await store.refresh_tokens.rotate("beta", "late", "app", NOW, successor) is not None


async def test_subjects_and_tenant_secrets(store: SqlStore) -> None:
    await store.subjects.remember("alpha", "pairwise-sub", "u1")
    await store.subjects.remember("alpha", "pairwise-sub", "u1")
    assert await store.subjects.user_for("alpha", "pairwise-sub") == "u1"
    assert await store.subjects.user_for("beta", "pairwise-sub") is None
    first = await store.tenant_secrets.get_or_create("alpha", "salt", b"one")
    assert first == b"one"
    assert await store.tenant_secrets.get_or_create("alpha", "salt", b"two") == b"one"  # first writer wins
    assert await store.tenant_secrets.get_or_create("beta", "salt", b"two") == b"two"


async def test_login_failures(store: SqlStore) -> None:
    failures = store.login_failures
    first, second = FailureRecord(1, NOW), FailureRecord(2, NOW + 1, NOW + 600)
    assert await failures.swap("alpha", "user:alice", None, first)
    assert not await failures.swap("alpha", "user:alice", None, first)  # already there: the second insert loses
    assert await failures.swap("alpha", "user:alice", first, second)
    assert not await failures.swap("alpha", "user:alice", first, FailureRecord(9, NOW))  # stale: nothing changes
    assert await failures.swap("beta", "user:alice", None, first)
    got = await failures.get("alpha", ["user:alice", "ip:1.2.3.4"])
    assert got == {"user:alice": second}
    await failures.clear("alpha", "user:alice")
    assert await failures.get("alpha", ["user:alice"]) == {}
    assert await failures.get("beta", ["user:alice"]) == {"user:alice": first}
    assert await failures.swap("beta", "user:alice", first, None)  # handing an attempt back removes the row
    assert await failures.get("beta", ["user:alice"]) == {}
    assert await failures.swap("beta", "ip:1.2.3.4", None, first)
    assert await failures.purge_expired(NOW + 10) == 1


async def test_concurrent_login_failure_claims_each_win_once(store: SqlStore) -> None:
    """Twenty parallel compare-and-sets from one reading: exactly one wins (the login throttle's guarantee)."""
    seen = FailureRecord(3, NOW)
    assert await store.login_failures.swap("alpha", "ip:9.9.9.9", None, seen)
    outcomes = await asyncio.gather(
        *(store.login_failures.swap("alpha", "ip:9.9.9.9", seen, FailureRecord(4, NOW + i)) for i in range(20))
    )
    assert sum(outcomes) == 1
    [record] = (await store.login_failures.get("alpha", ["ip:9.9.9.9"])).values()
    assert record.count == 4


async def test_group_committed_rotations_keep_one_winner_per_token(store: SqlStore) -> None:
    await store.users.create(user("alpha"))
    await store.sessions.create(session("alpha"), "cookie-a")
    for i in range(6):
        await store.refresh_tokens.create(refresh_token("alpha", f"fam{i}"), f"tok{i}")

    def successor(name: str) -> Callable[[RefreshToken], tuple[RefreshToken, str]]:
        return lambda old: (old.successor(NOW, 3600, "at-" + name, NOW + 900), name)

    same = [store.refresh_tokens.rotate("alpha", "tok0", "app", NOW, successor(f"dup{i}")) for i in range(8)]
    different = [
        store.refresh_tokens.rotate("alpha", f"tok{i}", "app", NOW, successor(f"next{i}")) for i in range(1, 6)
    ]
    results = await asyncio.gather(*same, *different)
    assert sum(r is not None for r in results[:8]) == 1
    assert all(r is not None for r in results[8:])


async def test_a_failing_rotation_does_not_fail_its_batch(store: SqlStore) -> None:
    await store.users.create(user("alpha"))
    await store.sessions.create(session("alpha"), "cookie-a")
    await store.refresh_tokens.create(refresh_token("alpha", "a"), "ta")
    await store.refresh_tokens.create(refresh_token("alpha", "b"), "tb")

    def broken(old: RefreshToken) -> tuple[RefreshToken, str]:
        raise RuntimeError("successor failed")

    good = store.refresh_tokens.rotate("alpha", "ta", "app", NOW, lambda o: (o.successor(NOW, 60, "x", NOW), "ta2"))
    bad = store.refresh_tokens.rotate("alpha", "tb", "app", NOW, broken)
    results = await asyncio.gather(good, bad, return_exceptions=True)
    assert isinstance(results[0], tuple)
    assert isinstance(results[1], RuntimeError)
    assert (await store.refresh_tokens.get("alpha", "tb")).used_at is None  # type: ignore[union-attr]
