"""Governance core: provider persons, administrators, grants, approvals, audit ledger.

On PostgreSQL the ledger is made append-only twice over: a trigger refuses UPDATE, DELETE and TRUNCATE
for every role, and the application role is granted only SELECT and INSERT on it.

Revision ID: gov_0001
Revises:
Create Date: 2026-11-23
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import context, op

revision: str = "gov_0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TS = sa.DateTime(timezone=True)
TABLES = ("provider_persons", "administrators", "grants", "approval_requests", "approval_decisions")


def upgrade() -> None:
    """Create the governance tables (and, on PostgreSQL, the ledger's protection)."""
    op.create_table(
        "provider_persons",
        sa.Column("email", sa.String(254), primary_key=True),
        sa.Column("full_name", sa.String(200), nullable=False),
        sa.Column("provider_unit", sa.String(32), nullable=False, index=True),
        sa.Column("sponsor_unit", sa.String(32), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("registered_by", sa.String(254), nullable=False),
        sa.Column("registered_at", TS, nullable=False),
    )
    op.create_table(
        "administrators",
        sa.Column("email", sa.String(254), primary_key=True),
        sa.Column("role", sa.String(32), nullable=False),
        sa.Column("unit_code", sa.String(32), nullable=False, index=True),
        sa.Column("appointed_by", sa.String(254), nullable=False),
        sa.Column("appointed_at", TS, nullable=False),
    )
    op.create_table(
        "approval_requests",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("subject", sa.JSON(), nullable=False),
        sa.Column("subject_hash", sa.String(64), nullable=False, index=True),
        sa.Column("unit_code", sa.String(32), nullable=False),
        sa.Column("requested_by", sa.String(254), nullable=False),
        sa.Column("requested_at", TS, nullable=False),
        sa.Column("required_approvals", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
    )
    op.create_table(
        "approval_decisions",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("request_id", sa.Integer(), sa.ForeignKey("approval_requests.id"), nullable=False, index=True),
        sa.Column("approver", sa.String(254), nullable=False),
        sa.Column("approved", sa.Boolean(), nullable=False),
        sa.Column("subject_hash", sa.String(64), nullable=False),
        sa.Column("decided_at", TS, nullable=False),
        sa.UniqueConstraint("request_id", "approver", name="uq_approval_decisions_approver"),
    )
    op.create_table(
        "grants",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("email", sa.String(254), nullable=False, index=True),
        sa.Column("application", sa.String(32), nullable=False),
        sa.Column("role_group", sa.String(32), nullable=False),
        sa.Column("unit_code", sa.String(32), nullable=False, index=True),
        sa.Column("granted_by", sa.String(254), nullable=False),
        sa.Column("granted_at", TS, nullable=False),
        sa.Column("request_id", sa.String(64), nullable=False),
        sa.Column("approval_id", sa.Integer(), sa.ForeignKey("approval_requests.id"), nullable=True),
        sa.Column("revoked_at", TS, nullable=True),
        sa.Column("revoked_by", sa.String(254), nullable=True),
    )
    op.create_index(
        "uq_grants_active",
        "grants",
        ["email", "application", "role_group"],
        unique=True,
        sqlite_where=sa.text("revoked_at IS NULL"),
        postgresql_where=sa.text("revoked_at IS NULL"),
    )
    op.create_table(
        "audit_ledger",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("at", TS, nullable=False),
        sa.Column("actor", sa.String(254), nullable=False),
        sa.Column("action", sa.String(80), nullable=False),
        sa.Column("target", sa.String(300), nullable=False, index=True),
        sa.Column("outcome", sa.String(8), nullable=False),
        sa.Column("rule", sa.String(64), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False, unique=True),
    )
    if op.get_bind().dialect.name == "postgresql":
        _protect_ledger_postgresql(context.config.attributes.get("app_role"))


def _protect_ledger_postgresql(app_role: str | None) -> None:
    op.execute(
        """
        CREATE FUNCTION bridge_ledger_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          RAISE EXCEPTION 'audit_ledger is append-only (% refused)', TG_OP
            USING ERRCODE = 'insufficient_privilege';
        END $$
        """
    )
    op.execute(
        "CREATE TRIGGER audit_ledger_no_update_delete BEFORE UPDATE OR DELETE ON audit_ledger "
        "FOR EACH ROW EXECUTE FUNCTION bridge_ledger_append_only()"
    )
    op.execute(
        "CREATE TRIGGER audit_ledger_no_truncate BEFORE TRUNCATE ON audit_ledger "
        "FOR EACH STATEMENT EXECUTE FUNCTION bridge_ledger_append_only()"
    )
    op.execute("REVOKE ALL ON audit_ledger FROM PUBLIC")
    if app_role:
        role = op.get_bind().dialect.identifier_preparer.quote(app_role)
        op.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON {', '.join(TABLES)} TO {role}")
        op.execute(f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {role}")
        op.execute(f"GRANT SELECT, INSERT ON audit_ledger TO {role}")
        op.execute(f"GRANT SELECT ON alembic_version TO {role}")


def downgrade() -> None:
    """Drop the governance tables (the ledger goes last; downgrading a production store loses its proof)."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS audit_ledger_no_update_delete ON audit_ledger")
        op.execute("DROP TRIGGER IF EXISTS audit_ledger_no_truncate ON audit_ledger")
        op.execute("DROP FUNCTION IF EXISTS bridge_ledger_append_only()")
    op.drop_index("uq_grants_active", table_name="grants")
    for table in ("grants", "approval_decisions", "approval_requests", "administrators", "provider_persons"):
        op.drop_table(table)
    op.drop_table("audit_ledger")
