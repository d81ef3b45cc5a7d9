"""The SAML attribute names AWS gives meaning to (IAM: "Configuring SAML assertions for the auth response")."""

from __future__ import annotations

ROLE_ATTRIBUTE = "https://aws.amazon.com/SAML/Attributes/Role"
SESSION_NAME_ATTRIBUTE = "https://aws.amazon.com/SAML/Attributes/RoleSessionName"
DURATION_ATTRIBUTE = "https://aws.amazon.com/SAML/Attributes/SessionDuration"
SOURCE_IDENTITY_ATTRIBUTE = "https://aws.amazon.com/SAML/Attributes/SourceIdentity"
TAG_ATTRIBUTE_PREFIX = "https://aws.amazon.com/SAML/Attributes/PrincipalTag:"
TRANSITIVE_ATTRIBUTE = "https://aws.amazon.com/SAML/Attributes/TransitiveTagKeys"

__all__ = [
    "DURATION_ATTRIBUTE",
    "ROLE_ATTRIBUTE",
    "SESSION_NAME_ATTRIBUTE",
    "SOURCE_IDENTITY_ATTRIBUTE",
    "TAG_ATTRIBUTE_PREFIX",
    "TRANSITIVE_ATTRIBUTE",
]
