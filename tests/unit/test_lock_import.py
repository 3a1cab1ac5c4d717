"""Validation of Phụ lục 01 lock lists (.csv and .xlsx): every problem named by row, column and reason."""

from __future__ import annotations

import io
import unicodedata
import zipfile

import pytest
from openpyxl import Workbook  # type: ignore[import-untyped]

from bridge.domain.lock_reasons import LockReason
from bridge.errors import InvalidInput
from bridge.services.locks import intake
from bridge.services.locks.intake import check_file

HEADER = ["STT", "Họ và tên", "Đơn vị", "Chức vụ", "Thư điện tử công vụ", "Phần mềm nghiệp vụ", "Vai trò",
          "Đề nghị (Cấp / Khóa / Mở khóa)", "Lý do", "Số quyết định", "Ngày quyết định", "Ngày hiệu lực",
          "Ngày kết thúc"]  # fmt: skip
KNOWN = {"an.nv@hanoi.vss.gov.vn", "binh.tt@hanoi.vss.gov.vn", "cuong.lv@hcm.vss.gov.vn"}


def row(email: str = "an.nv@hanoi.vss.gov.vn", reason: str = "nghỉ thai sản", effective: str = "03/11/2025",
        end: str = "03/05/2026", request: str = "Khóa", number: str = "123/QĐ-BHXH") -> list[str]:  # fmt: skip
    return ["1", "Nguyễn Văn An", "01001", "Chuyên viên", email, "TST", "operator", request, reason, number,
            "20/10/2025", effective, end]  # fmt: skip


def csv_bytes(*rows: list[str], header: list[str] = HEADER) -> bytes:
    lines = [";".join(header)] + [";".join(r) for r in rows]
    return ("\ufeff" + "\r\n".join(lines) + "\r\n").encode()


def xlsx_bytes(*rows: list[object], header: list[str] = HEADER) -> bytes:
    book = Workbook()
    sheet = book.active
    sheet.append(header)
    for r in rows:
        sheet.append(r)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def check(data: bytes, name: str = "phu-luc-01.csv") -> intake.ImportCheck:
    return check_file(data, filename=name, known=KNOWN.__contains__)


def test_valid_csv_becomes_one_row_per_line_with_nfc_lower_case_mail() -> None:
    nfd_mail = unicodedata.normalize("NFD", "Binh.TT@hanoi.vss.gov.vn")
    result = check(csv_bytes(row(), row(email=nfd_mail, reason="retired", end="")))
    assert result.problems == []
    assert [(r.row, r.email, r.reason) for r in result.rows] == [
        (2, "an.nv@hanoi.vss.gov.vn", LockReason.MATERNITY),
        (3, "binh.tt@hanoi.vss.gov.vn", LockReason.RETIRED),
    ]
    assert result.rows[0].end_date is not None and result.rows[0].end_date.isoformat() == "2026-05-03"


def test_every_wrong_row_is_named_with_its_column_and_problem() -> None:
    result = check(
        csv_bytes(
            row(),
            row(email="khong.co@hanoi.vss.gov.vn"),
            row(effective="31/02/2026", end="01/03/2026"),
            row(email="binh.tt@hanoi.vss.gov.vn", end="01/10/2025"),
            row(email="cuong.lv@hcm.vss.gov.vn", reason="nghỉ phép"),
            row(),
            row(email="binh.tt@hanoi.vss.gov.vn", reason="retired"),
            row(email="binh.tt@hanoi.vss.gov.vn", reason="retired", end="", request="Chuyển"),
        )
    )
    found = {(p.row, p.column) for p in result.problems}
    assert found == {
        (3, "Thư điện tử công vụ"),  # unknown person
        (4, "Ngày hiệu lực"),  # 31/02 does not exist
        (5, "Ngày kết thúc"),  # end before start
        (6, "Lý do"),  # unknown reason
        (7, "Thư điện tử công vụ"),  # duplicate of row 2
        (8, "Ngày kết thúc"),  # retirement takes no end date
        (9, "Đề nghị"),  # not Cấp, Khóa or Mở khóa
    }, result.problems
    assert any("duplicate of row 2" in p.problem for p in result.problems)


def test_missing_required_columns_are_reported_on_the_header_row() -> None:
    result = check(csv_bytes(row(), header=[h for h in HEADER if h != "Ngày hiệu lực"]))
    assert [(p.row, p.column, p.problem) for p in result.problems] == [
        (1, "Ngày hiệu lực", "thiếu cột / missing column")
    ]


def test_formulas_are_refused_in_csv_and_xlsx() -> None:
    bad = row()
    bad[4] = '=HYPERLINK("http://x","an.nv@hanoi.vss.gov.vn")'
    assert [(p.row, p.column) for p in check(csv_bytes(bad)).problems] == [(2, "Thư điện tử công vụ")]
    xbad: list[object] = list(row())
    xbad[11] = "=TODAY()"
    problems = check(xlsx_bytes(xbad), "ds.xlsx").problems
    assert [(p.row, p.column) for p in problems] == [(2, "Ngày hiệu lực")]
    assert "formulas" in problems[0].problem


def test_xlsx_with_real_date_cells_is_read() -> None:
    import datetime as dt

    cells: list[object] = list(row())
    cells[10], cells[11], cells[12] = dt.datetime(2025, 10, 20), dt.datetime(2025, 11, 3), dt.datetime(2026, 5, 3)
    result = check(xlsx_bytes(cells), "ds.xlsx")
    assert result.problems == []
    assert result.rows[0].effective_date == dt.date(2025, 11, 3)


@pytest.mark.parametrize(
    ("data", "name", "message"),
    [
        (b"\x89PNG\r\n\x1a\n" + bytes(200), "anh.png", "only .xlsx or .csv"),
        (b"\x89PNG\r\n\x1a\n" + bytes(200), "ds.csv", "not a"),
        (b"just some words without columns\n", "ds.csv", "not a spreadsheet"),
        (b"%PDF-1.4 not a workbook", "ds.xlsx", "not a spreadsheet"),
        (b"PK\x03\x04garbage", "ds.xlsx", "not a spreadsheet"),
        (b"", "ds.csv", "empty"),
    ],
)
def test_files_that_are_not_spreadsheets_are_refused(data: bytes, name: str, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        check(data, name)


def test_huge_files_are_refused_before_parsing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(intake, "MAX_BYTES", 1000)
    with pytest.raises(InvalidInput, match="larger than"):
        check(csv_bytes(*[row(email=f"p{i}@x.vn") for i in range(50)]))
    monkeypatch.setattr(intake, "MAX_BYTES", 10**8)
    monkeypatch.setattr(intake, "MAX_ROWS", 10)
    with pytest.raises(InvalidInput, match="more than 10 rows"):
        check(csv_bytes(*[row() for _ in range(20)]))


def test_zip_bomb_is_refused_by_its_declared_size(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(intake, "MAX_UNZIPPED", 10_000)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("xl/worksheets/sheet1.xml", b"0" * 1_000_000)
    with pytest.raises(InvalidInput, match="inflates"):
        check(buffer.getvalue(), "bom.xlsx")
