"""The full Phụ lục 01 (Quy chế 2366 Điều 6 khoản 1.1): "Cấp" and "Mở khóa" rows are read beside "Khóa" rows,
each checked by its own rules, every problem named by row and Vietnamese column, nothing accepted from a file
with one wrong row."""

from __future__ import annotations

import datetime as dt

from bridge.domain.lock_reasons import LockReason
from bridge.domain.role_levels import load_catalogue
from bridge.errors import BridgeError
from bridge.services.locks.intake import GrantRow, LockRow, UnlockRow, check_file
from bridge.settings import PROJECT_ROOT
from tests.unit.test_lock_import import KNOWN, csv_bytes, row

CATALOGUE = load_catalogue(PROJECT_ROOT / "keycloak-config" / "applications.yaml")
TODAY = dt.date(2025, 11, 3)
AN, BINH, CUONG = sorted(KNOWN)


def role_problem(application: str, role_group: str) -> str | None:
    try:
        CATALOGUE.role_level(application, role_group)
    except BridgeError as exc:
        return exc.message
    return None


def check(*rows: list[str]):  # type: ignore[no-untyped-def]
    return check_file(csv_bytes(*rows), filename="pl01.csv", known=KNOWN.__contains__, role_problem=role_problem,
                      today=TODAY)  # fmt: skip


def grant(email: str = BINH, app: str = "TST", role: str = "operator", effective: str = "01/11/2025") -> list[str]:
    cells = row(email=email, request="Cấp", reason="Nhân sự mới", effective=effective, end="")
    cells[5], cells[6] = app, role
    return cells


def unlock(email: str = CUONG, back: str = "10/11/2025", number: str = "45/QĐ-BHXH") -> list[str]:
    return row(email=email, request="Mở khóa", reason="Đi làm sớm", effective=back, end="", number=number)


def test_a_file_mixing_khoa_cap_and_mo_khoa_rows_is_read_in_order() -> None:
    result = check(row(email=AN), grant(), unlock())
    assert result.problems == []
    assert [(type(r), r.row, r.email) for r in result.in_file_order] == [
        (LockRow, 2, AN), (GrantRow, 3, BINH), (UnlockRow, 4, CUONG)]  # fmt: skip
    assert result.rows[0].reason is LockReason.MATERNITY
    assert (result.grants[0].application, result.grants[0].role_group) == ("TST", "operator")
    assert result.unlocks[0].return_date == dt.date(2025, 11, 10)


def test_each_wrong_cap_and_mo_khoa_row_is_named() -> None:
    result = check(
        grant(),
        grant(role="chief"),
        grant(app=""),
        grant(email=AN, effective="04/11/2025"),
        grant(),
        unlock(back=""),
        unlock(number=""),
        unlock(email="khong.co@hanoi.vss.gov.vn"),
    )
    found = {(p.row, p.column) for p in result.problems}
    assert found == {
        (3, "Vai trò"),  # not a role group of TST
        (4, "Phần mềm nghiệp vụ"),  # application missing
        (5, "Ngày hiệu lực"),  # a grant dated after the import
        (6, "Thư điện tử công vụ"),  # the same grant as row 2
        (7, "Ngày hiệu lực"),  # no return date
        (8, "Số quyết định"),  # no decision number
        (9, "Thư điện tử công vụ"),  # unknown person
    }, result.problems
    assert any("duplicate of row 2" in p.problem for p in result.problems if p.row == 6)
