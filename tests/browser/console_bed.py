"""The console served for real: ``bridge serve``'s application in uvicorn on a free port, over a store with the
test bed's administrators, logging in through the test bed's real Keycloak (the realm re-applied with the
console's URLs on that port, as an operator sets ``BRIDGE_UI__BASE_URL``).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from pydantic import SecretStr
from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait
from sqlalchemy.orm import Session, sessionmaker

from bridge.adapters.directory.lookup import DirectoryPerson, SnapshotDirectory
from bridge.adapters.keycloak.admin import service_account_admin
from bridge.adapters.store.migrate import upgrade
from bridge.adapters.store.session import make_engine, transaction
from bridge.clock import today_vn
from bridge.domain.policy import AdminRole
from bridge.domain.role_levels import load_catalogue
from bridge.interfaces.api.app import create_app
from bridge.interfaces.api.auth import TokenValidator
from bridge.interfaces.api.routes.reports import get_review_reader
from bridge.interfaces.web.app import COOKIE, console_of
from bridge.services.context import GovContext, load_actor
from bridge.services.keycloak_config import apply_keycloak_config
from bridge.services.persons import appoint_administrator
from bridge.services.reports import keycloak_reader
from bridge.settings import PROJECT_ROOT, UiSettings, get_settings
from bridge.testbed.browser_login import Authenticator, keycloak_login
from bridge.testbed.directory_gen import Person, password_for
from bridge.testbed.ports import free_port
from bridge.testbed.stack import Stack

CONFIG = PROJECT_ROOT / "keycloak-config"
IT_UNIT, HN_UNIT = "00012", "01000"


def person_in(stack: Stack, prefix: str, index: int = 0) -> Person:
    return [p for p in stack.slapd.people if p.unit_code.startswith(prefix)][index]


@dataclass
class ConsoleBed:
    """The running console and who may log in to it."""

    url: str
    stack: Stack
    hn_admin: Person
    it_admin: Person
    authenticators: dict[str, Authenticator]
    #: the console's store and the context it decides with (for tests that seed rows through the services)
    factory: sessionmaker[Session] | None = None
    ctx: GovContext | None = None
    app: FastAPI | None = None

    def login(self, driver: webdriver.Chrome, person: Person, *, path: str = "/ui/") -> None:
        """Open ``path``; answer Keycloak's login page with the person's directory password (and TOTP)."""
        driver.get(self.url + path)
        authenticator = self.authenticators.setdefault(person.mail, Authenticator())
        keycloak_login(driver, person.mail, password_for(person.employee_number), authenticator)
        WebDriverWait(driver, 30).until(lambda d: d.current_url.startswith(self.url + "/ui"))

    def status_of(self, driver: webdriver.Chrome, path: str) -> int:
        """The HTTP status the console answers ``path`` with, for the browser's session cookie."""
        cookie = driver.get_cookie(COOKIE)
        assert cookie is not None, "the browser holds no console session"
        answer = httpx.get(self.url + path, cookies={COOKIE: cookie["value"]}, follow_redirects=False)
        return answer.status_code


def on_keycloak_login_page(driver: webdriver.Chrome, timeout: float = 20) -> bool:
    WebDriverWait(driver, timeout).until(ec.presence_of_element_located((By.ID, "kc-form-login")))
    return "/protocol/openid-connect/auth" in driver.current_url or "login-actions" in driver.current_url


@contextmanager
def serve(app: object, port: int) -> Iterator[None]:
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))  # type: ignore[arg-type]
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "uvicorn did not start"
        time.sleep(0.05)
    try:
        yield
    finally:
        server.should_exit = True
        thread.join(10)


@pytest.fixture(scope="module")
def console_bed(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ConsoleBed]:
    day = today_vn()
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    ui = UiSettings(client_secret=stack.settings.ui.client_secret, base_url=url,
                    session_secret=SecretStr("browser-test-cookie-key"))  # fmt: skip
    apply_keycloak_config(stack.settings.model_copy(update={"ui": ui}), day=day)
    store_url = f"sqlite:///{Path(tmp_path_factory.mktemp('console')) / 'bridge.sqlite3'}"
    upgrade(url=store_url)
    directory = SnapshotDirectory(
        DirectoryPerson(p.mail, p.full_name, p.unit_code, True, p.title) for p in stack.slapd.people
    )
    ctx = GovContext(stack.units, load_catalogue(CONFIG / "applications.yaml"), directory, day)
    factory = sessionmaker(make_engine(store_url), expire_on_commit=False)
    it_admin, hn_admin = person_in(stack, IT_UNIT), person_in(stack, "01")
    with transaction(factory) as session:
        appoint_administrator(session, ctx=ctx, actor=None, email=it_admin.mail, role=AdminRole.IT_CENTER_ADMIN,
                              unit_code=IT_UNIT)  # fmt: skip
        appoint_administrator(session, ctx=ctx, actor=load_actor(session, email=it_admin.mail), email=hn_admin.mail,
                              role=AdminRole.PROVINCE_ADMIN, unit_code=HN_UNIT)  # fmt: skip
    issuer = f"{stack.settings.keycloak.url}/realms/{stack.units.realm}"
    validator = TokenValidator(
        issuer=issuer, audience="bhxh-bridge-api", jwks_url=f"{issuer}/protocol/openid-connect/certs"
    )
    with pytest.MonkeyPatch.context() as env:
        env.setenv("BRIDGE_UI__BASE_URL", url)
        env.setenv("BRIDGE_UI__CLIENT_SECRET", ui.client_secret.get_secret_value())
        env.setenv("BRIDGE_UI__SESSION_SECRET", ui.session_secret.get_secret_value())
        get_settings.cache_clear()
        app = create_app(factory=factory, directory=directory, validator=validator, config_dir=CONFIG)
    get_settings.cache_clear()
    # Rà soát reads the test bed's realm through the bridge's service account (the settings of this process
    # name no Keycloak: the bed's is on a free port)
    console_of(app).dependency_overrides[get_review_reader] = lambda: keycloak_reader.keycloak_reader(
        service_account_admin(stack.settings.keycloak, realm=stack.units.realm)
    )
    with serve(app, port):
        yield ConsoleBed(url, stack, hn_admin, it_admin, {}, factory, ctx, app)
