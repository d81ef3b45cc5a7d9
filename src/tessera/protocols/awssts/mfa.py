"""``SerialNumber`` + ``TokenCode``: a TOTP code (RFC 6238) from the caller's virtual MFA device.

The device must belong to the principal that signed the request; a code is accepted in its
30-second step or the neighbouring ones (clock drift of the phone) and only once: the (device,
step) pair goes through the replay store, so a code read over someone's shoulder is spent.
Failures are ``AccessDenied`` with AWS's texts. A valid code makes ``aws:MultiFactorAuthPresent``
true for the decision and for the session it creates.

Guessing is bounded per device (``MfaLockout``): every attempt is counted in the store before
the code is compared, so parallel guesses cannot race past the limit; after ``max_failures``
wrong codes the device is locked for ``lockout_seconds`` (even the right code is then refused,
with the same AWS message as a wrong one), and a valid code resets the count. Only requests
carrying a ``SerialNumber``/``TokenCode`` pay this write; others never reach the store here.
"""

from __future__ import annotations

import hmac

from tessera.domain.aws_identities import MfaAttemptCounter, MfaLockout
from tessera.protocols.awssts.callers import Caller
from tessera.protocols.awssts.context import RememberOnce, StsDirectory, StsTenant
from tessera.protocols.awssts.errors import AccessDenied
from tessera.secret import Secret

STEP_SECONDS = 30
DRIFT_STEPS = 1
INVALID_CODE = "MultiFactorAuthentication failed with invalid MFA one time pass code. "
UNKNOWN_DEVICE = "MultiFactorAuthentication failed, unable to validate MFA code."
DEFAULT_LOCKOUT = MfaLockout()


def device_name(serial_number: str, account: str) -> str | None:
    """``arn:aws:iam::<account>:mfa/<name>`` → ``name`` when it is this account's."""
    prefix = f"arn:aws:iam::{account}:mfa/"
    name = serial_number.removeprefix(prefix)
    return name if name != serial_number and name else None


class MfaVerifier:
    """Checks ``SerialNumber`` + ``TokenCode`` for AssumeRole and GetSessionToken."""

    def __init__(
        self,
        directory: StsDirectory,
        remember_once: RememberOnce,
        attempts: MfaAttemptCounter,
        lockout: MfaLockout = DEFAULT_LOCKOUT,
    ) -> None:
        self._directory, self._remember_once, self._attempts, self._lockout = (
            directory,
            remember_once,
            attempts,
            lockout,
        )

    async def verify(
        self, caller: Caller, serial_number: str | None, token_code: Secret[str] | None, tenant: StsTenant, now: float
    ) -> bool:
        """True when a valid code was given; False when none was; ``AccessDenied`` when one fails."""
        if serial_number is None and token_code is None:
            return False
        if serial_number is None or token_code is None:
            raise AccessDenied(UNKNOWN_DEVICE, reason="AccessDenied", detail="SerialNumber and TokenCode go together")
        name = device_name(serial_number, tenant.account)
        known = None if name is None else await self._directory.mfa_device(tenant.id, name)
        if known is None or caller.is_session or known.device.principal_arn(tenant.account) != caller.arn:
            raise AccessDenied(UNKNOWN_DEVICE, reason="AccessDenied", detail="unknown device or not the caller's")
        device = known.device.name
        locked_until = await self._attempts.count_attempt(tenant.id, device, now, self._lockout)
        if locked_until is not None and locked_until > now:
            raise AccessDenied(INVALID_CODE, reason="AccessDenied", detail="MFA device locked: too many wrong codes")
        step = matching_step(known.seed, token_code, now, known.device.digits)
        if step is None:
            raise AccessDenied(INVALID_CODE, reason="AccessDenied", detail="wrong TOTP code")
        expires = (step + DRIFT_STEPS + 2) * STEP_SECONDS
        if not await self._remember_once(tenant.id, f"mfa:{device}:{step}", expires):
            raise AccessDenied(INVALID_CODE, reason="AccessDenied", detail="TOTP code already used")
        await self._attempts.clear_attempts(tenant.id, device)
        return True


def matching_step(seed: Secret[str], code: Secret[str], now: float, digits: int = 6) -> int | None:
    """The time step whose code equals ``code`` (this one or a neighbour), compared in constant time."""
    import pyotp  # on first use: start-up time

    totp = pyotp.TOTP(seed.reveal(), digits=digits, interval=STEP_SECONDS)
    current = int(now) // STEP_SECONDS
    found = None
    for offset in range(-DRIFT_STEPS, DRIFT_STEPS + 1):
        candidate = totp.at(int(now), counter_offset=offset)
        if hmac.compare_digest(candidate.encode(), code.reveal().encode()) and found is None:
            found = current + offset
    return found


__all__ = ["DEFAULT_LOCKOUT", "MfaVerifier", "device_name", "matching_step"]
