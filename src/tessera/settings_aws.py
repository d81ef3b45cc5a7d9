"""Configuration of a tenant's AWS-STS-compatible API: roles, managed policies, trusted identity providers.

Declared under ``[tenants.aws]`` and reconciled like clients (``tessera apply``). Policy documents
may be written as TOML tables or as JSON strings; either way they are validated with the IAM
policy parser at start-up, and a bad one stops the process with a message naming the key.
Long-term access keys and MFA devices are never declared here: their secrets are created by the
CLI (``tessera aws-key create``, ``tessera aws-mfa create``) and shown once.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from tessera.protocols.awssts.errors import MalformedPolicyDocument
from tessera.protocols.awssts.policy_document import PolicyKind, parse_policy

ROLE_NAME = re.compile(r"^[\w+=,.@-]{1,64}\Z", re.ASCII)
ROLE_PATH = re.compile(r"^/(?:[\x21-\x7e]{0,510}/)?\Z")
PROVIDER_NAME = re.compile(r"^[\w._-]{1,128}\Z", re.ASCII)
_REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d\Z|^[a-z0-9-]{1,32}\Z")
_LOOPBACK = ("127.0.0.1", "localhost", "::1", "[::1]")
MIN_ROLE_SESSION = 3600
MAX_ROLE_SESSION = 43_200
AWS_SAML_AUDIENCES = ("https://signin.aws.amazon.com/saml", "urn:amazon:webservices")
AWS_SAML_RECIPIENT = "https://signin.aws.amazon.com/saml"

PolicyText = dict[str, Any] | str


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


def policy_json(value: PolicyText, kind: PolicyKind) -> str:
    """Validate a policy (a table or JSON text) and return it as compact JSON text."""
    try:
        parse_policy(value, kind=kind)
    except MalformedPolicyDocument as exc:
        raise ValueError(f"is not a valid IAM policy: {exc.description}") from None
    if isinstance(value, str):
        return json.dumps(json.loads(value), separators=(",", ":"))
    return json.dumps(value, separators=(",", ":"))


class RoleConfig(_Model):
    """An IAM-style role: who may assume it (trust policy) and what its sessions may do."""

    name: str = Field(description="1-64 characters of A-Z a-z 0-9 + = , . @ _ -, unique in the tenant.")
    path: str = Field(default="/", description="IAM path, `/` or `/a/b/`; part of the ARN role/<path><name>.")
    description: str = Field(default="", max_length=1000, description="What the role is for, for people.")
    trust_policy: PolicyText = Field(
        description="Who may assume the role: an IAM trust policy (table or JSON text) with a Principal."
    )
    permission_policy: PolicyText | None = Field(
        default=None, description="What sessions may do: an IAM identity policy. Absent: nothing is allowed."
    )
    managed_policy_arns: list[str] = Field(
        default_factory=list, description="ARNs of the tenant's managed policies also attached to the role."
    )
    max_session_duration: int = Field(
        default=3600, ge=MIN_ROLE_SESSION, le=MAX_ROLE_SESSION, description="Longest session in seconds (1-12 h)."
    )
    tags: dict[str, str] = Field(default_factory=dict, description="Tags of the role (aws:ResourceTag/...).")

    @field_validator("name")
    @classmethod
    def _check_name(cls, value: str) -> str:
        if not ROLE_NAME.match(value):
            raise ValueError("must be 1-64 characters of A-Z a-z 0-9 + = , . @ _ -")
        return value

    @field_validator("path")
    @classmethod
    def _check_path(cls, value: str) -> str:
        if not ROLE_PATH.match(value):
            raise ValueError("must be / or start and end with / (printable ASCII, at most 512 characters)")
        return value

    @field_validator("trust_policy")
    @classmethod
    def _check_trust(cls, value: PolicyText) -> str:
        return policy_json(value, PolicyKind.TRUST)

    @field_validator("permission_policy")
    @classmethod
    def _check_permissions(cls, value: PolicyText | None) -> str | None:
        return None if value is None else policy_json(value, PolicyKind.IDENTITY)


class ManagedPolicyConfig(_Model):
    """A customer-managed policy: attachable to roles and passable as a session policy (PolicyArns)."""

    name: str = Field(description="1-128 characters of A-Z a-z 0-9 + = , . @ _ -; ARN policy/<path><name>.")
    path: str = Field(default="/", description="IAM path, `/` or `/a/b/`.")
    description: str = Field(default="", max_length=1000, description="What the policy allows, for people.")
    document: PolicyText = Field(description="The IAM identity policy (table or JSON text).")

    @field_validator("name")
    @classmethod
    def _check_name(cls, value: str) -> str:
        if not re.fullmatch(r"[\w+=,.@-]{1,128}", value, re.ASCII):
            raise ValueError("must be 1-128 characters of A-Z a-z 0-9 + = , . @ _ -")
        return value

    @field_validator("path")
    @classmethod
    def _check_path(cls, value: str) -> str:
        if not ROLE_PATH.match(value):
            raise ValueError("must be / or start and end with /")
        return value

    @field_validator("document")
    @classmethod
    def _check_document(cls, value: PolicyText) -> str:
        return policy_json(value, PolicyKind.IDENTITY)


class OidcProviderConfig(_Model):
    """A trusted external OpenID Connect issuer for AssumeRoleWithWebIdentity.

    Its ARN is ``arn:aws:iam::<account>:oidc-provider/<issuer without https://>``; trust policies
    name it as a ``Federated`` principal and test ``<issuer without https://>:sub`` and ``:aud``.
    Keys come from ``jwks`` when given, else from ``jwks_uri``, else from the issuer's discovery
    document; fetched keys are cached and refetched when a token names an unknown ``kid``.
    """

    issuer: str = Field(description="The exact `iss` of its tokens: an https URL (http only for loopback hosts).")
    audiences: list[str] = Field(min_length=1, description="Accepted `aud` values (the client ids registered there).")
    jwks_uri: str | None = Field(default=None, description="Where its keys are; default: from its discovery document.")
    jwks: dict[str, Any] | None = Field(default=None, description="Its public keys inline (a JWK Set).")
    jwks_cache_seconds: int = Field(default=3600, ge=60, le=86_400, description="How long fetched keys are reused.")

    @field_validator("issuer", "jwks_uri")
    @classmethod
    def _check_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parts = urlsplit(value)
        if parts.scheme not in ("https", "http") or not parts.netloc or parts.query or parts.fragment:
            raise ValueError("must be an https URL without query or fragment")
        if parts.scheme == "http" and parts.hostname not in _LOOPBACK:
            raise ValueError("must use https (http is accepted for loopback hosts only)")
        return value

    @field_validator("jwks")
    @classmethod
    def _check_jwks(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        if value is not None and not isinstance(value.get("keys"), list):
            raise ValueError("must be a JWK Set ({keys = [...]})")
        return value

    @property
    def provider_name(self) -> str:
        """The issuer without its scheme and trailing slash (IAM's provider URL)."""
        return oidc_provider_name(self.issuer)


class SamlProviderConfig(_Model):
    """A trusted SAML 2.0 identity provider for AssumeRoleWithSAML.

    Its ARN is ``arn:aws:iam::<account>:saml-provider/<name>``. Responses must be signed (the
    Response or the Assertion) by one of its certificates, read from ``certificates``,
    ``certificate_files`` or the signing ``KeyDescriptor``s of ``metadata_file``.
    """

    name: str = Field(description="1-128 characters of A-Z a-z 0-9 . _ -, unique in the tenant.")
    certificates: list[str] = Field(default_factory=list, description="PEM signing certificates of the IdP.")
    certificate_files: list[Path] = Field(default_factory=list, description="Files holding PEM certificates.")
    metadata_file: Path | None = Field(default=None, description="The IdP's SAML metadata (its signing keys are read).")
    audiences: list[str] = Field(
        default_factory=lambda: list(AWS_SAML_AUDIENCES), description="Accepted AudienceRestriction values."
    )
    recipients: list[str] = Field(
        default_factory=lambda: [AWS_SAML_RECIPIENT],
        description="Accepted SubjectConfirmationData Recipient values (besides <issuer>/sts/saml).",
    )

    @field_validator("name")
    @classmethod
    def _check_name(cls, value: str) -> str:
        if not PROVIDER_NAME.match(value):
            raise ValueError("must be 1-128 characters of A-Z a-z 0-9 . _ -")
        return value

    @model_validator(mode="after")
    def _check_certificates(self) -> SamlProviderConfig:
        if not (self.certificates or self.certificate_files or self.metadata_file):
            raise ValueError("needs certificates, certificate_files or metadata_file")
        return self


class TenantAwsConfig(_Model):
    """The tenant's AWS-STS-compatible API (`/t/<id>/sts/`, and `/` for the default tenant)."""

    enabled: bool = Field(default=True, description="Answer the STS Query API for this tenant.")
    regions: list[str] | None = Field(
        default=None, description="Regions requests may be signed for; unset: any. Others: RegionDisabledException."
    )
    trust_own_issuer: bool = Field(
        default=True, description="Accept this tenant's own tokens in AssumeRoleWithWebIdentity."
    )
    own_issuer_audiences: list[str] = Field(
        default_factory=list,
        description="`aud` values accepted from this tenant's own tokens, besides its default audience.",
    )
    roles: list[RoleConfig] = Field(default_factory=list, description="Declared roles ([[tenants.aws.roles]]).")
    policies: list[ManagedPolicyConfig] = Field(default_factory=list, description="Declared managed policies.")
    oidc_providers: list[OidcProviderConfig] = Field(default_factory=list, description="Trusted external OIDC issuers.")
    saml_providers: list[SamlProviderConfig] = Field(default_factory=list, description="Trusted SAML IdPs.")

    @field_validator("regions")
    @classmethod
    def _check_regions(cls, value: list[str] | None) -> list[str] | None:
        for region in value or ():
            if not _REGION.match(region):
                raise ValueError(f"region {region!r} is not a region name such as us-east-1")
        return value

    @model_validator(mode="after")
    def _check_unique(self) -> TenantAwsConfig:
        for what, names in (
            ("role name", [r.name for r in self.roles]),
            ("policy name", [p.name for p in self.policies]),
            ("OIDC issuer", [p.provider_name for p in self.oidc_providers]),
            ("SAML provider name", [p.name for p in self.saml_providers]),
        ):
            seen: set[str] = set()
            for name in names:
                if name.lower() in seen:  # IAM names are unique case-insensitively
                    raise ValueError(f"duplicate {what} {name!r}")
                seen.add(name.lower())
        return self


def oidc_provider_name(issuer: str) -> str:
    """``https://idp.example.com/x/`` → ``idp.example.com/x`` (the IAM OIDC provider URL)."""
    return issuer.split("://", 1)[-1].rstrip("/")


__all__ = [
    "AWS_SAML_AUDIENCES",
    "AWS_SAML_RECIPIENT",
    "MAX_ROLE_SESSION",
    "MIN_ROLE_SESSION",
    "ManagedPolicyConfig",
    "OidcProviderConfig",
    "PolicyText",
    "RoleConfig",
    "SamlProviderConfig",
    "TenantAwsConfig",
    "oidc_provider_name",
    "policy_json",
]
