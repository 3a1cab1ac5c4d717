"""Data-extraction requests (Công văn 907): one table, its approvals in ``approval_requests``.

On PostgreSQL the application role gets DML on the new table.

Revision ID: extraction_0001
Revises: ops_0001
Create Date: 2026-11-26
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import context, op

revision: str = "extraction_0001"
down_revision: str | None = "ops_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    """Create ``extraction_requests``."""
    op.create_table(
        "extraction_requests",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("unit_code", sa.String(32), nullable=False, index=True),
        sa.Column("requested_by", sa.String(254), nullable=False),
        sa.Column("requested_at", TS, nullable=False, index=True),
        sa.Column("letter_number", sa.String(64), nullable=False),
        sa.Column("letter_date", sa.Date(), nullable=False),
        sa.Column("purpose", sa.Text(), nullable=False),
        sa.Column("data_scope", sa.JSON(), nullable=False),
        sa.Column("period_from", sa.Date(), nullable=False),
        sa.Column("period_to", sa.Date(), nullable=False),
        sa.Column("format", sa.String(16), nullable=False),
        sa.Column("recipients", sa.JSON(), nullable=False),
        sa.Column("legal_basis", sa.Text(), nullable=False),
        sa.Column("retention_until", sa.Date(), nullable=False, index=True),
        sa.Column("status", sa.String(16), nullable=False, index=True),
        sa.Column("approval_id", sa.Integer(), sa.ForeignKey("approval_requests.id"), nullable=False),
        sa.Column("unit_approved_by", sa.String(254)),
        sa.Column("unit_approved_at", TS),
        sa.Column("central_approved_by", sa.String(254)),
        sa.Column("central_approved_at", TS),
        sa.Column("processed_by", sa.String(254)),
        sa.Column("processed_at", TS, index=True),
        sa.Column("delivered_sha256", sa.String(64)),
        sa.Column("channel", sa.String(32)),
        sa.Column("refusal_reason", sa.Text()),
        sa.Column("deletion_confirmed_by", sa.String(254)),
        sa.Column("deletion_confirmed_at", TS),
        sa.Column("deletion_note", sa.Text()),
    )
    app_role = context.config.attributes.get("app_role")
    if app_role and op.get_bind().dialect.name == "postgresql":
        role = op.get_bind().dialect.identifier_preparer.quote(app_role)
        op.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON extraction_requests TO {role}")
        op.execute(f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {role}")


def downgrade() -> None:
    """Drop ``extraction_requests``."""
    op.drop_table("extraction_requests")
