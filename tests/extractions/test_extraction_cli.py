"""``bridge extraction …`` on the real PostgreSQL store: the same services as the API — the IT Center's delivery
refused before the two approvals (exit 2, a refused ledger row), accepted after them with the file's SHA-256."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from bridge.adapters.store.extraction_models import ExtractionRequest
from bridge.adapters.store.models import LedgerEntry
from bridge.interfaces.cli.extractions import extraction_app
from bridge.settings import get_settings
from tests.extractions.extraction_world import DIRECTORY, HN, HN_LEAD, IT, VSS_LEAD, request_body

runner = CliRunner()


def flat(output: str) -> str:
    """The output without the console's line wrapping."""
    return " ".join(output.split())


@pytest.fixture()
def cli_env(
    factory: sessionmaker[Session], pg_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[None]:
    snapshot = tmp_path / "directory.json"
    DIRECTORY.dump(snapshot)
    monkeypatch.setenv("BRIDGE_STORE__URL", pg_url)
    monkeypatch.setenv("BRIDGE_GOVERNANCE__DIRECTORY_SNAPSHOT", str(snapshot))
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def test_file_refuse_before_approvals_then_deliver_after_them(
    cli_env: None, factory: sessionmaker[Session], tmp_path: Path
) -> None:
    request = tmp_path / "yeu-cau.json"
    request.write_text(json.dumps(request_body(), ensure_ascii=False), encoding="utf-8")
    filed = runner.invoke(extraction_app, ["file", str(request), "--as", HN])
    assert filed.exit_code == 0, filed.output
    assert "[pending_unit: Chờ Lãnh đạo đơn vị phê duyệt]" in flat(filed.output)
    with factory() as session:
        xid = session.scalars(select(ExtractionRequest.id)).one()
    delivered = tmp_path / "du-lieu.csv"
    delivered.write_bytes("ma_so_bhxh;ho_ten\n0101234567;Nguyễn Văn An\n".encode())
    deliver = ["fulfil", str(xid), "--as", IT, "--channel", "sftp", "--file", str(delivered)]

    early = runner.invoke(extraction_app, deliver)
    assert early.exit_code == 2 and "X5-not-approved-yet" in flat(early.output)
    with factory() as session:
        last = session.scalars(select(LedgerEntry).order_by(LedgerEntry.id.desc())).first()
        assert last is not None
        assert (last.action, last.outcome, last.rule) == ("extraction.fulfil", "refused", "X5-not-approved-yet")
    assert "0 yêu cầu chờ xử lý" in flat(runner.invoke(extraction_app, ["queue", "--as", IT]).output)

    for leader in (HN_LEAD, VSS_LEAD):
        approved = runner.invoke(extraction_app, ["approve", str(xid), "--as", leader])
        assert approved.exit_code == 0, approved.output
    assert "1 yêu cầu chờ xử lý" in flat(runner.invoke(extraction_app, ["queue", "--as", IT]).output)
    done = runner.invoke(extraction_app, deliver)
    assert done.exit_code == 0, done.output
    with factory() as session:
        row = session.get(ExtractionRequest, xid)
        assert row is not None
        assert (row.status, row.delivered_sha256, row.channel, row.processed_by) == (
            "fulfilled", hashlib.sha256(delivered.read_bytes()).hexdigest(), "sftp", IT)  # fmt: skip
    outstanding = runner.invoke(extraction_app, ["deletions", "--as", HN])
    assert "0 xác nhận hủy chờ" in flat(outstanding.output)  # the retention date is 90 days away
    confirmed = runner.invoke(extraction_app, ["confirm-deletion", str(xid), "--as", HN, "--note", "đã xóa"])
    assert confirmed.exit_code == 0, confirmed.output


def test_a_request_file_missing_a_field_is_named(cli_env: None, tmp_path: Path) -> None:
    body = request_body()
    del body["legal_basis"]
    request = tmp_path / "thieu.json"
    request.write_text(json.dumps(body), encoding="utf-8")
    result = runner.invoke(extraction_app, ["file", str(request), "--as", HN])
    assert result.exit_code == 2 and "legal_basis" in result.output
