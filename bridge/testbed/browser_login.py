"""Keycloak's login page, answered in a real browser as a person would (the browser tests and screenshots).

A person types their e-mail and directory password; when Keycloak asks them to set up an authenticator
(CONFIGURE_TOTP) they open "unable to scan?", read the key as an authenticator app would and type the current
code; when it asks for a code they type it. The key is kept in :class:`Authenticator` so the next login of the
same person can answer the code page.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException, TimeoutException
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait

from bridge.testbed.relying_party import decode_manual_key, totp_code


@dataclass
class Authenticator:
    """The person's authenticator app: the key read during set-up (None until then)."""

    key: bytes | None = None
    last_code: str | None = None

    def code(self) -> str:
        """A fresh code; waits for the next 30 s step when the current one was already used (Keycloak refuses
        a code twice)."""
        assert self.key is not None, "no authenticator set up for this person"
        code = totp_code(self.key)
        while code == self.last_code:
            time.sleep(1)
            code = totp_code(self.key)
        self.last_code = code
        return code


def _present(driver: webdriver.Chrome, css: str) -> bool:
    return bool(driver.find_elements(By.CSS_SELECTOR, css))


def submit_login_form(driver: webdriver.Chrome, email: str, password: str, *, timeout: float = 30) -> None:
    """Fill Keycloak's username/password form (already open in ``driver``) and submit it."""
    wait = WebDriverWait(driver, timeout)
    wait.until(ec.presence_of_element_located((By.ID, "username")))
    driver.find_element(By.ID, "username").clear()
    driver.find_element(By.ID, "username").send_keys(email)
    driver.find_element(By.ID, "password").send_keys(password)
    driver.find_element(By.ID, "kc-login").click()


def answer_second_factor(driver: webdriver.Chrome, authenticator: Authenticator, *, timeout: float = 10) -> str:
    """After the password: set up TOTP or type the code if Keycloak asks. Returns "setup", "code" or "none"."""
    try:
        WebDriverWait(driver, timeout).until(
            lambda d: _present(d, "#kc-totp-settings-form") or _present(d, "#otp") or not _on_keycloak_form(d)
        )
    except TimeoutException:
        return "none"
    if _present(driver, "#kc-totp-settings-form"):
        if _present(driver, "#mode-manual"):
            driver.find_element(By.ID, "mode-manual").click()
        WebDriverWait(driver, timeout).until(ec.presence_of_element_located((By.ID, "kc-totp-secret-key")))
        authenticator.key = decode_manual_key(driver.find_element(By.ID, "kc-totp-secret-key").text)
        driver.find_element(By.ID, "totp").send_keys(authenticator.code())
        if _present(driver, "#userLabel"):
            driver.find_element(By.ID, "userLabel").send_keys("authenticator")
        driver.find_element(By.CSS_SELECTOR, "#kc-totp-settings-form [type=submit]").click()
        return "setup"
    if _present(driver, "#otp"):
        driver.find_element(By.ID, "otp").send_keys(authenticator.code())
        driver.find_element(By.ID, "kc-login").click()
        return "code"
    return "none"


def _on_keycloak_form(driver: webdriver.Chrome) -> bool:
    return _present(driver, "#kc-form-login") or _present(driver, "#kc-otp-login-form")


def keycloak_login(
    driver: webdriver.Chrome, email: str, password: str, authenticator: Authenticator | None = None
) -> str:
    """Log in on Keycloak's page open in ``driver``; answer the second factor when asked. Returns what the
    second step was ("setup", "code" or "none")."""
    submit_login_form(driver, email, password)
    return answer_second_factor(driver, authenticator or Authenticator())


def login_error(driver: webdriver.Chrome) -> str | None:
    """The message Keycloak shows on its login page after a refused attempt, if any."""
    try:
        for css in ("#input-error", ".kc-feedback-text", ".pf-v5-c-alert__title", ".alert-error"):
            found = driver.find_elements(By.CSS_SELECTOR, css)
            if found and found[0].text.strip():
                return str(found[0].text.strip())
    except StaleElementReferenceException:  # the page was being replaced: nothing to read yet
        return None
    return None
