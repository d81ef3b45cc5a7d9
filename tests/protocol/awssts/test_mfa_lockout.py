"""Wrong MFA codes lock the device (5 failures, then 900 s), for AssumeRole and GetSessionToken, driven by boto3.

The server runs on a FixedClock set 450 s behind the real one, so that advancing it past the
lockout (901 s) keeps botocore's signing time within SigV4's 15-minute window.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import botocore.exceptions
import pyotp
import pytest

from support.awssts import ACCOUNT, Key, create_key, error_of, session_key, sts_client, sts_tenant
from support.live_server import LiveServer
from tessera.clock import FixedClock

pytestmark = pytest.mark.protocol

NEEDS_MFA = f"arn:aws:iam::{ACCOUNT}:role/NeedsMfa"
INVALID_CODE = "MultiFactorAuthentication failed with invalid MFA one time pass code."
UNKNOWN_DEVICE = "MultiFactorAuthentication failed, unable to validate MFA code."


class Device:
    def __init__(self, server: LiveServer, clock: FixedClock, name: str, owner: str = "ci") -> None:
        created = server.run(
            lambda: server.services.aws.mfa_devices.create("default", name, "service-account", owner, "t")
        )
        server.watch(created.secret.reveal())
        self.name, self.serial, self._clock = name, f"arn:aws:iam::{ACCOUNT}:mfa/{name}", clock
        self._totp = pyotp.TOTP(created.secret.reveal())

    def right(self) -> str:
        return self._totp.at(self._clock.now())

    def wrong(self) -> str:
        accepted = {self._totp.at(self._clock.now() + 30 * drift) for drift in (-1, 0, 1)}
        return next(c for c in ("000000", "111111", "222222", "333333") if c not in accepted)


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(time.time() - 450)


@pytest.fixture
def server(start_server: Callable[..., LiveServer], clock: FixedClock) -> LiveServer:
    return start_server(clock=clock, tenants=[sts_tenant()])


@pytest.fixture
def key(server: LiveServer) -> Key:
    return create_key(server)


def refused(call: Callable[[], Any]) -> tuple[str, int, str]:
    with pytest.raises(botocore.exceptions.ClientError) as caught:
        call()
    code, status = error_of(caught.value)
    return code, status, caught.value.response["Error"]["Message"].strip()


def assume(server: LiveServer, key: Key, device: Device, code: str) -> Any:
    return sts_client(server, key).assume_role(
        RoleArn=NEEDS_MFA, RoleSessionName="m1", SerialNumber=device.serial, TokenCode=code
    )


def session_token(server: LiveServer, key: Key, device: Device, code: str) -> Any:
    return sts_client(server, key).get_session_token(DurationSeconds=900, SerialNumber=device.serial, TokenCode=code)


def failures(server: LiveServer, device: Device) -> Any:
    """The device's row in the login_failures table (key ``mfa:<name>``), None when there is none."""
    found = server.run(lambda: server.services.store.login_failures.get("default", [f"mfa:{device.name}"]))
    return found.get(f"mfa:{device.name}")


def test_five_wrong_codes_lock_the_device_for_both_actions_until_the_lockout_ends(
    server: LiveServer, clock: FixedClock, key: Key, audit_events: Callable[..., list[Any]]
) -> None:
    phone, backup = Device(server, clock, "ci-phone"), Device(server, clock, "ci-backup")
    for _ in range(3):
        assert refused(lambda: assume(server, key, phone, phone.wrong())) == ("AccessDenied", 403, INVALID_CODE)
    for _ in range(2):
        assert refused(lambda: session_token(server, key, phone, phone.wrong())) == ("AccessDenied", 403, INVALID_CODE)
    record = failures(server, phone)
    assert (record.count, record.locked_until) == (5, None)

    # The sixth attempt locks the device: even the right code is refused, with a wrong code's answer.
    assert refused(lambda: assume(server, key, phone, phone.right())) == ("AccessDenied", 403, INVALID_CODE)
    assert refused(lambda: session_token(server, key, phone, phone.right())) == ("AccessDenied", 403, INVALID_CODE)
    record = failures(server, phone)
    assert record.locked_until == pytest.approx(clock.now() + 900)
    # The lock is the device's: another device of the same key still works.
    session_key(server, assume(server, key, backup, backup.right()))

    clock.advance(450)  # still locked, and attempts during the lock do not extend it
    assert refused(lambda: assume(server, key, phone, phone.right())) == ("AccessDenied", 403, INVALID_CODE)
    assert failures(server, phone).locked_until == pytest.approx(record.locked_until)
    clock.advance(451)
    response = assume(server, key, phone, phone.right())
    session_key(server, response)
    assert response["AssumedRoleUser"]["Arn"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/NeedsMfa/m1"
    assert failures(server, phone) is None  # a valid code clears the count

    assume_failures = [e for e in audit_events("sts.assume_role") if e.result == "failure"]
    assert [(e.reason, e.details["access_key_id"]) for e in assume_failures] == [
        ("AccessDenied", key.access_key_id)
    ] * 5
    token_failures = [e for e in audit_events("sts.get_session_token") if e.result == "failure"]
    assert [e.reason for e in token_failures] == ["AccessDenied"] * 3


def test_a_valid_code_forgets_the_earlier_failures(server: LiveServer, clock: FixedClock, key: Key) -> None:
    phone = Device(server, clock, "ci-phone")
    for round_ in range(3):  # 12 wrong codes in all, never 5 in a row: never locked
        for _ in range(4):
            assert refused(lambda: assume(server, key, phone, phone.wrong()))[:2] == ("AccessDenied", 403)
        assert failures(server, phone).count == 4
        if round_ % 2:
            session_key(server, session_token(server, key, phone, phone.right()))
        else:
            session_key(server, assume(server, key, phone, phone.right()))
        assert failures(server, phone) is None
        clock.advance(30)  # the next valid code is a new time step (a code is spent once used)


def test_failures_are_forgotten_after_the_window(server: LiveServer, clock: FixedClock, key: Key) -> None:
    phone = Device(server, clock, "ci-phone")
    for _ in range(5):
        assert refused(lambda: assume(server, key, phone, phone.wrong()))[:2] == ("AccessDenied", 403)
    assert failures(server, phone).count == 5  # the next attempt, whatever its code, would lock the device
    clock.advance(901)  # 900 s after the last failure: the count starts again
    for _ in range(4):
        assert refused(lambda: assume(server, key, phone, phone.wrong()))[:2] == ("AccessDenied", 403)
    assert failures(server, phone).count == 4
    assert failures(server, phone).locked_until is None
    session_key(server, assume(server, key, phone, phone.right()))


def test_guesses_at_a_device_that_is_not_the_callers_do_not_lock_it(
    server: LiveServer, clock: FixedClock, key: Key
) -> None:
    phone = Device(server, clock, "ci-phone")
    intruder = create_key(server, "intruder")
    for _ in range(8):
        assert refused(lambda: assume(server, intruder, phone, phone.wrong())) == ("AccessDenied", 403, UNKNOWN_DEVICE)
        assert refused(lambda: session_token(server, intruder, phone, phone.right())) == (
            "AccessDenied",
            403,
            UNKNOWN_DEVICE,
        )
    ghost = f"arn:aws:iam::{ACCOUNT}:mfa/no-such-device"
    assert refused(lambda: sts_client(server, key).get_session_token(SerialNumber=ghost, TokenCode=phone.right())) == (
        "AccessDenied",
        403,
        UNKNOWN_DEVICE,
    )
    assert failures(server, phone) is None
    session_key(server, session_token(server, key, phone, phone.right()))  # the owner is not locked out
