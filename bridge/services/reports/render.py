"""Rendering a report to the three formats a province sends: .xlsx (openpyxl), CSV and JSON.

Deterministic on purpose: the same report gives the same bytes. openpyxl stamps ``docProps/core.xml`` with the
time of saving and ``zipfile`` stamps each member, so the workbook is re-packed with both fixed to the
report's date. The workbook is written in openpyxl's write-only mode, row by row, so a first report of a large
province does not hold a cell object per value in memory.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import zipfile
from collections.abc import Iterable
from typing import Any

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.worksheet._write_only import WriteOnlyWorksheet

from bridge.adapters.store.ledger import canonical_json
from bridge.clock import format_vn
from bridge.domain.reports import labels
from bridge.domain.reports.model import ReportRow, UnitReport

WIDTHS = (6, 24, 18, 40, 32, 32, 12, 12, 46, 40)
_BOLD = Font(bold=True)
_TITLE = Font(bold=True, size=13)
_HEAD_FILL = PatternFill("solid", fgColor="DDEBF7")
_APP_FILL = PatternFill("solid", fgColor="F2F2F2")
_WRAP = Alignment(wrap_text=True, vertical="center")


def report_json(report: UnitReport) -> dict[str, Any]:
    """The report as JSON-ready data (keys in English, labels and values as the workbook shows them)."""

    def section(rows: list[ReportRow]) -> list[dict[str, Any]]:
        keys = [k for k, _ in labels.COLUMNS]
        return [
            {**dict(zip(keys, row.cells(i), strict=True)), "application_code": row.application,
             "unit_code": row.unit_code, "ledger_id": row.ledger_id, "grant_id": row.grant_id}
            for i, row in enumerate(rows, 1)
        ]  # fmt: skip

    return {
        "unit_code": report.unit_code,
        "unit_name": report.unit_name,
        "quarter": str(report.quarter),
        "quarter_label": report.quarter.label_vi,
        "date": format_vn(report.generated_on),
        "due_date": format_vn(report.quarter.due_date),
        "signer": report.signer,
        "first_report": report.first_report,
        "columns": dict(labels.COLUMNS),
        "section_1": {"title": labels.SECTION_TITLES[1], "rows": section(report.removed)},
        "section_2": {"title": labels.SECTION_TITLES[2], "rows": section(report.added)},
        "totals": report.totals(),
    }


def content_hash(report: UnitReport) -> str:
    """sha256 of the report's canonical JSON: what a submission records as submitted."""
    import hashlib

    return hashlib.sha256(canonical_json(report_json(report))).hexdigest()


def report_csv(report: UnitReport) -> str:
    """One CSV table: a section column, then the appendix's columns (UTF-8 with BOM, so Excel reads it)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(["Mục / section", *(title for _, title in labels.COLUMNS)])
    for number, rows in ((1, report.removed), (2, report.added)):
        for stt, row in enumerate(rows, 1):
            writer.writerow([number, *row.cells(stt)])
    return "\ufeff" + buffer.getvalue()


def _cell(
    ws: WriteOnlyWorksheet, value: Any, font: Font | None = None, fill: PatternFill | None = None,
    wrap: bool = False,
) -> Any:  # fmt: skip
    cell = WriteOnlyCell(ws, value=value)
    if wrap:
        cell.alignment = _WRAP
    if font is not None:
        cell.font = font
    if fill is not None:
        cell.fill = fill
    return cell


def write_unit_sheet(wb: Workbook, report: UnitReport, *, title: str | None = None) -> None:
    """Append one sheet: the header block, then the two sections, each grouped per application."""
    ws = wb.create_sheet(title=(title or report.unit_code)[:31])
    for index, width in enumerate(WIDTHS):
        ws.column_dimensions[chr(ord("A") + index)].width = width
    # printed as a province sends it: A4 landscape, all columns on one page width
    ws.page_setup.orientation = "landscape"
    ws.page_setup.paperSize = "9"  # A4
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.append([_cell(ws, "BẢO HIỂM XÃ HỘI VIỆT NAM", _BOLD)])
    ws.append([_cell(ws, f"Đơn vị báo cáo: {report.unit_name} (mã {report.unit_code})", _BOLD)])
    ws.append([_cell(ws, labels.REPORT_TITLE, _TITLE)])
    ws.append([_cell(ws, f"{report.quarter.label_vi} — {labels.BASIS}")])
    deadline = format_vn(report.quarter.due_date + dt.timedelta(days=1))
    ws.append([f"Ngày lập báo cáo: {format_vn(report.generated_on)}", None, None, None,
               f"Hạn nộp: trước ngày {deadline}"])  # fmt: skip
    if report.first_report:
        ws.append([_cell(ws, "Báo cáo lần đầu: mục 2 liệt kê tất cả tài khoản hiện có của đơn vị.", _BOLD)])
    ws.append([])
    header = [_cell(ws, name, _BOLD, _HEAD_FILL, wrap=True) for _, name in labels.COLUMNS]
    for number, rows in ((1, report.removed), (2, report.added)):
        ws.append([_cell(ws, labels.SECTION_TITLES[number], _BOLD)])
        ws.append(header)
        _write_rows(ws, rows)
        ws.append([None, f"Cộng mục {number}: {len(rows)} dòng"])
        ws.append([])
    ws.append([None, None, None, None, None, None, None, _cell(ws, "NGƯỜI KÝ / THỦ TRƯỞNG ĐƠN VỊ", _BOLD)])
    ws.append([None, None, None, None, None, None, None, "(Ký, ghi rõ họ tên, đóng dấu)"])
    ws.append([None, None, None, None, None, None, None, report.signer])


def _write_rows(ws: WriteOnlyWorksheet, rows: Iterable[ReportRow]) -> None:
    current = None
    for stt, row in enumerate(rows, 1):
        if row.application != current:
            current = row.application
            ws.append([None, _cell(ws, f"Phần mềm nghiệp vụ: {row.application_name}", _BOLD, _APP_FILL)])
        ws.append(row.cells(stt))


def new_workbook() -> Workbook:
    """An empty write-only workbook."""
    return Workbook(write_only=True)


_MODIFIED = re.compile(rb"<dcterms:(created|modified)([^>]*)>[^<]*</dcterms:\1>")


def save_deterministic(wb: Workbook, *, day: dt.date) -> bytes:
    """Save, then re-pack with every timestamp fixed to ``day``: same workbook, same bytes."""
    raw = io.BytesIO()
    wb.save(raw)
    stamp = f"{day:%Y-%m-%d}T00:00:00Z".encode()
    out = io.BytesIO()
    with zipfile.ZipFile(raw) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            data = src.read(info.filename)
            if info.filename == "docProps/core.xml":
                data = _MODIFIED.sub(lambda m: b"<dcterms:%s%s>%s</dcterms:%s>" % (
                    m.group(1), m.group(2), stamp, m.group(1)), data)  # fmt: skip
            member = zipfile.ZipInfo(info.filename, date_time=(day.year, day.month, day.day, 0, 0, 0))
            member.compress_type = zipfile.ZIP_DEFLATED
            dst.writestr(member, data)
    return out.getvalue()


def report_xlsx(report: UnitReport) -> bytes:
    """One unit's report as a workbook of one sheet."""
    wb = new_workbook()
    write_unit_sheet(wb, report)
    return save_deterministic(wb, day=report.generated_on)
