"""Scope policy of delegated administration (Quy chế 2366, Điều 6 khoản 1): who may do what to whose account.

One pure function, :func:`decide`, is asked by the API, the CLI, the console watcher and the tests alike, so a
rule is written once. Every decision names a stable rule id (``R4-province-own-units``) and a reason in
Vietnamese with the English beside it, both from ``bridge.domain.rules``; ids are kept when wording changes,
because ledger rows cite them. Units are resolved in the unit tree valid on the decision's date, so a branch
that moved to another province moves out of the old administrator's scope on the day of the reorganisation.
"""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass

from bridge.domain.rules import Rule, reason
from bridge.domain.units import UnitTree, UnitType

#: Level of administrator-grade roles: province admins, leadership, auditors, an application's top role group.
ADMIN_LEVEL = 2


class AdminRole(enum.StrEnum):
    """Administrative roles of the bridge."""

    IT_CENTER_ADMIN = "it_center_admin"  # quản trị viên Trung tâm CNTT
    PROVINCE_ADMIN = "province_admin"  # quản trị viên BHXH tỉnh
    LEADERSHIP = "leadership"  # Lãnh đạo Ngành
    AUDITOR = "auditor"  # kiểm toán viên


ROLE_LEVEL = {
    AdminRole.IT_CENTER_ADMIN: 3,
    AdminRole.PROVINCE_ADMIN: ADMIN_LEVEL,
    AdminRole.LEADERSHIP: ADMIN_LEVEL,
    AdminRole.AUDITOR: ADMIN_LEVEL,
}
CENTRAL_READERS = frozenset({AdminRole.IT_CENTER_ADMIN, AdminRole.LEADERSHIP, AdminRole.AUDITOR})


class Action(enum.StrEnum):
    """What an actor wants to do."""

    GRANT = "grant"  # cấp quyền
    REVOKE = "revoke"  # thu hồi quyền
    LOCK = "lock"  # khóa tài khoản
    UNLOCK = "unlock"  # mở khóa tài khoản
    VIEW = "view"  # xem người dùng, quyền
    APPROVE = "approve"  # phê duyệt
    READ_AUDIT = "read_audit"  # xem nhật ký kiểm toán
    REQUEST_EXTRACTION = "request_extraction"  # đề nghị khai thác dữ liệu (Công văn 907)
    PROCESS_EXTRACTION = "process_extraction"  # Trung tâm CNTT xử lý yêu cầu khai thác dữ liệu


ACCOUNT_ACTIONS = frozenset({Action.GRANT, Action.REVOKE, Action.LOCK, Action.UNLOCK})


class ApprovalKind(enum.StrEnum):
    """What an approval is for, which decides who may approve it."""

    EXCEPTION = "exception"  # ngoại lệ: tài khoản cho người không đủ điều kiện
    DATA_EXTRACTION = "data_extraction"  # yêu cầu khai thác dữ liệu
    SAFETY_VALVE = "safety_valve"  # mở van an toàn của đồng bộ
    REORGANISATION = "reorganisation"  # sắp xếp tổ chức: chuyển quyền sang đơn vị kế thừa (docs/decisions/0701)


@dataclass(frozen=True)
class Actor:
    """Who acts: an e-mail, and the administrative role and unit when they hold one (None: ordinary staff)."""

    email: str
    role: AdminRole | None = None
    unit_code: str | None = None


@dataclass(frozen=True)
class Target:
    """What is acted on: an account (``email``, ``unit_code``) or an approval (``approval_*``)."""

    email: str | None = None
    unit_code: str | None = None
    #: True when the target account is (or would become) an administrator account.
    administrator: bool = False
    #: Level of the role being granted (1: ordinary role group, 2: administrator-grade), 0 when none.
    role_level: int = 0
    lock_reason: str | None = None
    approval_kind: ApprovalKind | None = None
    requested_by: str | None = None
    #: Which approval of a data-extraction request: ``unit`` (the requesting unit's leadership) or ``central``
    #: (Lãnh đạo Ngành); None for the other kinds.
    approval_stage: str | None = None


@dataclass(frozen=True)
class Decision:
    """Allowed or refused, the id of the rule that decided, and why (Vietnamese / English)."""

    allowed: bool
    #: A :class:`~bridge.domain.rules.Rule` when the policy decided; other deciders (the console watcher) may
    #: cite their own ids.
    rule: str
    reason: str


def _decision(allowed: bool, rule: Rule, **values: str) -> Decision:
    return Decision(allowed, rule, reason(rule, **values))


def decide(
    actor: Actor | None,
    action: Action,
    target: Target,
    on_date: dt.date,
    units: UnitTree,
    *,
    it_center_unit: str,
) -> Decision:
    """Decide whether ``actor`` may do ``action`` to ``target`` on ``on_date``. Pure: no I/O, no clock.

    ``it_center_unit`` is the IT Center's unit code (``governance.it_center_unit``), brought in by the decision
    context (:class:`bridge.services.context.GovContext`).
    """
    if actor is None:
        return _decision(False, Rule.R0_UNAUTHENTICATED)
    if actor.role is None:
        if action is Action.VIEW and target.email == actor.email:
            return _decision(True, Rule.R11_SELF_VIEW)
        return _decision(False, Rule.R0_NOT_ADMINISTRATOR)
    if actor.unit_code is None or units.get(actor.unit_code, on_date) is None:
        return _decision(False, Rule.R0_ACTOR_UNIT_CLOSED, unit=str(actor.unit_code))
    if action is Action.APPROVE:
        return _decide_approval(actor, target, units, on_date, it_center_unit)
    if action is Action.READ_AUDIT:
        return _decision(actor.role in CENTRAL_READERS, Rule.R16_AUDIT_READERS)
    if action in EXTRACTION_ACTIONS:
        return _decide_extraction(actor, action, target, units, on_date, it_center_unit)
    if action in ACCOUNT_ACTIONS:
        if actor.role not in (AdminRole.IT_CENTER_ADMIN, AdminRole.PROVINCE_ADMIN):
            return _decision(False, Rule.R8_READ_ONLY_ROLE, role=actor.role.value)
        if target.email is not None and target.email == actor.email:
            return _decision(False, Rule.R9_NO_SELF)
    if target.unit_code is None or units.get(target.unit_code, on_date) is None:
        return _decision(False, Rule.R0_UNKNOWN_TARGET_UNIT, unit=str(target.unit_code))
    if action is Action.VIEW:
        if actor.role in CENTRAL_READERS:
            return _decision(True, Rule.R12_CENTRAL_READ)
        return _province_scope(actor, target.unit_code, units, on_date)
    if actor.role is AdminRole.IT_CENTER_ADMIN:
        return _decide_it_center(actor, action, target, units, on_date, it_center_unit)
    if action is Action.GRANT and target.role_level >= ROLE_LEVEL[actor.role]:
        return _decision(False, Rule.R10_NO_ESCALATION)
    if target.administrator:
        return _decision(False, Rule.R2_IT_CENTER_ADMIN_ACCOUNTS)
    return _province_scope(actor, target.unit_code, units, on_date)


def _decide_it_center(
    actor: Actor, action: Action, target: Target, units: UnitTree, on_date: dt.date, it_center_unit: str
) -> Decision:
    assert actor.unit_code is not None and target.unit_code is not None
    if not units.is_under(actor.unit_code, it_center_unit, on_date):
        return _decision(False, Rule.R0_MISCONFIGURED_ACTOR, unit=actor.unit_code)
    if action is Action.GRANT and target.role_level >= ROLE_LEVEL[AdminRole.IT_CENTER_ADMIN]:
        return _decision(False, Rule.R10_NO_ESCALATION)
    if action is Action.LOCK and target.lock_reason == "violation":
        return _decision(True, Rule.R6_IT_CENTER_VIOLATION_LOCK)
    if any(u.type is UnitType.PROVIDER for u in units.ancestors(target.unit_code, on_date)):
        return _decision(True, Rule.R3_IT_CENTER_PROVIDER)
    if target.administrator or target.role_level >= ADMIN_LEVEL:
        return _decision(True, Rule.R2_IT_CENTER_ADMIN_ACCOUNTS)
    if units.province_of(target.unit_code, on_date) is None:
        return _decision(True, Rule.R1_IT_CENTER_CENTRAL)
    return _decision(False, Rule.R7_PROVINCE_DELEGATED, unit=target.unit_code)


def _province_scope(actor: Actor, unit_code: str, units: UnitTree, on_date: dt.date) -> Decision:
    assert actor.unit_code is not None
    province = units.province_of(actor.unit_code, on_date)
    if province is None:
        return _decision(False, Rule.R0_MISCONFIGURED_ACTOR, unit=actor.unit_code)
    if units.is_under(unit_code, province.code, on_date):
        return _decision(True, Rule.R4_PROVINCE_OWN_UNITS, unit=unit_code, province=province.code)
    return _decision(False, Rule.R5_PROVINCE_OUT_OF_SCOPE, unit=unit_code, province=province.code)


def _decide_approval(actor: Actor, target: Target, units: UnitTree, on_date: dt.date, it_center_unit: str) -> Decision:
    assert actor.unit_code is not None
    if target.requested_by is not None and target.requested_by == actor.email:
        return _decision(False, Rule.R13_FOUR_EYES)
    if target.approval_kind is ApprovalKind.DATA_EXTRACTION and target.approval_stage is not None:
        return _decide_extraction_approval(actor, target, units, on_date)
    if target.approval_kind in (ApprovalKind.SAFETY_VALVE, ApprovalKind.REORGANISATION):
        central = actor.role is AdminRole.IT_CENTER_ADMIN and units.is_under(actor.unit_code, it_center_unit, on_date)
        return _decision(central, Rule.R15_CENTRAL_ADMINS_RELEASE)
    return _decision(actor.role is AdminRole.LEADERSHIP, Rule.R14_LEADERSHIP_APPROVES)


# Data-extraction requests (yêu cầu khai thác dữ liệu, Công văn 907): who files, who approves which stage, who
# processes. Kept together so the whole workflow's scope is read in one place (docs/decisions/0620).
EXTRACTION_ACTIONS = frozenset({Action.REQUEST_EXTRACTION, Action.PROCESS_EXTRACTION})


def _decide_extraction(
    actor: Actor, action: Action, target: Target, units: UnitTree, on_date: dt.date, it_center_unit: str
) -> Decision:
    assert actor.unit_code is not None
    if action is Action.PROCESS_EXTRACTION:
        it_center = actor.role is AdminRole.IT_CENTER_ADMIN and units.is_under(actor.unit_code, it_center_unit, on_date)
        return _decision(it_center, Rule.X4_IT_CENTER_PROCESSES)
    if actor.role not in (AdminRole.IT_CENTER_ADMIN, AdminRole.PROVINCE_ADMIN):
        return _decision(False, Rule.X1_UNIT_ADMIN_FILES, unit=str(target.unit_code))
    if target.unit_code is None or units.get(target.unit_code, on_date) is None:
        return _decision(False, Rule.R0_UNKNOWN_TARGET_UNIT, unit=str(target.unit_code))
    if actor.role is AdminRole.PROVINCE_ADMIN:
        province = units.province_of(actor.unit_code, on_date)
        inside = province is not None and units.is_under(target.unit_code, province.code, on_date)
        return _decision(inside, Rule.X1_UNIT_ADMIN_FILES, unit=target.unit_code)
    if not units.is_under(actor.unit_code, it_center_unit, on_date):
        return _decision(False, Rule.R0_MISCONFIGURED_ACTOR, unit=actor.unit_code)
    central = units.province_of(target.unit_code, on_date) is None and not any(
        u.type is UnitType.PROVIDER for u in units.ancestors(target.unit_code, on_date)
    )
    return _decision(central, Rule.X1_UNIT_ADMIN_FILES, unit=target.unit_code)


def _decide_extraction_approval(actor: Actor, target: Target, units: UnitTree, on_date: dt.date) -> Decision:
    assert actor.unit_code is not None
    leader = actor.role is AdminRole.LEADERSHIP
    actor_unit = units.get(actor.unit_code, on_date)
    at_root = actor_unit is not None and actor_unit.type is UnitType.ROOT
    if target.approval_stage == "central":
        return _decision(leader and at_root, Rule.X3_CENTRAL_LEADERSHIP_APPROVES)
    unit = str(target.unit_code)
    own = target.unit_code is not None and units.is_under(target.unit_code, actor.unit_code, on_date)
    return _decision(leader and own and not at_root, Rule.X2_UNIT_LEADERSHIP_APPROVES, unit=unit)


def hr_system_actor(
    client_id: str, unit_code: str, units: UnitTree, on_date: dt.date, *, it_center_unit: str = ""
) -> Actor:
    """The actor an HR system's SCIM client acts as (docs/decisions/0700, 0704): the administrator of its unit.

    A client scoped to a province (or a unit inside one) acts as that province's administrator, so every rule of
    :func:`decide` applies unchanged: its own province only (R4/R5), never an administrator account (R2), and
    the answer for another province's person is the answer for a missing one. A client scoped to the IT Center
    (``it_center_unit`` or a unit under it: the central HR system) acts with the IT Center's central scope, the
    one Quy chế 2366 Điều 6 gives for central units' accounts (R1) — and refused for a province's (R7). A
    client scoped to anything else (another central unit, an unknown or closed unit) is plain staff, refused
    every account action (R0). The e-mail is ``scim:<client id>``, so ledger rows name the HR system, never a
    person.
    """
    email = f"scim:{client_id}"
    if units.get(unit_code, on_date) is None:
        return Actor(email=email)
    if it_center_unit and units.is_under(unit_code, it_center_unit, on_date):
        return Actor(email=email, role=AdminRole.IT_CENTER_ADMIN, unit_code=unit_code)
    province = units.province_of(unit_code, on_date)
    if province is None:
        return Actor(email=email)
    return Actor(email=email, role=AdminRole.PROVINCE_ADMIN, unit_code=province.code)
