"""Grants reach Keycloak: the membership jobs of grants and revocations, and when each was applied.

Revision ID: grant_0001
Revises: report_0001
Create Date: 2026-11-24
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import context, op

revision: str = "grant_0001"
down_revision: str | None = "report_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    """Create ``grant_jobs``; add ``grants.applied_at`` and ``grants.removed_at``."""
    op.add_column("grants", sa.Column("applied_at", TS))
    op.add_column("grants", sa.Column("removed_at", TS))
    op.create_table(
        "grant_jobs",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("grant_id", sa.Integer, sa.ForeignKey("grants.id"), nullable=False, index=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("email", sa.String(254), nullable=False, index=True),
        sa.Column("path", sa.String(200), nullable=False),
        sa.Column("state", sa.String(16), nullable=False, index=True),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("not_before", TS, nullable=False),
        sa.Column("claimed_by", sa.String(80)),
        sa.Column("claimed_until", TS),
        sa.Column("last_error", sa.String(500)),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("done_at", TS),
        sa.Column("result", sa.String(32)),
    )
    app_role = context.config.attributes.get("app_role")
    if app_role and op.get_bind().dialect.name == "postgresql":
        role = op.get_bind().dialect.identifier_preparer.quote(app_role)
        op.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON grant_jobs TO {role}")
        op.execute(f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {role}")


def downgrade() -> None:
    """Drop ``grant_jobs`` and the two columns."""
    op.drop_table("grant_jobs")
    with op.batch_alter_table("grants") as batch:
        batch.drop_column("removed_at")
        batch.drop_column("applied_at")
