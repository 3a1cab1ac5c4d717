"""``bridge report …`` on a real SQLite store seeded through the services: files written, bad input refused."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from gov_world import HN, IT, seed
from openpyxl import load_workbook
from sqlalchemy.orm import sessionmaker
from test_gov_cli import env as gov_cli_env  # noqa: F401 - a fixture, by this name
from typer.testing import CliRunner

from bridge.adapters.store.session import make_engine, transaction
from bridge.clock import today_vn
from bridge.domain.reports.quarter import Quarter
from bridge.domain.role_levels import Catalogue
from bridge.domain.units import UnitTree
from bridge.interfaces.cli.reports import report_app

runner = CliRunner()
NOW_Q = Quarter.of(today_vn())


@pytest.fixture
def seeded_env(gov_cli_env: str, units: UnitTree, catalogue: Catalogue) -> Path:  # noqa: F811
    """The governance CLI tests' store and directory (their ``env``), seeded through the services."""
    engine = make_engine(gov_cli_env)
    with transaction(sessionmaker(engine, expire_on_commit=False)) as session:
        seed(session, units=units, catalogue=catalogue)
    engine.dispose()
    return Path(gov_cli_env.removeprefix("sqlite:///")).parent


def _run(*args: str) -> tuple[int, str]:
    result = runner.invoke(report_app, list(args))
    return result.exit_code, result.output


def test_unit_report_is_written_in_each_format(seeded_env: Path) -> None:
    for fmt in ("json", "csv", "xlsx"):
        out = seeded_env / f"r.{fmt}"
        code, output = _run("unit", "01000", str(NOW_Q), "--as", HN, "--format", fmt, "--out", str(out))
        assert code == 0, output
        assert "tăng 2" in output and out.exists()
    body = json.loads((seeded_env / "r.json").read_text(encoding="utf-8"))
    assert body["first_report"] is True and len(body["section_2"]["rows"]) == 2
    assert load_workbook(seeded_env / "r.xlsx").sheetnames == ["01000"]


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["unit", "01000", f"{NOW_Q.year}-Q5", "--as", HN], "field: quarter"),
        (["unit", "01000", f"Q{NOW_Q.number}/{NOW_Q.year}", "--as", HN], "YYYY-Qn"),
        (["unit", "01000", str(NOW_Q.next()), "--as", HN], "future"),
        (["unit", "99999", str(NOW_Q), "--as", HN], "field: unit"),
        (["unit", "79000", str(NOW_Q), "--as", HN], "not-found"),
        (["unit", "01000", str(NOW_Q), "--as", HN, "--format", "pdf"], "format"),
        (["submit", "01000", str(NOW_Q), "--as", HN], "chưa kết thúc"),
    ],
)
def test_bad_input_exits_2_naming_the_problem(seeded_env: Path, args: list[str], needle: str) -> None:
    code, output = _run(*args)
    assert code == 2 and needle in output, output


def test_submit_then_status_then_it_center_workbook(seeded_env: Path) -> None:
    previous = NOW_Q.previous()
    code, output = _run("submit", "01000", str(previous), "--as", HN)
    assert code == 0 and "01000" in output, output
    code, output = _run("status", str(previous), "--as", IT)
    assert code == 0 and "01000" in output and "79000" in output
    book, chart = seeded_env / "tong-hop.xlsx", seeded_env / "chart.png"
    code, output = _run("it-center", str(NOW_Q), "--as", IT, "--out", str(book), "--chart", str(chart))
    assert code == 0, output
    assert load_workbook(book).sheetnames[0] == "Tổng hợp" and chart.read_bytes().startswith(b"\x89PNG")
