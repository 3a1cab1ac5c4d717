"""Lock lifecycle: lock decisions and the scheduler's jobs.

Revision ID: lock_0001
Revises: sync_0001
Create Date: 2026-11-23
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import context, op

revision: str = "lock_0001"
down_revision: str | None = "sync_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TS = sa.DateTime(timezone=True)
TABLES = ("lock_decisions", "lock_jobs")


def upgrade() -> None:
    """Create the lock tables."""
    op.create_table(
        "lock_decisions",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("email", sa.String(254), nullable=False, index=True),
        sa.Column("unit_code", sa.String(32), nullable=False, index=True),
        sa.Column("reason_code", sa.String(32), nullable=False),
        sa.Column("decision_number", sa.String(64)),
        sa.Column("decision_date", sa.Date),
        sa.Column("effective_date", sa.Date, nullable=False, index=True),
        sa.Column("end_date", sa.Date),
        sa.Column("requested_by", sa.String(254), nullable=False),
        sa.Column("requested_at", TS, nullable=False),
        sa.Column("source", sa.String(80), nullable=False),
        sa.Column("status", sa.String(16), nullable=False, index=True),
        sa.Column("hold_id", sa.Integer, sa.ForeignKey("person_holds.id")),
        sa.Column("user_id", sa.String(64)),
        sa.Column("role_groups", sa.JSON),
        sa.Column("proof", sa.JSON),
        sa.Column("applied_at", TS),
        sa.Column("ended_at", TS),
        sa.Column("end_reason", sa.String(32)),
        sa.Column("end_proof", sa.JSON),
    )
    op.create_table(
        "lock_jobs",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("decision_id", sa.Integer, sa.ForeignKey("lock_decisions.id"), nullable=False, index=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("due_date", sa.Date, nullable=False, index=True),
        sa.Column("state", sa.String(16), nullable=False, index=True),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("not_before", TS, nullable=False),
        sa.Column("claimed_by", sa.String(80)),
        sa.Column("claimed_until", TS),
        sa.Column("last_error", sa.String(500)),
        sa.Column("done_at", TS),
        sa.UniqueConstraint("decision_id", "kind", name="uq_lock_jobs_decision_kind"),
    )
    app_role = context.config.attributes.get("app_role")
    if app_role and op.get_bind().dialect.name == "postgresql":
        role = op.get_bind().dialect.identifier_preparer.quote(app_role)
        op.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON {', '.join(TABLES)} TO {role}")
        op.execute(f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {role}")


def downgrade() -> None:
    """Drop the lock tables."""
    for table in reversed(TABLES):
        op.drop_table(table)
