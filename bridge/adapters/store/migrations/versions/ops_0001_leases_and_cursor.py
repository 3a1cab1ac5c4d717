"""The running system: named leases for single-flight work, and the console watcher's cursor.

Revision ID: ops_0001
Revises: grant_0001
Create Date: 2026-11-25
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import context, op

revision: str = "ops_0001"
down_revision: str | None = "grant_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    """Create ``leases`` and ``console_cursors``."""
    op.create_table(
        "leases",
        sa.Column("name", sa.String(80), primary_key=True),
        sa.Column("holder", sa.String(80)),
        sa.Column("until", TS),
        sa.Column("acquired_at", TS),
    )
    op.create_table(
        "console_cursors",
        sa.Column("realm", sa.String(80), primary_key=True),
        sa.Column("event_time", sa.BigInteger, nullable=False),
        sa.Column("seen_ids", sa.JSON, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
    )
    app_role = context.config.attributes.get("app_role")
    if app_role and op.get_bind().dialect.name == "postgresql":
        role = op.get_bind().dialect.identifier_preparer.quote(app_role)
        op.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON leases, console_cursors TO {role}")


def downgrade() -> None:
    """Drop both tables."""
    op.drop_table("console_cursors")
    op.drop_table("leases")
