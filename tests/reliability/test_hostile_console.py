"""The web console's forms and queries under hostile text, on the real slapd, realm and PostgreSQL (issue 17).

Every POST form of the console (grant request and revoke, lock decision, cancel and end date, exception request,
approval decision, Phụ lục 01 upload and confirmation, report submission) gets, field by field, each control
character (NUL, C0, DEL, C1; tab and line breaks in one-line fields): each is a 422 page naming the field, and
no row of any table is added (counted before and after). The free-text reason takes tab and line breaks; text
typed in NFD is kept in NFC. The console's query and path values (ledger filter, people search, list filters, ids)
get control characters and ids beyond the store's integer: 422, never a 500, as the API answers.

The console is the API's own application (``create_app``, production wiring) over a fresh PostgreSQL database,
the session's slapd and the realm's token validator; the browser's login is stood in for by a session opened in
the console's session store and its signed cookie, as the other console tests do (the OIDC callback itself
runs against the real Keycloak in tests/browser/).
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from httpx import Response
from itsdangerous import TimestampSigner
from sqlalchemy import Engine, select
from sqlalchemy.orm import sessionmaker

from bridge.adapters.directory.ldap import LdapDirectory
from bridge.adapters.store.lock_models import LockDecision
from bridge.adapters.store.migrate import upgrade
from bridge.adapters.store.models import ApprovalRequest
from bridge.adapters.store.session import make_engine
from bridge.clock import today_vn
from bridge.interfaces.api.app import create_app
from bridge.interfaces.api.auth import TokenValidator
from bridge.interfaces.api.deps import get_today
from bridge.interfaces.web.app import COOKIE, console_of
from bridge.interfaces.web.sessions import SessionStore
from bridge.settings import get_settings
from bridge.testbed.directory_gen import Person
from bridge.testbed.postgres_server import APP_ROLE, PostgresServer
from bridge.testbed.stack import Stack
from tests.integration.test_foundation import person_in
from tests.reliability.api_bed import CONFIG, appoint, not_nfc_in_store, record_result, row_counts, store_tables

pytestmark = pytest.mark.integration
SECRET = "i17b-console-cookie-key"
DATABASE = "i17b_console"
#: NUL, C0 (bell, backspace, escape), DEL, C1 (NEL, CSI): refused in every field.
CONTROLS = ("\x00", "\x07", "\x08", "\x1b", "\x7f", "\x85", "\x9b")
#: Refused in one-line fields only.
LINE_BREAKS = ("\n", "\t", "\r")
#: Fields a free text may hold tab and line breaks in.
FREE_TEXT = {"reason@exception_request"}
OUTSIDER = "i17b.ngoai.le@gmail.com"


def nfd(text: str) -> str:
    return unicodedata.normalize("NFD", text)


def vn(day: dt.date) -> str:
    return f"{day:%d/%m/%Y}"


@dataclass
class Tally:
    """What the module tried and how the console answered."""

    tried: int = 0
    refused_422: int = 0
    field_named: int = 0
    server_errors: int = 0
    writes_on_refusal: int = 0
    failures: list[str] = field(default_factory=list)

    def fail(self, what: str) -> None:
        self.failures.append(what)


@dataclass
class Bed:
    app: FastAPI
    engine: Engine
    tables: list[str]
    province: Person
    it: Person
    targets: list[Person]
    sessions: SessionStore
    tally: Tally

    def browser(self, person: Person) -> TestClient:
        made = self.sessions.open(email=person.mail, keycloak_sid=f"kc-{person.mail}", id_token="not-used")
        client = TestClient(self.app, base_url="http://127.0.0.1:8000", follow_redirects=False)
        payload = base64.b64encode(json.dumps({"sid": made.id}).encode())
        client.cookies.set(COOKIE, TimestampSigner(SECRET).sign(payload).decode(), path="/ui")
        return client

    def counts(self) -> dict[str, int]:
        return row_counts(self.engine, self.tables)


@pytest.fixture(scope="module")
def monkeypatch_module() -> Iterator[pytest.MonkeyPatch]:
    with pytest.MonkeyPatch.context() as patch:
        yield patch


@pytest.fixture(scope="module")
def bed(stack: Stack, postgres: PostgresServer, monkeypatch_module: pytest.MonkeyPatch) -> Iterator[Bed]:
    province, it = person_in(stack, "01", 105), person_in(stack, "00012", 12)
    targets = [person_in(stack, "01", 106), person_in(stack, "01", 107)]
    postgres.create_database(DATABASE)
    upgrade(url=postgres.owner_url(DATABASE), app_role=APP_ROLE)
    engine = make_engine(postgres.app_url(DATABASE))
    factory = sessionmaker(engine, expire_on_commit=False)
    directory = LdapDirectory(stack.settings.directory)
    appoint(stack, factory, directory, {"it": it, "province": province})
    monkeypatch_module.setenv("BRIDGE_UI__SESSION_SECRET", SECRET)
    get_settings.cache_clear()
    app = create_app(factory=factory, directory=directory, validator=TokenValidator.from_settings(stack.settings),
                     config_dir=CONFIG)  # fmt: skip
    console = console_of(app)
    sessions = SessionStore(idle_s=3600)  # in memory: the store's row counts move only with what a form writes
    console.state.console_sessions = sessions
    day = today_vn()

    async def on_day() -> dt.date:
        return day

    console.dependency_overrides[get_today] = on_day
    tally = Tally()
    try:
        yield Bed(app, engine, store_tables(engine), province, it, targets, sessions, tally)
    finally:
        record_result("hostile_input.console_forms", {
            "test": "tests/reliability/test_hostile_console.py",
            "against": "create_app (API + console at /ui) on PostgreSQL, the session's slapd and realm validator",
            "controls_tried": [f"U+{ord(c):04X}" for c in CONTROLS + LINE_BREAKS],
            "tried": tally.tried, "refused_422": tally.refused_422, "field_named": tally.field_named,
            "server_errors": tally.server_errors, "writes_on_refusal": tally.writes_on_refusal,
            "failed": len(tally.failures), "lost": tally.writes_on_refusal, "failures": tally.failures[:20],
        })  # fmt: skip
        get_settings.cache_clear()
        directory.close()
        engine.dispose()
        postgres.drop_database(DATABASE)


def csrf_of(page: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found, "the page has no CSRF field"
    return found.group(1)


@pytest.fixture(scope="module")
def hanoi(bed: Bed) -> TestClient:
    return bed.browser(bed.province)


@pytest.fixture(scope="module")
def made(bed: Bed, hanoi: TestClient) -> dict[str, int]:
    """Rows the forms with an id act on, made through the console with NFD text: a lock decision and an
    exception request (the free-text reason with a line break and a tab)."""
    csrf = csrf_of(hanoi.get("/ui/locks").text)
    later = today_vn() + dt.timedelta(days=30)
    lock = {"csrf_token": csrf, "email": bed.targets[0].mail, "reason": nfd("nghỉ thai sản"),
            "decision_number": nfd("12/QĐ-BHXH Hà Nội"), "decision_date": vn(today_vn()),
            "effective_date": vn(later), "end_date": vn(later + dt.timedelta(days=180))}  # fmt: skip
    answer = hanoi.post("/ui/locks", data=lock)
    assert answer.status_code == 303, answer.text[:800]
    lock_id = int(answer.headers["location"].rsplit("/", 1)[1])
    exception = {"csrf_token": csrf, "email": OUTSIDER, "full_name": nfd("Trần Thị Ngoại Lệ"), "unit_code": "01000",
                 "role_group": "TST/operator", "end_date": vn(later),
                 "reason": nfd("Chuyên gia hỗ trợ dự án:\n\tđối soát số liệu quý")}  # fmt: skip
    answer = hanoi.post("/ui/grants/exception", data=exception)
    assert answer.status_code == 303, answer.text[:800]
    approval_id = int(answer.headers["location"].rsplit("/", 1)[1])
    return {"lock": lock_id, "approval": approval_id}


def _forms(bed: Bed, made: dict[str, int]) -> dict[str, tuple[str, dict[str, str]]]:
    """Every POST form of the console with values its types accept: (path, fields)."""
    later = vn(today_vn() + dt.timedelta(days=40))
    quarter = "2026-Q1"
    return {
        "grant_request": ("/ui/grants", {"email": bed.targets[1].mail, "role_group": "TST/operator"}),
        "grant_revoke": ("/ui/grants/1/revoke", {}),
        "lock_decision": (
            "/ui/locks",
            {
                "email": bed.targets[1].mail,
                "reason": "nghỉ hưu",
                "decision_number": "13/QĐ-BHXH",
                "decision_date": vn(today_vn()),
                "effective_date": later,
                "end_date": "",
            },
        ),
        "lock_cancel": (f"/ui/locks/{made['lock']}/cancel", {}),
        "lock_end_date": (f"/ui/locks/{made['lock']}/end-date", {"end_date": later}),
        "exception_request": (
            "/ui/grants/exception",
            {
                "email": "i17b.khac@gmail.com",
                "full_name": "Lê Văn Khác",
                "unit_code": "01000",
                "role_group": "TST/operator",
                "end_date": later,
                "reason": "Hỗ trợ đối soát số liệu",
            },
        ),
        "approval_decision": (f"/ui/approvals/{made['approval']}/decision", {"decision": "approve"}),
        "phu_luc_confirm": ("/ui/lock-lists/confirm", {"sha256": "0" * 64}),
        "report_submit": (f"/ui/reports/01000/{quarter}/submit", {}),
    }


def _check_refusal(bed: Bed, answer: Response, before: dict[str, int], what: str, name: str, status: int = 422,
                   message: tuple[str, ...] = ("điều khiển",)) -> None:  # fmt: skip
    tally = bed.tally
    tally.tried += 1
    if answer.status_code >= 500:
        tally.server_errors += 1
    if answer.status_code == 422:
        tally.refused_422 += 1
    named = f"«{name}»" in answer.text or f"<code>{name}</code>" in answer.text
    tally.field_named += named
    after = bed.counts()
    written = {k: after[k] - before[k] for k in after if after[k] != before[k] and k != "ledger.refused"}
    if written:
        tally.writes_on_refusal += 1
    if answer.status_code != status or not named or not any(m in answer.text for m in message) or written:
        detail = re.search(r'id="detail">([^<]*)', answer.text)
        tally.fail(f"{what}: {answer.status_code} named={named} written={written} "
                   f"{detail.group(1) if detail else answer.text[:200]!r}")  # fmt: skip


def test_every_form_field_refuses_control_characters_names_the_field_and_writes_nothing(
    bed: Bed, hanoi: TestClient, made: dict[str, int]
) -> None:
    csrf = csrf_of(hanoi.get("/ui/grants").text)
    start = len(bed.tally.failures)
    for form, (path, fields) in _forms(bed, made).items():
        for name in fields:
            chars = CONTROLS + (() if f"{name}@{form}" in FREE_TEXT else LINE_BREAKS)
            for char in chars:
                poisoned = fields | {name: f"{fields[name][:3]}{char}{fields[name][3:]}", "csrf_token": csrf}
                before = bed.counts()
                answer = hanoi.post(path, data=poisoned)
                # a field with a pattern (decision, sha256) breaks the pattern first: still a 422 naming it
                pattern = name in ("decision", "sha256")
                _check_refusal(bed, answer, before, f"{form}.{name} U+{ord(char):04X}", name,
                               message=("điều khiển", "pattern") if pattern else ("điều khiển",))  # fmt: skip
        # the CSRF token itself, poisoned (a non-ASCII character made compare_digest raise: a 500)
        for char in ("\x00", "\x85", "é"):
            before = bed.counts()
            answer = hanoi.post(path, data=fields | {"csrf_token": csrf[:5] + char + csrf[5:]})
            _check_refusal(bed, answer, before, f"{form}.csrf_token U+{ord(char):04X}", "csrf_token", status=403,
                           message=("CSRF",))  # fmt: skip
    assert bed.tally.failures[start:] == [], "\n".join(bed.tally.failures[start:])
    assert bed.tally.tried >= 150


def test_the_upload_refuses_a_file_name_with_control_characters(bed: Bed, hanoi: TestClient) -> None:
    csrf = csrf_of(hanoi.get("/ui/lock-lists").text)
    start = len(bed.tally.failures)
    for char in ("\x00", "\x1b", "\x85", "\n"):
        before = bed.counts()
        # the multipart body written by hand: httpx escapes NUL and line breaks in a file name, a hostile client
        # does not
        body = (f'--b\r\nContent-Disposition: form-data; name="csrf_token"\r\n\r\n{csrf}\r\n'
                f'--b\r\nContent-Disposition: form-data; name="file"; filename="phu-luc{char}01.csv"\r\n'
                'Content-Type: text/csv\r\n\r\nSTT,Email\n\r\n--b--\r\n').encode()  # fmt: skip
        answer = hanoi.post("/ui/lock-lists", content=body, headers={"Content-Type": "multipart/form-data; boundary=b"})
        _check_refusal(bed, answer, before, f"upload filename U+{ord(char):04X}", "file")
    assert bed.tally.failures[start:] == [], "\n".join(bed.tally.failures[start:])


def test_query_and_path_values_with_control_characters_or_huge_ids_are_422_never_500(
    bed: Bed, hanoi: TestClient, made: dict[str, int]
) -> None:
    it = bed.browser(bed.it)
    pages = {  # page: (client, its text query parameters)
        "/ui/people": (hanoi, ["q"]),
        "/ui/ledger": (it, ["who", "target", "action", "date_from", "date_to"]),
        "/ui/locks": (hanoi, ["email", "status"]),
        "/ui/grants": (hanoi, ["email", "application"]),
        "/ui/approvals": (hanoi, ["status"]),
        "/ui/review": (hanoi, ["unit"]),
        "/ui/reports": (hanoi, ["quarter"]),
    }
    start = len(bed.tally.failures)
    for page, (client, names) in pages.items():
        for name in [*names, "unknown"]:
            for char in CONTROLS:
                before = bed.counts()
                answer = client.get(page, params={name: f"ab{char}c"})
                _check_refusal(bed, answer, before, f"GET {page}?{name} U+{ord(char):04X}", name)
        before = bed.counts()
        answer = client.get(page, params={"x\x00y": "1"})
        _check_refusal(bed, answer, before, f"GET {page} a parameter named with NUL", "query")
    huge = ["/ui/grants/4735633148128264192", "/ui/locks/99999999999", "/ui/approvals/2147483648",
            "/ui/grants/0", "/ui/locks/-1"]  # fmt: skip
    for path in huge:
        before = bed.counts()
        answer = hanoi.get(path)
        name = "grant_id" if "grants" in path else "decision_id" if "locks" in path else "approval_id"
        _check_refusal(bed, answer, before, f"GET {path}", name, message=("",))
    for path in ("/ui/people/a%00b@vss.gov.vn", "/ui/reports/01%1b000/2026-Q1"):
        before = bed.counts()
        _check_refusal(bed, hanoi.get(path), before, f"GET {path}", "path")
    for page in ("/ui/people", "/ui/ledger", "/ui/locks"):
        before = bed.counts()
        client = it if page == "/ui/ledger" else hanoi
        _check_refusal(bed, client.get(page, params={"page": str(10**30)}), before, f"GET {page}?page=10^30", "page",
                       message=("",))  # fmt: skip
    assert bed.tally.failures[start:] == [], "\n".join(bed.tally.failures[start:])


def test_text_typed_in_nfd_is_kept_in_nfc_and_found_by_nfd_searches(
    bed: Bed, hanoi: TestClient, made: dict[str, int]
) -> None:
    with bed.engine.connect() as conn:
        lock = conn.execute(select(LockDecision).where(LockDecision.id == made["lock"])).one()._mapping
        approval = conn.execute(select(ApprovalRequest).where(ApprovalRequest.id == made["approval"])).one()._mapping
    assert lock["decision_number"] == "12/QĐ-BHXH Hà Nội"
    assert approval["subject"]["reason"] == "Chuyên gia hỗ trợ dự án:\n\tđối soát số liệu quý"  # tab, line kept
    assert approval["subject"]["full_name"] == "Trần Thị Ngoại Lệ"
    found = hanoi.get("/ui/people", params={"q": nfd(bed.targets[0].full_name)})
    assert found.status_code == 200 and bed.targets[0].mail in found.text
    ledger = bed.browser(bed.it).get("/ui/ledger", params={"target": nfd(OUTSIDER), "who": bed.province.mail})
    assert ledger.status_code == 200
    assert not_nfc_in_store(bed.engine) == []
