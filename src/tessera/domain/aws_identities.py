"""Long-term AWS-style identities: access keys of users and service accounts, and their MFA devices.

An access key's secret is needed in clear to verify SigV4 signatures, so it cannot be hashed: it
is sealed with AES-256-GCM under the key-encryption key, with the tenant and the key id as
associated data, and shown once when it is created. TOTP seeds of MFA devices are sealed the
same way. Every change bumps the store revision (nodes drop their caches) and is audited.
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
from dataclasses import dataclass, replace
from typing import Literal, Protocol

from tessera.clock import Clock
from tessera.domain.audit import AuditAction, AuditEvent, AuditTrail
from tessera.domain.keys import KeyEncryptionKey
from tessera.errors import NotFound, TesseraError
from tessera.protocols.awssts.policy_document import PolicyKind, parse_policy
from tessera.protocols.awssts.session_token import new_access_key_id, new_secret_access_key
from tessera.secret import Secret

PrincipalType = Literal["user", "service-account"]
KeyStatus = Literal["Active", "Inactive"]
PRINCIPAL_NAME = re.compile(r"^[\w+=,.@-]{1,64}\Z", re.ASCII)
MFA_NAME = re.compile(r"^[\w+=,.@-]{1,128}\Z", re.ASCII)
MAX_KEYS_PER_PRINCIPAL = 2  # as IAM: enough to rotate without downtime


class InvalidAwsIdentity(TesseraError):
    """A name, policy or limit of an access key or MFA device is not acceptable."""


@dataclass(frozen=True, slots=True)
class AccessKey:
    """A long-term access key (``AKIA...``) as the store holds it: the secret sealed under the KEK."""

    tenant_id: str
    access_key_id: str
    principal_type: PrincipalType
    principal_name: str
    status: KeyStatus
    sealed_secret: bytes
    kek_id: str
    policy: str | None = None  # an IAM identity policy: what requests signed with this key may do
    description: str = ""
    created_at: float = 0.0
    updated_at: float = 0.0

    @property
    def is_active(self) -> bool:
        return self.status == "Active"

    def principal_arn(self, account: str) -> str:
        return user_arn(account, self.principal_name)

    def user_id(self) -> str:
        return principal_user_id(self.tenant_id, self.principal_type, self.principal_name)


@dataclass(frozen=True, slots=True)
class MfaDevice:
    """A virtual (TOTP) MFA device of a user or service account; ``SerialNumber`` is its ARN."""

    tenant_id: str
    name: str
    principal_type: PrincipalType
    principal_name: str
    sealed_secret: bytes
    kek_id: str
    digits: int = 6
    created_at: float = 0.0

    def serial_number(self, account: str) -> str:
        return f"arn:aws:iam::{account}:mfa/{self.name}"

    def principal_arn(self, account: str) -> str:
        return user_arn(account, self.principal_name)


def user_arn(account: str, name: str) -> str:
    """``arn:aws:iam::<account>:user/<name>`` (users and service accounts alike)."""
    return f"arn:aws:iam::{account}:user/{name}"


def principal_user_id(tenant_id: str, principal_type: str, name: str) -> str:
    """A stable ``AIDA...`` unique id (IAM's UserId shape), derived from the tenant and the principal."""
    digest = hashlib.sha256(f"tessera-aws-user:{tenant_id}:{principal_type}:{name}".encode()).digest()
    return "AIDA" + base64.b32encode(digest[:15]).decode("ascii")[:17]


def _secret_context(tenant_id: str, access_key_id: str) -> str:
    return f"tessera aws access key {tenant_id}/{access_key_id}"


def _mfa_context(tenant_id: str, name: str) -> str:
    return f"tessera aws mfa device {tenant_id}/{name}"


def unseal_secret(key: AccessKey, kek: KeyEncryptionKey) -> Secret[str]:
    return Secret(kek.open(key.sealed_secret, _secret_context(key.tenant_id, key.access_key_id)).decode("ascii"))


def unseal_mfa_secret(device: MfaDevice, kek: KeyEncryptionKey) -> Secret[str]:
    return Secret(kek.open(device.sealed_secret, _mfa_context(device.tenant_id, device.name)).decode("ascii"))


class AccessKeyStore(Protocol):
    async def get(self, tenant_id: str, access_key_id: str) -> AccessKey | None: ...
    async def list(self, tenant_id: str, principal_name: str | None = None) -> list[AccessKey]: ...
    async def create(self, key: AccessKey) -> None: ...
    async def set_status(self, tenant_id: str, access_key_id: str, status: KeyStatus, now: float) -> bool: ...
    async def delete(self, tenant_id: str, access_key_id: str) -> bool: ...


class MfaDeviceStore(Protocol):
    async def get(self, tenant_id: str, name: str) -> MfaDevice | None: ...
    async def list(self, tenant_id: str) -> list[MfaDevice]: ...
    async def create(self, device: MfaDevice) -> None:
        """Raises ``Conflict`` when the name is taken in the tenant."""
        ...

    async def delete(self, tenant_id: str, name: str) -> bool: ...


@dataclass(frozen=True, slots=True)
class MfaLockout:
    """How many wrong codes a device tolerates (AWS STS API Reference: TokenCode is brute-forceable otherwise).

    Attempts are counted per device, before the code is checked, so parallel guesses each take a
    number. The attempt after ``max_failures`` failures locks the device for ``lockout_seconds``;
    failures are forgotten ``window_seconds`` after the last one, and on a valid code.
    """

    max_failures: int = 5
    lockout_seconds: float = 900.0
    window_seconds: float = 900.0


class MfaAttemptCounter(Protocol):
    async def count_attempt(self, tenant_id: str, name: str, now: float, lockout: MfaLockout) -> float | None:
        """Count one attempt at device ``name``'s code, atomically; the end of its lockout, None when not locked."""
        ...

    async def clear_attempts(self, tenant_id: str, name: str) -> None: ...


class RevisionBump(Protocol):
    async def bump(self) -> int: ...


class PrincipalCheck(Protocol):
    async def __call__(self, tenant_id: str, principal_type: PrincipalType, name: str) -> None:
        """Raise ``NotFound`` when the principal does not exist (users come from the user store)."""
        ...


@dataclass(frozen=True, slots=True)
class CreatedAccessKey:
    key: AccessKey
    secret: Secret[str]  # shown once, stored only sealed


@dataclass(frozen=True, slots=True)
class CreatedMfaDevice:
    device: MfaDevice
    secret: Secret[str]  # base32 TOTP seed, shown once


class AccessKeyRegistry:
    """Creates, lists, disables and deletes long-term access keys (``tessera aws-key``)."""

    def __init__(
        self,
        keys: AccessKeyStore,
        revisions: RevisionBump,
        kek: KeyEncryptionKey,
        clock: Clock,
        audit: AuditTrail,
        check_principal: PrincipalCheck | None = None,
    ) -> None:
        self._keys, self._revisions, self._kek, self._clock, self._audit = keys, revisions, kek, clock, audit
        self._check_principal = check_principal

    async def create(
        self,
        tenant_id: str,
        principal_type: PrincipalType,
        principal_name: str,
        actor: str,
        *,
        policy: str | None = None,
        description: str = "",
    ) -> CreatedAccessKey:
        _check_principal_name(principal_name)
        if policy is not None:
            parse_policy(policy, kind=PolicyKind.IDENTITY)  # MalformedPolicyDocument names the problem
        if self._check_principal is not None:
            await self._check_principal(tenant_id, principal_type, principal_name)
        existing = await self._keys.list(tenant_id, principal_name)
        if sum(1 for k in existing if k.principal_type == principal_type) >= MAX_KEYS_PER_PRINCIPAL:
            raise InvalidAwsIdentity(f"{principal_name!r} already has {MAX_KEYS_PER_PRINCIPAL} access keys")
        now = self._clock.now()
        key_id = new_access_key_id("AKIA")
        secret = new_secret_access_key()
        key = AccessKey(
            tenant_id=tenant_id,
            access_key_id=key_id,
            principal_type=principal_type,
            principal_name=principal_name,
            status="Active",
            sealed_secret=self._kek.seal(secret.reveal().encode("ascii"), _secret_context(tenant_id, key_id)),
            kek_id=self._kek.kek_id,
            policy=policy,
            description=description,
            created_at=now,
            updated_at=now,
        )
        await self._keys.create(key)
        await self._changed(AuditAction.AWS_KEY_CREATE, key, actor)
        return CreatedAccessKey(key, secret)

    async def list(self, tenant_id: str, principal_name: str | None = None) -> list[AccessKey]:
        return await self._keys.list(tenant_id, principal_name)

    async def get(self, tenant_id: str, access_key_id: str) -> AccessKey:
        key = await self._keys.get(tenant_id, access_key_id)
        if key is None:
            raise NotFound(f"no access key {access_key_id!r} in tenant {tenant_id!r}")
        return key

    async def set_status(self, tenant_id: str, access_key_id: str, status: KeyStatus, actor: str) -> AccessKey:
        key = await self.get(tenant_id, access_key_id)
        if key.status == status:
            return key
        await self._keys.set_status(tenant_id, access_key_id, status, self._clock.now())
        updated = replace(key, status=status)
        action = AuditAction.AWS_KEY_DISABLE if status == "Inactive" else AuditAction.AWS_KEY_ENABLE
        await self._changed(action, updated, actor)
        return updated

    async def delete(self, tenant_id: str, access_key_id: str, actor: str) -> AccessKey:
        key = await self.get(tenant_id, access_key_id)
        await self._keys.delete(tenant_id, access_key_id)
        await self._changed(AuditAction.AWS_KEY_DELETE, key, actor)
        return key

    async def _changed(self, action: AuditAction, key: AccessKey, actor: str) -> None:
        await self._revisions.bump()
        await self._audit.record(
            AuditEvent(
                action=action.value,
                result="success",
                tenant_id=key.tenant_id,
                occurred_at=self._clock.now(),
                actor=actor,
                details={
                    "access_key_id": key.access_key_id,
                    "principal_type": key.principal_type,
                    "principal": key.principal_name,
                    "status": key.status,
                },
            )
        )


class MfaRegistry:
    """Registers virtual MFA devices (TOTP, RFC 6238) for users and service accounts (``tessera aws-mfa``)."""

    def __init__(
        self,
        devices: MfaDeviceStore,
        revisions: RevisionBump,
        kek: KeyEncryptionKey,
        clock: Clock,
        audit: AuditTrail,
        check_principal: PrincipalCheck | None = None,
    ) -> None:
        self._devices, self._revisions, self._kek, self._clock, self._audit = devices, revisions, kek, clock, audit
        self._check_principal = check_principal

    async def create(
        self, tenant_id: str, name: str, principal_type: PrincipalType, principal_name: str, actor: str
    ) -> CreatedMfaDevice:
        if not MFA_NAME.match(name):
            raise InvalidAwsIdentity("an MFA device name is 1-128 characters of A-Z a-z 0-9 + = , . @ _ -")
        _check_principal_name(principal_name)
        if self._check_principal is not None:
            await self._check_principal(tenant_id, principal_type, principal_name)
        seed = Secret(base64.b32encode(secrets.token_bytes(20)).decode("ascii"))
        device = MfaDevice(
            tenant_id=tenant_id,
            name=name,
            principal_type=principal_type,
            principal_name=principal_name,
            sealed_secret=self._kek.seal(seed.reveal().encode("ascii"), _mfa_context(tenant_id, name)),
            kek_id=self._kek.kek_id,
            created_at=self._clock.now(),
        )
        await self._devices.create(device)
        await self._changed(AuditAction.AWS_MFA_CREATE, device, actor)
        return CreatedMfaDevice(device, seed)

    async def list(self, tenant_id: str) -> list[MfaDevice]:
        return await self._devices.list(tenant_id)

    async def delete(self, tenant_id: str, name: str, actor: str) -> MfaDevice:
        device = await self._devices.get(tenant_id, name)
        if device is None:
            raise NotFound(f"no MFA device {name!r} in tenant {tenant_id!r}")
        await self._devices.delete(tenant_id, name)
        await self._changed(AuditAction.AWS_MFA_DELETE, device, actor)
        return device

    async def _changed(self, action: AuditAction, device: MfaDevice, actor: str) -> None:
        await self._revisions.bump()
        await self._audit.record(
            AuditEvent(
                action=action.value,
                result="success",
                tenant_id=device.tenant_id,
                occurred_at=self._clock.now(),
                actor=actor,
                details={"device": device.name, "principal": device.principal_name},
            )
        )


def _check_principal_name(name: str) -> None:
    if not PRINCIPAL_NAME.match(name):
        raise InvalidAwsIdentity("a principal name is 1-64 characters of A-Z a-z 0-9 + = , . @ _ -")


__all__ = [
    "MAX_KEYS_PER_PRINCIPAL",
    "AccessKey",
    "AccessKeyRegistry",
    "AccessKeyStore",
    "CreatedAccessKey",
    "CreatedMfaDevice",
    "InvalidAwsIdentity",
    "KeyStatus",
    "MfaAttemptCounter",
    "MfaDevice",
    "MfaDeviceStore",
    "MfaLockout",
    "MfaRegistry",
    "PrincipalCheck",
    "PrincipalType",
    "RevisionBump",
    "principal_user_id",
    "unseal_mfa_secret",
    "unseal_secret",
    "user_arn",
]
