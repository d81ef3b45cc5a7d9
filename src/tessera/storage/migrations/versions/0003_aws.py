"""AWS-STS-compatible API: access keys, roles, session-token keys, trusted identity providers.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass  # filled in by the AWS STS work


def downgrade() -> None:
    pass
