"""AWS-STS-compatible API: access keys, roles, session-token keys, MFA devices, trusted identity providers.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def _tenant_id() -> sa.Column[str]:
    return sa.Column("tenant_id", sa.String(64), nullable=False)


def _tenant_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["tenant_id"], ["tenants.id"], name=f"fk_{table}_tenant_id_tenants", ondelete="CASCADE"
    )


def upgrade() -> None:
    op.create_table(
        "aws_access_keys",
        _tenant_id(),
        sa.Column("access_key_id", sa.String(32), nullable=False),
        sa.Column("principal_type", sa.String(32), nullable=False),
        sa.Column("principal_name", sa.String(128), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("sealed_secret", sa.LargeBinary(), nullable=False),
        sa.Column("kek_id", sa.String(32), nullable=False),
        sa.Column("policy", sa.Text(), nullable=True),
        sa.Column("description", sa.String(1000), nullable=False),
        sa.Column("created_at", sa.Double(), nullable=False),
        sa.Column("updated_at", sa.Double(), nullable=False),
        _tenant_fk("aws_access_keys"),
        sa.PrimaryKeyConstraint("tenant_id", "access_key_id", name="pk_aws_access_keys"),
    )
    op.create_table(
        "aws_roles",
        _tenant_id(),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("role_id", sa.String(32), nullable=False),
        sa.Column("spec", JSON, nullable=False),
        sa.Column("managed", sa.Boolean(), nullable=False),
        sa.Column("sessions_revoked_before", sa.Double(), nullable=True),
        sa.Column("created_at", sa.Double(), nullable=False),
        sa.Column("updated_at", sa.Double(), nullable=False),
        _tenant_fk("aws_roles"),
        sa.PrimaryKeyConstraint("tenant_id", "name", name="pk_aws_roles"),
    )
    op.create_table(
        "aws_session_keys",
        _tenant_id(),
        sa.Column("key_id", sa.String(64), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("sealed_key", sa.LargeBinary(), nullable=False),
        sa.Column("kek_id", sa.String(32), nullable=False),
        sa.Column("created_at", sa.Double(), nullable=False),
        sa.Column("retired_at", sa.Double(), nullable=True),
        sa.Column("decrypts_until", sa.Double(), nullable=True),
        _tenant_fk("aws_session_keys"),
        sa.PrimaryKeyConstraint("tenant_id", "key_id", name="pk_aws_session_keys"),
    )
    op.create_table(
        "aws_mfa_devices",
        _tenant_id(),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("principal_type", sa.String(32), nullable=False),
        sa.Column("principal_name", sa.String(128), nullable=False),
        sa.Column("sealed_secret", sa.LargeBinary(), nullable=False),
        sa.Column("kek_id", sa.String(32), nullable=False),
        sa.Column("digits", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.Double(), nullable=False),
        _tenant_fk("aws_mfa_devices"),
        sa.PrimaryKeyConstraint("tenant_id", "name", name="pk_aws_mfa_devices"),
    )
    op.create_table(
        "aws_documents",
        _tenant_id(),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("name", sa.String(512), nullable=False),
        sa.Column("spec", JSON, nullable=False),
        sa.Column("managed", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.Double(), nullable=False),
        sa.Column("updated_at", sa.Double(), nullable=False),
        _tenant_fk("aws_documents"),
        sa.PrimaryKeyConstraint("tenant_id", "kind", "name", name="pk_aws_documents"),
    )


def downgrade() -> None:
    for table in ("aws_documents", "aws_mfa_devices", "aws_session_keys", "aws_roles", "aws_access_keys"):
        op.drop_table(table)
