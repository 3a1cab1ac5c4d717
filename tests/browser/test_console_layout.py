"""The console's pages fit a 390 px phone and a 1280×800 screen without sideways scrolling, and the keyboard
reaches the skip link first (issue 12: responsive and usable by keyboard alone)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from tests.browser.console_bed import ConsoleBed

pytestmark = pytest.mark.integration
PAGES = ("/ui/", "/ui/people", "/ui/locks", "/ui/reports", "/ui/review", "/ui/ledger")


@pytest.mark.parametrize("size", [(390, 844), (1280, 800)], ids=["phone-390", "desktop-1280x800"])
def test_pages_fit_the_screen_and_start_with_the_skip_link(
    console_bed: ConsoleBed, browsers: Callable[..., webdriver.Chrome], size: tuple[int, int]
) -> None:
    browser = browsers(size=size)
    console_bed.login(browser, console_bed.hn_admin)
    for path in PAGES:
        browser.get(console_bed.url + path)
        wide = browser.execute_script("return document.documentElement.scrollWidth")
        view = browser.execute_script("return window.innerWidth")
        assert wide <= view, f"{path} scrolls sideways at {size}: {wide} > {view}"
        unlabeled = browser.execute_script(
            "return [...document.querySelectorAll('input:not([type=hidden]), select')]"
            ".filter(e => !document.querySelector(`label[for='${e.id}']`)).map(e => e.name)"
        )
        assert unlabeled == [], f"{path}: fields without a label: {unlabeled}"
    browser.find_element(By.TAG_NAME, "body").send_keys(Keys.TAB)
    focused = browser.switch_to.active_element
    assert focused.get_attribute("class") == "skip" and focused.text == "Bỏ qua, đến nội dung"
