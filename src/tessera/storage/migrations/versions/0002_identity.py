"""Identity: users, SSO sessions, interactions, authorization codes, refresh tokens, consents, login throttling.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass  # filled in by the OpenID Connect work


def downgrade() -> None:
    pass
