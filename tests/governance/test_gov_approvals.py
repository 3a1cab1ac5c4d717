"""The two-person approval mechanism, as the sync's safety valve and the exception workflow use it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest
from sqlalchemy import func, select

from bridge.adapters.store.models import LedgerEntry
from bridge.adapters.store.session import transaction
from bridge.errors import Conflict, Forbidden
from bridge.services import approvals

if TYPE_CHECKING:
    from conftest import Store

PLAN = {"run": 42, "disable": ["a@vss.gov.vn", "b@hanoi.vss.gov.vn"], "share": 0.31}
ADMIN_1, ADMIN_2 = "it.one@vss.gov.vn", "it.two@vss.gov.vn"


def _valve(store: Store, subject: dict[str, Any] = PLAN) -> int:
    with transaction(store.factory) as session:
        return approvals.request_approval(
            session, kind="safety_valve", subject=subject, requested_by="system:sync", unit_code="00000",
            required_approvals=2,
        ).id  # fmt: skip


def _decide(store: Store, approval_id: int, approver: str, approve: bool = True) -> str:
    with transaction(store.factory) as session:
        return approvals.decide_approval(session, approval_id=approval_id, approver=approver, approve=approve).status


def test_valve_needs_two_distinct_approvers(store: Store) -> None:
    approval_id = _valve(store)
    assert _decide(store, approval_id, ADMIN_1) == "pending"
    with pytest.raises(Conflict):
        _decide(store, approval_id, ADMIN_1)
    assert _decide(store, approval_id, ADMIN_2) == "approved"
    with store.factory() as session:
        assert approvals.is_approved(session, kind="safety_valve", subject=PLAN)
        assert not approvals.is_approved(session, kind="safety_valve", subject={**PLAN, "share": 0.5})
        found = approvals.approvals_for(session, subject_hash=approvals.subject_hash(PLAN))
        assert [a.id for a in found] == [approval_id]
        assert [d.approver for d in found[0].decisions] == [ADMIN_1, ADMIN_2]


def test_requester_cannot_approve(store: Store) -> None:
    with transaction(store.factory) as session:
        approval_id = approvals.request_approval(
            session,
            kind="exception",
            subject={"email": "x@example.vn"},
            requested_by=ADMIN_1,
            unit_code="00002",
        ).id
    with pytest.raises(Forbidden):
        _decide(store, approval_id, ADMIN_1.upper())
    with store.factory() as session:
        assert not approvals.is_approved(session, kind="exception", subject={"email": "x@example.vn"})


def test_one_rejection_closes_the_request(store: Store) -> None:
    approval_id = _valve(store)
    assert _decide(store, approval_id, ADMIN_1, approve=False) == "rejected"
    with pytest.raises(Conflict):
        _decide(store, approval_id, ADMIN_2)


def test_every_request_and_decision_is_in_the_ledger(store: Store) -> None:
    approval_id = _valve(store)
    _decide(store, approval_id, ADMIN_1)
    _decide(store, approval_id, ADMIN_2)
    with store.factory() as session:
        actions = session.scalars(select(LedgerEntry.action).order_by(LedgerEntry.id)).all()
        assert actions == ["approval.request", "approval.approve", "approval.approve"]
        assert session.scalar(select(func.count()).select_from(LedgerEntry)) == 3


def test_subject_hash_is_canonical() -> None:
    reordered = {"share": 0.31, "disable": ["a@vss.gov.vn", "b@hanoi.vss.gov.vn"], "run": 42}
    assert approvals.subject_hash(PLAN) == approvals.subject_hash(reordered)
    assert len(approvals.subject_hash(PLAN)) == 64
