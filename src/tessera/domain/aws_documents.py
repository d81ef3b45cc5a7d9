"""Documents a tenant's AWS API trusts or attaches: managed policies and identity providers.

They are declared in the configuration (``[tenants.aws]``) and reconciled into the store, so that
every node reads the same set and a ``tessera apply`` on one node reaches all of them. A SAML
provider's certificates are read from its files when it is reconciled and stored as PEM text.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

DocumentKind = Literal["policy", "oidc-provider", "saml-provider"]
DOCUMENT_KINDS: tuple[DocumentKind, ...] = ("policy", "oidc-provider", "saml-provider")


@dataclass(frozen=True, slots=True)
class AwsDocument:
    """``spec`` is the JSON form of the declaring model (policy path and document, provider settings)."""

    tenant_id: str
    kind: DocumentKind
    name: str
    spec: dict[str, Any] = field(default_factory=dict)
    managed: bool = True
    created_at: float = 0.0
    updated_at: float = 0.0


def document_arn(account: str, kind: DocumentKind, name: str, spec: dict[str, Any]) -> str:
    """The ARN that names the document in policies and requests."""
    if kind == "policy":
        return f"arn:aws:iam::{account}:policy{spec.get('path', '/')}{name}"
    return f"arn:aws:iam::{account}:{kind}/{name}"


class AwsDocumentStore(Protocol):
    async def get(self, tenant_id: str, kind: DocumentKind, name: str) -> AwsDocument | None: ...
    async def list(self, tenant_id: str, kind: DocumentKind) -> list[AwsDocument]: ...
    async def put(self, document: AwsDocument) -> None:
        """Create or replace the document (kind and name identify it within the tenant)."""
        ...

    async def delete(self, tenant_id: str, kind: DocumentKind, name: str) -> bool: ...


__all__ = ["DOCUMENT_KINDS", "AwsDocument", "AwsDocumentStore", "DocumentKind", "document_arn"]
