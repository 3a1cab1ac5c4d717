"""Sync engine: the bridge's own record of what it applied to each person, and the managed groups' ids.

Incremental runs compare the directory's changes with this record instead of listing Keycloak
(docs/decisions/0900).

Revision ID: sync_0002
Revises: ui_0001
Create Date: 2026-11-26
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import context, op

revision: str = "sync_0002"
down_revision: str | None = "ui_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create ``sync_applied`` and ``sync_groups``."""
    op.create_table(
        "sync_applied",
        sa.Column("email", sa.String(254), primary_key=True),
        sa.Column("user_id", sa.String(64), nullable=False, index=True),
        sa.Column("unit_group", sa.String(255), nullable=False),
        sa.Column("enabled", sa.Boolean, nullable=False),
        sa.Column("role_groups", sa.Text, nullable=False),
        sa.Column("entry_hash", sa.String(32), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "sync_groups",
        sa.Column("path", sa.String(255), primary_key=True),
        sa.Column("group_id", sa.String(64), nullable=False),
    )
    app_role = context.config.attributes.get("app_role")
    if app_role and op.get_bind().dialect.name == "postgresql":
        role = op.get_bind().dialect.identifier_preparer.quote(app_role)
        op.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON sync_applied, sync_groups TO {role}")


def downgrade() -> None:
    """Drop the tables."""
    op.drop_table("sync_groups")
    op.drop_table("sync_applied")
