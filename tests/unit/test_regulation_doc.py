"""docs/regulation.md, the clause → feature → test table, stays true: every test it names exists (the file and
the test function in it), every clause of Quy chế 2366 Điều 6 and Điều 9 and every demand of Công văn 907 has a
row, and a row without a test is organisational (software cannot enforce it)."""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from bridge.settings import PROJECT_ROOT

DOC = PROJECT_ROOT / "docs" / "regulation.md"
TEST_REF = re.compile(r"`(tests/[\w/]+\.py)::(\w+)`")
ORGANISATIONAL = "**Tổ chức / organisational**"
REQUIRED = (
    {f"QC2366 Đ6 {k}" for k in ("1.1", "1.2", "2.1", "2.2", "2.3", "2.4", "3")}
    | {f"QC2366 Đ9 {k}" for k in range(1, 8)}
    | {f"CV907 {k}" for k in range(1, 9)}
)


@dataclass(frozen=True)
class Row:
    line: int
    clause: str
    asks: str
    feature: str
    test: str

    @property
    def tests(self) -> list[tuple[str, str]]:
        return TEST_REF.findall(self.test)


def table_rows(text: str) -> list[Row]:
    """The body rows of every four-column table of the document."""
    rows = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.startswith("| ") or line.startswith("| Clause") or set(line) <= {"|", "-", " "}:
            continue
        cells = [c.strip() for c in line.strip().strip("|").split(" | ")]
        assert len(cells) == 4, f"line {number}: a row has four cells, not {len(cells)}: {line[:80]}"
        rows.append(Row(number, *cells))
    return rows


@cache
def functions_of(path: str) -> frozenset[str]:
    """Names of the test functions defined at the top level of a test file."""
    tree = ast.parse((PROJECT_ROOT / path).read_text(encoding="utf-8"))
    return frozenset(n.name for n in tree.body if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef))


ROWS = table_rows(DOC.read_text(encoding="utf-8"))


def test_every_test_named_in_the_table_exists() -> None:
    named = [(row.line, path, name) for row in ROWS for path, name in row.tests]
    assert len(named) >= 30
    missing = [(line, f"{path}::{name}") for line, path, name in named
               if not (PROJECT_ROOT / path).is_file() or name not in functions_of(path)]  # fmt: skip
    assert missing == [], f"docs/regulation.md names tests that do not exist: {missing}"


def test_every_clause_has_a_row() -> None:
    assert {row.clause for row in ROWS} >= REQUIRED
    assert {row.clause for row in ROWS} <= REQUIRED, "a row cites a clause the checker does not know"


def test_a_row_without_a_test_is_organisational() -> None:
    for row in ROWS:
        if not row.tests:
            assert row.test == "—" and row.feature.startswith(ORGANISATIONAL), (
                f"line {row.line}: no test and not organisational: {row.test!r}"
            )


def test_every_clause_with_enforceable_parts_names_a_test() -> None:
    only_organisational = {"CV907 8"}
    for clause in REQUIRED - only_organisational:
        rows = [r for r in ROWS if r.clause == clause]
        assert any(r.tests for r in rows), f"{clause}: no test named"


def test_the_parser_reads_cells_and_test_references() -> None:
    text = (
        "| Clause | What | Feature | Test |\n|---|---|---|---|\n"
        "| CV907 1 | a | b | `tests/x.py::test_y`<br>`tests/z.py::test_w` |\n"
    )
    [row] = table_rows(text)
    assert (row.clause, row.tests) == ("CV907 1", [("tests/x.py", "test_y"), ("tests/z.py", "test_w")])
    assert Path(DOC).is_file()
