"""Browser tests: Debian's Chromium, headless, through Selenium (bridge/testbed/chrome.py).

``browser`` opens a fresh Chromium for a test; ``browsers`` opens as many as a scenario needs (one per person).
scripts/setup.sh installs the browser; a machine without it fails here with the reason rather than skipping.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack

import pytest
from selenium import webdriver

from bridge.testbed.chrome import DESKTOP, chrome, chromium_available
from tests.browser.console_bed import console_bed  # noqa: F401  (the running console, for test_console_*.py)


@pytest.fixture()
def browsers() -> Iterator[Callable[..., webdriver.Chrome]]:
    """A factory of fresh headless browsers, all closed at the end of the test."""
    assert chromium_available(), "Debian's chromium and chromium-driver are missing: run scripts/setup.sh"
    with ExitStack() as stack:

        def open_browser(*, size: tuple[int, int] = DESKTOP, lang: str = "vi-VN") -> webdriver.Chrome:
            return stack.enter_context(chrome(size=size, lang=lang))

        yield open_browser


@pytest.fixture()
def browser(browsers: Callable[..., webdriver.Chrome]) -> webdriver.Chrome:
    return browsers()
