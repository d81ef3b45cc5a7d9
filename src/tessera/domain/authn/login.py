"""Password sign-in: throttle claim, argon2id verification, audit, transparent rehash.

Every failure looks the same to the person (the page shows one message) and costs the same time
(an unknown user is verified against a dummy hash); the audit trail records the real reason.
"""

from __future__ import annotations

from collections.abc import Sequence
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


CLAIM_TRIES = 5  # compare-and-set rounds before a contended account answers "throttled"


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
        """Check the source address, claim the account's attempt, verify, then count or clear.

        The account's attempt is counted as a failure *before* the password is checked, by
        compare-and-set, so N parallel guesses at one account take N numbers and meet the delay and
        the lockout exactly as N sequential ones would (checking first and counting after the
        ~30 ms hash would let a burst through on one reading); a success clears the count. The
        source address is checked before and counted after a failure: many people behind one
        address (a NAT) sign in at once, and their attempts in flight must not throttle each other.
        """
        now = notes.now
        account_key, account_policy = f"user:{username_key(username)[:256]}", self._policies[0]
        source_key, source_policy = (f"ip:{notes.source_ip}" if notes.source_ip else None), self._policies[1]
        actor = f"user:{username[:128]}"
        records = await self._failures.get(tenant_id, [k for k in (account_key, source_key) if k is not None])
        if source_key is not None:
            self._refuse_if_throttled(decide(records.get(source_key), now, source_policy), notes, actor)
        claim = await self._claim(tenant_id, account_key, account_policy, records.get(account_key), now)
        self._refuse_if_throttled(claim, notes, actor)
        user = await self._users.find(tenant_id, username)
        verified = await self._hasher.verify_async(user.password_hash if user else None, password)
        failure = _failure_reason(user, verified)
        if failure is not None:  # the account's claimed attempt stays counted as the failure it was
            if source_key is not None:
                await self._count_failure(tenant_id, source_key, source_policy, records.get(source_key), now)
            details = {"user_id": user.user_id} if user is not None else {}
            notes.note(AuditAction.USER_LOGIN, "failure", actor=actor, reason=failure, details=details)
            raise LoginFailed(failure)
        assert user is not None
        await self._failures.clear(tenant_id, account_key)  # the source's failures stay counted
        notes.note(AuditAction.USER_LOGIN, "success", actor=actor, details={"user_id": user.user_id, "amr": ["pwd"]})
        await self._directory.upgrade_hash(user, password, notes)
        return user, Authentication(AUTHENTICATION_PWD, ACR_PASSWORD, now)

    @staticmethod
    def _refuse_if_throttled(decision: ThrottleDecision, notes: AuditNotes, actor: str) -> None:
        if decision.allowed:
            return
        reason = "locked" if decision.locked else "throttled"
        details = {"retry_after": round(decision.retry_after, 1)}
        notes.note(AuditAction.USER_LOGIN, "failure", actor=actor, reason=reason, details=details)
        raise LoginFailed(reason, decision.retry_after)

    async def _claim(
        self, tenant_id: str, key: str, policy: ThrottlePolicy, seen: FailureRecord | None, now: float
    ) -> ThrottleDecision:
        """Count one attempt at ``key`` if the throttle allows one now (compare-and-set, read again on a race)."""
        for _ in range(CLAIM_TRIES):
            decision = decide(seen, now, policy)
            if not decision.allowed:
                return decision
            if await self._failures.swap(tenant_id, key, seen, record_failure(seen, now, policy)):
                return decision
            seen = (await self._failures.get(tenant_id, [key])).get(key)  # another attempt moved it
        return ThrottleDecision(False, policy.base_delay)  # a burst of parallel attempts on one account

    async def _count_failure(
        self, tenant_id: str, key: str, policy: ThrottlePolicy, seen: FailureRecord | None, now: float
    ) -> None:
        """One more failure at ``key``, never lost to a concurrent one."""
        for _ in range(CLAIM_TRIES):
            if await self._failures.swap(tenant_id, key, seen, record_failure(seen, now, policy)):
                return
            seen = (await self._failures.get(tenant_id, [key])).get(key)


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
