"""The AWS-STS-compatible API's tables: access keys, roles, session-token keys, MFA devices, documents.

Secrets (access key secrets, session-token keys, TOTP seeds) are sealed under the key-encryption
key with the tenant and the row's id as associated data, so a sealed value cannot be moved to
another row. Migration ``0003_aws`` creates exactly this.
"""

from __future__ import annotations

from sqlalchemy import Boolean, Column, Double, ForeignKey, Integer, LargeBinary, String, Table, Text

from tessera.storage.sql.tables import Json, metadata


def _tenant_fk() -> Column[str]:
    return Column("tenant_id", String(64), ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True)


aws_access_keys = Table(
    "aws_access_keys",
    metadata,
    _tenant_fk(),
    Column("access_key_id", String(32), primary_key=True),
    Column("principal_type", String(32), nullable=False),
    Column("principal_name", String(128), nullable=False),
    Column("status", String(16), nullable=False),
    Column("sealed_secret", LargeBinary, nullable=False),
    Column("kek_id", String(32), nullable=False),
    Column("policy", Text, nullable=True),
    Column("description", String(1000), nullable=False),
    Column("created_at", Double, nullable=False),
    Column("updated_at", Double, nullable=False),
)

aws_roles = Table(
    "aws_roles",
    metadata,
    _tenant_fk(),
    Column("name", String(64), primary_key=True),
    Column("role_id", String(32), nullable=False),
    Column("spec", Json, nullable=False),
    Column("managed", Boolean, nullable=False),
    Column("sessions_revoked_before", Double, nullable=True),
    Column("created_at", Double, nullable=False),
    Column("updated_at", Double, nullable=False),
)

aws_session_keys = Table(
    "aws_session_keys",
    metadata,
    _tenant_fk(),
    Column("key_id", String(64), primary_key=True),
    Column("state", String(16), nullable=False),
    Column("sealed_key", LargeBinary, nullable=False),
    Column("kek_id", String(32), nullable=False),
    Column("created_at", Double, nullable=False),
    Column("retired_at", Double, nullable=True),
    Column("decrypts_until", Double, nullable=True),
)

aws_mfa_devices = Table(
    "aws_mfa_devices",
    metadata,
    _tenant_fk(),
    Column("name", String(128), primary_key=True),
    Column("principal_type", String(32), nullable=False),
    Column("principal_name", String(128), nullable=False),
    Column("sealed_secret", LargeBinary, nullable=False),
    Column("kek_id", String(32), nullable=False),
    Column("digits", Integer, nullable=False),
    Column("created_at", Double, nullable=False),
)

aws_documents = Table(
    "aws_documents",
    metadata,
    _tenant_fk(),
    Column("kind", String(32), primary_key=True),
    Column("name", String(512), primary_key=True),
    Column("spec", Json, nullable=False),
    Column("managed", Boolean, nullable=False),
    Column("created_at", Double, nullable=False),
    Column("updated_at", Double, nullable=False),
)

AWS_TABLES = (aws_access_keys, aws_roles, aws_session_keys, aws_mfa_devices, aws_documents)

__all__ = ["AWS_TABLES", "aws_access_keys", "aws_documents", "aws_mfa_devices", "aws_roles", "aws_session_keys"]
