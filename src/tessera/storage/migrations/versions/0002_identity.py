"""Identity: users, SSO sessions, interactions, authorization codes, refresh tokens, consents, login throttling.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def _tenant_id() -> sa.Column[str]:
    return sa.Column("tenant_id", sa.String(64), nullable=False)


def _tenant_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["tenant_id"], ["tenants.id"], name=f"fk_{table}_tenant_id_tenants", ondelete="CASCADE"
    )


def _pk(table: str, *columns: str) -> sa.PrimaryKeyConstraint:
    return sa.PrimaryKeyConstraint("tenant_id", *columns, name=f"pk_{table}")


def _double(name: str, nullable: bool = False) -> sa.Column[float]:
    return sa.Column(name, sa.Double(), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "users",
        _tenant_id(),
        sa.Column("user_id", sa.String(64), nullable=False),
        sa.Column("username", sa.String(128), nullable=False),
        sa.Column("username_key", sa.String(256), nullable=False),
        sa.Column("profile", JSON, nullable=False),
        sa.Column("disabled", sa.Boolean(), nullable=False),
        sa.Column("password_hash", sa.String(256), nullable=True),
        sa.Column("declared_password_hash", sa.String(256), nullable=True),
        sa.Column("managed", sa.Boolean(), nullable=False),
        _double("created_at"),
        _double("updated_at"),
        _tenant_fk("users"),
        _pk("users", "user_id"),
    )
    op.create_index("ix_users_tenant_username", "users", ["tenant_id", "username_key"], unique=True)

    op.create_table(
        "sso_sessions",
        _tenant_id(),
        sa.Column("session_id", sa.String(64), nullable=False),
        sa.Column("cookie_hash", sa.String(64), nullable=False),
        sa.Column("user_id", sa.String(64), nullable=False),
        _double("auth_time"),
        sa.Column("amr", JSON, nullable=False),
        sa.Column("acr", sa.String(64), nullable=False),
        _double("created_at"),
        _double("last_seen_at"),
        _double("expires_at"),
        _double("ended_at", nullable=True),
        sa.Column("source_ip", sa.String(64), nullable=True),
        _tenant_fk("sso_sessions"),
        _pk("sso_sessions", "session_id"),
    )
    op.create_index("ix_sso_sessions_expires_at", "sso_sessions", ["expires_at"])
    op.create_index("ix_sso_sessions_cookie", "sso_sessions", ["tenant_id", "cookie_hash"], unique=True)
    op.create_index("ix_sso_sessions_user", "sso_sessions", ["tenant_id", "user_id"])

    op.create_table(
        "session_clients",
        _tenant_id(),
        sa.Column("session_id", sa.String(64), nullable=False),
        sa.Column("client_id", sa.String(128), nullable=False),
        _tenant_fk("session_clients"),
        _pk("session_clients", "session_id", "client_id"),
    )

    op.create_table(
        "interactions",
        _tenant_id(),
        sa.Column("handle_hash", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("client_id", sa.String(128), nullable=False),
        sa.Column("request", JSON, nullable=False),
        sa.Column("browser_hash", sa.String(64), nullable=False),
        sa.Column("user_id", sa.String(64), nullable=True),
        sa.Column("session_id", sa.String(64), nullable=True),
        _double("created_at"),
        _double("expires_at"),
        _tenant_fk("interactions"),
        _pk("interactions", "handle_hash"),
    )
    op.create_index("ix_interactions_expires_at", "interactions", ["expires_at"])

    op.create_table(
        "authorization_codes",
        _tenant_id(),
        sa.Column("code_hash", sa.String(64), nullable=False),
        sa.Column("client_id", sa.String(128), nullable=False),
        sa.Column("redirect_uri", sa.String(2048), nullable=False),
        sa.Column("scopes", JSON, nullable=False),
        sa.Column("user_id", sa.String(64), nullable=False),
        sa.Column("subject", sa.String(128), nullable=False),
        sa.Column("session_id", sa.String(64), nullable=False),
        _double("auth_time"),
        sa.Column("amr", JSON, nullable=False),
        sa.Column("acr", sa.String(64), nullable=False),
        sa.Column("nonce", sa.String(512), nullable=True),
        sa.Column("code_challenge", sa.String(128), nullable=True),
        sa.Column("code_challenge_method", sa.String(16), nullable=True),
        _double("issued_at"),
        _double("expires_at"),
        _double("used_at", nullable=True),
        sa.Column("access_token_id", sa.String(128), nullable=True),
        _double("access_token_expires_at", nullable=True),
        sa.Column("family_id", sa.String(64), nullable=True),
        _tenant_fk("authorization_codes"),
        _pk("authorization_codes", "code_hash"),
    )
    op.create_index("ix_authorization_codes_expires_at", "authorization_codes", ["expires_at"])

    op.create_table(
        "refresh_tokens",
        _tenant_id(),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("family_id", sa.String(64), nullable=False),
        sa.Column("client_id", sa.String(128), nullable=False),
        sa.Column("user_id", sa.String(64), nullable=False),
        sa.Column("subject", sa.String(128), nullable=False),
        sa.Column("session_id", sa.String(64), nullable=False),
        sa.Column("scopes", JSON, nullable=False),
        _double("auth_time"),
        sa.Column("amr", JSON, nullable=False),
        sa.Column("acr", sa.String(64), nullable=False),
        sa.Column("offline", sa.Boolean(), nullable=False),
        _double("issued_at"),
        _double("expires_at"),
        sa.Column("access_token_id", sa.String(128), nullable=False),
        _double("access_token_expires_at"),
        _double("used_at", nullable=True),
        _double("revoked_at", nullable=True),
        _tenant_fk("refresh_tokens"),
        _pk("refresh_tokens", "token_hash"),
    )
    op.create_index("ix_refresh_tokens_expires_at", "refresh_tokens", ["expires_at"])
    op.create_index("ix_refresh_tokens_family", "refresh_tokens", ["tenant_id", "family_id"])
    op.create_index("ix_refresh_tokens_session", "refresh_tokens", ["tenant_id", "session_id"])
    op.create_index("ix_refresh_tokens_user", "refresh_tokens", ["tenant_id", "user_id"])

    op.create_table(
        "consents",
        _tenant_id(),
        sa.Column("user_id", sa.String(64), nullable=False),
        sa.Column("client_id", sa.String(128), nullable=False),
        sa.Column("scopes", JSON, nullable=False),
        _double("granted_at"),
        _tenant_fk("consents"),
        _pk("consents", "user_id", "client_id"),
    )

    op.create_table(
        "subject_identifiers",
        _tenant_id(),
        sa.Column("subject", sa.String(128), nullable=False),
        sa.Column("user_id", sa.String(64), nullable=False),
        _tenant_fk("subject_identifiers"),
        _pk("subject_identifiers", "subject"),
    )

    op.create_table(
        "login_failures",
        _tenant_id(),
        sa.Column("key", sa.String(300), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        _double("last_failure_at"),
        _double("locked_until", nullable=True),
        _tenant_fk("login_failures"),
        _pk("login_failures", "key"),
    )
    op.create_index("ix_login_failures_last_failure_at", "login_failures", ["last_failure_at"])

    op.create_table(
        "tenant_secrets",
        _tenant_id(),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("value", sa.LargeBinary(), nullable=False),
        _tenant_fk("tenant_secrets"),
        _pk("tenant_secrets", "name"),
    )


def downgrade() -> None:
    for table in (
        "tenant_secrets",
        "login_failures",
        "subject_identifiers",
        "consents",
        "refresh_tokens",
        "authorization_codes",
        "interactions",
        "session_clients",
        "sso_sessions",
        "users",
    ):
        op.drop_table(table)
