"""Declarative bootstrap of the AWS API: roles, managed policies, trusted OIDC and SAML providers.

Each is one more ``TenantContents`` kind for ``Reconciler`` (see ``reconcile``): declared objects
are created or updated and marked managed, managed objects that left the file are deleted, and
roles created with the CLI are left alone unless the file declares the same name.
"""

from __future__ import annotations

import base64
import textwrap
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from lxml import etree

from tessera.clock import Clock
from tessera.domain.audit import AuditAction, AuditEvent, AuditTrail
from tessera.domain.aws_documents import AwsDocument, AwsDocumentStore, DocumentKind
from tessera.domain.reconcile import Action, Change, GeneratedSecret
from tessera.domain.roles import Role, RoleRegistry
from tessera.errors import ConfigurationError, Conflict
from tessera.settings import Settings, TenantConfig
from tessera.settings_aws import RoleConfig, SamlProviderConfig

_MD = "urn:oasis:names:tc:SAML:2.0:metadata"
_DS = "http://www.w3.org/2000/09/xmldsig#"
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)


class RolesReconciler:
    kind = "role"

    def __init__(self, roles: RoleRegistry) -> None:
        self._roles = roles

    async def plan(self, config: TenantConfig, settings: Settings, exists: bool) -> list[Change]:
        current = {r.name.lower(): r for r in await self._roles.list(config.id)} if exists else {}
        changes = []
        for spec in config.aws.roles:
            role = current.get(spec.name.lower())
            if role is None:
                changes.append(Change("role", "create", config.id, spec.name))
            elif fields := _role_diff(role, spec):
                changes.append(Change("role", "update", config.id, spec.name, fields))
        declared = {r.name.lower() for r in config.aws.roles}
        for role in current.values():
            if role.managed and role.name.lower() not in declared:
                changes.append(Change("role", "delete", config.id, role.name))
        return changes

    async def apply(
        self, change: Change, config: TenantConfig, settings: Settings, actor: str
    ) -> list[GeneratedSecret]:
        if change.action == "delete":
            await self._roles.delete(change.tenant_id, change.name, actor)
            return []
        spec = next(r for r in config.aws.roles if r.name.lower() == change.name.lower())
        if change.action == "create":
            try:
                await self._roles.create(change.tenant_id, spec, actor, managed=True)
            except Conflict:  # another node created it since the plan was made: take it over
                await self._roles.update(change.tenant_id, spec, actor, managed=True)
        else:
            await self._roles.update(change.tenant_id, spec, actor, managed=True)
        return []


def _role_diff(role: Role, spec: RoleConfig) -> tuple[str, ...]:
    old, new = role.spec.model_dump(), spec.model_dump()
    fields = [k for k in new if old.get(k) != new[k]]
    if not role.managed:
        fields.append("managed")
    return tuple(fields)


class AwsDocumentsReconciler:
    """Managed policies (``aws-policy``), OIDC providers (``oidc-provider``), SAML providers (``saml-provider``)."""

    def __init__(
        self,
        kind: str,
        document_kind: DocumentKind,
        store: AwsDocumentStore,
        revisions: Any,
        clock: Clock,
        audit: AuditTrail,
    ) -> None:
        self.kind = kind
        self._document_kind = document_kind
        self._store, self._revisions, self._clock, self._audit = store, revisions, clock, audit

    def desired(self, config: TenantConfig) -> dict[str, dict[str, Any]]:
        aws = config.aws
        if self._document_kind == "policy":
            return {p.name: p.model_dump(mode="json", exclude={"name"}) for p in aws.policies}
        if self._document_kind == "oidc-provider":
            return {p.provider_name: p.model_dump(mode="json") for p in aws.oidc_providers}
        return {p.name: saml_provider_spec(config.id, p) for p in aws.saml_providers}

    async def plan(self, config: TenantConfig, settings: Settings, exists: bool) -> list[Change]:
        current = {d.name: d for d in await self._store.list(config.id, self._document_kind)} if exists else {}
        desired = self.desired(config)
        changes = []
        for name, spec in desired.items():
            document = current.get(name)
            if document is None:
                changes.append(Change(self.kind, "create", config.id, name))
            elif document.spec != spec or not document.managed:
                changes.append(Change(self.kind, "update", config.id, name, tuple(_spec_diff(document.spec, spec))))
        for name, document in current.items():
            if document.managed and name not in desired:
                changes.append(Change(self.kind, "delete", config.id, name))
        return changes

    async def apply(
        self, change: Change, config: TenantConfig, settings: Settings, actor: str
    ) -> list[GeneratedSecret]:
        if change.action == "delete":
            await self._store.delete(change.tenant_id, self._document_kind, change.name)
        else:
            spec = self.desired(config)[change.name]
            await self._store.put(AwsDocument(change.tenant_id, self._document_kind, change.name, spec, managed=True))
        await self._revisions.bump()
        await self._record(change.tenant_id, change.name, change.action, actor)
        return []

    async def _record(self, tenant_id: str, name: str, action: Action, actor: str) -> None:
        await self._audit.record(
            AuditEvent(
                action=AuditAction.AWS_DOCUMENT_CHANGE.value,
                result="success",
                tenant_id=tenant_id,
                occurred_at=self._clock.now(),
                actor=actor,
                details={"kind": self._document_kind, "name": name, "change": action},
            )
        )


def _spec_diff(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    fields = sorted(k for k in {*old, *new} if old.get(k) != new.get(k))
    return fields or ["managed"]


def saml_provider_spec(tenant_id: str, provider: SamlProviderConfig) -> dict[str, Any]:
    """The stored form of a SAML provider: its certificates as PEM, read from wherever they were declared."""
    pems = [_normalised_pem(pem, provider.name) for pem in provider.certificates]
    for path in provider.certificate_files:
        pems.extend(_pems_in(_read(path, provider.name), provider.name))
    if provider.metadata_file is not None:
        pems.extend(_metadata_certificates(_read(provider.metadata_file, provider.name), provider.name))
    if not pems:
        raise ConfigurationError(f"tenant {tenant_id!r}: SAML provider {provider.name!r} has no signing certificate")
    return {
        "certificates": sorted(set(pems)),
        "audiences": list(provider.audiences),
        "recipients": list(provider.recipients),
    }


def _read(path: Path, provider: str) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigurationError(f"SAML provider {provider!r}: cannot read {path}: {exc.strerror}") from None


def _pems_in(text: str, provider: str) -> list[str]:
    blocks = [
        f"-----BEGIN CERTIFICATE-----{b.split('-----END CERTIFICATE-----')[0]}-----END CERTIFICATE-----"
        for b in text.split("-----BEGIN CERTIFICATE-----")[1:]
    ]
    return [_normalised_pem(b, provider) for b in blocks]


def _normalised_pem(pem: str, provider: str) -> str:
    try:
        certificate = x509.load_pem_x509_certificate(pem.strip().encode("ascii"))
    except ValueError:
        raise ConfigurationError(f"SAML provider {provider!r}: a certificate is not PEM X.509") from None
    return certificate.public_bytes(Encoding.PEM).decode("ascii")


def _metadata_certificates(text: str, provider: str) -> list[str]:
    try:
        root = etree.fromstring(text.encode("utf-8"), parser=_PARSER)
    except etree.XMLSyntaxError:
        raise ConfigurationError(f"SAML provider {provider!r}: the metadata is not XML") from None
    pems = []
    for descriptor in root.iter(f"{{{_MD}}}KeyDescriptor"):
        if descriptor.get("use", "signing") != "signing":
            continue
        for node in descriptor.iter(f"{{{_DS}}}X509Certificate"):
            body = "".join((node.text or "").split())
            try:
                base64.b64decode(body, validate=True)
            except ValueError:
                raise ConfigurationError(f"SAML provider {provider!r}: a metadata certificate is not base64") from None
            lines = "\n".join(textwrap.wrap(body, 64))
            pems.append(_normalised_pem(f"-----BEGIN CERTIFICATE-----\n{lines}\n-----END CERTIFICATE-----", provider))
    return pems


__all__ = ["AwsDocumentsReconciler", "RolesReconciler", "saml_provider_spec"]
