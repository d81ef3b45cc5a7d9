"""Pure sign-in rules: throttling (delay, lockout, forgetting), the password policy and hashing parameters."""

from __future__ import annotations

import pytest

from tessera.domain.authn.password import PasswordHasher, PasswordPolicy, WeakPassword, common_passwords
from tessera.domain.authn.throttle import FailureRecord, ThrottlePolicy, decide, delay_after, record_failure
from tessera.domain.consents import Consent, merged_scopes
from tessera.domain.interactions import csrf_token, is_valid_csrf
from tessera.domain.refresh_tokens import RefreshToken
from tessera.domain.sessions import SsoSession
from tessera.domain.users import username_key
from tessera.secret import Secret

pytestmark = pytest.mark.unit
POLICY = ThrottlePolicy(
    free_failures=3, lockout_failures=6, base_delay=1, max_delay=4, lockout_duration=900, window=600
)


def test_free_failures_then_doubling_delay_capped() -> None:
    assert [delay_after(n, POLICY) for n in range(8)] == [0, 0, 0, 1, 2, 4, 4, 4]
    record = None
    for n in range(3):
        assert decide(record, 100 + n, POLICY).allowed
        record = record_failure(record, 100 + n, POLICY)
    assert record == FailureRecord(3, 102)
    blocked = decide(record, 102.5, POLICY)
    assert (blocked.allowed, blocked.retry_after, blocked.locked) == (False, 0.5, False)
    assert decide(record, 103, POLICY).allowed


def test_lockout_then_forgetting() -> None:
    record = None
    for n in range(6):
        record = record_failure(record, 100 + n * 10, POLICY)
    assert record is not None
    assert record.locked_until == 150 + 900
    locked = decide(record, 200, POLICY)
    assert (locked.allowed, locked.locked, locked.retry_after) == (False, True, 850)
    assert decide(record, 1050, POLICY).allowed  # the lockout is over and forgotten
    assert record_failure(record, 1050, POLICY) == FailureRecord(1, 1050)
    quiet = FailureRecord(5, 100)
    assert decide(quiet, 700, POLICY).allowed  # the window passed since the last failure
    assert record_failure(quiet, 700, POLICY).count == 1


def test_password_policy() -> None:
    policy = PasswordPolicy(min_length=12)
    policy.check(Secret("a long unusual passphrase"))
    for bad, why in (
        ("short", "at least 12"),
        ("1qaz2wsx3edc", "commonly used"),
        ("x" * 1025, "at most"),
        ("alice-the-user", "username"),
    ):
        with pytest.raises(WeakPassword, match=why):
            policy.check(Secret(bad), username="Alice-The-User")
    PasswordPolicy(min_length=12, reject_common=False).check(Secret("1qaz2wsx3edc"))
    assert "123qweasdzxc" in common_passwords()


def test_hashing_parameters_rehash_and_dummy_verification() -> None:
    hasher = PasswordHasher(memory_kib=8192, time_cost=1)
    stored = hasher.hash(Secret("caf\u00e9 au lait, twice"))
    assert stored.startswith("$argon2id$v=19$m=8192,t=1,p=1$")
    assert hasher.verify(stored, Secret("cafe\u0301 au lait, twice"))  # NFC: the same password from another keyboard
    assert not hasher.verify(stored, Secret("wrong"))
    assert not hasher.verify(None, Secret("anything"))  # the dummy hash: same work, always false
    assert not hasher.verify("not a hash", Secret("x"))
    assert not hasher.needs_rehash(stored)
    assert PasswordHasher(memory_kib=19456, time_cost=2).needs_rehash(stored)


def test_csrf_tokens_are_bound_to_the_browser_and_purpose() -> None:
    token = csrf_token("browser-secret", "interaction-1")
    assert is_valid_csrf("browser-secret", "interaction-1", token)
    assert not is_valid_csrf("other-browser", "interaction-1", token)
    assert not is_valid_csrf("browser-secret", "interaction-2", token)
    assert not is_valid_csrf(None, "interaction-1", token)
    assert not is_valid_csrf("browser-secret", "interaction-1", None)


def test_sessions_idle_and_absolute() -> None:
    session = SsoSession("t", "s", "u", 0, ("pwd",), "1", 0, 100, 1000)
    assert session.is_active(150, idle=60)
    assert not session.is_active(161, idle=60)
    assert not session.is_active(1000, idle=10_000)
    from dataclasses import replace

    assert not replace(session, ended_at=120).is_active(121, idle=60)


def test_refresh_successor_never_outlives_a_session_bound_family() -> None:
    token = RefreshToken("t", "f", "c", "u", "s", "sid", ("openid",), 0, ("pwd",), "1", False, 0, 500, "a1", 100)
    later = token.successor(400, 1000, "a2", 1300)
    assert (later.expires_at, later.access_token_id, later.used_at) == (500, "a2", None)
    from dataclasses import replace

    offline = replace(token, offline=True).successor(400, 1000, "a2", 1300)
    assert offline.expires_at == 1400


def test_consents_and_usernames() -> None:
    existing = Consent("t", "u", "c", ("openid",), 0)
    assert merged_scopes(existing, ["email"]) == ("email", "openid")
    assert existing.covers(["openid"])
    assert not existing.covers(["openid", "email"])
    assert username_key("ÅLICE") == username_key("ålice")
    assert username_key("\uff46\uff55\uff4c\uff4c") == "full"  # fullwidth letters
