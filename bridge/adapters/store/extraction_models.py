"""The table of data-extraction requests (yêu cầu khai thác dữ liệu, Công văn 907): what was asked, who approved
it (through the one approvals mechanism), what the IT Center delivered or why it refused, and the deletion
confirmation. The schema is owned by the Alembic revision ``extraction_0001``.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from bridge.adapters.store.models import CODE, EMAIL, Base


class ExtractionRequest(Base):
    """One request of one unit for data from the central database, and what became of it."""

    __tablename__ = "extraction_requests"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    #: The requesting unit (đơn vị đề nghị); scope checks read it.
    unit_code: Mapped[str] = mapped_column(String(CODE), index=True)
    requested_by: Mapped[str] = mapped_column(String(EMAIL))
    requested_at: Mapped[dt.datetime] = mapped_column(index=True)
    letter_number: Mapped[str] = mapped_column(String(64))  # số công văn
    letter_date: Mapped[dt.date]  # ngày công văn
    purpose: Mapped[str] = mapped_column(Text)
    #: [{"system": …, "tables": […], "fields": […]}]: the request form's data description.
    data_scope: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    period_from: Mapped[dt.date]
    period_to: Mapped[dt.date]
    format: Mapped[str] = mapped_column(String(16))
    recipients: Mapped[list[str]] = mapped_column(JSON)
    legal_basis: Mapped[str] = mapped_column(Text)
    #: Ngày hủy dữ liệu: the recipient confirms deletion by this day.
    retention_until: Mapped[dt.date] = mapped_column(index=True)
    #: pending_unit | pending_central | queued | fulfilled | refused | rejected (bridge.domain.extraction)
    status: Mapped[str] = mapped_column(String(16), index=True)
    #: The two-person approval (kind data_extraction, two approvals) whose subject hash fixes what is approved.
    approval_id: Mapped[int] = mapped_column(ForeignKey("approval_requests.id"))
    unit_approved_by: Mapped[str | None] = mapped_column(String(EMAIL))
    unit_approved_at: Mapped[dt.datetime | None]
    central_approved_by: Mapped[str | None] = mapped_column(String(EMAIL))
    central_approved_at: Mapped[dt.datetime | None]
    processed_by: Mapped[str | None] = mapped_column(String(EMAIL))
    processed_at: Mapped[dt.datetime | None] = mapped_column(index=True)
    #: SHA-256 of the delivered file, and the channel it left by (fulfilled only).
    delivered_sha256: Mapped[str | None] = mapped_column(String(64))
    channel: Mapped[str | None] = mapped_column(String(32))
    refusal_reason: Mapped[str | None] = mapped_column(Text)
    deletion_confirmed_by: Mapped[str | None] = mapped_column(String(EMAIL))
    deletion_confirmed_at: Mapped[dt.datetime | None]
    deletion_note: Mapped[str | None] = mapped_column(Text)
