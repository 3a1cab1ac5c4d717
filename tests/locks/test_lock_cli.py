"""``bridge lock …`` on a real SQLite store: the same service as the API, refusals in the ledger."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from bridge.adapters.store.lock_models import LockDecision
from bridge.adapters.store.models import LedgerEntry
from bridge.clock import format_vn, today_vn
from bridge.interfaces.cli.locks import lock_app
from bridge.settings import get_settings
from tests.locks.lock_world import AN, CUONG, DIRECTORY, HN
from tests.unit.test_lock_import import csv_bytes, row

runner = CliRunner()


@pytest.fixture()
def cli_env(factory: sessionmaker[Session], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    snapshot = tmp_path / "directory.json"
    DIRECTORY.dump(snapshot)
    monkeypatch.setenv("BRIDGE_STORE__URL", f"sqlite:///{tmp_path / 'locks.sqlite3'}")
    monkeypatch.setenv("BRIDGE_GOVERNANCE__DIRECTORY_SNAPSHOT", str(snapshot))
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def test_request_then_list_and_a_refused_request_is_ledgered(cli_env: None, factory: sessionmaker[Session]) -> None:
    today = today_vn()
    ok = runner.invoke(lock_app, ["request", AN, "nghỉ hưu", "--as", HN, "--number", "7/QĐ-BHXH",
                                  "--decision-date", format_vn(today)])  # fmt: skip
    assert ok.exit_code == 0, ok.output
    assert "retired" in ok.output and "[scheduled]" in ok.output
    assert AN in runner.invoke(lock_app, ["list", "--as", HN]).output
    refused = runner.invoke(lock_app, ["request", CUONG, "retired", "--as", HN, "--number", "8/QĐ",
                                       "--decision-date", format_vn(today)])  # fmt: skip
    assert refused.exit_code == 2
    with factory() as session:
        last = session.scalars(select(LedgerEntry).order_by(LedgerEntry.id.desc())).first()
        assert last is not None and (last.action, last.outcome, last.target) == (
            "lock.request", "refused", f"person:{CUONG}")  # fmt: skip


def test_import_of_a_wrong_file_prints_each_row_and_applies_nothing(
    cli_env: None, factory: sessionmaker[Session], tmp_path: Path
) -> None:
    path = tmp_path / "phu-luc-01.csv"
    path.write_bytes(csv_bytes(row(), row(reason="nghỉ phép")))
    result = runner.invoke(lock_app, ["import", str(path), "--as", HN])
    assert result.exit_code == 2
    assert "Lý do" in result.output and "nothing applied" in result.output
    with factory() as session:
        assert session.scalars(select(LockDecision)).all() == []
