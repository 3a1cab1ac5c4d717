"""The web console without a browser: its session, CSRF and idle rules, its refusal page and scope 404s.

The console is the API's own application (mounted at /ui) over a seeded store, on SQLite and PostgreSQL. A
logged-in browser is stood in for by a session opened in the console's server-side store and its id in the
signed cookie, exactly what the OIDC callback leaves (the callback itself runs against the real Keycloak in
tests/browser/test_console_*.py).
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from gov_world import DAY, DIRECTORY, HCM, HN, PERSON_A, PERSON_B, STAFF, seed
from itsdangerous import TimestampSigner
from pydantic import SecretStr
from sqlalchemy import select

from bridge.adapters.store.lock_models import LockDecision
from bridge.adapters.store.models import LedgerEntry
from bridge.adapters.store.session import transaction
from bridge.domain.role_levels import Catalogue
from bridge.domain.units import UnitTree
from bridge.errors import ConfigError
from bridge.interfaces.api.app import create_app
from bridge.interfaces.api.auth import TokenValidator
from bridge.interfaces.api.deps import api_state, get_today
from bridge.interfaces.web.app import COOKIE, console_app, console_enabled, console_of, session_secret
from bridge.interfaces.web.render import NAV
from bridge.interfaces.web.sessions import SessionStore
from bridge.settings import Settings, UiSettings, get_settings
from tests.governance.conftest import CONFIG, Store

SECRET = "a-test-only-cookie-key"


class Clock:
    """A monotonic clock the test moves."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Console:
    app: FastAPI
    sessions: SessionStore
    clock: Clock
    store: Store

    def browser(self, email: str) -> TestClient:
        """A client whose cookie holds a live console session of ``email``."""
        made = self.sessions.open(email=email, keycloak_sid="kc-" + email, id_token="not-used")
        client = TestClient(self.app, base_url="http://127.0.0.1:8000", follow_redirects=False)
        payload = base64.b64encode(json.dumps({"sid": made.id}).encode())
        client.cookies.set(COOKIE, TimestampSigner(SECRET).sign(payload).decode(), path="/ui")
        return client


@pytest.fixture()
def console(store: Store, units: UnitTree, catalogue: Catalogue, monkeypatch: pytest.MonkeyPatch) -> Iterator[Console]:
    with transaction(store.factory) as session:
        seed(session, units=units, catalogue=catalogue)
    monkeypatch.setenv("BRIDGE_UI__SESSION_SECRET", SECRET)
    get_settings.cache_clear()
    clock = Clock()
    issuer = "http://127.0.0.1:9/realms/bhxh"
    validator = TokenValidator(issuer=issuer, audience="bhxh-bridge-api", jwks_url=f"{issuer}/certs")
    app = create_app(factory=store.factory, directory=DIRECTORY, validator=validator, config_dir=CONFIG)
    ui = console_of(app)
    sessions = SessionStore(idle_s=900, clock=clock)
    ui.state.console_sessions = sessions

    async def on_day() -> dt.date:
        return DAY

    ui.dependency_overrides[get_today] = on_day
    yield Console(app, sessions, clock, store)
    get_settings.cache_clear()


def csrf_of(page: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found, "the page has no CSRF field"
    return found.group(1)


def test_a_page_without_a_session_leads_to_the_login_page(console: Console) -> None:
    client = TestClient(console.app, follow_redirects=False)
    answer = client.get("/ui/people")
    assert answer.status_code == 303 and answer.headers["location"] == "/ui/login"


def test_the_session_cookie_is_httponly_lax_and_pages_are_not_cached(console: Console) -> None:
    client = TestClient(console.app, follow_redirects=False)
    answer = client.get("/ui/lang/en")
    cookie = answer.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie and "path=/ui" in cookie
    page = console.browser(HN).get("/ui/")
    assert page.status_code == 200 and page.headers["cache-control"] == "no-store"


def test_a_form_without_the_csrf_token_is_refused_and_records_nothing(console: Console) -> None:
    client = console.browser(HN)
    form = {"email": PERSON_A, "reason": "maternity", "decision_number": "12/QĐ-BHXH",
            "decision_date": "01/10/2025", "effective_date": "02/10/2025", "end_date": "01/04/2026"}  # fmt: skip
    refused = client.post("/ui/locks", data=form)
    wrong = client.post("/ui/locks", data={**form, "csrf_token": "forged"})
    assert refused.status_code == 403 and wrong.status_code == 403
    with console.store.factory() as session:
        assert session.scalars(select(LockDecision)).first() is None
    accepted = client.post("/ui/locks", data={**form, "csrf_token": csrf_of(client.get("/ui/locks").text)})
    assert accepted.status_code == 303
    detail = client.get(accepted.headers["location"])
    assert "chờ hiệu lực" in detail.text and "02/10/2025" in detail.text and "nghỉ thai sản" in detail.text


def test_fifteen_idle_minutes_end_the_session(console: Console) -> None:
    client = console.browser(HN)
    assert client.get("/ui/").status_code == 200
    console.clock.now += 14 * 60
    assert client.get("/ui/").status_code == 200  # activity restarts the idle clock
    console.clock.now += 15 * 60 + 1
    gone = client.get("/ui/")
    assert gone.status_code == 303 and gone.headers["location"] == "/ui/login"
    console.clock.now += 1
    assert client.get("/ui/").status_code == 303  # it stays ended


def test_a_staff_member_who_is_not_an_administrator_gets_the_vietnamese_page(console: Console) -> None:
    answer = console.browser(STAFF).get("/ui/")
    assert answer.status_code == 403
    assert "Không phải quản trị viên" in answer.text and STAFF in answer.text
    with console.store.factory() as session:
        last = session.scalars(select(LedgerEntry).order_by(LedgerEntry.id.desc())).first()
    assert last is not None and (last.actor, last.outcome) == (STAFF, "refused")


def test_another_provinces_person_and_lock_answer_404_like_the_api(console: Console) -> None:
    hn, hcm = console.browser(HN), console.browser(HCM)
    assert hn.get(f"/ui/people/{PERSON_A}").status_code == 200
    theirs = hn.get(f"/ui/people/{PERSON_B}")
    missing = hn.get("/ui/people/nobody@hanoi.vss.gov.vn")
    assert theirs.status_code == 404 and missing.status_code == 404
    assert "Không tìm thấy" in theirs.text
    form = {"email": PERSON_B, "reason": "retired", "decision_number": "3/QĐ", "decision_date": "01/10/2025",
            "effective_date": "01/10/2025"}  # fmt: skip
    made = hcm.post("/ui/locks", data={**form, "csrf_token": csrf_of(hcm.get("/ui/locks").text)})
    assert made.status_code == 303
    assert hn.get(made.headers["location"]).status_code == 404
    assert hcm.get(made.headers["location"]).status_code == 200


def test_people_search_ignores_diacritics_and_stays_in_scope(console: Console) -> None:
    client = console.browser(HN)
    found = client.get("/ui/people", params={"q": "tran thanh binh"})
    assert found.status_code == 200 and "Trần Thanh Bình" in found.text and "Tìm thấy 1 cán bộ" in found.text
    assert "Lê Văn Cường" not in client.get("/ui/people", params={"q": "cuong"}).text
    english = client.get("/ui/lang/en", params={"back": "/ui/people"})
    assert english.status_code == 303
    assert "1 people found" in client.get("/ui/people", params={"q": "binh"}).text


def test_unbuilt_pages_say_so(console: Console) -> None:
    client = console.browser(HN)
    for item in NAV:
        answer = client.get(item.path)
        if item.built:
            assert answer.status_code != 501 and "chưa được xây dựng" not in answer.text, item.path
        else:
            assert answer.status_code == 501 and "chưa được xây dựng" in answer.text, item.path


def test_settings_carry_the_console_client() -> None:
    ui = Settings(ui=UiSettings(base_url="http://127.0.0.1:8123")).ui
    assert ui.client_id == "bhxh-bridge-ui" and ui.idle_timeout_s == 900


def test_a_pending_lock_gets_a_new_end_date_then_is_cancelled(console: Console) -> None:
    client = console.browser(HN)
    csrf = csrf_of(client.get("/ui/locks").text)
    form = {"email": PERSON_A, "reason": "nghỉ thai sản", "decision_number": "7/QĐ-BHXH", "decision_date": "01/10/2025",
            "effective_date": "15/10/2025", "end_date": "15/04/2026", "csrf_token": csrf}  # fmt: skip
    page = client.post("/ui/locks", data=form).headers["location"]
    moved = client.post(f"{page}/end-date", data={"end_date": "30/04/2026", "csrf_token": csrf})
    assert moved.status_code == 303 and "30/04/2026" in client.get(page).text
    bad = client.post(f"{page}/end-date", data={"end_date": "31/02/2026", "csrf_token": csrf})
    assert bad.status_code == 422 and "31/02/2026" in bad.text
    assert client.post(f"{page}/cancel", data={"csrf_token": csrf}).status_code == 303
    assert "đã hủy" in client.get(page).text
    with console.store.factory() as session:
        row = session.scalars(select(LockDecision)).one()
    assert (row.status, row.end_date, row.source) == ("cancelled", dt.date(2026, 4, 30), "ui")


def test_outside_development_the_cookie_is_secure_and_needs_a_configured_key(console: Console) -> None:
    production = Settings(environment="production", ui=UiSettings(session_secret=SecretStr(SECRET)))
    served = TestClient(console_app(api_state(console.app), production), base_url="https://console.example")
    cookie = served.get("/lang/en", follow_redirects=False).headers["set-cookie"].lower()
    assert "secure" in cookie and "httponly" in cookie and "samesite=lax" in cookie
    unconfigured = Settings(environment="production", ui=UiSettings())
    assert not console_enabled(unconfigured)
    with pytest.raises(ConfigError, match="BRIDGE_UI__SESSION_SECRET"):
        session_secret(unconfigured)
