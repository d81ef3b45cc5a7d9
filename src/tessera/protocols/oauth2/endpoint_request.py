"""The request model every OAuth endpoint core takes."""

from __future__ import annotations

from dataclasses import dataclass

from tessera.domain.audit import AuditNotes
from tessera.domain.tenants import Tenant
from tessera.protocols.oauth2.requests import FormParams


@dataclass(frozen=True, slots=True)
class EndpointRequest:
    """A parsed HTTP request to a tenant's OAuth endpoint."""

    tenant: Tenant
    issuer: str
    endpoint_url: str
    form: FormParams
    authorization: str | None
    notes: AuditNotes
    now: float

    def assertion_audiences(self, token_endpoint_url: str) -> frozenset[str]:
        """Who a private_key_jwt assertion may be addressed to here (RFC 7523 §3, OIDC Core §9)."""
        return frozenset({self.issuer, token_endpoint_url, self.endpoint_url})


__all__ = ["EndpointRequest"]
