"""Identity tables: users, SSO sessions, interactions, codes, refresh tokens, consents, throttling.

Codes, refresh tokens, session cookies and interaction handles are stored as SHA-256 hashes of
256-bit random values, never in clear. Every row carries ``tenant_id``.
"""

from __future__ import annotations

from sqlalchemy import Boolean, Column, Double, ForeignKey, Index, Integer, LargeBinary, String, Table, text

from tessera.storage.sql.tables import Json, metadata


def _tenant_fk(primary_key: bool = True) -> Column[str]:
    return Column(
        "tenant_id", String(64), ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=primary_key, nullable=False
    )


users = Table(
    "users",
    metadata,
    _tenant_fk(),
    Column("user_id", String(64), primary_key=True),
    Column("username", String(128), nullable=False),
    Column("username_key", String(256), nullable=False),
    Column("profile", Json, nullable=False),  # email, email_verified, name, groups, attributes
    Column("disabled", Boolean, nullable=False),
    Column("password_hash", String(256), nullable=True),
    Column("declared_password_hash", String(256), nullable=True),
    Column("managed", Boolean, nullable=False),
    Column("created_at", Double, nullable=False),
    Column("updated_at", Double, nullable=False),
    Index("ix_users_tenant_username", "tenant_id", "username_key", unique=True),
)

sso_sessions = Table(
    "sso_sessions",
    metadata,
    _tenant_fk(),
    Column("session_id", String(64), primary_key=True),
    Column("cookie_hash", String(64), nullable=False),
    Column("user_id", String(64), nullable=False),
    Column("auth_time", Double, nullable=False),
    Column("amr", Json, nullable=False),
    Column("acr", String(64), nullable=False),
    Column("created_at", Double, nullable=False),
    Column("last_seen_at", Double, nullable=False),
    Column("expires_at", Double, nullable=False, index=True),
    Column("ended_at", Double, nullable=True),
    Column("source_ip", String(64), nullable=True),
    Index("ix_sso_sessions_cookie", "tenant_id", "cookie_hash", unique=True),
    Index("ix_sso_sessions_user", "tenant_id", "user_id"),
)

session_clients = Table(
    "session_clients",
    metadata,
    _tenant_fk(),
    Column("session_id", String(64), primary_key=True),
    Column("client_id", String(128), primary_key=True),
)

interactions = Table(
    "interactions",
    metadata,
    _tenant_fk(),
    Column("handle_hash", String(64), primary_key=True),
    Column("kind", String(16), nullable=False),
    Column("client_id", String(128), nullable=False),
    Column("request", Json, nullable=False),
    Column("browser_hash", String(64), nullable=False),
    Column("user_id", String(64), nullable=True),
    Column("session_id", String(64), nullable=True),
    Column("created_at", Double, nullable=False),
    Column("expires_at", Double, nullable=False, index=True),
)

authorization_codes = Table(
    "authorization_codes",
    metadata,
    _tenant_fk(),
    Column("code_hash", String(64), primary_key=True),
    Column("client_id", String(128), nullable=False),
    Column("redirect_uri", String(2048), nullable=False),
    Column("scopes", Json, nullable=False),
    Column("user_id", String(64), nullable=False),
    Column("subject", String(128), nullable=False),
    Column("session_id", String(64), nullable=False),
    Column("auth_time", Double, nullable=False),
    Column("amr", Json, nullable=False),
    Column("acr", String(64), nullable=False),
    Column("nonce", String(512), nullable=True),
    Column("code_challenge", String(128), nullable=True),
    Column("code_challenge_method", String(16), nullable=True),
    Column("issued_at", Double, nullable=False),
    Column("expires_at", Double, nullable=False, index=True),
    Column("used_at", Double, nullable=True),
    Column("access_token_id", String(128), nullable=True),
    Column("access_token_expires_at", Double, nullable=True),
    Column("family_id", String(64), nullable=True),
)

refresh_tokens = Table(
    "refresh_tokens",
    metadata,
    _tenant_fk(),
    Column("token_hash", String(64), primary_key=True),
    Column("family_id", String(64), nullable=False),
    Column("client_id", String(128), nullable=False),
    Column("user_id", String(64), nullable=False),
    Column("subject", String(128), nullable=False),
    Column("session_id", String(64), nullable=False),
    Column("scopes", Json, nullable=False),
    Column("auth_time", Double, nullable=False),
    Column("amr", Json, nullable=False),
    Column("acr", String(64), nullable=False),
    Column("offline", Boolean, nullable=False),
    Column("issued_at", Double, nullable=False),
    Column("expires_at", Double, nullable=False, index=True),
    Column("access_token_id", String(128), nullable=False),
    Column("access_token_expires_at", Double, nullable=False),
    Column("used_at", Double, nullable=True),
    Column("revoked_at", Double, nullable=True),
    Index("ix_refresh_tokens_family", "tenant_id", "family_id"),
    Index(  # "has the family a revoked member?" in one probe, whatever the family's size (migration 0004)
        "ix_refresh_tokens_family_revoked",
        "tenant_id",
        "family_id",
        sqlite_where=text("revoked_at IS NOT NULL"),
        postgresql_where=text("revoked_at IS NOT NULL"),
    ),
    Index("ix_refresh_tokens_session", "tenant_id", "session_id"),
    Index("ix_refresh_tokens_user", "tenant_id", "user_id"),
)

consents = Table(
    "consents",
    metadata,
    _tenant_fk(),
    Column("user_id", String(64), primary_key=True),
    Column("client_id", String(128), primary_key=True),
    Column("scopes", Json, nullable=False),
    Column("granted_at", Double, nullable=False),
)

subject_identifiers = Table(
    "subject_identifiers",
    metadata,
    _tenant_fk(),
    Column("subject", String(128), primary_key=True),
    Column("user_id", String(64), nullable=False),
)

login_failures = Table(
    "login_failures",
    metadata,
    _tenant_fk(),
    Column("key", String(300), primary_key=True),
    Column("count", Integer, nullable=False),
    Column("last_failure_at", Double, nullable=False, index=True),
    Column("locked_until", Double, nullable=True),
)

tenant_secrets = Table(
    "tenant_secrets",
    metadata,
    _tenant_fk(),
    Column("name", String(64), primary_key=True),
    Column("value", LargeBinary, nullable=False),
)

IDENTITY_TABLES = (
    users,
    sso_sessions,
    session_clients,
    interactions,
    authorization_codes,
    refresh_tokens,
    consents,
    subject_identifiers,
    login_failures,
    tenant_secrets,
)

__all__ = [
    "IDENTITY_TABLES",
    "authorization_codes",
    "consents",
    "interactions",
    "login_failures",
    "refresh_tokens",
    "session_clients",
    "sso_sessions",
    "subject_identifiers",
    "tenant_secrets",
    "users",
]
