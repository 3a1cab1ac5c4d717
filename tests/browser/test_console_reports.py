"""The console in a real browser against the real Keycloak and slapd (issue 12, scenario 4), and the pages of
phase 2c as the IT Center sees them.

4. The province administrator downloads its quarterly report: the .xlsx the browser saves opens with openpyxl
   and holds the same rows as the page shows.

The Hà Nội people's grants are recorded through the grant service first (the Cấp quyền page is another phase's),
so the report has rows: this quarter's first report lists them as added.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from openpyxl import load_workbook
from selenium import webdriver
from selenium.webdriver.common.by import By

from bridge.adapters.store.session import transaction
from bridge.clock import today_vn
from bridge.domain.reports.quarter import Quarter
from bridge.services import grants
from bridge.services.context import load_actor
from tests.browser.console_bed import HN_UNIT, ConsoleBed, person_in
from tests.browser.test_console_scenarios import go, snap, text

pytestmark = pytest.mark.integration


def snap_page(driver: webdriver.Chrome, name: str) -> None:
    """:func:`snap` of the whole page: the window made as tall as the page (at most 3,200 px), then restored."""
    width, height = driver.get_window_size()["width"], driver.get_window_size()["height"]
    full = driver.execute_script("return document.documentElement.scrollHeight")
    driver.set_window_size(width, min(3200, max(height, full + 140)))
    snap(driver, name)
    driver.set_window_size(width, height)


def page_rows(driver: webdriver.Chrome) -> list[list[str]]:
    """The report's rows as the page shows them, section 1 then section 2 (the "none" rows left out)."""
    rows = []
    for table in ("rows-1", "rows-2"):
        for tr in driver.find_elements(By.CSS_SELECTOR, f"#{table} tbody tr"):
            cells = [td.text.strip() for td in tr.find_elements(By.TAG_NAME, "td")]
            if len(cells) > 1:
                rows.append(cells)
    return rows


def workbook_rows(path: Path) -> list[list[str]]:
    """The rows of the saved workbook that are report lines: a number in STT and an e-mail in column 5."""
    sheet = load_workbook(path, read_only=True).worksheets[0]
    found = []
    for row in sheet.iter_rows(values_only=True):
        cells = ["" if v is None else str(v) for v in row[:10]]
        if len(cells) == 10 and cells[0].isdigit() and "@" in cells[4]:
            found.append(cells)
    return found


def wait_for_file(folder: Path, suffix: str, timeout: float = 30) -> Path:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done = [p for p in folder.glob(f"*{suffix}") if p.stat().st_size > 0]
        if done:
            return done[0]
        time.sleep(0.2)
    raise AssertionError(f"the browser saved no {suffix} file in {folder}")


def test_the_province_administrator_downloads_its_report_with_the_rows_of_the_page(
    console_bed: ConsoleBed, browser: webdriver.Chrome, tmp_path: Path
) -> None:
    bed, today = console_bed, today_vn()
    assert bed.factory is not None and bed.ctx is not None
    hn_people = [person_in(bed.stack, "01", i) for i in range(1, 4)]
    with transaction(bed.factory) as session:
        actor = load_actor(session, email=bed.hn_admin.mail)
        for person in hn_people:
            grants.request_grant(session, ctx=bed.ctx, actor=actor, email=person.mail, application="TST",
                                 role_group="operator")  # fmt: skip
    quarter = str(Quarter.of(today))
    browser.execute_cdp_cmd("Page.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(tmp_path)})

    bed.login(browser, bed.hn_admin)
    deadlines = text(browser, "#report-deadlines")
    assert quarter in deadlines and str(Quarter.of(today).previous()) in deadlines
    go(browser, "nav-reports", until_url="/ui/reports", until_id="report-status")
    assert [r.find_element(By.TAG_NAME, "td").text for r in browser.find_elements(By.CSS_SELECTOR,
            "#report-status tbody tr")] == [HN_UNIT]  # fmt: skip
    browser.get(f"{bed.url}/ui/reports/{HN_UNIT}/{quarter}")
    shown = page_rows(browser)
    assert {r[4] for r in shown} >= {p.mail for p in hn_people}
    snap_page(browser, "bao-cao")

    browser.find_element(By.ID, "download-xlsx").click()
    saved = wait_for_file(tmp_path, ".xlsx")
    assert saved.name == f"bao-cao-{HN_UNIT}-{quarter}.xlsx"
    assert workbook_rows(saved) == shown

    other = person_in(bed.stack, "79")
    assert bed.status_of(browser, f"/ui/reports/{other.unit_code[:2]}000/{quarter}") == 404
    assert bed.status_of(browser, f"/ui/reports/{HN_UNIT}/{quarter}/file?format=csv") == 200


def test_the_it_center_sees_every_unit_the_chart_and_the_verified_ledger(
    console_bed: ConsoleBed, browser: webdriver.Chrome
) -> None:
    bed = console_bed
    bed.login(browser, bed.it_admin)
    go(browser, "nav-reports", until_url="/ui/reports", until_id="report-status")
    units = [r.find_element(By.TAG_NAME, "td").text for r in browser.find_elements(By.CSS_SELECTOR,
             "#report-status tbody tr")]  # fmt: skip
    assert HN_UNIT in units and "00012" in units and len(units) > 20
    browser.get(f"{bed.url}/ui/reports?quarter={Quarter.of(today_vn())}")  # this quarter: the grants made above
    chart = browser.find_element(By.ID, "aggregate-chart")
    browser.execute_script("arguments[0].scrollIntoView()", chart)
    time_limit = time.monotonic() + 30
    while not browser.execute_script("return arguments[0].complete && arguments[0].naturalWidth", chart):
        assert time.monotonic() < time_limit, "the chart did not load"
        time.sleep(0.2)
    browser.execute_script("window.scrollTo(0, 0)")
    snap_page(browser, "bao-cao-tong-hop")

    go(browser, "nav-ledger", until_url="/ui/ledger", until_id="ledger-rows")
    go(browser, "ledger-verify", until_url="verify=1", until_id="verification")
    assert browser.find_elements(By.ID, "chain-intact")
    assert len(text(browser, "#head-hash")) == 64
    snap_page(browser, "nhat-ky")

    go(browser, "nav-review", until_url="/ui/review", until_id="review-form")
    assert browser.find_element(By.ID, "unit").get_attribute("value") == "00012"  # the IT Center's own unit
    snap(browser, "ra-soat")
