"""Cấp quyền in a real browser (issue 12): a Hà Nội administrator grants a role group below administrator level
to a Hà Nội person, and an escalation to an application's admin group is refused on the form with the policy's
reason in Vietnamese (R10); nothing is recorded for the refusal but its ledger row."""

from __future__ import annotations

import pytest
from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select
from sqlalchemy import select

from bridge.adapters.store.models import Grant, LedgerEntry
from bridge.clock import today_vn
from tests.browser.console_bed import HN_UNIT, ConsoleBed
from tests.browser.test_console_scenarios import go, snap, text

pytestmark = pytest.mark.integration


def test_a_grant_is_recorded_and_an_escalation_is_refused_in_vietnamese(
    console_bed: ConsoleBed, browser: webdriver.Chrome
) -> None:
    bed, today = console_bed, today_vn()
    assert bed.factory is not None
    units = bed.stack.units
    province = units.province_of(HN_UNIT, today)
    assert province is not None
    person = [p for p in bed.stack.slapd.people if units.is_under(p.unit_code, province.code, today)
              and p.mail != bed.hn_admin.mail][75]  # fmt: skip

    bed.login(browser, bed.hn_admin)
    go(browser, "nav-grants", until_url="/ui/grants", until_id="grant-form")
    browser.find_element(By.ID, "email").send_keys(person.mail)
    Select(browser.find_element(By.ID, "role_group")).select_by_value("TST/operator")
    snap(browser, "cap-quyen")
    go(browser, "grant-submit", until_url="/ui/grants/", until_id="grant-role-group")
    assert (text(browser, "#grant-role-group"), text(browser, "#grant-email")) == ("operator", person.mail)

    go(browser, "nav-grants", until_url="/ui/grants", until_id="grant-form")
    browser.find_element(By.ID, "email").send_keys(person.mail)
    Select(browser.find_element(By.ID, "role_group")).select_by_value("TST/admin")
    go(browser, "grant-submit", until_url="/ui/grants", until_id="form-error")
    shown = text(browser, "#form-error")
    assert shown == "Không ai cấp vai trò ngang bằng hoặc cao hơn vai trò của mình (R10-no-escalation)"
    snap(browser, "cap-quyen-tu-choi")
    with bed.factory() as session:
        granted = session.scalars(select(Grant.role_group).where(Grant.email == person.mail)).all()
        refused = session.scalars(
            select(LedgerEntry).where(LedgerEntry.outcome == "refused", LedgerEntry.target.contains(person.mail))
        ).all()
    assert granted == ["operator"], "the escalation recorded no grant"
    assert [r.rule for r in refused] == ["R10-no-escalation"]
