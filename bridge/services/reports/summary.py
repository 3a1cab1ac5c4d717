"""The IT Center's quarter: one workbook with a summary sheet (status of every reporting unit, totals, a
chart) and one sheet per unit, and the list of units late or missing (Công văn 907: the IT Center receives,
checks and aggregates every unit's report).

The ledger is read once for the whole quarter and its lines are bucketed by reporting unit, so the workbook
costs one scan, not one per unit; each unit's sheet is written and dropped before the next is built.
"""

from __future__ import annotations

import datetime as dt
import io
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from openpyxl.drawing.image import Image
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bridge.adapters.store.models import LedgerEntry
from bridge.clock import VN_TZ, format_vn, today_vn
from bridge.domain.policy import Action, Actor
from bridge.domain.reports import labels
from bridge.domain.reports.model import ADDED, REMOVED, ReportRow
from bridge.domain.reports.quarter import Quarter, reportable
from bridge.domain.rules import Rule
from bridge.services.context import GovContext, Refused, require_role
from bridge.services.reports.build import (
    ReportSource,
    assemble,
    dated_movements,
    default_signer,
    grant_movements,
    rows_of,
    submitted_before,
    utc_bounds,
)
from bridge.services.reports.extraction_sheet import write_extraction_sheet
from bridge.services.reports.render import new_workbook, save_deterministic, write_unit_sheet
from bridge.services.reports.submissions import UnitStatus, quarter_status, reporting_units


@dataclass(frozen=True)
class ItCenterQuarter:
    """The IT Center workbook of a quarter, and who is late or missing."""

    quarter: Quarter
    workbook: bytes
    chart_png: bytes
    statuses: Sequence[UnitStatus]
    #: (unit, quarter, section) → count of movement lines, for every quarter of the chart.
    counts: dict[tuple[str, str, int], int]

    @property
    def late_or_missing(self) -> list[UnitStatus]:
        """Units that submitted late, or not at all although the deadline passed."""
        return [s for s in self.statuses if s.status in ("late", "missing")]


def _require_central(ctx: GovContext, actor: Actor) -> None:
    require_role(ctx, actor, Action.READ_AUDIT, target="reports")
    if actor.role is None or ctx.units_in_scope(actor) is not None:
        raise Refused(
            "Chỉ Trung tâm CNTT, Lãnh đạo Ngành và kiểm toán xem báo cáo tổng hợp / central readers only",
            rule=Rule.R16_AUDIT_READERS, target="reports",
        )  # fmt: skip


def chart_png(counts: dict[tuple[str, str, int], int], *, units: Sequence[str], quarters: Sequence[str]) -> bytes:
    """Bars of accounts added (top) and locked/removed (bottom) per unit, one colour per quarter."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt
    from matplotlib.ticker import MaxNLocator

    fig, axes = plt.subplots(2, 1, figsize=(max(10, len(units) * 0.45), 7), sharex=True)
    width = 0.8 / max(1, len(quarters))
    for axis, section, title in (
        (axes[0], ADDED, "Tài khoản tăng (added)"),
        (axes[1], REMOVED, "Tài khoản giảm: khóa, thu hồi (locked/removed)"),
    ):
        for index, quarter in enumerate(quarters):
            values = [counts.get((u, quarter, section), 0) for u in units]
            axis.bar([x - 0.4 + (index + 0.5) * width for x in range(len(units))], values, width, label=quarter)
        axis.set_title(title, fontsize=10)
        axis.yaxis.set_major_locator(MaxNLocator(integer=True))
        axis.legend(fontsize=8)
    axes[1].set_xticks(list(range(len(units))), list(units), rotation=90, fontsize=7)
    axes[1].set_xlabel("Mã đơn vị báo cáo (reporting unit)", fontsize=8)
    fig.tight_layout()
    out = io.BytesIO()
    fig.savefig(out, format="png", dpi=90, metadata={"Software": None})
    plt.close(fig)
    return out.getvalue()


def build_it_center_quarter(
    session: Session, *, ctx: GovContext, actor: Actor, quarter: str, generated_on: dt.date | None = None
) -> ItCenterQuarter:
    """Build the IT Center's workbook for ``quarter`` (central readers only)."""
    today = generated_on or today_vn()
    parsed = reportable(quarter, today=today)
    _require_central(ctx, actor)
    src = ReportSource(session, ctx=ctx, quarter=parsed)
    reporters = reporting_units(ctx, parsed)
    chart_from = Quarter(parsed.year, 1) if parsed.number > 1 else parsed.previous()
    buckets: dict[str, list[ReportRow]] = {u: [] for u in reporters}
    counts: Counter[tuple[str, str, int]] = Counter()
    for quarter_ in _quarters(chart_from, parsed.previous()):
        counts.update(grant_counts(session, src=src, quarter=quarter_))
    for move in grant_movements(session, first=parsed, last=parsed):
        reporter = src.reporter_of(move.unit) if move.unit else ""
        counts[(reporter, str(parsed), ADDED)] += 1
        if reporter in buckets:
            buckets[reporter].extend(rows_of(move, src))
    for move in dated_movements(session, first=chart_from, last=parsed):
        if not move.unit:
            continue
        reporter = src.reporter_of(move.unit)
        counts[(reporter, str(Quarter.of(move.effective)), move.section)] += len(move.pairs())
        if parsed.contains(move.effective) and reporter in buckets:
            buckets[reporter].extend(rows_of(move, src))
    statuses = quarter_status(session, ctx=ctx, actor=actor, quarter=str(parsed), today=today)
    quarters = [str(q) for q in _quarters(chart_from, parsed)]
    png = chart_png(dict(counts), units=reporters, quarters=quarters)
    wb = new_workbook()
    _summary_sheet(wb, parsed, today, statuses, counts, png)
    signer = default_signer(ctx, actor)
    for reporter in reporters:
        report = assemble(
            session, src=src, unit_code=reporter, movements=buckets.pop(reporter),
            first_report=not submitted_before(session, unit_code=reporter, quarter=parsed),
            generated_on=today, signer=signer,
        )  # fmt: skip
        write_unit_sheet(wb, report)
    write_extraction_sheet(wb, session, quarter=parsed, today=today)
    return ItCenterQuarter(parsed, save_deterministic(wb, day=today), png, statuses, dict(counts))


def grant_counts(session: Session, *, src: ReportSource, quarter: Quarter) -> Counter[tuple[str, str, int]]:
    """Grants of a past quarter per reporting unit, counted by the database (for the chart only)."""
    start, end = utc_bounds(quarter)
    unit = LedgerEntry.detail["unit"].as_string()
    query = (
        select(unit, func.count())
        .where(LedgerEntry.action == "grant", LedgerEntry.outcome == "allowed", LedgerEntry.at >= start,
               LedgerEntry.at < end)
        .group_by(unit)
    )  # fmt: skip
    counts: Counter[tuple[str, str, int]] = Counter()
    for code, count in session.execute(query):
        if code:
            counts[(src.reporter_of(code), str(quarter), ADDED)] += count
    return counts


def _quarters(first: Quarter, last: Quarter) -> list[Quarter]:
    found, current = [], first
    while current <= last:
        found.append(current)
        current = current.next()
    return found


def _summary_sheet(
    wb: object, quarter: Quarter, today: dt.date, statuses: Sequence[UnitStatus],
    counts: Counter[tuple[str, str, int]], png: bytes,
) -> None:  # fmt: skip
    from openpyxl import Workbook

    assert isinstance(wb, Workbook)
    ws = wb.create_sheet(title="Tổng hợp")
    ws.append(["TRUNG TÂM CÔNG NGHỆ THÔNG TIN VÀ CHUYỂN ĐỔI SỐ — BHXH VIỆT NAM"])
    ws.append([f"TỔNG HỢP BÁO CÁO QUẢN LÝ TÀI KHOẢN {quarter.label_vi.upper()}"])
    ws.append([f"Ngày lập: {format_vn(today)}", f"Hạn nộp của các đơn vị: {format_vn(quarter.due_date)}"])
    ws.append([])
    ws.append(["STT", "Mã đơn vị", "Đơn vị", "Tình trạng", "Ngày nộp", "Người nộp", "Số dòng giảm",
               "Số dòng tăng"])  # fmt: skip
    for stt, status in enumerate(statuses, 1):
        submitted = (
            status.submitted_at.replace(tzinfo=status.submitted_at.tzinfo or dt.UTC).astimezone(VN_TZ)
            if status.submitted_at else None
        )  # fmt: skip
        ws.append([
            stt, status.unit_code, status.unit_name, labels.STATUS_LABELS[status.status],
            f"{submitted:%d/%m/%Y %H:%M}" if submitted else "", status.submitted_by or "",
            counts.get((status.unit_code, str(quarter), REMOVED), 0),
            counts.get((status.unit_code, str(quarter), ADDED), 0),
        ])  # fmt: skip
    late = [s for s in statuses if s.status in ("late", "missing")]
    ws.append([])
    ws.append([f"Đơn vị nộp muộn hoặc chưa nộp: {len(late)}"])
    for status in late:
        ws.append(["", status.unit_code, status.unit_name, labels.STATUS_LABELS[status.status]])
    ws.append([])
    ws.append(["Biểu đồ: tài khoản tăng / giảm theo quý và đơn vị (added / locked per quarter and unit)"])
    image = Image(io.BytesIO(png))
    image.anchor = f"A{len(statuses) + len(late) + 11}"
    ws.add_image(image)
