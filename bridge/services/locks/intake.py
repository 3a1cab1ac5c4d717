"""Import of a Phụ lục 01 list (danh sách đề nghị cấp, khóa, mở khóa tài khoản) from .xlsx or .csv.

A row asks for one of three things (column "Đề nghị"): "Khóa" a lock decision, "Cấp" a grant of an application
role group, "Mở khóa" the early ending of a temporary lock (docs/decisions/0621). The whole file is read and
every row validated before anything is written: one wrong row and nothing is applied, and the report names each
wrong row (its spreadsheet row number), the column (its Vietnamese header) and the problem. Files are untrusted
input: size and row limits, no formulas (a cell starting with ``=`` is refused, not evaluated), an .xlsx is
opened read-only, and a zip whose contents would inflate beyond a limit is refused before openpyxl parses it.
Column headers follow ``brief/domain.md`` and are configurable.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import re
import unicodedata
import zipfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from bridge.adapters.directory.lookup import normalise_email
from bridge.domain.lock_reasons import LockReason, check_dates, parse_reason, parse_vn_date
from bridge.errors import BridgeError, InvalidInput

MAX_BYTES = 20 * 1024 * 1024
MAX_UNZIPPED = 200 * 1024 * 1024
MAX_ROWS = 20_000
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
FORMULA_PREFIXES = ("=", "+", "@")
LOCK_REQUEST = frozenset({"khóa", "khoá"})
GRANT_REQUEST = frozenset({"cấp", "cấp quyền", "cấp mới"})
UNLOCK_REQUEST = frozenset({"mở khóa", "mở khoá"})

#: Header (normalised: NFC, lower case, without a bracketed note) → field.
COLUMNS: dict[str, str] = {
    "stt": "row_no",
    "họ và tên": "full_name",
    "đơn vị": "unit",
    "chức vụ": "position",
    "thư điện tử công vụ": "email",
    "phần mềm nghiệp vụ": "application",
    "vai trò": "role",
    "đề nghị": "request",
    "lý do": "reason",
    "số quyết định": "decision_number",
    "ngày quyết định": "decision_date",
    "ngày hiệu lực": "effective_date",
    "ngày kết thúc": "end_date",
}
REQUIRED = ("email", "request", "reason", "decision_number", "decision_date", "effective_date")
HEADER_OF = {
    "full_name": "Họ và tên", "email": "Thư điện tử công vụ", "request": "Đề nghị", "reason": "Lý do",
    "decision_number": "Số quyết định", "decision_date": "Ngày quyết định", "effective_date": "Ngày hiệu lực",
    "end_date": "Ngày kết thúc", "file": "(tệp)", "application": "Phần mềm nghiệp vụ", "role": "Vai trò",
    "role_group": "Vai trò",
}  # fmt: skip


@dataclass(frozen=True)
class RowProblem:
    """One problem: spreadsheet row number (1 = header), Vietnamese column header, what is wrong."""

    row: int
    column: str
    problem: str


@dataclass(frozen=True)
class LockRow:
    """One valid row: a lock decision to record."""

    row: int
    email: str
    full_name: str
    reason: LockReason
    decision_number: str
    decision_date: dt.date | None
    effective_date: dt.date
    end_date: dt.date | None


@dataclass(frozen=True)
class GrantRow:
    """One valid "Cấp" row: a role group of an application to grant (it takes effect when imported)."""

    row: int
    email: str
    full_name: str
    application: str
    role_group: str
    decision_number: str
    effective_date: dt.date


@dataclass(frozen=True)
class UnlockRow:
    """One valid "Mở khóa" row: the person works again from ``return_date`` (the early end of a temporary lock)."""

    row: int
    email: str
    full_name: str
    decision_number: str
    decision_date: dt.date | None
    return_date: dt.date


@dataclass
class ImportCheck:
    """The result of reading and validating a file: its lock rows, grant rows, unlock rows, or its problems."""

    sha256: str
    rows: list[LockRow] = field(default_factory=list)
    problems: list[RowProblem] = field(default_factory=list)
    grants: list[GrantRow] = field(default_factory=list)
    unlocks: list[UnlockRow] = field(default_factory=list)

    @property
    def in_file_order(self) -> list[LockRow | GrantRow | UnlockRow]:
        """Every valid row, in the order of the file."""
        return sorted([*self.rows, *self.grants, *self.unlocks], key=lambda r: r.row)


class ImportRejected(InvalidInput):
    """A file with wrong rows: nothing was applied; :attr:`problems` names each row, column and problem."""

    code = "import-rejected"

    def __init__(self, problems: Sequence[RowProblem]) -> None:
        shown = "; ".join(f"dòng/row {p.row}, cột/column {p.column}: {p.problem}" for p in problems[:5])
        more = f" (+{len(problems) - 5} more)" if len(problems) > 5 else ""
        super().__init__(f"{len(problems)} lỗi, không áp dụng dòng nào / nothing applied: {shown}{more}",
                         field="file")  # fmt: skip
        self.problems = list(problems)
        #: Carried into the API's problem+json body.
        self.extra = {"problems": [{"row": p.row, "column": p.column, "problem": p.problem} for p in problems]}


def _norm_header(text: str) -> str:
    text = re.sub(r"\(.*?\)", "", unicodedata.normalize("NFC", text)).casefold()
    return " ".join(text.replace("*", " ").split())


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dt.date):
        return value
    return unicodedata.normalize("NFC", str(value)).strip()


def _not_a_spreadsheet(exc: Exception) -> InvalidInput:
    return InvalidInput(f"không phải bảng tính .xlsx / not a spreadsheet: {type(exc).__name__}: {exc}"[:300],
                        field="file")  # fmt: skip


def _xlsx_rows(data: bytes) -> Iterator[list[Any]]:
    from openpyxl import load_workbook  # type: ignore[import-untyped,unused-ignore]

    # any failure of the parser on an untrusted file is the file's problem, never a server error (issue 17:
    # a broken workbook.xml, a broken sheet XML and XML entity expansion were 500s)
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            if sum(i.file_size for i in archive.infolist()) > MAX_UNZIPPED:
                raise InvalidInput("tệp .xlsx giải nén quá lớn / the .xlsx inflates beyond the limit", field="file")
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=False)
    except InvalidInput:
        raise
    except Exception as exc:
        raise _not_a_spreadsheet(exc) from None
    try:
        sheet = workbook.worksheets[0]
        rows = sheet.iter_rows(values_only=True)
        while True:
            try:
                values = next(rows)
            except StopIteration:
                return
            except Exception as exc:
                raise _not_a_spreadsheet(exc) from None
            yield [v if type(v).__name__ != "ArrayFormula" else "=" for v in values]
    finally:
        workbook.close()


def _csv_rows(data: bytes) -> Iterator[list[Any]]:
    # decoded as it is read (issue 17: a whole-file str and its StringIO cost five times the file's size)
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise InvalidInput("không phải tệp CSV UTF-8 / not a UTF-8 CSV spreadsheet (UTF-16)", field="file")
    if b"\x00" in data:
        raise InvalidInput("không phải bảng tính / not a spreadsheet (binary content)", field="file")
    end = data.find(b"\n", 0, 65536)
    try:
        first = data[: end if end >= 0 else 65536].decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InvalidInput("không phải tệp CSV UTF-8 / not a UTF-8 CSV spreadsheet", field="file") from None
    delimiter = max((";", ",", "\t"), key=first.count)
    if first.count(delimiter) == 0:
        raise InvalidInput("không phải bảng tính / not a spreadsheet (no columns)", field="file")
    text = io.TextIOWrapper(io.BytesIO(data), encoding="utf-8-sig", newline="")
    try:
        yield from csv.reader(text, delimiter=delimiter)
    except UnicodeDecodeError:
        raise InvalidInput("không phải tệp CSV UTF-8 / not a UTF-8 CSV spreadsheet", field="file") from None


def read_table(data: bytes, *, filename: str) -> Iterator[list[Any]]:
    """Rows of cells (NFC strings, dates for date cells) of a .xlsx or .csv; raises on a non-spreadsheet."""
    if len(data) > MAX_BYTES:
        raise InvalidInput(f"tệp quá lớn / file larger than {MAX_BYTES // 2**20} MiB", field="file")
    if not data or data.isspace():
        raise InvalidInput("tệp rỗng / empty file", field="file")
    is_zip = data[:4] == b"PK\x03\x04"
    if filename.lower().endswith((".xlsx", ".xlsm")) or is_zip:
        if not is_zip:
            raise InvalidInput("không phải bảng tính .xlsx / not a spreadsheet", field="file")
        rows: Iterable[list[Any]] = _xlsx_rows(data)
    elif filename.lower().endswith((".csv", ".txt")):
        rows = _csv_rows(data)
    else:
        raise InvalidInput(f"chỉ nhận .xlsx hoặc .csv / only .xlsx or .csv, not {filename!r}", field="file")
    for values in rows:
        yield [_cell(v) for v in values]


def _columns(header: list[Any]) -> tuple[dict[str, int], list[RowProblem]]:
    index: dict[str, int] = {}
    problems: list[RowProblem] = []
    for position, raw in enumerate(header):
        name = COLUMNS.get(_norm_header(str(raw)))
        if name is None:
            continue
        if name in index:
            problems.append(RowProblem(1, str(raw), "cột trùng / duplicate column"))
        index[name] = position
    for name in REQUIRED:
        if name not in index:
            problems.append(RowProblem(1, HEADER_OF[name], "thiếu cột / missing column"))
    return index, problems


def _date(value: Any, column: str) -> dt.date | None:
    if isinstance(value, dt.date):
        return value
    return parse_vn_date(value, field=column) if value else None


def check_file(
    data: bytes,
    *,
    filename: str,
    known: Callable[[str], bool],
    role_problem: Callable[[str, str], str | None] | None = None,
    today: dt.date | None = None,
) -> ImportCheck:
    """Read and validate a whole Phụ lục 01 list; ``known`` says whether an e-mail names a person,
    ``role_problem`` what is wrong with an application and role group (None: nothing; when not given, "Cấp" rows
    are refused), ``today`` refuses "Cấp" rows dated later (grants take effect when imported)."""
    check = ImportCheck(sha256=hashlib.sha256(data).hexdigest())
    rows = read_table(data, filename=filename)
    header = next(rows, None)
    if header is None:
        raise InvalidInput("tệp không có dòng tiêu đề / no header row", field="file")
    index, check.problems = _columns(header)
    if check.problems:
        return check
    seen: dict[tuple[str, ...], int] = {}
    for number, values in enumerate(rows, start=2):
        if number - 1 > MAX_ROWS:
            raise InvalidInput(f"quá {MAX_ROWS} dòng / more than {MAX_ROWS} rows", field="file")
        cells = {name: values[i] if i < len(values) else "" for name, i in index.items()}
        if not any(cells.values()):
            continue
        problems = [RowProblem(number, HEADER_OF.get(n, n), "công thức không được phép / formulas are not allowed")
                    for n, v in cells.items() if isinstance(v, str) and v.startswith(FORMULA_PREFIXES)]  # fmt: skip
        if problems:
            check.problems += problems
            continue
        kind = _norm_header(str(cells["request"]))
        parsed: LockRow | GrantRow | UnlockRow | list[RowProblem]
        if kind in GRANT_REQUEST:
            parsed = _check_grant_row(number, cells, known, role_problem, today)
        elif kind in UNLOCK_REQUEST:
            parsed = _check_unlock_row(number, cells, known)
        else:
            parsed = _check_row(number, cells, known)
        if isinstance(parsed, list):
            check.problems += parsed
            continue
        key = _duplicate_key(parsed)
        if key in seen:
            check.problems.append(
                RowProblem(number, "Thư điện tử công vụ", f"trùng với dòng {seen[key]} / duplicate of row {seen[key]}")
            )
            continue
        seen[key] = number
        if isinstance(parsed, GrantRow):
            check.grants.append(parsed)
        elif isinstance(parsed, UnlockRow):
            check.unlocks.append(parsed)
        else:
            check.rows.append(parsed)
    if not check.in_file_order and not check.problems:
        check.problems.append(RowProblem(2, "(tệp)", "không có dòng dữ liệu / no data rows"))
    return check


def _check_row(number: int, cells: dict[str, Any], known: Callable[[str], bool]) -> LockRow | list[RowProblem]:
    problems: list[RowProblem] = []

    def problem(name: str, text: str) -> None:
        problems.append(RowProblem(number, HEADER_OF.get(name, name), text))

    email = normalise_email(str(cells["email"]))
    if not EMAIL.match(email):
        problem("email", f"địa chỉ không hợp lệ / not an e-mail address: {email!r}")
    elif not known(email):
        problem("email", f"không có trong danh bạ / unknown person {email}")
    if _norm_header(str(cells["request"])) not in LOCK_REQUEST:
        problem(
            "request",
            f"đề nghị phải là 'Cấp', 'Khóa' hoặc 'Mở khóa' / a request is 'Cấp', 'Khóa' or "
            f"'Mở khóa', not {cells['request']!r}",
        )
    reason = dates = None
    try:
        reason = parse_reason(str(cells["reason"]))
    except BridgeError as exc:
        problem("reason", exc.message)
    parsed: dict[str, dt.date | None] = {}
    for name in ("decision_date", "effective_date", "end_date"):
        try:
            parsed[name] = _date(cells.get(name, ""), name)
        except BridgeError as exc:
            problem(name, exc.message)
    if "effective_date" in parsed and parsed["effective_date"] is None:
        problem("effective_date", "thiếu ngày hiệu lực / the effective date is required")
    number_text = str(cells["decision_number"]).strip()
    if not number_text and reason is not LockReason.VIOLATION:
        problem("decision_number", "thiếu số quyết định / the decision number is required")
    if reason is not None and len(parsed) == 3 and parsed["effective_date"]:
        try:
            dates = check_dates(reason=reason, decision_date=parsed["decision_date"],
                                effective_date=parsed["effective_date"], end_date=parsed["end_date"])  # fmt: skip
        except BridgeError as exc:
            problem(exc.field or "effective_date", exc.message)
    if problems or reason is None or dates is None:
        return problems
    return LockRow(number, email, str(cells.get("full_name", "")), reason, number_text, dates.decision_date,
                   dates.effective_date, dates.end_date)  # fmt: skip


def _duplicate_key(parsed: LockRow | GrantRow | UnlockRow) -> tuple[str, ...]:
    """Two rows asking for the same thing: a lock of the same reason and day, the same role group, two returns."""
    if isinstance(parsed, GrantRow):
        return ("grant", parsed.email, parsed.application, parsed.role_group)
    if isinstance(parsed, UnlockRow):
        return ("unlock", parsed.email)
    return ("lock", parsed.email, parsed.reason.value, parsed.effective_date.isoformat())


def _person(number: int, cells: dict[str, Any], known: Callable[[str], bool], problems: list[RowProblem]) -> str:
    email = normalise_email(str(cells["email"]))
    if not EMAIL.match(email):
        problems.append(
            RowProblem(number, HEADER_OF["email"], f"địa chỉ không hợp lệ / not an e-mail address: {email!r}")
        )
    elif not known(email):
        problems.append(RowProblem(number, HEADER_OF["email"], f"không có trong danh bạ / unknown person {email}"))
    return email


def _dates(number: int, cells: dict[str, Any], problems: list[RowProblem], *names: str) -> dict[str, dt.date | None]:
    parsed: dict[str, dt.date | None] = {}
    for name in names:
        try:
            parsed[name] = _date(cells.get(name, ""), name)
        except BridgeError as exc:
            problems.append(RowProblem(number, HEADER_OF[name], exc.message))
    return parsed


def _check_grant_row(
    number: int, cells: dict[str, Any], known: Callable[[str], bool],
    role_problem: Callable[[str, str], str | None] | None, today: dt.date | None,
) -> GrantRow | list[RowProblem]:  # fmt: skip
    """A "Cấp" row: a known person, an application and role group of the catalogue, an effective date not later
    than the import (a grant is not scheduled: docs/decisions/0621)."""
    problems: list[RowProblem] = []
    email = _person(number, cells, known, problems)
    application = str(cells.get("application", "")).strip().upper()
    role_group = str(cells.get("role", "")).strip()
    if not application:
        problems.append(RowProblem(number, HEADER_OF["application"], "thiếu phần mềm nghiệp vụ / application required"))
    if not role_group:
        problems.append(RowProblem(number, HEADER_OF["role"], "thiếu vai trò / role group required"))
    if application and role_group:
        wrong = role_problem(application, role_group) if role_problem is not None else "no catalogue to check"
        if wrong is not None:
            problems.append(RowProblem(number, HEADER_OF["role"], wrong))
    dates = _dates(number, cells, problems, "effective_date")
    effective = dates.get("effective_date")
    if "effective_date" in dates and effective is None:
        problems.append(
            RowProblem(number, HEADER_OF["effective_date"], "thiếu ngày hiệu lực / the effective date is required")
        )
    elif effective is not None and today is not None and effective > today:
        problems.append(RowProblem(
            number, HEADER_OF["effective_date"],
            f"cấp quyền có hiệu lực khi nhập; gửi dòng này từ ngày {effective:%d/%m/%Y} / a grant takes effect when "
            "imported: send this row on or after its effective date",
        ))  # fmt: skip
    if problems or effective is None:
        return problems
    return GrantRow(number, email, str(cells.get("full_name", "")), application, role_group,
                    str(cells["decision_number"]).strip(), effective)  # fmt: skip


def _check_unlock_row(number: int, cells: dict[str, Any], known: Callable[[str], bool]) -> UnlockRow | list[RowProblem]:
    """A "Mở khóa" row: a known person, the decision number, and the day they work again (Ngày hiệu lực)."""
    problems: list[RowProblem] = []
    email = _person(number, cells, known, problems)
    number_text = str(cells["decision_number"]).strip()
    if not number_text:
        problems.append(
            RowProblem(number, HEADER_OF["decision_number"], "thiếu số quyết định / the decision number is required")
        )
    dates = _dates(number, cells, problems, "decision_date", "effective_date")
    back = dates.get("effective_date")
    if "effective_date" in dates and back is None:
        problems.append(RowProblem(number, HEADER_OF["effective_date"],
                                   "thiếu ngày đi làm lại (ngày hiệu lực) / the return date is required"))  # fmt: skip
    if problems or back is None:
        return problems
    return UnlockRow(number, email, str(cells.get("full_name", "")), number_text, dates.get("decision_date"), back)
