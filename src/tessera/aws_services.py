"""Wiring of the AWS-STS-compatible API, called by ``compose.open_services``.

Kept apart from ``compose.py`` so the feature's wiring reads as one unit; like ``compose``, this
is an adapter-to-core wiring module that no core imports.
"""

from __future__ import annotations

from dataclasses import dataclass

from tessera.clock import Clock
from tessera.domain.audit import AuditTrail
from tessera.domain.aws_directory import AwsDirectory
from tessera.domain.aws_identities import AccessKeyRegistry, MfaRegistry, PrincipalType
from tessera.domain.aws_reconcile import AwsDocumentsReconciler, RolesReconciler
from tessera.domain.directory import Directory
from tessera.domain.keys import KeyEncryptionKey
from tessera.domain.reconcile import TenantContents
from tessera.domain.roles import RoleRegistry
from tessera.domain.sts_keys import SessionKeyManager
from tessera.domain.tenants import Tenant
from tessera.domain.trusted_issuers import TrustedIssuerKeys
from tessera.domain.users import User
from tessera.errors import NotFound
from tessera.protocols.awssts.context import StsTenant
from tessera.protocols.awssts.endpoint import StsEndpoint
from tessera.protocols.awssts.verification import RequestVerifier
from tessera.protocols.awssts.web_identity import RevokedTokens
from tessera.protocols.oauth2 import ClientAuthenticator
from tessera.settings import Settings
from tessera.settings_aws import TenantAwsConfig
from tessera.storage.sql.store import SqlStore


@dataclass
class AwsServices:
    directory: AwsDirectory
    access_keys: AccessKeyRegistry
    mfa_devices: MfaRegistry
    roles: RoleRegistry
    session_keys: SessionKeyManager
    issuer_keys: TrustedIssuerKeys
    endpoint: StsEndpoint
    verifier: RequestVerifier
    authenticator: ClientAuthenticator
    reconcilers: list[TenantContents]
    settings: Settings
    store: SqlStore

    def tenant_view(self, tenant: Tenant) -> StsTenant:
        """The tenant as the STS core sees it: account id, issuer and its ``[tenants.aws]`` settings."""
        base = self.settings.server.base_url()
        return StsTenant(tenant, tenant.aws_account_id(), tenant.issuer_url(base), self.aws_config(tenant.id))

    def aws_config(self, tenant_id: str) -> TenantAwsConfig:
        for config in self.settings.tenants:
            if config.id == tenant_id:
                return config.aws
        return TenantAwsConfig()

    async def start(self) -> None:
        await self.directory.start()

    async def close(self) -> None:
        await self.directory.stop()
        await self.issuer_keys.close()

    async def maintain(self) -> None:
        """Delete retired session-token keys whose sessions have all expired."""
        for tenant in await self.store.tenants.list():
            await self.session_keys.expire(tenant.id)


def build_aws_services(
    settings: Settings,
    store: SqlStore,
    kek: KeyEncryptionKey,
    directory: Directory,
    authenticator: ClientAuthenticator,
    audit: AuditTrail,
    clock: Clock,
    revoked_tokens: RevokedTokens,
) -> AwsServices:
    """``revoked_tokens``: the node's in-memory denylist, consulted for the tenant's own web identity tokens."""

    async def check_principal(tenant_id: str, principal_type: PrincipalType, name: str) -> None:
        if principal_type == "user" and await _find_user(store, tenant_id, name) is None:
            raise NotFound(f"no user {name!r} in tenant {tenant_id!r}")

    async def user_enabled(tenant_id: str, username: str) -> bool:
        user = await _find_user(store, tenant_id, username)
        return user is not None and user.is_enabled

    roles = RoleRegistry(store.aws_roles, store.revisions, clock, audit)
    session_keys = SessionKeyManager(store.aws_session_keys, store.revisions, kek, clock, audit)
    aws_directory = AwsDirectory(
        store, kek, clock, settings.storage.cache_refresh_seconds, user_enabled, session_keys.ensure
    )
    issuer_keys = TrustedIssuerKeys(clock)
    skew = settings.tokens.clock_skew.total_seconds()
    reconcilers: list[TenantContents] = [
        AwsDocumentsReconciler("aws-policy", "policy", store.aws_documents, store.revisions, clock, audit),
        AwsDocumentsReconciler("oidc-provider", "oidc-provider", store.aws_documents, store.revisions, clock, audit),
        AwsDocumentsReconciler("saml-provider", "saml-provider", store.aws_documents, store.revisions, clock, audit),
        RolesReconciler(roles),
    ]
    return AwsServices(
        directory=aws_directory,
        access_keys=AccessKeyRegistry(store.aws_access_keys, store.revisions, kek, clock, audit, check_principal),
        mfa_devices=MfaRegistry(store.aws_mfa_devices, store.revisions, kek, clock, audit, check_principal),
        roles=roles,
        session_keys=session_keys,
        issuer_keys=issuer_keys,
        endpoint=StsEndpoint(
            aws_directory,
            store.replays.remember,
            store.aws_mfa_devices,  # also counts wrong MFA codes, per device
            directory,
            revoked_tokens,
            issuer_keys,
            skew,
        ),
        verifier=RequestVerifier(aws_directory),
        authenticator=authenticator,
        reconcilers=reconcilers,
        settings=settings,
        store=store,
    )


async def _find_user(store: SqlStore, tenant_id: str, username: str) -> User | None:
    return await store.users.find(tenant_id, username)


__all__ = ["AwsServices", "build_aws_services"]
