"""``bridge report …`` on a real SQLite store seeded through the services: files written, bad input refused."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from gov_world import DIRECTORY, HN, IT, seed
from openpyxl import load_workbook
from sqlalchemy.orm import sessionmaker
from typer.testing import CliRunner

from bridge.clock import today_vn
from bridge.governance.catalogue import Catalogue
from bridge.reports.cli import report_app
from bridge.reports.quarter import Quarter
from bridge.settings import get_settings
from bridge.store.migrate import upgrade
from bridge.store.session import make_engine, transaction
from bridge.units import UnitTree

runner = CliRunner()
NOW_Q = Quarter.of(today_vn())


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, units: UnitTree, catalogue: Catalogue) -> Iterator[Path]:
    url = f"sqlite:///{tmp_path / 'cli.sqlite3'}"
    snapshot = tmp_path / "directory.json"
    DIRECTORY.dump(snapshot)
    monkeypatch.setenv("BRIDGE_STORE__URL", url)
    monkeypatch.setenv("BRIDGE_GOVERNANCE__DIRECTORY_SNAPSHOT", str(snapshot))
    get_settings.cache_clear()
    upgrade(url=url)
    engine = make_engine(url)
    with transaction(sessionmaker(engine, expire_on_commit=False)) as session:
        seed(session, units=units, catalogue=catalogue)
    engine.dispose()
    yield tmp_path
    get_settings.cache_clear()


def _run(*args: str) -> tuple[int, str]:
    result = runner.invoke(report_app, list(args))
    return result.exit_code, result.output


def test_unit_report_is_written_in_each_format(env: Path) -> None:
    for fmt in ("json", "csv", "xlsx"):
        out = env / f"r.{fmt}"
        code, output = _run("unit", "01000", str(NOW_Q), "--as", HN, "--format", fmt, "--out", str(out))
        assert code == 0, output
        assert "tăng 2" in output and out.exists()
    body = json.loads((env / "r.json").read_text(encoding="utf-8"))
    assert body["first_report"] is True and len(body["section_2"]["rows"]) == 2
    assert load_workbook(env / "r.xlsx").sheetnames == ["01000"]


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
def test_bad_input_exits_2_naming_the_problem(env: Path, args: list[str], needle: str) -> None:
    code, output = _run(*args)
    assert code == 2 and needle in output, output


def test_submit_then_status_then_it_center_workbook(env: Path) -> None:
    previous = NOW_Q.previous()
    code, output = _run("submit", "01000", str(previous), "--as", HN)
    assert code == 0 and "01000" in output, output
    code, output = _run("status", str(previous), "--as", IT)
    assert code == 0 and "01000" in output and "79000" in output
    book, chart = env / "tong-hop.xlsx", env / "chart.png"
    code, output = _run("it-center", str(NOW_Q), "--as", IT, "--out", str(book), "--chart", str(chart))
    assert code == 0, output
    assert load_workbook(book).sheetnames[0] == "Tổng hợp" and chart.read_bytes().startswith(b"\x89PNG")
