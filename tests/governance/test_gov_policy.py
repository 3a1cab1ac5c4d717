"""The scope policy as a table: one row per case of Quy chế 2366 Điều 6 khoản 1, decided by the pure
function."""

from __future__ import annotations

import datetime as dt

import pytest

from bridge.domain.policy import Action, Actor, AdminRole, ApprovalKind, Decision, Target, decide
from bridge.domain.units import UnitTree, parse_units

DAY = dt.date(2025, 10, 1)
IT_CENTER = "00012"  # the default of governance.it_center_unit
IT = Actor("it.admin@vss.gov.vn", AdminRole.IT_CENTER_ADMIN, IT_CENTER)
IT_ELSEWHERE = Actor("ban.admin@vss.gov.vn", AdminRole.IT_CENTER_ADMIN, "00002")
HN = Actor("qt.hanoi@hanoi.vss.gov.vn", AdminRole.PROVINCE_ADMIN, "01000")
HN_BRANCH = Actor("qt.badinh@hanoi.vss.gov.vn", AdminRole.PROVINCE_ADMIN, "01001")
LEAD = Actor("lanh.dao@vss.gov.vn", AdminRole.LEADERSHIP, "00000")
AUDIT = Actor("kiem.toan@vss.gov.vn", AdminRole.AUDITOR, "00006")
STAFF = Actor("an.nv@hanoi.vss.gov.vn")


def staff(unit: str, *, level: int = 1, admin: bool = False, email: str = "x@vss.gov.vn", **kw: str) -> Target:
    return Target(email=email, unit_code=unit, role_level=level, administrator=admin, **kw)  # type: ignore[arg-type]


CASES: list[tuple[str, Actor | None, Action, Target, bool, str]] = [
    ("IT grants central staff", IT, Action.GRANT, staff("00002"), True, "R1-it-center-central"),
    ("IT grants in the root unit", IT, Action.GRANT, staff("00000"), True, "R1-it-center-central"),
    ("IT grants provider staff", IT, Action.GRANT, staff("DV001"), True, "R3-it-center-provider"),
    ("IT grants app admin role in a province", IT, Action.GRANT, staff("01001", level=2), True,
     "R2-it-center-admin-accounts"),
    ("IT locks a provincial admin account", IT, Action.LOCK, staff("79000", admin=True), True,
     "R2-it-center-admin-accounts"),
    ("IT leaves provincial staff to the province", IT, Action.GRANT, staff("01001"), False,
     "R7-province-delegated"),
    ("IT locks anyone for a violation", IT, Action.LOCK, staff("01001", lock_reason="violation"), True,
     "R6-it-center-violation-lock"),
    ("IT cannot lock provincial staff for leave", IT, Action.LOCK, staff("01001", lock_reason="maternity"),
     False, "R7-province-delegated"),
    ("IT cannot grant its own level", IT, Action.GRANT, staff("00012", level=3), False, "R10-no-escalation"),
    ("IT cannot grant to itself", IT, Action.GRANT, staff("00012", email=IT.email), False, "R9-no-self"),
    ("IT role outside the IT Center", IT_ELSEWHERE, Action.GRANT, staff("00002"), False,
     "R0-misconfigured-actor"),
    ("province grants its own unit", HN, Action.GRANT, staff("01000"), True, "R4-province-own-units"),
    ("province grants its branch", HN, Action.GRANT, staff("01001"), True, "R4-province-own-units"),
    ("branch-based province admin covers the province", HN_BRANCH, Action.GRANT, staff("01002"), True,
     "R4-province-own-units"),
    ("province revokes in its branch", HN, Action.REVOKE, staff("01005"), True, "R4-province-own-units"),
    ("province cannot grant another province", HN, Action.GRANT, staff("79001"), False,
     "R5-province-out-of-scope"),
    ("province cannot grant central staff", HN, Action.GRANT, staff("00002"), False,
     "R5-province-out-of-scope"),
    ("province cannot grant provider staff", HN, Action.GRANT, staff("DV001"), False,
     "R5-province-out-of-scope"),
    ("province cannot grant an admin-grade role", HN, Action.GRANT, staff("01001", level=2), False,
     "R10-no-escalation"),
    ("province cannot lock an admin account", HN, Action.LOCK, staff("01001", admin=True), False,
     "R2-it-center-admin-accounts"),
    ("province cannot grant to itself", HN, Action.GRANT, staff("01000", email=HN.email), False,
     "R9-no-self"),
    ("province sees its branch", HN, Action.VIEW, staff("01003"), True, "R4-province-own-units"),
    ("province does not see another province", HN, Action.VIEW, staff("79000"), False,
     "R5-province-out-of-scope"),
    ("unknown target unit", HN, Action.GRANT, staff("99999"), False, "R0-unknown-target-unit"),
    ("leadership does not grant", LEAD, Action.GRANT, staff("00002"), False, "R8-read-only-role"),
    ("leadership reads everything", LEAD, Action.VIEW, staff("79001"), True, "R12-central-read"),
    ("leadership approves an exception", LEAD, Action.APPROVE,
     Target(approval_kind=ApprovalKind.EXCEPTION, requested_by=HN.email), True, "R14-leadership-approves"),
    ("leadership approves a data extraction", LEAD, Action.APPROVE,
     Target(approval_kind=ApprovalKind.DATA_EXTRACTION, requested_by=HN.email), True,
     "R14-leadership-approves"),
    ("nobody approves their own request", LEAD, Action.APPROVE,
     Target(approval_kind=ApprovalKind.EXCEPTION, requested_by=LEAD.email), False, "R13-four-eyes"),
    ("province admin does not approve exceptions", HN, Action.APPROVE,
     Target(approval_kind=ApprovalKind.EXCEPTION, requested_by=IT.email), False, "R14-leadership-approves"),
    ("IT releases the safety valve", IT, Action.APPROVE,
     Target(approval_kind=ApprovalKind.SAFETY_VALVE, requested_by="system:sync"), True,
     "R15-central-admins-release"),
    ("leadership does not release the valve", LEAD, Action.APPROVE,
     Target(approval_kind=ApprovalKind.SAFETY_VALVE, requested_by="system:sync"), False,
     "R15-central-admins-release"),
    ("auditor reads the ledger", AUDIT, Action.READ_AUDIT, Target(), True, "R16-audit-readers"),
    ("auditor does not lock", AUDIT, Action.LOCK, staff("00002"), False, "R8-read-only-role"),
    ("province does not read the ledger", HN, Action.READ_AUDIT, Target(), False, "R16-audit-readers"),
    ("staff see themselves", STAFF, Action.VIEW, staff("01001", email=STAFF.email), True, "R11-self-view"),
    ("staff do not see others", STAFF, Action.VIEW, staff("01001"), False, "R0-not-administrator"),
    ("staff do not grant", STAFF, Action.GRANT, staff("01001"), False, "R0-not-administrator"),
    ("anonymous does nothing", None, Action.VIEW, staff("01001"), False, "R0-unauthenticated"),
]  # fmt: skip


@pytest.mark.parametrize(("actor", "action", "target", "allowed", "rule"),
                         [c[1:] for c in CASES], ids=[c[0] for c in CASES])  # fmt: skip
def test_decision_table(
    units: UnitTree, actor: Actor | None, action: Action, target: Target, allowed: bool, rule: str
) -> None:
    decision = decide(actor, action, target, DAY, units, it_center_unit=IT_CENTER)
    assert (decision.allowed, decision.rule) == (allowed, rule), decision.reason


def test_reasons_are_vietnamese_with_english_beside(units: UnitTree) -> None:
    decision = decide(HN, Action.GRANT, staff("79001"), DAY, units, it_center_unit=IT_CENTER)
    vietnamese, english = decision.reason.split(" / ")
    assert "79001" in vietnamese and "không thuộc phạm vi" in vietnamese
    assert english == "unit 79001 is outside the caller's province 01000"


def test_closed_branch_leaves_scope_on_the_day_it_closes(units: UnitTree) -> None:
    before = decide(HN, Action.GRANT, staff("01009"), dt.date(2025, 9, 30), units, it_center_unit=IT_CENTER)
    after = decide(HN, Action.GRANT, staff("01009"), dt.date(2025, 10, 1), units, it_center_unit=IT_CENTER)
    assert (before.allowed, before.rule) == (True, "R4-province-own-units")
    assert (after.allowed, after.rule) == (False, "R0-unknown-target-unit")


def test_actor_unit_not_yet_in_force_refuses(units: UnitTree) -> None:
    decision = decide(HN, Action.GRANT, staff("01001"), dt.date(2025, 5, 1), units, it_center_unit=IT_CENTER)
    assert (decision.allowed, decision.rule) == (False, "R0-actor-unit-closed")


MOVING_BRANCH = """
units:
- {code: '00000', name: Root, type: root, valid_from: '2020-01-01'}
- {code: P1, name: Province one, type: province, parent: '00000', valid_from: '2020-01-01'}
- {code: P2, name: Province two, type: province, parent: '00000', valid_from: '2020-01-01'}
- {code: B1, name: Branch, type: branch, parent: P1, valid_from: '2020-01-01', valid_to: '2025-09-30'}
- {code: B1, name: Branch, type: branch, parent: P2, valid_from: '2025-10-01'}
"""


@pytest.mark.parametrize(
    ("day", "p1_allowed", "p2_allowed"),
    [(dt.date(2025, 9, 30), True, False), (dt.date(2025, 10, 1), False, True)],
)
def test_branch_moving_between_provinces_follows_the_tree_of_the_day(
    day: dt.date, p1_allowed: bool, p2_allowed: bool
) -> None:
    tree = parse_units(MOVING_BRANCH)
    p1 = Actor("p1@vss.gov.vn", AdminRole.PROVINCE_ADMIN, "P1")
    p2 = Actor("p2@vss.gov.vn", AdminRole.PROVINCE_ADMIN, "P2")
    decisions: list[Decision] = [
        decide(a, Action.LOCK, staff("B1"), day, tree, it_center_unit=IT_CENTER) for a in (p1, p2)
    ]
    assert [d.allowed for d in decisions] == [p1_allowed, p2_allowed]
