"""The IT Center workbook's sheet of data-extraction requests (Công văn 907): per requesting unit, what was filed,
approved, delivered, refused or rejected in the quarter, and the deletion confirmations outstanding on the day
the workbook is made; then every overdue confirmation by name, so the IT Center can chase it.

A sheet of its own, appended to the quarter's workbook by ``bridge.services.reports.summary``: account changes
and data extractions are different registers, and the per-unit account sheets keep their Công văn 907 layout.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from bridge.adapters.store.extraction_models import ExtractionRequest
from bridge.clock import VN_TZ, format_vn
from bridge.domain.extraction import DeletionState, ExtractionStatus, deletion_state
from bridge.domain.reports.quarter import Quarter
from bridge.services.reports.build import utc_bounds

SHEET_TITLE = "Khai thác dữ liệu"
#: Column → (Vietnamese header, English for developers).
COLUMNS = (
    ("filed", "Số yêu cầu lập trong quý"),
    ("unit_approved", "Lãnh đạo đơn vị đã duyệt"),
    ("central_approved", "Lãnh đạo Ngành đã duyệt"),
    ("fulfilled", "Trung tâm CNTT đã cung cấp"),
    ("refused", "Trung tâm CNTT từ chối"),
    ("rejected", "Lãnh đạo không duyệt"),
    ("deletion_due", "Xác nhận hủy đến hạn"),
    ("deletion_overdue", "Xác nhận hủy quá hạn"),
)


def _in(moment: dt.datetime | None, start: dt.datetime, end: dt.datetime) -> bool:
    if moment is None:
        return False
    aware = moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)
    return start <= aware < end


def extraction_counts(
    session: Session, *, quarter: Quarter, today: dt.date
) -> tuple[dict[str, Counter[str]], list[ExtractionRequest]]:
    """Per unit, the counts of :data:`COLUMNS` for ``quarter``; and the overdue requests on ``today``."""
    start, end = utc_bounds(quarter)
    query = select(ExtractionRequest).where(
        or_(
            ExtractionRequest.requested_at.between(start, end),
            ExtractionRequest.unit_approved_at.between(start, end),
            ExtractionRequest.central_approved_at.between(start, end),
            ExtractionRequest.processed_at.between(start, end),
            (ExtractionRequest.status == ExtractionStatus.FULFILLED.value)
            & ExtractionRequest.deletion_confirmed_at.is_(None),
        )
    )
    counts: dict[str, Counter[str]] = {}
    overdue: list[ExtractionRequest] = []
    for row in session.scalars(query.order_by(ExtractionRequest.unit_code, ExtractionRequest.id)):
        c = counts.setdefault(row.unit_code, Counter())
        status = ExtractionStatus(row.status)
        c["filed"] += _in(row.requested_at, start, end)
        approved = row.status != ExtractionStatus.REJECTED.value
        c["unit_approved"] += _in(row.unit_approved_at, start, end) and (approved or bool(row.central_approved_at))
        c["central_approved"] += _in(row.central_approved_at, start, end) and approved
        c["rejected"] += status is ExtractionStatus.REJECTED and (
            _in(row.central_approved_at, start, end) or _in(row.unit_approved_at, start, end)
        )
        c["fulfilled"] += status is ExtractionStatus.FULFILLED and _in(row.processed_at, start, end)
        c["refused"] += status is ExtractionStatus.REFUSED and _in(row.processed_at, start, end)
        state = deletion_state(status=status, retention_until=row.retention_until,
                               confirmed=row.deletion_confirmed_at is not None, today=today)  # fmt: skip
        c["deletion_due"] += state is DeletionState.DUE
        c["deletion_overdue"] += state is DeletionState.OVERDUE
        if state is DeletionState.OVERDUE:
            overdue.append(row)
    return counts, overdue


def write_extraction_sheet(wb: Any, session: Session, *, quarter: Quarter, today: dt.date) -> None:
    """Append the sheet (write-only workbook: rows in order)."""
    counts, overdue = extraction_counts(session, quarter=quarter, today=today)
    ws = wb.create_sheet(title=SHEET_TITLE)
    ws.append([f"YÊU CẦU KHAI THÁC DỮ LIỆU {quarter.label_vi.upper()} (Công văn 907/BHXH-CNTT)"])
    ws.append([f"Ngày lập: {format_vn(today)}"])
    ws.append([])
    ws.append(["STT", "Mã đơn vị", *(header for _, header in COLUMNS)])
    totals: Counter[str] = Counter()
    for stt, (unit, c) in enumerate(sorted(counts.items()), 1):
        ws.append([stt, unit, *(c[key] for key, _ in COLUMNS)])
        totals.update(c)
    ws.append(["", "Tổng cộng", *(totals[key] for key, _ in COLUMNS)])
    ws.append([])
    ws.append([f"Xác nhận hủy dữ liệu quá hạn: {len(overdue)}"])
    ws.append(["STT", "Số yêu cầu", "Mã đơn vị", "Công văn", "Ngày cung cấp", "Hạn hủy", "Người đề nghị"])
    for stt, row in enumerate(overdue, 1):
        delivered = row.processed_at.astimezone(VN_TZ).date() if row.processed_at else None
        ws.append([stt, row.id, row.unit_code, row.letter_number, format_vn(delivered) if delivered else "",
                   format_vn(row.retention_until), row.requested_by])  # fmt: skip
