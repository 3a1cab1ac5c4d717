"""Tables of the bridge's own store: what the official directory cannot tell.

The directory is the source of staff; the store keeps only what the bridge decides or must prove later:
registered service-provider persons, administrators and their scope, application grants, two-person
approvals and the hash-chained audit ledger. Columns are portable between SQLite (default) and PostgreSQL
(production, CI); the schema itself is owned by the Alembic migrations in ``bridge/adapters/store/migrations``.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, ClassVar

from sqlalchemy import JSON, DateTime, ForeignKey, Index, Integer, String, UniqueConstraint, text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from bridge.adapters.store.job_columns import JobColumns

EMAIL = 254
CODE = 32


class Base(DeclarativeBase):
    """Declarative base; timestamps are timezone-aware UTC."""

    type_annotation_map: ClassVar[dict[Any, Any]] = {
        dt.datetime: DateTime(timezone=True),
        dict[str, Any]: JSON,
    }


class ProviderPerson(Base):
    """A registered person of a service-provider organisation (nhân sự đơn vị cung cấp dịch vụ)."""

    __tablename__ = "provider_persons"

    email: Mapped[str] = mapped_column(String(EMAIL), primary_key=True)
    full_name: Mapped[str] = mapped_column(String(200))
    #: The provider unit (type ``provider`` in units.yaml) the person works for.
    provider_unit: Mapped[str] = mapped_column(String(CODE), index=True)
    #: The BHXH unit sponsoring the person (đơn vị quản lý, bảo lãnh).
    sponsor_unit: Mapped[str] = mapped_column(String(CODE))
    active: Mapped[bool] = mapped_column(default=True)
    registered_by: Mapped[str] = mapped_column(String(EMAIL))
    registered_at: Mapped[dt.datetime]


class Administrator(Base):
    """A person holding an administrative role of the bridge, and the unit the role is scoped to."""

    __tablename__ = "administrators"

    email: Mapped[str] = mapped_column(String(EMAIL), primary_key=True)
    #: it_center_admin | province_admin | leadership | auditor
    role: Mapped[str] = mapped_column(String(CODE))
    unit_code: Mapped[str] = mapped_column(String(CODE), index=True)
    appointed_by: Mapped[str] = mapped_column(String(EMAIL))
    appointed_at: Mapped[dt.datetime]


class Grant(Base):
    """One application role group granted to one person in one unit (cấp quyền phần mềm nghiệp vụ)."""

    __tablename__ = "grants"
    __table_args__ = (
        Index(
            "uq_grants_active",
            "email",
            "application",
            "role_group",
            unique=True,
            sqlite_where=text("revoked_at IS NULL"),
            postgresql_where=text("revoked_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    email: Mapped[str] = mapped_column(String(EMAIL), index=True)
    application: Mapped[str] = mapped_column(String(CODE))
    role_group: Mapped[str] = mapped_column(String(CODE))
    unit_code: Mapped[str] = mapped_column(String(CODE), index=True)
    granted_by: Mapped[str] = mapped_column(String(EMAIL))
    granted_at: Mapped[dt.datetime]
    #: The request the grant answers: a Phụ lục 01 reference given by the caller, or a generated id.
    request_id: Mapped[str] = mapped_column(String(64))
    #: The leadership exception that made an ineligible person grantable, if any.
    approval_id: Mapped[int | None] = mapped_column(ForeignKey("approval_requests.id"))
    revoked_at: Mapped[dt.datetime | None]
    revoked_by: Mapped[str | None] = mapped_column(String(EMAIL))
    #: When the worker put the person into the role group in Keycloak (``grant_0001``).
    applied_at: Mapped[dt.datetime | None]
    #: When the worker took the person out of the role group in Keycloak after the revocation.
    removed_at: Mapped[dt.datetime | None]


class GrantJob(JobColumns, Base):
    """One change of a role-group membership in Keycloak that a grant or revocation asks for.

    Written in the transaction of the grant (or revocation) and its ledger row; the lock scheduler claims it
    like a lock job (the claim columns of :class:`JobColumns`) and makes Keycloak match the store: member while
    an active grant of the role group exists, not a member otherwise.
    """

    __tablename__ = "grant_jobs"

    grant_id: Mapped[int] = mapped_column(ForeignKey("grants.id"), index=True)
    #: join (cấp quyền) | leave (thu hồi quyền)
    kind: Mapped[str] = mapped_column(String(16))
    email: Mapped[str] = mapped_column(String(EMAIL), index=True)
    #: The role group's path in Keycloak, ``/apps/<application>/<role group>``.
    path: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[dt.datetime]
    #: What the worker did: joined, left, kept (another active grant), absent (no Keycloak account to leave).
    result: Mapped[str | None] = mapped_column(String(32))


class ApprovalRequest(Base):
    """A request for other people's approval: an exception, a safety-valve release, a data extraction."""

    __tablename__ = "approval_requests"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(CODE))
    subject: Mapped[dict[str, Any]]
    #: sha256 of the subject's canonical JSON: what exactly is approved.
    subject_hash: Mapped[str] = mapped_column(String(64), index=True)
    #: The unit the subject concerns; scope checks of approvers and readers use it.
    unit_code: Mapped[str] = mapped_column(String(CODE))
    requested_by: Mapped[str] = mapped_column(String(EMAIL))
    requested_at: Mapped[dt.datetime]
    required_approvals: Mapped[int] = mapped_column(default=1)
    #: pending | approved | rejected
    status: Mapped[str] = mapped_column(String(16), default="pending")
    decisions: Mapped[list[ApprovalDecision]] = relationship(
        back_populates="request", order_by="ApprovalDecision.id", lazy="selectin"
    )


class ApprovalDecision(Base):
    """One approver's decision on one request; the same person decides a request at most once."""

    __tablename__ = "approval_decisions"
    __table_args__ = (UniqueConstraint("request_id", "approver", name="uq_approval_decisions_approver"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("approval_requests.id"), index=True)
    approver: Mapped[str] = mapped_column(String(EMAIL))
    approved: Mapped[bool]
    #: The subject hash the approver saw; must equal the request's.
    subject_hash: Mapped[str] = mapped_column(String(64))
    decided_at: Mapped[dt.datetime]
    request: Mapped[ApprovalRequest] = relationship(back_populates="decisions")


class LedgerEntry(Base):
    """One row of the append-only, hash-chained audit ledger (nhật ký kiểm toán)."""

    __tablename__ = "audit_ledger"

    #: Position in the chain, 1-based, without gaps; part of the hashed fields.
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    at: Mapped[dt.datetime]
    actor: Mapped[str] = mapped_column(String(EMAIL))
    action: Mapped[str] = mapped_column(String(80))
    target: Mapped[str] = mapped_column(String(300), index=True)
    #: allowed | refused
    outcome: Mapped[str] = mapped_column(String(8))
    rule: Mapped[str] = mapped_column(String(64))
    detail: Mapped[dict[str, Any]]
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)
