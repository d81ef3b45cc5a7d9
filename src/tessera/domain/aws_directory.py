"""The cached view of access keys, roles, policies, providers and session keys the STS hot path reads.

Like ``Directory``: nothing here is read from the store twice while the store's revision counter
stays the same. A watcher reads the counter every ``refresh_seconds``; any change (CLI, ``tessera
apply``, a revocation) drops the whole cache on every node within that delay. Secrets are unsealed
once per cache fill. Unknown names are remembered in a bounded negative cache, so unsigned
requests naming random roles cannot turn into one database read each.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

from cryptography import x509

from tessera.clock import Clock
from tessera.domain.aws_documents import AwsDocumentStore, document_arn
from tessera.domain.aws_identities import (
    AccessKey,
    AccessKeyStore,
    MfaDevice,
    MfaDeviceStore,
    unseal_mfa_secret,
    unseal_secret,
)
from tessera.domain.keys import KeyEncryptionKey
from tessera.domain.roles import Role, RoleStore
from tessera.domain.sts_keys import SessionKeyRing, SessionKeyStore
from tessera.protocols.awssts.policy_document import PolicyDocument, PolicyKind, parse_policy
from tessera.secret import Secret
from tessera.settings_aws import OidcProviderConfig

log = logging.getLogger("tessera.aws")
NEGATIVE_CACHE_LIMIT = 10_000
_K = TypeVar("_K")
_V = TypeVar("_V")


@dataclass(frozen=True, slots=True)
class KnownAccessKey:
    key: AccessKey
    secret: Secret[str]
    policies: tuple[PolicyDocument, ...]
    principal_enabled: bool = True

    @property
    def is_usable(self) -> bool:
        return self.key.is_active and self.principal_enabled


@dataclass(frozen=True, slots=True)
class KnownRole:
    role: Role
    trust_policy: PolicyDocument
    permissions: tuple[PolicyDocument, ...]  # the inline permission policy and the attached managed policies


@dataclass(frozen=True, slots=True)
class KnownMfaDevice:
    device: MfaDevice
    seed: Secret[str]


@dataclass(frozen=True, slots=True)
class KnownSamlProvider:
    name: str
    certificates: tuple[x509.Certificate, ...]
    audiences: tuple[str, ...]
    recipients: tuple[str, ...]


class RevisionReader(Protocol):
    async def current(self) -> int: ...


class UserLookup(Protocol):
    async def __call__(self, tenant_id: str, username: str) -> bool:
        """Whether the user exists and is enabled."""
        ...


class AwsStores(Protocol):
    @property
    def aws_access_keys(self) -> AccessKeyStore: ...
    @property
    def aws_roles(self) -> RoleStore: ...
    @property
    def aws_session_keys(self) -> SessionKeyStore: ...
    @property
    def aws_mfa_devices(self) -> MfaDeviceStore: ...
    @property
    def aws_documents(self) -> AwsDocumentStore: ...
    @property
    def revisions(self) -> RevisionReader: ...


class _Cache(Generic[_K, _V]):
    """Positive entries without bound (they exist in the store), negative ones up to a limit."""

    def __init__(self) -> None:
        self.entries: dict[_K, _V | None] = {}
        self._misses = 0

    async def get(self, key: _K, load: Callable[[], Awaitable[_V | None]]) -> _V | None:
        if key in self.entries:
            return self.entries[key]
        value = await load()
        if value is not None:
            self.entries[key] = value
        elif self._misses < NEGATIVE_CACHE_LIMIT:
            self._misses += 1
            self.entries[key] = None
        return value

    def clear(self) -> None:
        self.entries.clear()
        self._misses = 0


class AwsDirectory:
    def __init__(
        self,
        store: AwsStores,
        kek: KeyEncryptionKey,
        clock: Clock,
        refresh_seconds: float = 1.0,
        user_enabled: UserLookup | None = None,
        ensure_session_keys: Callable[[str], Awaitable[object]] | None = None,
    ) -> None:
        self._store, self._kek, self._clock = store, kek, clock
        self._refresh_seconds = refresh_seconds
        self._user_enabled = user_enabled
        self._ensure_session_keys = ensure_session_keys
        self._keys: _Cache[tuple[str, str], KnownAccessKey] = _Cache()
        self._roles: _Cache[tuple[str, str], KnownRole] = _Cache()
        self._policies: _Cache[tuple[str, str], PolicyDocument] = _Cache()
        self._mfa: _Cache[tuple[str, str], KnownMfaDevice] = _Cache()
        self._oidc: _Cache[tuple[str, str], OidcProviderConfig] = _Cache()
        self._saml: _Cache[tuple[str, str], KnownSamlProvider] = _Cache()
        self._rings: dict[str, tuple[SessionKeyRing, float]] = {}
        self._reloaded_at: dict[str, float] = {}
        self._revision = -1
        self._watcher: asyncio.Task[None] | None = None

    # --- lookups -----------------------------------------------------------------------------------
    async def access_key(self, tenant_id: str, access_key_id: str) -> KnownAccessKey | None:
        async def load() -> KnownAccessKey | None:
            key = await self._store.aws_access_keys.get(tenant_id, access_key_id)
            if key is None:
                return None
            policies = (parse_policy(key.policy),) if key.policy else ()
            enabled = True
            if key.principal_type == "user" and self._user_enabled is not None:
                enabled = await self._user_enabled(tenant_id, key.principal_name)
            return KnownAccessKey(key, unseal_secret(key, self._kek), policies, enabled)

        return await self._keys.get((tenant_id, access_key_id), load)

    async def role(self, tenant_id: str, account: str, name: str) -> KnownRole | None:
        async def load() -> KnownRole | None:
            role = await self._store.aws_roles.get(tenant_id, name)
            if role is None:
                return None
            permissions = [parse_policy(role.spec.permission_policy)] if role.spec.permission_policy else []
            for arn in role.spec.managed_policy_arns:
                policy = await self.managed_policy(tenant_id, account, arn)
                if policy is not None:
                    permissions.append(policy)
            return KnownRole(role, parse_policy(role.spec.trust_policy, kind=PolicyKind.TRUST), tuple(permissions))

        return await self._roles.get((tenant_id, name.lower()), load)

    async def managed_policy(self, tenant_id: str, account: str, arn: str) -> PolicyDocument | None:
        async def load() -> PolicyDocument | None:
            name = arn.rsplit("/", 1)[-1]
            document = await self._store.aws_documents.get(tenant_id, "policy", name)
            if document is None or document_arn(account, "policy", name, document.spec) != arn:
                return None
            return parse_policy(document.spec["document"])

        return await self._policies.get((tenant_id, arn), load)

    async def mfa_device(self, tenant_id: str, name: str) -> KnownMfaDevice | None:
        async def load() -> KnownMfaDevice | None:
            device = await self._store.aws_mfa_devices.get(tenant_id, name)
            return None if device is None else KnownMfaDevice(device, unseal_mfa_secret(device, self._kek))

        return await self._mfa.get((tenant_id, name), load)

    async def oidc_provider(self, tenant_id: str, name: str) -> OidcProviderConfig | None:
        async def load() -> OidcProviderConfig | None:
            document = await self._store.aws_documents.get(tenant_id, "oidc-provider", name)
            return None if document is None else OidcProviderConfig.model_validate(document.spec)

        return await self._oidc.get((tenant_id, name), load)

    async def saml_provider(self, tenant_id: str, name: str) -> KnownSamlProvider | None:
        async def load() -> KnownSamlProvider | None:
            document = await self._store.aws_documents.get(tenant_id, "saml-provider", name)
            return None if document is None else _saml_provider(name, document.spec)

        return await self._saml.get((tenant_id, name), load)

    async def session_keys(self, tenant_id: str, wanted_key_id: str | None = None) -> SessionKeyRing:
        """The tenant's ring; reloaded (at most once per refresh interval) when it lacks ``wanted_key_id``.

        Another node may have rotated (or created the first key) a moment ago; waiting for the
        watcher would refuse its fresh sessions here for up to ``refresh_seconds``.
        """
        cached = self._rings.get(tenant_id)
        now = self._clock.now()
        if cached is not None and now < cached[1]:
            ring = cached[0]
            if wanted_key_id is None or wanted_key_id in ring.keys:
                return ring
            if now - self._reloaded_at.get(tenant_id, 0.0) < self._refresh_seconds:
                return ring
        self._reloaded_at[tenant_id] = now
        stored = await self._store.aws_session_keys.list(tenant_id)
        if not any(k.state == "active" for k in stored) and self._ensure_session_keys is not None:
            await self._ensure_session_keys(tenant_id)  # the tenant's first session: create its key
            stored = await self._store.aws_session_keys.list(tenant_id)
        ring = SessionKeyRing.build(stored, self._kek, now)
        ends = [k.decrypts_until for k in stored if k.decrypts_until is not None and k.decrypts_until > now]
        self._rings[tenant_id] = (ring, min(ends, default=float("inf")))
        return ring

    # --- invalidation ------------------------------------------------------------------------------
    def invalidate(self) -> None:
        for cache in (self._keys, self._roles, self._policies, self._mfa, self._oidc, self._saml):
            cache.clear()
        self._rings.clear()

    async def refresh(self) -> bool:
        revision = await self._store.revisions.current()
        if revision != self._revision:
            self._revision = revision
            self.invalidate()
            return True
        return False

    async def start(self) -> None:
        await self.refresh()
        self._watcher = asyncio.create_task(self._watch(), name="tessera-aws-directory-watcher")

    async def stop(self) -> None:
        watcher, self._watcher = self._watcher, None
        if watcher is not None:
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(self._refresh_seconds)
            try:
                await self.refresh()
            except Exception:  # the store may be briefly unreachable; keep serving from cache
                log.warning("could not read the store revision", exc_info=True)


def _saml_provider(name: str, spec: dict[str, Any]) -> KnownSamlProvider:
    certificates = tuple(x509.load_pem_x509_certificate(pem.encode("ascii")) for pem in spec.get("certificates", []))
    return KnownSamlProvider(
        name=name,
        certificates=certificates,
        audiences=tuple(spec.get("audiences", ())),
        recipients=tuple(spec.get("recipients", ())),
    )


__all__ = [
    "AwsDirectory",
    "AwsStores",
    "KnownAccessKey",
    "KnownMfaDevice",
    "KnownRole",
    "KnownSamlProvider",
    "UserLookup",
]
