"""The pure rules of data-extraction requests (Công văn 907): who files, who approves which stage, who processes
(the scope policy, rules X1–X4); which step a request is at (X5, X6); what a complete request says; when its
deletion confirmation is due."""

from __future__ import annotations

import datetime as dt

import pytest

from bridge.domain.extraction import (
    DeletionState,
    ExtractionDraft,
    ExtractionStatus,
    IncompleteRequest,
    ScopeItem,
    Step,
    after_approval,
    check_draft,
    check_step,
    deletion_state,
)
from bridge.domain.policy import Action, Actor, AdminRole, ApprovalKind, Target, decide
from bridge.domain.units import UnitTree, load_units
from bridge.settings import PROJECT_ROOT

DAY = dt.date(2026, 11, 26)
IT = Actor("qt.cntt@vss.gov.vn", AdminRole.IT_CENTER_ADMIN, "00012")
IT_ELSEWHERE = Actor("ban.admin@vss.gov.vn", AdminRole.IT_CENTER_ADMIN, "00002")
HN = Actor("qt.hanoi@hanoi.vss.gov.vn", AdminRole.PROVINCE_ADMIN, "01000")
HN_LEAD = Actor("giamdoc@hanoi.vss.gov.vn", AdminRole.LEADERSHIP, "01000")
HCM_LEAD = Actor("giamdoc@hcm.vss.gov.vn", AdminRole.LEADERSHIP, "79000")
VSS_LEAD = Actor("lanhdao.nganh@vss.gov.vn", AdminRole.LEADERSHIP, "00000")
AUDIT = Actor("kiem.toan@vss.gov.vn", AdminRole.AUDITOR, "00006")


@pytest.fixture(scope="module")
def tree() -> UnitTree:
    return load_units(PROJECT_ROOT / "keycloak-config" / "units.yaml")


def stage(name: str, unit: str = "01001", by: str = HN.email) -> Target:
    return Target(approval_kind=ApprovalKind.DATA_EXTRACTION, approval_stage=name, unit_code=unit, requested_by=by)


CASES = [
    ("province admin files for a branch", HN, Action.REQUEST_EXTRACTION, Target(unit_code="01001"), True,
     "X1-unit-admin-files"),
    ("province admin cannot file for another province", HN, Action.REQUEST_EXTRACTION, Target(unit_code="79000"),
     False, "X1-unit-admin-files"),
    ("IT Center files for a central unit", IT, Action.REQUEST_EXTRACTION, Target(unit_code="00003"), True,
     "X1-unit-admin-files"),
    ("IT Center does not file for a province", IT, Action.REQUEST_EXTRACTION, Target(unit_code="01000"), False,
     "X1-unit-admin-files"),
    ("an IT Center admin outside the IT Center is misconfigured", IT_ELSEWHERE, Action.REQUEST_EXTRACTION,
     Target(unit_code="00003"), False, "R0-misconfigured-actor"),
    ("leadership does not file", VSS_LEAD, Action.REQUEST_EXTRACTION, Target(unit_code="00003"), False,
     "X1-unit-admin-files"),
    ("the province's leadership approves its branch's request", HN_LEAD, Action.APPROVE, stage("unit"), True,
     "X2-unit-leadership-approves"),
    ("another province's leadership does not", HCM_LEAD, Action.APPROVE, stage("unit"), False,
     "X2-unit-leadership-approves"),
    ("Lãnh đạo Ngành is not the unit's leadership", VSS_LEAD, Action.APPROVE, stage("unit"), False,
     "X2-unit-leadership-approves"),
    ("Lãnh đạo Ngành approves the second stage", VSS_LEAD, Action.APPROVE, stage("central"), True,
     "X3-central-leadership-approves"),
    ("a province's leadership is not Lãnh đạo Ngành", HN_LEAD, Action.APPROVE, stage("central"), False,
     "X3-central-leadership-approves"),
    ("an administrator approves no stage", IT, Action.APPROVE, stage("central"), False,
     "X3-central-leadership-approves"),
    ("nobody approves their own request", VSS_LEAD, Action.APPROVE, stage("central", by=VSS_LEAD.email), False,
     "R13-four-eyes"),
    ("the IT Center processes", IT, Action.PROCESS_EXTRACTION, Target(unit_code="01000"), True,
     "X4-it-center-processes"),
    ("an IT Center admin outside the IT Center does not", IT_ELSEWHERE, Action.PROCESS_EXTRACTION, Target(),
     False, "X4-it-center-processes"),
    ("a province does not process", HN, Action.PROCESS_EXTRACTION, Target(), False, "X4-it-center-processes"),
    ("an auditor does not process", AUDIT, Action.PROCESS_EXTRACTION, Target(), False, "X4-it-center-processes"),
]  # fmt: skip


@pytest.mark.parametrize(("name", "actor", "action", "target", "allowed", "rule"), CASES, ids=[c[0] for c in CASES])
def test_extraction_policy(
    tree: UnitTree, name: str, actor: Actor, action: Action, target: Target, allowed: bool, rule: str
) -> None:
    decision = decide(actor, action, target, DAY, tree, it_center_unit="00012")
    assert (decision.allowed, decision.rule) == (allowed, rule), name


def test_the_it_center_steps_before_both_approvals_are_x5_and_other_wrong_steps_x6() -> None:
    for status in (ExtractionStatus.PENDING_UNIT, ExtractionStatus.PENDING_CENTRAL):
        for step in (Step.FULFIL, Step.REFUSE):
            assert check_step(status, step).rule == "X5-not-approved-yet"
    assert check_step(ExtractionStatus.QUEUED, Step.FULFIL).allowed
    assert check_step(ExtractionStatus.FULFILLED, Step.FULFIL).rule == "X6-wrong-state"
    assert check_step(ExtractionStatus.PENDING_UNIT, Step.APPROVE_CENTRAL).rule == "X6-wrong-state"
    assert check_step(ExtractionStatus.REJECTED, Step.APPROVE_UNIT).rule == "X6-wrong-state"
    assert check_step(ExtractionStatus.QUEUED, Step.CONFIRM_DELETION).rule == "X6-wrong-state"


def test_two_approvals_reach_the_queue_and_one_rejection_ends_it() -> None:
    after_unit = after_approval(ExtractionStatus.PENDING_UNIT, approve=True)
    assert after_unit is ExtractionStatus.PENDING_CENTRAL
    assert after_approval(after_unit, approve=True) is ExtractionStatus.QUEUED
    assert after_approval(after_unit, approve=False) is ExtractionStatus.REJECTED


def draft(**changes: object) -> ExtractionDraft:
    values: dict[str, object] = dict(
        unit_code="01000", letter_number="12/BHXH", letter_date=DAY, purpose="Đối soát",
        data_scope=(ScopeItem("TST", ("nguoi_tham_gia",), ("ma_so_bhxh",)),), period_from=dt.date(2025, 1, 1),
        period_to=dt.date(2025, 12, 31), format="XLSX", recipients=("Sở Y tế",), legal_basis="QĐ 2366",
        retention_until=DAY + dt.timedelta(days=30),
    )  # fmt: skip
    values.update(changes)
    return ExtractionDraft(**values)  # type: ignore[arg-type]


def test_a_complete_draft_is_normalised_and_an_incomplete_one_names_every_field() -> None:
    checked = check_draft(draft(purpose="Đo\u0302\u0301i soát"), today=DAY)
    assert checked.format == "xlsx" and checked.purpose == "Đối soát"
    with pytest.raises(IncompleteRequest) as caught:
        check_draft(draft(legal_basis=" ", letter_date=DAY + dt.timedelta(days=1), data_scope=(
            ScopeItem("TST", (), ("x",)),)), today=DAY)  # fmt: skip
    assert [p["field"] for p in caught.value.extra["problems"]] == ["legal_basis", "letter_date", "data_scope[0]"]


def test_deletion_is_due_in_the_window_then_overdue_unless_confirmed() -> None:
    fulfilled, until = ExtractionStatus.FULFILLED, DAY

    def state(today: dt.date, confirmed: bool = False, status: ExtractionStatus = fulfilled) -> DeletionState:
        return deletion_state(status=status, retention_until=until, confirmed=confirmed, today=today, warn_days=7)

    assert state(DAY - dt.timedelta(days=8)) is DeletionState.NOT_DUE
    assert state(DAY - dt.timedelta(days=7)) is DeletionState.DUE
    assert state(DAY) is DeletionState.DUE
    assert state(DAY + dt.timedelta(days=1)) is DeletionState.OVERDUE
    assert state(DAY + dt.timedelta(days=1), confirmed=True) is DeletionState.CONFIRMED
    assert state(DAY + dt.timedelta(days=1), status=ExtractionStatus.REFUSED) is DeletionState.NOT_DUE
