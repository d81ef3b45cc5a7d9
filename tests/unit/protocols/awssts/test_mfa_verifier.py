"""MfaVerifier: attempts are counted per device before the code is compared; a lock refuses even the right code."""

from __future__ import annotations

from typing import Any

import pyotp
import pytest

from tessera.domain.aws_directory import KnownMfaDevice
from tessera.domain.aws_identities import MfaDevice, MfaLockout
from tessera.domain.tenants import Tenant
from tessera.protocols.awssts import AccessDenied, Principal
from tessera.protocols.awssts.callers import Caller
from tessera.protocols.awssts.context import StsTenant
from tessera.protocols.awssts.mfa import DEFAULT_LOCKOUT, INVALID_CODE, UNKNOWN_DEVICE, MfaVerifier
from tessera.secret import Secret
from tessera.settings_aws import TenantAwsConfig

pytestmark = pytest.mark.unit

ACCOUNT = "123456789012"
NOW = 1_750_000_000.0
SEED = pyotp.random_base32()
TENANT = StsTenant(Tenant("acme", "Acme"), ACCOUNT, "https://sts.example", TenantAwsConfig())
SERIAL = f"arn:aws:iam::{ACCOUNT}:mfa/ci-phone"
CI = Caller(
    access_key_id="AKIAEXAMPLE000000001",
    arn=f"arn:aws:iam::{ACCOUNT}:user/ci",
    user_id="AIDAEXAMPLE",
    account=ACCOUNT,
    principal=Principal(f"arn:aws:iam::{ACCOUNT}:user/ci", "AWS", ACCOUNT),
    principal_type="User",
    region="us-east-1",
)


class Directory:
    async def mfa_device(self, tenant_id: str, name: str) -> KnownMfaDevice | None:
        if (tenant_id, name) != ("acme", "ci-phone"):
            return None
        return KnownMfaDevice(MfaDevice("acme", "ci-phone", "service-account", "ci", b"sealed", "kek"), Secret(SEED))


class Attempts:
    """Records the calls; answers ``locked_until`` for every attempt."""

    def __init__(self, locked_until: float | None = None) -> None:
        self.locked_until = locked_until
        self.calls: list[tuple[Any, ...]] = []

    async def count_attempt(self, tenant_id: str, name: str, now: float, lockout: MfaLockout) -> float | None:
        self.calls.append(("count", tenant_id, name, now, lockout))
        return self.locked_until

    async def clear_attempts(self, tenant_id: str, name: str) -> None:
        self.calls.append(("clear", tenant_id, name))


class Replays:
    def __init__(self) -> None:
        self.seen: set[str] = set()

    async def __call__(self, tenant_id: str, key: str, expires_at: float) -> bool:
        first = key not in self.seen
        self.seen.add(key)
        return first


def verifier(attempts: Attempts, replays: Replays | None = None, lockout: MfaLockout = DEFAULT_LOCKOUT) -> MfaVerifier:
    return MfaVerifier(Directory(), replays or Replays(), attempts, lockout)  # type: ignore[arg-type]


def right() -> Secret[str]:
    return Secret(pyotp.TOTP(SEED).at(NOW))


def wrong() -> Secret[str]:
    accepted = {pyotp.TOTP(SEED).at(NOW + 30 * drift) for drift in (-1, 0, 1)}
    return Secret(next(c for c in ("000000", "111111", "222222", "333333") if c not in accepted))


async def test_no_code_is_not_counted() -> None:
    attempts = Attempts()
    assert await verifier(attempts).verify(CI, None, None, TENANT, NOW) is False
    assert attempts.calls == []


async def test_a_right_code_is_counted_then_clears_the_count() -> None:
    attempts = Attempts()
    assert await verifier(attempts).verify(CI, SERIAL, right(), TENANT, NOW) is True
    assert attempts.calls == [("count", "acme", "ci-phone", NOW, DEFAULT_LOCKOUT), ("clear", "acme", "ci-phone")]


async def test_a_wrong_or_spent_code_is_counted_and_not_cleared() -> None:
    attempts, replays = Attempts(), Replays()
    with pytest.raises(AccessDenied) as caught:
        await verifier(attempts, replays).verify(CI, SERIAL, wrong(), TENANT, NOW)
    assert caught.value.description == INVALID_CODE
    assert [c[0] for c in attempts.calls] == ["count"]
    assert await verifier(attempts, replays).verify(CI, SERIAL, right(), TENANT, NOW) is True
    attempts.calls.clear()
    with pytest.raises(AccessDenied) as caught:
        await verifier(attempts, replays).verify(CI, SERIAL, right(), TENANT, NOW)  # the same step again
    assert caught.value.description == INVALID_CODE
    assert [c[0] for c in attempts.calls] == ["count"]


async def test_a_locked_device_refuses_the_right_code_without_spending_it() -> None:
    attempts, replays = Attempts(locked_until=NOW + 1), Replays()
    lockout = MfaLockout(max_failures=3, lockout_seconds=60, window_seconds=120)
    with pytest.raises(AccessDenied) as caught:
        await verifier(attempts, replays, lockout).verify(CI, SERIAL, right(), TENANT, NOW)
    assert caught.value.description == INVALID_CODE  # the same answer as a wrong code
    assert attempts.calls == [("count", "acme", "ci-phone", NOW, lockout)]
    assert replays.seen == set()
    attempts.locked_until = NOW  # the lock ends at that instant: the code is checked again
    assert await verifier(attempts, replays, lockout).verify(CI, SERIAL, right(), TENANT, NOW) is True


@pytest.mark.parametrize(
    "serial",
    [
        f"arn:aws:iam::{ACCOUNT}:mfa/unknown",
        "arn:aws:iam::999999999999:mfa/ci-phone",
        "ci-phone",
    ],
)
async def test_unknown_devices_are_not_counted(serial: str) -> None:
    attempts = Attempts()
    with pytest.raises(AccessDenied) as caught:
        await verifier(attempts).verify(CI, serial, right(), TENANT, NOW)
    assert caught.value.description == UNKNOWN_DEVICE
    assert attempts.calls == []


async def test_someone_elses_device_and_half_a_pair_are_not_counted() -> None:
    attempts = Attempts()
    other = Caller(
        access_key_id="AKIAEXAMPLE000000002",
        arn=f"arn:aws:iam::{ACCOUNT}:user/intruder",
        user_id="AIDAOTHER",
        account=ACCOUNT,
        principal=Principal(f"arn:aws:iam::{ACCOUNT}:user/intruder", "AWS", ACCOUNT),
        principal_type="User",
        region="us-east-1",
    )
    for caller, serial, code in ((other, SERIAL, wrong()), (CI, SERIAL, None), (CI, None, right())):
        with pytest.raises(AccessDenied) as caught:
            await verifier(attempts).verify(caller, serial, code, TENANT, NOW)
        assert caught.value.description == UNKNOWN_DEVICE
    assert attempts.calls == []
