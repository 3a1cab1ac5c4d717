"""Quy chế 2366 Điều 6 khoản 2.4: service-provider staff are locked for the same reasons as BHXH staff, and by
the IT Center (khoản 1.1), never by a province."""

from __future__ import annotations

import datetime as dt

from bridge.domain.lock_reasons import TEMPORARY, LockReason, check_dates, parse_reason
from bridge.domain.policy import Action, Actor, AdminRole, Target, decide
from bridge.domain.units import load_units
from bridge.settings import PROJECT_ROOT

DAY = dt.date(2026, 11, 26)
TREE = load_units(PROJECT_ROOT / "keycloak-config" / "units.yaml")
IT = Actor("qt.cntt@vss.gov.vn", AdminRole.IT_CENTER_ADMIN, "00012")
HN = Actor("qt.hanoi@hanoi.vss.gov.vn", AdminRole.PROVINCE_ADMIN, "01000")


def test_provider_staff_are_locked_by_the_it_center_for_the_same_reasons() -> None:
    assert parse_reason("hết hợp đồng") is LockReason.PROVIDER_ENDED
    assert parse_reason("nghỉ thai sản") in TEMPORARY  # the leave reasons apply to provider staff too
    check_dates(reason=LockReason.PROVIDER_ENDED, decision_date=DAY, effective_date=DAY, end_date=None)
    for reason in (LockReason.PROVIDER_ENDED, LockReason.MATERNITY, LockReason.UNPAID_LEAVE):
        target = Target(email="nv@hethongtt.com.vn", unit_code="DV001", lock_reason=reason.value)
        by_it = decide(IT, Action.LOCK, target, DAY, TREE, it_center_unit="00012")
        by_province = decide(HN, Action.LOCK, target, DAY, TREE, it_center_unit="00012")
        assert (by_it.allowed, by_it.rule) == (True, "R3-it-center-provider")
        assert by_province.allowed is False
