"""Password sign-in: throttle check, argon2id verification, audit, transparent rehash.

Every failure looks the same to the person (the page shows one message) and costs the same time
(an unknown user is verified against a dummy hash); the audit trail records the real reason.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from tessera.domain.audit import AuditAction, AuditNotes
from tessera.domain.authn.password import ACR_PASSWORD, AUTHENTICATION_PWD, Authentication, PasswordHasher
from tessera.domain.authn.throttle import FailureRecord, ThrottlePolicy, decide, record_failure
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
    async def put(self, tenant_id: str, key: str, record: FailureRecord) -> None: ...
    async def clear(self, tenant_id: str, key: str) -> None: ...


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
        records = await self._failures.get(tenant_id, [k for k, _ in keys])
        actor = f"user:{username[:128]}"
        for key, policy in keys:
            decision = decide(records.get(key), now, policy)
            if not decision.allowed:
                reason = "locked" if decision.locked else "throttled"
                retry = round(decision.retry_after, 1)
                notes.note(
                    AuditAction.USER_LOGIN, "failure", actor=actor, reason=reason, details={"retry_after": retry}
                )
                raise LoginFailed(reason, decision.retry_after)
        user = await self._users.find(tenant_id, username)
        verified = await self._hasher.verify_async(user.password_hash if user else None, password)
        failure = _failure_reason(user, verified)
        if failure is not None:
            for key, policy in keys:
                await self._failures.put(tenant_id, key, record_failure(records.get(key), now, policy))
            details = {"user_id": user.user_id} if user is not None else {}
            notes.note(AuditAction.USER_LOGIN, "failure", actor=actor, reason=failure, details=details)
            raise LoginFailed(failure)
        assert user is not None
        if keys[0][0] in records:
            await self._failures.clear(
                tenant_id, keys[0][0]
            )  # the source's count stays: one good account must not reset it
        notes.note(AuditAction.USER_LOGIN, "success", actor=actor, details={"user_id": user.user_id, "amr": ["pwd"]})
        await self._directory.upgrade_hash(user, password, notes)
        return user, Authentication(AUTHENTICATION_PWD, ACR_PASSWORD, now)

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
