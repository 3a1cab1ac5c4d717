"""Approved exception accounts: an outsider's local Keycloak account created from a leadership approval.

Revision ID: exc_0001
Revises: ops_0001
Create Date: 2026-11-26
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import context, op

revision: str = "exc_0001"
down_revision: str | None = "extraction_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    """Create ``exception_accounts``."""
    op.create_table(
        "exception_accounts",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("approval_id", sa.Integer, sa.ForeignKey("approval_requests.id"), nullable=False, unique=True),
        sa.Column("email", sa.String(254), nullable=False, index=True),
        sa.Column("full_name", sa.String(200), nullable=False),
        sa.Column("unit_code", sa.String(32), nullable=False, index=True),
        sa.Column("unit_group", sa.String(300), nullable=False),
        sa.Column("end_date", sa.Date, nullable=False),
        sa.Column("grant_id", sa.Integer, sa.ForeignKey("grants.id"), nullable=False),
        sa.Column("lock_decision_id", sa.Integer, sa.ForeignKey("lock_decisions.id")),
        sa.Column("approved_at", TS, nullable=False),
        sa.Column("user_id", sa.String(64)),
        sa.Column("created_at", TS),
        sa.Column("email_sent_at", TS),
        sa.Column("status", sa.String(16), nullable=False, index=True),
    )
    app_role = context.config.attributes.get("app_role")
    if app_role and op.get_bind().dialect.name == "postgresql":
        role = op.get_bind().dialect.identifier_preparer.quote(app_role)
        op.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON exception_accounts TO {role}")
        op.execute(f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {role}")


def downgrade() -> None:
    """Drop the table."""
    op.drop_table("exception_accounts")
