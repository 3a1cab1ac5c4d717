"""The console in a real browser against the real Keycloak and slapd (issue 12, scenarios 1 and 5).

1. A Hà Nội administrator logs in on Keycloak's page with the directory password (and TOTP where the realm
   asks), sees only Hà Nội people, records a maternity lock effective tomorrow, shown as pending; an HCM
   person's page opened by URL answers 404.
5. After logout the back button leads to the login page; after an administrator ends the session in Keycloak
   (back-channel logout), the next click leads to the login page.
"""

from __future__ import annotations

import datetime as dt
import os
import time
from collections.abc import Callable

import pytest
from babel.numbers import format_decimal
from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException, TimeoutException
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import Select, WebDriverWait

from bridge.adapters.keycloak.admin import KeycloakAdmin
from bridge.clock import today_vn
from bridge.domain.text import fold
from bridge.settings import PROJECT_ROOT
from tests.browser.console_bed import HN_UNIT, ConsoleBed, on_keycloak_login_page, person_in
from tests.integration.test_foundation import user_id

pytestmark = pytest.mark.integration
SHOTS = PROJECT_ROOT / "docs" / "screenshots"


def vn(day: dt.date) -> str:
    return day.strftime("%d/%m/%Y")


def text(driver: webdriver.Chrome, css: str) -> str:
    return str(driver.find_element(By.CSS_SELECTOR, css).text.strip())


def snap(driver: webdriver.Chrome, name: str) -> None:
    """Save the page as docs/screenshots/<name>.png when CONSOLE_SCREENSHOTS=1 (how the README's are made)."""
    if os.environ.get("CONSOLE_SCREENSHOTS") == "1":
        SHOTS.mkdir(parents=True, exist_ok=True)
        driver.save_screenshot(str(SHOTS / f"{name}.png"))


def go(driver: webdriver.Chrome, link: str, *, until_url: str, until_id: str) -> None:
    """Click ``link`` and wait for the next page (the old one gone, even when the URL stays the same) at
    ``until_url`` that has the element ``until_id``."""
    old_page = driver.find_element(By.TAG_NAME, "html")
    driver.find_element(By.ID, link).click()
    try:
        WebDriverWait(driver, 30, ignored_exceptions=(StaleElementReferenceException,)).until(ec.staleness_of(old_page))
        WebDriverWait(driver, 30, ignored_exceptions=(StaleElementReferenceException,)).until(
            lambda d: until_url in d.current_url and d.find_elements(By.ID, until_id)
        )
    except TimeoutException:
        heading = driver.find_elements(By.TAG_NAME, "main")
        shown = heading[0].text[:500] if heading else driver.page_source[:500]
        raise AssertionError(f"after {link}: {driver.current_url} shows {shown!r}") from None


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
    snap(browser, "tong-quan")

    go(browser, "nav-people", until_url="/ui/people", until_id="total")
    assert text(browser, "#total") == f"Tìm thấy {format_decimal(len(in_province), locale='vi')} cán bộ"
    shown = [
        row.find_elements(By.TAG_NAME, "td")[2].text
        for row in browser.find_elements(By.CSS_SELECTOR, "#people tbody tr")
    ]
    assert shown and all(units.is_under(code, province.code, today) for code in shown)
    snap(browser, "can-bo")

    wanted = next(p for p in in_province if fold(p.full_name) != p.full_name.casefold())  # a name with diacritics
    search = browser.find_element(By.ID, "q")
    search.clear()
    search.send_keys(fold(wanted.full_name))
    go(browser, "search", until_url="q=", until_id="people")
    assert wanted.full_name in text(browser, "#people")
    go(browser, f"person-{wanted.mail}", until_url="/ui/people/", until_id="person-name")
    assert text(browser, "#person-name") == wanted.full_name
    snap(browser, "can-bo-chi-tiet")

    target = in_province[5]
    go(browser, "nav-locks", until_url="/ui/locks", until_id="lock-form")
    tomorrow = today + dt.timedelta(days=1)
    browser.find_element(By.ID, "email").send_keys(target.mail)
    Select(browser.find_element(By.ID, "reason")).select_by_value("maternity")
    browser.find_element(By.ID, "decision_number").send_keys("125/QĐ-BHXH")
    browser.find_element(By.ID, "decision_date").send_keys(vn(today))
    browser.find_element(By.ID, "effective_date").send_keys(vn(tomorrow))
    browser.find_element(By.ID, "end_date").send_keys(vn(tomorrow + dt.timedelta(days=180)))
    go(browser, "lock-submit", until_url="/ui/locks/", until_id="lock-status")
    assert text(browser, "#lock-status") == "chờ hiệu lực"
    assert text(browser, "#lock-effective") == vn(tomorrow)
    assert text(browser, "#lock-reason") == "nghỉ thai sản"
    snap(browser, "quyet-dinh-khoa")
    go(browser, "nav-locks", until_url="/ui/locks", until_id="lock-list")
    assert target.mail in text(browser, "#lock-list") and "chờ hiệu lực" in text(browser, "#lock-list")
    snap(browser, "khoa-tai-khoan")

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
    go(browser, "nav-people", until_url="/ui/people", until_id="total")
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
