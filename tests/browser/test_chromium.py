"""The browser the UI tests use starts headless here and renders Vietnamese text from a real page."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from selenium import webdriver
from selenium.webdriver.common.by import By

PAGE = "<!doctype html><html lang='vi'><meta charset='utf-8'><title>Đăng nhập</title><h1>Nguyễn Văn An</h1>"


class _Page(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = PAGE.encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        return


@pytest.fixture()
def page_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Page)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()


def test_headless_chromium_reads_a_vietnamese_page(browser: webdriver.Chrome, page_url: str) -> None:
    browser.get(page_url)
    assert browser.title == "Đăng nhập"
    assert browser.find_element(By.TAG_NAME, "h1").text == "Nguyễn Văn An"
    assert browser.get_screenshot_as_png().startswith(b"\x89PNG")
