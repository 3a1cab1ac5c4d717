"""The governance commands (bootstrap, explain, audit verify) on a real SQLite store and directory."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from gov_world import DIRECTORY, HCM, HN, IT, PERSON_A, PERSON_B
from typer.testing import CliRunner

from bridge.interfaces.cli.db import db_app
from bridge.interfaces.cli.governance import audit_app, governance_app
from bridge.settings import get_settings

runner = CliRunner()


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    url = f"sqlite:///{tmp_path / 'cli.sqlite3'}"
    snapshot = tmp_path / "directory.json"
    DIRECTORY.dump(snapshot)
    monkeypatch.setenv("BRIDGE_STORE__URL", url)
    monkeypatch.setenv("BRIDGE_GOVERNANCE__DIRECTORY_SNAPSHOT", str(snapshot))
    get_settings.cache_clear()
    assert runner.invoke(db_app, ["upgrade"]).exit_code == 0
    yield url
    get_settings.cache_clear()


def _invoke(app: object, *args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))  # type: ignore[arg-type]
    return result.exit_code, result.output


def test_bootstrap_then_appoint_then_explain(env: str) -> None:
    date = ["--date", "2025-10-01"]
    assert _invoke(governance_app, "appoint", IT, "it_center_admin", "00012", *date)[0] == 0
    code, out = _invoke(governance_app, "appoint", HN, "province_admin", "01000", "--by", IT, *date)
    assert code == 0, out
    code, out = _invoke(governance_app, "explain", HN, "grant", PERSON_B, "--app", "TST", "--role", "operator", *date)
    assert code == 0 and "REFUSED R5-province-out-of-scope" in out and "79001" in out
    code, out = _invoke(governance_app, "explain", HN, "grant", PERSON_A, "--app", "TST", "--role", "operator", *date)
    assert code == 0 and "ALLOWED R4-province-own-units" in out


def test_second_bootstrap_is_refused(env: str) -> None:
    assert _invoke(governance_app, "appoint", IT, "it_center_admin", "00012", "--date", "2025-10-01")[0] == 0
    code, out = _invoke(governance_app, "appoint", HCM, "it_center_admin", "00012", "--date", "2025-10-01")
    assert code == 2 and "conflict" in out
    with sqlite3.connect(env.removeprefix("sqlite:///")) as conn:
        last = conn.execute("SELECT outcome, rule, target FROM audit_ledger ORDER BY id DESC").fetchone()
    assert last == ("refused", "E-conflict", f"person:{HCM}")


def test_audit_verify_names_the_broken_row(env: str) -> None:
    date = ["--date", "2025-10-01"]
    _invoke(governance_app, "appoint", IT, "it_center_admin", "00012", *date)
    _invoke(governance_app, "appoint", HN, "province_admin", "01000", "--by", IT, *date)
    _invoke(governance_app, "appoint", HCM, "province_admin", "79000", "--by", IT, *date)
    code, out = _invoke(audit_app, "verify")
    assert code == 0 and "3 rows" in out
    with sqlite3.connect(env.removeprefix("sqlite:///")) as conn:
        conn.execute("UPDATE audit_ledger SET actor = 'ke.gian@vss.gov.vn' WHERE id = 2")
    code, out = _invoke(audit_app, "verify")
    assert code == 1 and "BROKEN at row 2" in out


def test_grant_and_revoke_commands_write_the_grant_its_ledger_row_and_its_membership_job(env: str) -> None:
    from bridge.interfaces.cli.grants import grant_app

    date = ["--date", "2025-10-01"]
    _invoke(governance_app, "appoint", IT, "it_center_admin", "00012", *date)
    _invoke(governance_app, "appoint", HN, "province_admin", "01000", "--by", IT, *date)
    code, out = _invoke(grant_app, "request", PERSON_A, "TST", "operator", "--as", HN, "--ref", "PL01-7")
    assert code == 0 and "#1" in out, out
    code, out = _invoke(grant_app, "request", PERSON_B, "TST", "operator", "--as", HN)
    assert code == 2 and "not-found" in out, out
    assert _invoke(grant_app, "revoke", "1", "--as", HN)[0] == 0
    with sqlite3.connect(env.removeprefix("sqlite:///")) as conn:
        jobs = conn.execute("SELECT grant_id, kind, path, state FROM grant_jobs ORDER BY id").fetchall()
        actions = conn.execute("SELECT action, outcome FROM audit_ledger WHERE action IN ('grant', 'revoke') "
                               "ORDER BY id").fetchall()  # fmt: skip
    assert jobs == [(1, "join", "/apps/TST/operator", "pending"), (1, "leave", "/apps/TST/operator", "pending")]
    assert actions == [("grant", "allowed"), ("grant", "refused"), ("revoke", "allowed")]
