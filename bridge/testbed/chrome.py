"""Debian's Chromium driven headless by Selenium, for the browser tests, the screenshots and the UI benchmark.

Nothing downloads a browser: scripts/setup.sh installs Debian's ``chromium`` and ``chromium-driver``, and this
module points Selenium at them (Selenium Manager is never asked to fetch one). Each browser gets its own
profile directory, so cookies never leak between the people a test plays.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from selenium import webdriver
from selenium.webdriver.chrome.service import Service

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
#: Desktop and phone sizes the console must work at (issue 12).
DESKTOP = (1280, 800)
PHONE = (390, 844)


def chromium_available() -> bool:
    return CHROMIUM.exists() and CHROMEDRIVER.exists()


@contextmanager
def chrome(*, size: tuple[int, int] = DESKTOP, lang: str = "vi-VN") -> Iterator[webdriver.Chrome]:
    """A headless Chromium with a fresh profile, closed (and its profile removed) on exit."""
    profile = Path(tempfile.mkdtemp(prefix="bhxh-chrome-"))
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--disable-gpu",
        "--no-first-run",
        "--password-store=basic",
        f"--user-data-dir={profile}",
        f"--window-size={size[0]},{size[1]}",
        f"--lang={lang}",
    ):
        options.add_argument(arg)
    options.add_experimental_option("prefs", {"intl.accept_languages": lang})
    driver = webdriver.Chrome(options=options, service=Service(executable_path=str(CHROMEDRIVER)))
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)
