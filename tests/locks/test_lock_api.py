"""The lock routes: thin over the service, problem+json errors, refusals in the ledger, import reports."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bridge.adapters.store.lock_models import LockDecision
from bridge.adapters.store.models import LedgerEntry
from bridge.interfaces.api.app import create_app
from bridge.interfaces.api.deps import Wake, get_scheduler_wake
from bridge.testbed.local_issuer import LocalIssuer
from tests.api_overrides import fix_day
from tests.locks.conftest import CONFIG
from tests.locks.lock_world import AN, BINH, CUONG, DAY, DIRECTORY, HN
from tests.unit.test_lock_import import csv_bytes, row


@pytest.fixture(scope="module")
def issuer() -> Iterator[LocalIssuer]:
    with LocalIssuer() as local:
        yield local


@pytest.fixture()
def app(factory: sessionmaker[Session], issuer: LocalIssuer) -> FastAPI:
    api = create_app(factory=factory, directory=DIRECTORY, validator=issuer.validator(), config_dir=CONFIG)
    fix_day(api, DAY)
    return api


@pytest.fixture()
def client(app: FastAPI) -> TestClient:
    return TestClient(app)


def auth(issuer: LocalIssuer, email: str = HN) -> dict[str, str]:
    return {"Authorization": f"Bearer {issuer.token(email)}"}


def test_create_read_and_cancel_a_future_lock(client: TestClient, issuer: LocalIssuer) -> None:
    body = {"email": AN, "reason": "nghỉ thai sản", "decision_number": "15/QĐ-BHXH", "decision_date": "2025-10-20",
            "effective_date": "2025-11-10", "end_date": "2026-05-10"}  # fmt: skip
    created = client.post("/locks", json=body, headers=auth(issuer))
    assert created.status_code == 201, created.text
    assert (created.json()["status"], created.json()["reason_code"]) == ("scheduled", "maternity")
    lock_id = created.json()["id"]
    assert client.get(f"/locks/{lock_id}", headers=auth(issuer)).json()["email"] == AN
    cancelled = client.post(f"/locks/{lock_id}/cancel", headers=auth(issuer))
    assert (cancelled.status_code, cancelled.json()["status"]) == (200, "cancelled")


def test_the_scheduler_is_woken_once_per_committed_change_and_not_by_a_refusal(
    app: FastAPI, client: TestClient, issuer: LocalIssuer, factory: sessionmaker[Session]
) -> None:
    woken: list[int] = []

    def wake() -> None:
        with factory() as session:  # woken after the commit: the decision is there to claim
            woken.append(len(session.scalars(select(LockDecision)).all()))

    async def scheduler_wake() -> Wake:
        return wake

    app.dependency_overrides[get_scheduler_wake] = scheduler_wake
    body = {"email": AN, "reason": "nghỉ hưu", "decision_number": "2/QĐ", "decision_date": "2025-10-20"}
    assert client.post("/locks", json=body, headers=auth(issuer)).status_code == 201
    refused = {**body, "email": CUONG}
    assert client.post("/locks", json=refused, headers=auth(issuer)).status_code == 404
    assert woken == [1]


def test_out_of_scope_lock_is_404_and_leaves_a_refused_row(
    client: TestClient, issuer: LocalIssuer, factory: sessionmaker[Session]
) -> None:
    body = {"email": CUONG, "reason": "retired", "decision_number": "1/QĐ", "decision_date": "2025-10-20"}
    answer = client.post("/locks", json=body, headers=auth(issuer))
    assert answer.status_code == 404
    assert answer.headers["content-type"].startswith("application/problem+json")
    with factory() as session:
        last = session.scalars(select(LedgerEntry).order_by(LedgerEntry.id.desc())).first()
        assert last is not None and (last.outcome, last.rule, last.target) == (
            "refused", "R5-province-out-of-scope", f"person:{CUONG}")  # fmt: skip
        assert session.scalars(select(LockDecision)).all() == []


def test_bad_dates_and_unknown_reason_are_422_naming_the_field(client: TestClient, issuer: LocalIssuer) -> None:
    body = {"email": AN, "reason": "maternity", "decision_number": "1/QĐ", "decision_date": "2025-10-20",
            "effective_date": "2025-11-10", "end_date": "2025-11-01"}  # fmt: skip
    answer = client.post("/locks", json=body, headers=auth(issuer))
    assert (answer.status_code, answer.json()["field"]) == (422, "end_date")
    unknown = client.post("/locks", json={**body, "reason": "nghỉ phép"}, headers=auth(issuer))
    assert (unknown.status_code, unknown.json()["field"]) == (422, "reason")
    impossible = client.post("/locks", json={**body, "effective_date": "2025-02-31"}, headers=auth(issuer))
    assert impossible.status_code == 422


def test_import_rejects_the_whole_file_with_a_row_report_then_accepts_a_good_one(
    client: TestClient, issuer: LocalIssuer, factory: sessionmaker[Session]
) -> None:
    bad = csv_bytes(row(), row(email=BINH, effective="31/02/2026", end="01/03/2026"))
    rejected = client.post("/locks/import", params={"filename": "ds.csv"}, content=bad, headers=auth(issuer))
    assert rejected.status_code == 422
    assert rejected.json()["problems"] == [
        {
            "row": 3,
            "column": "Ngày hiệu lực",
            "problem": "ngày không hợp lệ / not a real date (dd/mm/yyyy): '31/02/2026'",
        }
    ]
    with factory() as session:
        assert session.scalars(select(LockDecision)).all() == []
    good = csv_bytes(row(), row(email=BINH, reason="nghỉ hưu", end=""))
    accepted = client.post("/locks/import", params={"filename": "ds.csv"}, content=good, headers=auth(issuer))
    assert (accepted.status_code, accepted.json()["created"]) == (201, 2)
