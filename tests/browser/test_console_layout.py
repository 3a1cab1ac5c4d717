"""The console's pages fit a 390 px phone and a 1280×800 screen without sideways scrolling, every field has a
label, the keyboard reaches the skip link first, and every text on every page has WCAG AA contrast (4.5:1)
against the background it is drawn on, as the browser computes both (issue 12: accessible, responsive, usable
by keyboard alone)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from tests.browser.console_bed import ConsoleBed

pytestmark = pytest.mark.integration
#: Each visible element that has text of its own: its computed colour against the first opaque background of it
#: or an ancestor, as the WCAG 2 contrast ratio; the ones under 4.5:1.
LOW_CONTRAST = """
const rgb = c => (c.match(/[\\d.]+/g) || []).map(Number);
const lum = ([r, g, b]) => [r, g, b]
  .map(v => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; })
  .reduce((sum, v, i) => sum + v * [0.2126, 0.7152, 0.0722][i], 0);
const background = e => { for (; e; e = e.parentElement) { const c = rgb(getComputedStyle(e).backgroundColor);
  if (c.length === 3 || c[3] > 0) return c.slice(0, 3); } return [255, 255, 255]; };
return [...document.querySelectorAll('body *')].filter(e => e.offsetParent !== null
    && [...e.childNodes].some(n => n.nodeType === 3 && n.textContent.trim()))
  .map(e => { const [a, b] = [lum(rgb(getComputedStyle(e).color)), lum(background(e))];
    return [e.tagName + (e.id ? '#' + e.id : ''), e.textContent.trim().slice(0, 40),
            (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05)]; })
  .filter(([, , ratio]) => ratio < 4.5);
"""
PAGES = (
    "/ui/",
    "/ui/people",
    "/ui/grants",
    "/ui/locks",
    "/ui/lock-lists",
    "/ui/approvals",
    "/ui/reports",
    "/ui/review",
    "/ui/ledger",
)


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
            "return [...document.querySelectorAll('input:not([type=hidden]), select, textarea')]"
            ".filter(e => !document.querySelector(`label[for='${e.id}']`)).map(e => e.name)"
        )
        assert unlabeled == [], f"{path}: fields without a label: {unlabeled}"
    browser.find_element(By.TAG_NAME, "body").send_keys(Keys.TAB)
    focused = browser.switch_to.active_element
    assert focused.get_attribute("class") == "skip" and focused.text == "Bỏ qua, đến nội dung"


def test_every_text_has_aa_contrast(console_bed: ConsoleBed, browser: webdriver.Chrome) -> None:
    console_bed.login(browser, console_bed.hn_admin)
    for path in PAGES:
        browser.get(console_bed.url + path)
        low = browser.execute_script(LOW_CONTRAST)
        assert low == [], f"{path}: text under 4.5:1 contrast: {low}"
