"""Sync engine: runs, applied operations, state (high-water mark), leavers, holds.

Revision ID: sync_0001
Revises: gov_0001
Create Date: 2026-11-23
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import context, op

revision: str = "sync_0001"
down_revision: str | None = "gov_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TS = sa.DateTime(timezone=True)
TABLES = ("sync_runs", "sync_operations", "sync_state", "sync_leavers", "person_holds")


def upgrade() -> None:
    """Create the sync engine's tables."""
    op.create_table(
        "sync_runs",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("started_at", TS, nullable=False),
        sa.Column("finished_at", TS),
        sa.Column("mode", sa.String(16), nullable=False),
        sa.Column("dry_run", sa.Boolean, nullable=False),
        sa.Column("status", sa.String(16), nullable=False, index=True),
        sa.Column("day", sa.Date, nullable=False),
        sa.Column("realm", sa.String(64), nullable=False),
        sa.Column("plan_hash", sa.String(64), index=True),
        sa.Column("planned", sa.Integer, nullable=False),
        sa.Column("applied", sa.Integer, nullable=False),
        sa.Column("failed", sa.Integer, nullable=False),
        sa.Column("reads", sa.Integer, nullable=False),
        sa.Column("writes", sa.Integer, nullable=False),
        sa.Column("report", sa.JSON, nullable=False),
    )
    op.create_table(
        "sync_operations",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("run_id", sa.Integer, sa.ForeignKey("sync_runs.id"), nullable=False, index=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("reason", sa.String(16), nullable=False),
        sa.Column("email", sa.String(254), nullable=False, index=True),
        sa.Column("unit_code", sa.String(32), nullable=False),
        sa.Column("user_id", sa.String(64)),
        sa.Column("status", sa.String(8), nullable=False),
        sa.Column("error", sa.String(500)),
        sa.Column("at", TS, nullable=False),
    )
    op.create_table(
        "sync_state",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("value", sa.String(200), nullable=False),
    )
    op.create_table(
        "sync_leavers",
        sa.Column("email", sa.String(254), primary_key=True),
        sa.Column("user_id", sa.String(64), nullable=False),
        sa.Column("unit_code", sa.String(32), nullable=False),
        sa.Column("run_id", sa.Integer, sa.ForeignKey("sync_runs.id"), nullable=False),
        sa.Column("disabled_at", TS, nullable=False),
    )
    op.create_table(
        "person_holds",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("email", sa.String(254), nullable=False, index=True),
        sa.Column("reason", sa.String(32), nullable=False),
        sa.Column("effective_from", sa.Date, nullable=False),
        sa.Column("effective_to", sa.Date),
        sa.Column("source", sa.String(64), nullable=False),
        sa.Column("created_at", TS, nullable=False),
    )
    app_role = context.config.attributes.get("app_role")
    if app_role and op.get_bind().dialect.name == "postgresql":
        role = op.get_bind().dialect.identifier_preparer.quote(app_role)
        op.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON {', '.join(TABLES)} TO {role}")
        op.execute(f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {role}")


def downgrade() -> None:
    """Drop the sync engine's tables."""
    for table in reversed(TABLES):
        op.drop_table(table)
