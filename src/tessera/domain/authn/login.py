"""Password sign-in: throttle claim, argon2id verification, audit, transparent rehash.

Every failure looks the same to the person (the page shows one message) and costs the same time
(an unknown user is verified against a dummy hash); the audit trail records the real reason.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from tessera.domain.audit import AuditAction, AuditNotes
from tessera.domain.authn.password import ACR_PASSWORD, AUTHENTICATION_PWD, Authentication, PasswordHasher
from tessera.domain.authn.throttle import FailureRecord, ThrottleDecision, ThrottlePolicy, decide, record_failure
from tessera.domain.users import User, UserDirectory, username_key
from tessera.errors import TesseraError
from tessera.secret import Secret


class LoginFailed(TesseraError):
    """The sign-in did not succeed; ``reason`` is for the audit trail only, never for the page."""

    def __init__(self, reason: str, retry_after: float = 0.0) -> None:
        super().__init__(reason)
        self.reason, self.retry_after = reason, retry_after

    @property
    def is_throttled(self) -> bool:
        return self.reason in ("throttled", "locked")


class UserLookup(Protocol):
    async def find(self, tenant_id: str, username: str) -> User | None: ...


class FailureCounts(Protocol):
    async def get(self, tenant_id: str, keys: Sequence[str]) -> dict[str, FailureRecord]: ...
    async def swap(self, tenant_id: str, key: str, seen: FailureRecord | None, new: FailureRecord | None) -> bool: ...
    async def clear(self, tenant_id: str, key: str) -> None: ...


CLAIM_TRIES = 5  # compare-and-set rounds before a contended key answers "throttled"


@dataclass(frozen=True, slots=True)
class _Claim:
    """One attempt counted for ``key``: the record before (``seen``) and after (``claimed``)."""

    key: str
    seen: FailureRecord | None
    claimed: FailureRecord


class PasswordLogin:
    def __init__(
        self,
        users: UserLookup,
        directory: UserDirectory,
        failures: FailureCounts,
        hasher: PasswordHasher,
        account_policy: ThrottlePolicy,
        source_policy: ThrottlePolicy,
    ) -> None:
        self._users, self._directory, self._failures, self._hasher = users, directory, failures, hasher
        self._policies = (account_policy, source_policy)

    async def authenticate(
        self, tenant_id: str, username: str, password: Secret[str], notes: AuditNotes
    ) -> tuple[User, Authentication]:
        now = notes.now
        keys = self._keys(username, notes.source_ip)
        actor = f"user:{username[:128]}"
        claims = await self._claim_attempt(tenant_id, keys, notes, actor)
        user = await self._users.find(tenant_id, username)
        verified = await self._hasher.verify_async(user.password_hash if user else None, password)
        failure = _failure_reason(user, verified)
        if failure is not None:  # the claimed attempt stays counted as the failure it was
            details = {"user_id": user.user_id} if user is not None else {}
            notes.note(AuditAction.USER_LOGIN, "failure", actor=actor, reason=failure, details=details)
            raise LoginFailed(failure)
        assert user is not None
        await self._failures.clear(tenant_id, keys[0][0])
        await self._give_back(tenant_id, claims[1:])  # the source's earlier failures stay counted
        notes.note(AuditAction.USER_LOGIN, "success", actor=actor, details={"user_id": user.user_id, "amr": ["pwd"]})
        await self._directory.upgrade_hash(user, password, notes)
        return user, Authentication(AUTHENTICATION_PWD, ACR_PASSWORD, now)

    async def _claim_attempt(
        self, tenant_id: str, keys: Sequence[tuple[str, ThrottlePolicy]], notes: AuditNotes, actor: str
    ) -> list[_Claim]:
        """Count this attempt as a failure for every key before the password is checked.

        Each count moves by compare-and-set, so N parallel guesses take N numbers and meet the
        delay and the lockout exactly as N sequential ones would (checking first and counting after
        the 30 ms hash would let a burst through on one reading). A success gives its number back.
        """
        claims: list[_Claim] = []
        records = await self._failures.get(tenant_id, [key for key, _ in keys])
        for key, policy in keys:
            outcome = await self._claim_one(tenant_id, key, policy, records.get(key), notes.now)
            if isinstance(outcome, ThrottleDecision):
                await self._give_back(tenant_id, claims)
                reason = "locked" if outcome.locked else "throttled"
                retry = round(outcome.retry_after, 1)
                notes.note(
                    AuditAction.USER_LOGIN, "failure", actor=actor, reason=reason, details={"retry_after": retry}
                )
                raise LoginFailed(reason, outcome.retry_after)
            claims.append(outcome)
        return claims

    async def _claim_one(
        self, tenant_id: str, key: str, policy: ThrottlePolicy, seen: FailureRecord | None, now: float
    ) -> _Claim | ThrottleDecision:
        for _ in range(CLAIM_TRIES):
            decision = decide(seen, now, policy)
            if not decision.allowed:
                return decision
            claimed = record_failure(seen, now, policy)
            if await self._failures.swap(tenant_id, key, seen, claimed):
                return _Claim(key, seen, claimed)
            seen = (await self._failures.get(tenant_id, [key])).get(key)  # another attempt moved it: read again
        return ThrottleDecision(False, policy.base_delay)  # a burst of parallel attempts on one key

    async def _give_back(self, tenant_id: str, claims: Sequence[_Claim]) -> None:
        """Undo claimed attempts; one that a later attempt has already counted past stays (errs on the safe side)."""
        for claim in claims:
            await self._failures.swap(tenant_id, claim.key, claim.claimed, claim.seen)

    def _keys(self, username: str, source_ip: str | None) -> list[tuple[str, ThrottlePolicy]]:
        keys = [(f"user:{username_key(username)[:256]}", self._policies[0])]
        if source_ip:
            keys.append((f"ip:{source_ip}", self._policies[1]))
        return keys


def _failure_reason(user: User | None, verified: bool) -> str | None:
    if user is None:
        return "unknown_user"
    if user.password_hash is None:
        return "no_password"
    if not verified:
        return "bad_password"
    if not user.is_enabled:
        return "disabled"
    return None


__all__ = ["LoginFailed", "PasswordLogin"]
