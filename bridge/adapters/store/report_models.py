"""Tables of the quarterly reports and reviews: report submissions, and login events kept beyond Keycloak.

Kept apart from :mod:`bridge.adapters.store.models` so the report feature owns its tables (and its migration
``report_0001``). Keycloak expires its events (90 days here); a review of "accounts unused for N days" needs
logins older than that, so the bridge copies LOGIN events into ``login_events`` and keeps them.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from bridge.adapters.store.models import CODE, EMAIL, Base


class ReportSubmission(Base):
    """A unit's quarterly report marked as submitted (đã nộp báo cáo quý): who, when, which content."""

    __tablename__ = "report_submissions"
    __table_args__ = (UniqueConstraint("unit_code", "quarter", name="uq_report_submissions_unit_quarter"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    unit_code: Mapped[str] = mapped_column(String(CODE), index=True)
    #: ``YYYY-Qn``
    quarter: Mapped[str] = mapped_column(String(7), index=True)
    submitted_by: Mapped[str] = mapped_column(String(EMAIL))
    submitted_at: Mapped[dt.datetime]
    #: sha256 of the report's canonical JSON at submission: what exactly was submitted.
    content_sha256: Mapped[str] = mapped_column(String(64))
    #: Submitted after the due date (the 9th of the next quarter's first month).
    late: Mapped[bool]


class LoginEvent(Base):
    """One Keycloak LOGIN event, copied into the store (sự kiện đăng nhập)."""

    __tablename__ = "login_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    #: Keycloak's event id, or a hash of the event when the server gives none: ingesting twice adds nothing.
    event_key: Mapped[str] = mapped_column(String(64), unique=True)
    at: Mapped[dt.datetime] = mapped_column(index=True)
    user_id: Mapped[str] = mapped_column(String(64), index=True)
    username: Mapped[str] = mapped_column(String(EMAIL), index=True)
    client_id: Mapped[str] = mapped_column(String(255))
    ip_address: Mapped[str] = mapped_column(String(64))
    session_id: Mapped[str] = mapped_column(String(64))
