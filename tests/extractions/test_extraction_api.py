"""Data-extraction requests over the API on the real PostgreSQL store (Công văn 907): nothing reaches the IT
Center before both approvals — its attempt is refused with X5 and ledgered — and after the unit's leadership and
Lãnh đạo Ngành approve, the same delivery is accepted; each step in the ledger, scope and four eyes enforced,
deletion confirmations due then overdue, and a sheet of their own in the IT Center's quarterly workbook."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from openpyxl import load_workbook
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bridge.adapters.store.models import LedgerEntry
from bridge.domain.reports.quarter import Quarter
from bridge.domain.role_levels import Catalogue
from bridge.domain.units import UnitTree
from bridge.interfaces.api.app import create_app
from bridge.services.context import GovContext, load_actor
from bridge.services.reports.summary import build_it_center_quarter
from bridge.testbed.local_issuer import LocalIssuer
from tests.api_overrides import fix_day
from tests.extractions.conftest import CONFIG
from tests.extractions.extraction_world import DAY, DIRECTORY, HCM, HN, HN_LEAD, IT, VSS_LEAD, request_body

DELIVERED = "ma_so_bhxh;ho_ten\n0101234567;Nguyễn Văn An\n".encode()
#: A refusal's ledger row names the route it came through (the API's refusal trace).
FULFIL_ROUTE = "POST /extractions/{extraction_id}/fulfilment"
DECIDE_ROUTE = "POST /extractions/{extraction_id}/decisions"
DIGEST = hashlib.sha256(DELIVERED).hexdigest()


@pytest.fixture(scope="module")
def issuer() -> Iterator[LocalIssuer]:
    with LocalIssuer() as local:
        yield local


def make_app(factory: sessionmaker[Session], issuer: LocalIssuer, day: dt.date) -> FastAPI:
    api = create_app(factory=factory, directory=DIRECTORY, validator=issuer.validator(), config_dir=CONFIG)
    fix_day(api, day)
    return api


@pytest.fixture()
def client(factory: sessionmaker[Session], issuer: LocalIssuer) -> TestClient:
    return TestClient(make_app(factory, issuer, DAY))


def auth(issuer: LocalIssuer, email: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {issuer.token(email)}"}


def rows(factory: sessionmaker[Session], target: str) -> list[tuple[str, str, str, str]]:
    with factory() as session:
        found = session.scalars(select(LedgerEntry).where(LedgerEntry.target == target).order_by(LedgerEntry.id))
        return [(e.actor, e.action, e.outcome, e.rule) for e in found]


def test_refused_at_the_it_center_before_both_approvals_and_accepted_after_them(
    client: TestClient, issuer: LocalIssuer, factory: sessionmaker[Session]
) -> None:
    filed = client.post("/extractions", json=request_body(), headers=auth(issuer, HN))
    assert filed.status_code == 201, filed.text
    xid = filed.json()["id"]
    assert filed.json()["status"] == "pending_unit"
    fulfil = {"file_sha256": DIGEST, "channel": "sftp"}
    url = f"/extractions/{xid}"

    early = client.post(f"{url}/fulfilment", json=fulfil, headers=auth(issuer, IT))
    assert (early.status_code, early.json()["rule"]) == (403, "X5-not-approved-yet"), early.text
    assert client.get("/extractions/queue", headers=auth(issuer, IT)).json() == []

    wrong_stage = client.post(f"{url}/decisions", json={"approve": True}, headers=auth(issuer, VSS_LEAD))
    assert (wrong_stage.status_code, wrong_stage.json()["rule"]) == (403, "X2-unit-leadership-approves")
    unit = client.post(f"{url}/decisions", json={"approve": True}, headers=auth(issuer, HN_LEAD))
    assert (unit.status_code, unit.json()["status"]) == (200, "pending_central"), unit.text

    after_one = client.post(f"{url}/fulfilment", json=fulfil, headers=auth(issuer, IT))
    assert (after_one.status_code, after_one.json()["rule"]) == (403, "X5-not-approved-yet")
    again = client.post(f"{url}/decisions", json={"approve": True}, headers=auth(issuer, HN_LEAD))
    assert (again.status_code, again.json()["rule"]) == (403, "X3-central-leadership-approves")

    central = client.post(f"{url}/decisions", json={"approve": True}, headers=auth(issuer, VSS_LEAD))
    assert (central.status_code, central.json()["status"]) == (200, "queued"), central.text
    assert [r["id"] for r in client.get("/extractions/queue", headers=auth(issuer, IT)).json()] == [xid]

    done = client.post(f"{url}/fulfilment", json=fulfil, headers=auth(issuer, IT))
    assert done.status_code == 200, done.text
    body = done.json()
    assert (body["status"], body["delivered_sha256"], body["channel"], body["processed_by"]) == (
        "fulfilled", DIGEST, "sftp", IT)  # fmt: skip
    assert (body["unit_approved_by"], body["central_approved_by"]) == (HN_LEAD, VSS_LEAD)
    assert client.get("/extractions/queue", headers=auth(issuer, IT)).json() == []

    assert rows(factory, f"extraction:{xid}") == [
        (HN, "extraction.request", "allowed", "X1-unit-admin-files"),
        (IT, FULFIL_ROUTE, "refused", "X5-not-approved-yet"),
        (VSS_LEAD, DECIDE_ROUTE, "refused", "X2-unit-leadership-approves"),
        (HN_LEAD, "extraction.approve", "allowed", "X2-unit-leadership-approves"),
        (IT, FULFIL_ROUTE, "refused", "X5-not-approved-yet"),
        (HN_LEAD, DECIDE_ROUTE, "refused", "X3-central-leadership-approves"),
        (VSS_LEAD, "extraction.approve", "allowed", "X3-central-leadership-approves"),
        (IT, "extraction.fulfil", "allowed", "X4-it-center-processes"),
    ]


def _queued(client: TestClient, issuer: LocalIssuer, **changes: object) -> int:
    xid = int(client.post("/extractions", json=request_body(**changes), headers=auth(issuer, HN)).json()["id"])
    for leader in (HN_LEAD, VSS_LEAD):
        assert client.post(f"/extractions/{xid}/decisions", json={"approve": True},
                           headers=auth(issuer, leader)).status_code == 200  # fmt: skip
    return xid


def test_scope_four_eyes_and_the_it_center_alone_processes(
    client: TestClient, issuer: LocalIssuer, factory: sessionmaker[Session]
) -> None:
    other = client.post("/extractions", json=request_body(), headers=auth(issuer, HCM))
    assert other.status_code == 404, other.text  # another province's unit answers like a missing one
    assert rows(factory, "unit:01000") == [(HCM, "POST /extractions", "refused", "X1-unit-admin-files")]
    central_unit = client.post("/extractions", json=request_body(unit_code="00003"), headers=auth(issuer, HN))
    assert central_unit.status_code == 404, central_unit.text
    by_it = client.post("/extractions", json=request_body(unit_code="00003"), headers=auth(issuer, IT))
    assert by_it.status_code == 201, by_it.text
    xid = _queued(client, issuer)
    hidden = client.get(f"/extractions/{xid}", headers=auth(issuer, HCM))
    assert hidden.status_code == 404
    not_it = client.post(f"/extractions/{xid}/fulfilment", json={"file_sha256": DIGEST, "channel": "sftp"},
                         headers=auth(issuer, HN))  # fmt: skip
    assert (not_it.status_code, not_it.json()["rule"]) == (403, "X4-it-center-processes")
    why = "Ngoài phạm vi dữ liệu được phép"
    refused = client.post(f"/extractions/{xid}/refusal", json={"reason": why}, headers=auth(issuer, IT))
    assert (refused.json()["status"], refused.json()["refusal_reason"]) == ("refused", why)
    twice = client.post(f"/extractions/{xid}/fulfilment", json={"file_sha256": DIGEST, "channel": "sftp"},
                        headers=auth(issuer, IT))  # fmt: skip
    assert (twice.status_code, twice.json()["rule"]) == (403, "X6-wrong-state")


def test_a_rejection_ends_the_request_and_it_never_reaches_the_queue(client: TestClient, issuer: LocalIssuer) -> None:
    xid = client.post("/extractions", json=request_body(), headers=auth(issuer, HN)).json()["id"]
    rejected = client.post(f"/extractions/{xid}/decisions", json={"approve": False}, headers=auth(issuer, HN_LEAD))
    assert rejected.json()["status"] == "rejected"
    late = client.post(f"/extractions/{xid}/decisions", json={"approve": True}, headers=auth(issuer, VSS_LEAD))
    assert (late.status_code, late.json()["rule"]) == (403, "X6-wrong-state")
    assert client.get("/extractions/queue", headers=auth(issuer, IT)).json() == []


def test_an_incomplete_request_names_every_field_and_records_nothing(client: TestClient, issuer: LocalIssuer) -> None:
    body = request_body(format="docx", period_to="2024-01-01",
                        retention_until=DAY.isoformat(), recipients=[" "])  # fmt: skip
    answer = client.post("/extractions", json=body, headers=auth(issuer, HN))
    assert answer.status_code == 422
    fields = {p["field"] for p in answer.json()["problems"]}
    assert fields == {"format", "period_to", "retention_until", "recipients"}
    blank = client.post("/extractions", json=request_body(letter_number=" "), headers=auth(issuer, HN))
    assert (blank.status_code, blank.json()["field"]) == (422, "letter_number")
    assert client.get("/extractions", headers=auth(issuer, HN)).json() == []
    bad_status = client.get("/extractions?status=done", headers=auth(issuer, HN))
    assert (bad_status.status_code, bad_status.json()["field"]) == (422, "status")
    missing_scope = client.post("/extractions", json=request_body(data_scope=[]), headers=auth(issuer, HN))
    assert missing_scope.status_code == 422 and missing_scope.json()["field"] == "data_scope"


def test_deletion_confirmations_due_then_overdue_then_confirmed(
    client: TestClient, issuer: LocalIssuer, factory: sessionmaker[Session]
) -> None:
    xid = _queued(client, issuer, retention_until=(DAY + dt.timedelta(days=10)).isoformat())
    client.post(f"/extractions/{xid}/fulfilment", json={"file_sha256": DIGEST, "channel": "email"},
                headers=auth(issuer, IT))  # fmt: skip
    due = client.get("/extractions/deletions", headers=auth(issuer, HN)).json()
    assert [(d["request"]["id"], d["state"]) for d in due] == [(xid, "due")]
    assert client.get("/extractions/deletions?overdue=true", headers=auth(issuer, HN)).json() == []
    later = TestClient(make_app(factory, issuer, DAY + dt.timedelta(days=11)))
    overdue = later.get("/extractions/deletions?overdue=true", headers=auth(issuer, IT)).json()
    assert [(d["request"]["id"], d["state"]) for d in overdue] == [(xid, "overdue")]
    assert later.get("/extractions/deletions", headers=auth(issuer, HCM)).json() == []
    confirmed = later.post(f"/extractions/{xid}/deletion", json={"note": "Đã xóa trên máy chủ SFTP"},
                           headers=auth(issuer, HN))  # fmt: skip
    assert confirmed.status_code == 200 and confirmed.json()["deletion_confirmed_by"] == HN
    assert later.get("/extractions/deletions", headers=auth(issuer, IT)).json() == []
    assert rows(factory, f"extraction:{xid}")[-1] == (HN, "extraction.deletion_confirmed", "allowed",
                                                     "X1-unit-admin-files")  # fmt: skip


def test_the_it_center_workbook_counts_them_on_a_sheet_of_their_own(
    client: TestClient, issuer: LocalIssuer, factory: sessionmaker[Session], tree: UnitTree, catalogue: Catalogue
) -> None:
    done = _queued(client, issuer, retention_until=(DAY + dt.timedelta(days=5)).isoformat())
    client.post(f"/extractions/{done}/fulfilment", json={"file_sha256": DIGEST, "channel": "sftp"},
                headers=auth(issuer, IT))  # fmt: skip
    refused = _queued(client, issuer)
    client.post(f"/extractions/{refused}/refusal", json={"reason": "Trùng yêu cầu trước"}, headers=auth(issuer, IT))
    client.post("/extractions", json=request_body(), headers=auth(issuer, HN))  # waits for its unit
    later = DAY + dt.timedelta(days=6)
    quarter = Quarter.of(DAY)
    with factory() as session:
        ctx = GovContext(tree, catalogue, DIRECTORY, later)
        book = build_it_center_quarter(session, ctx=ctx, actor=load_actor(session, email=IT), quarter=str(quarter),
                                       generated_on=later)  # fmt: skip
    sheet = load_workbook(io.BytesIO(book.workbook))["Khai thác dữ liệu"]
    values = [list(r) for r in sheet.iter_rows(values_only=True)]
    header = values[3]
    hanoi = next(r for r in values if r[1] == "01000")
    got = dict(zip(header[2:], hanoi[2:], strict=True))
    assert got == {"Số yêu cầu lập trong quý": 3, "Lãnh đạo đơn vị đã duyệt": 2, "Lãnh đạo Ngành đã duyệt": 2,
                   "Trung tâm CNTT đã cung cấp": 1, "Trung tâm CNTT từ chối": 1, "Lãnh đạo không duyệt": 0,
                   "Xác nhận hủy đến hạn": 0, "Xác nhận hủy quá hạn": 1}  # fmt: skip
    assert any(r[0] == "Xác nhận hủy dữ liệu quá hạn: 1" for r in values)
    assert any(r[1] == done and r[2] == "01000" for r in values if isinstance(r[1], int))


def test_the_generic_approval_route_decides_the_stage_the_request_waits_for(
    client: TestClient, issuer: LocalIssuer
) -> None:
    filed = client.post("/extractions", json=request_body(), headers=auth(issuer, HN)).json()
    url = f"/approvals/{filed['approval_id']}/decisions"
    skipped = client.post(url, json={"approve": True}, headers=auth(issuer, VSS_LEAD))
    assert (skipped.status_code, skipped.json()["rule"]) == (403, "X2-unit-leadership-approves")
    first = client.post(url, json={"approve": True}, headers=auth(issuer, HN_LEAD))
    assert (first.status_code, first.json()["status"]) == (200, "pending"), first.text
    second = client.post(url, json={"approve": True}, headers=auth(issuer, VSS_LEAD))
    assert (second.status_code, second.json()["status"]) == (200, "approved")
    assert client.get(f"/extractions/{filed['id']}", headers=auth(issuer, IT)).json()["status"] == "queued"
