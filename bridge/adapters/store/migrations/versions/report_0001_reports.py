"""Quarterly reports and reviews: report submissions, ingested login events, a ledger index for reports.

The index on ``audit_ledger (action, at)`` lets a quarter's report read only the grant/revoke/lock/unlock rows
of its period instead of the whole chain. On PostgreSQL the application role gets DML on the new tables.

Revision ID: report_0001
Revises: lock_0001 (main's head when this branch merged main)
Create Date: 2026-11-23
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import context, op

revision: str = "report_0001"
down_revision: str | None = "lock_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    """Create the report tables and the ledger index."""
    op.create_table(
        "report_submissions",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("unit_code", sa.String(32), nullable=False, index=True),
        sa.Column("quarter", sa.String(7), nullable=False, index=True),
        sa.Column("submitted_by", sa.String(254), nullable=False),
        sa.Column("submitted_at", TS, nullable=False),
        sa.Column("content_sha256", sa.String(64), nullable=False),
        sa.Column("late", sa.Boolean(), nullable=False),
        sa.UniqueConstraint("unit_code", "quarter", name="uq_report_submissions_unit_quarter"),
    )
    op.create_table(
        "login_events",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("event_key", sa.String(64), nullable=False, unique=True),
        sa.Column("at", TS, nullable=False, index=True),
        sa.Column("user_id", sa.String(64), nullable=False, index=True),
        sa.Column("username", sa.String(254), nullable=False, index=True),
        sa.Column("client_id", sa.String(255), nullable=False),
        sa.Column("ip_address", sa.String(64), nullable=False),
        sa.Column("session_id", sa.String(64), nullable=False),
    )
    op.create_index("ix_audit_ledger_action_at", "audit_ledger", ["action", "at"])
    app_role = context.config.attributes.get("app_role")
    if op.get_bind().dialect.name == "postgresql" and app_role:
        role = op.get_bind().dialect.identifier_preparer.quote(app_role)
        op.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON report_submissions, login_events TO {role}")
        op.execute(f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {role}")


def downgrade() -> None:
    """Drop the report tables and the ledger index."""
    op.drop_index("ix_audit_ledger_action_at", table_name="audit_ledger")
    op.drop_table("login_events")
    op.drop_table("report_submissions")
