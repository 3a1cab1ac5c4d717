"""The console in a real browser against the real Keycloak and slapd (issue 12, scenarios 1 and 5).

1. A Hà Nội administrator logs in on Keycloak's page with the directory password (and TOTP where the realm
   asks), sees only Hà Nội people, records a maternity lock effective tomorrow, shown as pending; an HCM
   person's page opened by URL answers 404.
5. After logout the back button leads to the login page; after an administrator ends the session in Keycloak
   (back-channel logout), the next click leads to the login page.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable

import pytest
from babel.numbers import format_decimal
from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait

from bridge.adapters.keycloak.admin import KeycloakAdmin
from bridge.clock import today_vn
from bridge.domain.text import fold
from tests.browser.console_bed import HN_UNIT, ConsoleBed, on_keycloak_login_page, person_in
from tests.integration.test_foundation import user_id

pytestmark = pytest.mark.integration


def vn(day: dt.date) -> str:
    return day.strftime("%d/%m/%Y")


def text(driver: webdriver.Chrome, css: str) -> str:
    return str(driver.find_element(By.CSS_SELECTOR, css).text.strip())


def test_a_province_administrator_sees_their_province_and_records_a_pending_lock(
    console_bed: ConsoleBed, browser: webdriver.Chrome
) -> None:
    bed, today = console_bed, today_vn()
    units = bed.stack.units
    province = units.province_of(HN_UNIT, today)
    assert province is not None
    in_province = [p for p in bed.stack.slapd.people if units.is_under(p.unit_code, province.code, today)]

    bed.login(browser, bed.hn_admin)
    assert text(browser, "h1") == "Tổng quan"
    assert text(browser, "#count-people") == format_decimal(len(in_province), locale="vi")

    browser.find_element(By.ID, "nav-people").click()
    WebDriverWait(browser, 10).until(lambda d: "/ui/people" in d.current_url)
    assert text(browser, "#total") == f"Tìm thấy {format_decimal(len(in_province), locale='vi')} cán bộ"
    shown = [
        row.find_elements(By.TAG_NAME, "td")[2].text
        for row in browser.find_elements(By.CSS_SELECTOR, "#people tbody tr")
    ]
    assert shown and all(units.is_under(code, province.code, today) for code in shown)

    wanted = next(p for p in in_province if fold(p.full_name) != p.full_name.casefold())  # a name with diacritics
    search = browser.find_element(By.ID, "q")
    search.clear()
    search.send_keys(fold(wanted.full_name))
    browser.find_element(By.ID, "search").click()
    WebDriverWait(browser, 10).until(lambda d: wanted.full_name in d.find_element(By.ID, "people").text)

    target = in_province[5]
    browser.find_element(By.ID, "nav-locks").click()
    tomorrow = today + dt.timedelta(days=1)
    browser.find_element(By.ID, "email").send_keys(target.mail)
    Select(browser.find_element(By.ID, "reason")).select_by_value("maternity")
    browser.find_element(By.ID, "decision_number").send_keys("125/QĐ-BHXH")
    browser.find_element(By.ID, "decision_date").send_keys(vn(today))
    browser.find_element(By.ID, "effective_date").send_keys(vn(tomorrow))
    browser.find_element(By.ID, "end_date").send_keys(vn(tomorrow + dt.timedelta(days=180)))
    browser.find_element(By.ID, "lock-submit").click()
    WebDriverWait(browser, 10).until(lambda d: d.find_elements(By.ID, "lock-status"))
    assert text(browser, "#lock-status") == "chờ hiệu lực"
    assert text(browser, "#lock-effective") == vn(tomorrow)
    assert text(browser, "#lock-reason") == "nghỉ thai sản"
    browser.find_element(By.ID, "nav-locks").click()
    assert target.mail in text(browser, "#lock-list") and "chờ hiệu lực" in text(browser, "#lock-list")

    hcm = person_in(bed.stack, "79")
    browser.get(f"{bed.url}/ui/people/{hcm.mail}")
    assert text(browser, "h1") == "Không tìm thấy" and hcm.full_name not in browser.page_source
    assert bed.status_of(browser, f"/ui/people/{hcm.mail}") == 404
    assert bed.status_of(browser, f"/ui/people/{target.mail}") == 200


def test_after_logout_and_after_a_back_channel_logout_the_login_page_comes_back(
    console_bed: ConsoleBed, browsers: Callable[..., webdriver.Chrome], admin: KeycloakAdmin
) -> None:
    bed = console_bed
    browser = browsers()
    bed.login(browser, bed.hn_admin)
    browser.find_element(By.ID, "nav-people").click()
    WebDriverWait(browser, 10).until(lambda d: "/ui/people" in d.current_url)
    browser.find_element(By.ID, "logout").click()
    WebDriverWait(browser, 20).until(lambda d: "/ui/logged-out" in d.current_url)
    assert text(browser, "h1") == "Anh/Chị đã đăng xuất"
    browser.back()
    assert on_keycloak_login_page(browser)

    bed.login(browser, bed.hn_admin)
    assert text(browser, "h1") == "Tổng quan"
    uid = user_id(admin, bed.hn_admin)
    sessions = admin.get(f"users/{uid}/sessions")
    assert sessions, "Keycloak shows no session of the administrator"
    for session in sessions:  # what "Sign out" on the user's Sessions tab of the admin console does
        admin.delete(f"sessions/{session['id']}")
    deadline = time.monotonic() + 10
    while bed.status_of(browser, "/ui/") != 303:  # the back-channel call is Keycloak's, asynchronous to us
        assert time.monotonic() < deadline, "the console session outlived the Keycloak session"
        time.sleep(0.2)
    browser.find_element(By.ID, "nav-people").click()
    assert on_keycloak_login_page(browser)
