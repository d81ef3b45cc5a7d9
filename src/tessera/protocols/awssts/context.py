"""What every STS action receives: the request as it arrived, the tenant, and the ports it may read."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

from tessera.domain.audit import AuditNotes
from tessera.domain.aws_directory import KnownAccessKey, KnownMfaDevice, KnownRole, KnownSamlProvider
from tessera.domain.sts_keys import SessionKeyRing
from tessera.domain.tenants import Tenant
from tessera.protocols.awssts.policy_document import PolicyDocument
from tessera.protocols.awssts.query import QueryRequest
from tessera.protocols.awssts.sigv4 import AwsRequest, SigV4Limits
from tessera.settings_aws import OidcProviderConfig, TenantAwsConfig

DEFAULT_LIMITS = SigV4Limits()


class StsDirectory(Protocol):
    """The cached identities, roles and keys (``domain.aws_directory.AwsDirectory``)."""

    async def access_key(self, tenant_id: str, access_key_id: str) -> KnownAccessKey | None: ...
    async def role(self, tenant_id: str, account: str, name: str) -> KnownRole | None: ...
    async def managed_policy(self, tenant_id: str, account: str, arn: str) -> PolicyDocument | None: ...
    async def mfa_device(self, tenant_id: str, name: str) -> KnownMfaDevice | None: ...
    async def oidc_provider(self, tenant_id: str, name: str) -> OidcProviderConfig | None: ...
    async def saml_provider(self, tenant_id: str, name: str) -> KnownSamlProvider | None: ...
    async def session_keys(self, tenant_id: str, wanted_key_id: str | None = None) -> SessionKeyRing: ...


RememberOnce = Callable[[str, str, float], Awaitable[bool]]
"""``(tenant_id, key, expires_at) -> first time seen?`` (the replay store, for one-time MFA codes)."""


@dataclass(frozen=True, slots=True)
class StsTenant:
    """The tenant as the STS API sees it."""

    tenant: Tenant
    account: str
    issuer: str
    config: TenantAwsConfig

    @property
    def id(self) -> str:
        return self.tenant.id

    def allows_region(self, region: str) -> bool:
        return self.config.regions is None or region in self.config.regions


@dataclass(frozen=True, slots=True)
class StsCall:
    """One STS Query request: the raw HTTP request (for SigV4), its parameters, and the request's audit notes."""

    tenant: StsTenant
    http: AwsRequest
    query: QueryRequest
    notes: AuditNotes
    now: float
    source_ip: str | None = None
    secure: bool = False
    limits: SigV4Limits = DEFAULT_LIMITS


__all__ = ["DEFAULT_LIMITS", "RememberOnce", "StsCall", "StsDirectory", "StsTenant"]
