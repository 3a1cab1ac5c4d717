"""The console's Cấp quyền, Phụ lục 01 and Phê duyệt pages, and the store-backed sessions, without a browser.

On SQLite and the real PostgreSQL (the ``console`` fixture of test_console_web): each page's scope check (another
province's grant or approval, by URL, answers 404 as the API does), its CSRF check, refusals shown on the form in
Vietnamese with nothing recorded, the Phụ lục 01 preview that records nothing and the confirmation that records
every row, and the four-eyes rule of a valve release. The browser scenarios are in tests/browser.
"""

# ruff: noqa: F811 (tests take the imported ``console`` fixture as a parameter)

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from gov_world import DAY, DIRECTORY, HCM, HN, IT, LEAD, PERSON_A, PERSON_B, PERSON_CENTRAL, STAFF
from sqlalchemy import func, select

from bridge.adapters.store.console_models import ConsoleSessionRow, ConsoleUpload
from bridge.adapters.store.exception_models import ExceptionAccount
from bridge.adapters.store.lock_models import LockDecision
from bridge.adapters.store.models import Administrator, ApprovalRequest, Base, Grant, LedgerEntry
from bridge.adapters.store.session import transaction
from bridge.adapters.store.sync_models import SyncRun, SyncState
from bridge.clock import today_vn
from bridge.domain.extraction import ExtractionDraft, ScopeItem
from bridge.domain.role_levels import Catalogue
from bridge.domain.sync.safety import Verdict
from bridge.domain.units import UnitTree
from bridge.interfaces.web.sessions import StoreSessions
from bridge.services import extractions
from bridge.services.context import GovContext, load_actor
from bridge.services.sync import valve
from tests.governance.test_console_web import Console, console, csrf_of  # noqa: F401 (console: the fixture)
from tests.unit.test_lock_import import csv_bytes, row, xlsx_bytes


def _count(console: Console, model: type) -> int:
    with console.store.factory() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def _grant_of(console: Console, email: str) -> Grant:
    with console.store.factory() as session:
        return session.scalars(select(Grant).where(Grant.email == email)).first()  # type: ignore[return-value]


# --- Cấp quyền ---------------------------------------------------------------------------------------------


def test_a_grant_is_requested_and_revoked_in_scope(console: Console) -> None:
    client = console.browser(HN)
    page = client.get("/ui/grants")
    assert page.status_code == 200 and 'value="TST/supervisor"' in page.text and "Đề nghị cấp quyền" in page.text
    made = client.post("/ui/grants", data={"email": PERSON_A, "role_group": "TST/supervisor",
                                           "csrf_token": csrf_of(page.text)})  # fmt: skip
    assert made.status_code == 303
    shown = client.get(made.headers["location"])
    assert shown.status_code == 200 and "supervisor" in shown.text and PERSON_A in shown.text
    revoked = client.post(made.headers["location"] + "/revoke", data={"csrf_token": csrf_of(shown.text)})
    assert revoked.status_code == 303
    with console.store.factory() as session:
        grant = session.scalars(select(Grant).where(Grant.role_group == "supervisor")).one()
    assert grant.revoked_by == HN and grant.revoked_at is not None


def test_the_policy_refusal_is_shown_on_the_form_in_vietnamese_and_nothing_is_granted(console: Console) -> None:
    client = console.browser(HN)
    csrf = csrf_of(client.get("/ui/grants").text)
    before = _count(console, Grant)
    escalation = client.post("/ui/grants", data={"email": PERSON_A, "role_group": "TST/admin", "csrf_token": csrf})
    assert escalation.status_code == 403
    assert 'id="form-error"' in escalation.text and 'id="grant-form"' in escalation.text
    assert "(R10" in escalation.text and "/ the" not in escalation.text  # the Vietnamese half, with its rule
    foreign = client.post("/ui/grants", data={"email": PERSON_B, "role_group": "TST/supervisor", "csrf_token": csrf})
    assert foreign.status_code == 404 and "Không tìm thấy" in foreign.text and 'id="email-error"' in foreign.text
    assert _count(console, Grant) == before
    with console.store.factory() as session:
        last = session.scalars(select(LedgerEntry).order_by(LedgerEntry.id.desc())).first()
    assert last is not None and (last.actor, last.outcome) == (HN, "refused")
    english = console.browser(HN)
    english.get("/ui/lang/en")
    shown = english.post("/ui/grants", data={"email": PERSON_A, "role_group": "TST/admin",
                                             "csrf_token": csrf_of(english.get("/ui/grants").text)})  # fmt: skip
    assert shown.status_code == 403 and "Request a grant" in shown.text


def test_another_provinces_grant_answers_404_and_revoking_needs_the_csrf_token(console: Console) -> None:
    hn = console.browser(HN)
    theirs, mine = _grant_of(console, PERSON_B), _grant_of(console, PERSON_A)
    assert hn.get(f"/ui/grants/{theirs.id}").status_code == 404
    csrf = csrf_of(hn.get("/ui/grants").text)
    assert hn.post(f"/ui/grants/{theirs.id}/revoke", data={"csrf_token": csrf}).status_code == 404
    assert hn.post(f"/ui/grants/{mine.id}/revoke", data={}).status_code == 403
    assert hn.post(f"/ui/grants/{mine.id}/revoke", data={"csrf_token": "forged"}).status_code == 403
    assert _grant_of(console, PERSON_B).revoked_at is None and _grant_of(console, PERSON_A).revoked_at is None
    listed = hn.get("/ui/grants").text
    assert PERSON_A in listed and PERSON_B not in listed


# --- Khóa tài khoản: errors on the form ---------------------------------------------------------------------


def test_a_lock_forms_wrong_date_is_shown_beside_its_field(console: Console) -> None:
    client = console.browser(HN)
    form = {"email": PERSON_A, "reason": "maternity", "decision_number": "12/QĐ-BHXH", "decision_date": "01/10/2025",
            "effective_date": "31/02/2026", "end_date": "01/04/2026",
            "csrf_token": csrf_of(client.get("/ui/locks").text)}  # fmt: skip
    answer = client.post("/ui/locks", data=form)
    assert answer.status_code == 422 and 'id="lock-form"' in answer.text
    assert re.search(r'id="effective_date"[^>]*aria-invalid="true"', answer.text)
    assert 'id="effective_date-error"' in answer.text and "31/02/2026" in answer.text
    assert 'value="12/QĐ-BHXH"' in answer.text, "what was typed is kept"
    no_end = client.post("/ui/locks", data={**form, "effective_date": "02/10/2025", "end_date": ""})
    assert no_end.status_code == 422 and 'id="end_date-error"' in no_end.text
    assert _count(console, LockDecision) == 0


# --- Phụ lục 01 ---------------------------------------------------------------------------------------------


GOOD = (
    row(email=PERSON_A, reason="nghỉ hưu", effective="01/12/2025", end=""),
    row(email="an.nv@hanoi.vss.gov.vn", reason="nghỉ thai sản", effective="03/11/2025", end="03/05/2026"),
)


def _upload(client: object, data: bytes, name: str, csrf: str) -> object:
    return client.post("/ui/lock-lists", data={"csrf_token": csrf}, files={"file": (name, data)})  # type: ignore[attr-defined]


def test_a_wrong_file_shows_its_problems_and_records_nothing(console: Console) -> None:
    client = console.browser(HN)
    csrf = csrf_of(client.get("/ui/lock-lists").text)
    bad = xlsx_bytes(row(email=PERSON_A, effective="31/02/2026"), [*row(email=PERSON_A, reason="nghỉ hưu", end="")[:9],
                     "=HYPERLINK(\"http://x\")", "20/10/2025", "03/11/2025", ""])  # fmt: skip
    answer = _upload(client, bad, "pl01.xlsx", csrf)
    assert answer.status_code == 422  # type: ignore[attr-defined]
    table = answer.text.split('id="problems"', 1)[1]  # type: ignore[attr-defined]
    assert re.search(r"<td>2</td><td>Ngày hiệu lực</td>", table) and re.search(
        r"<td>3</td><td>Số quyết định</td>", table
    )
    assert "công thức" in table and "không dòng nào được ghi nhận" in answer.text  # type: ignore[attr-defined]
    assert 'id="confirm"' not in answer.text  # type: ignore[attr-defined]
    assert _count(console, LockDecision) == 0 and _count(console, ConsoleUpload) == 0


def test_a_good_file_is_previewed_then_recorded_whole_once(console: Console) -> None:
    hn, hcm = console.browser(HN), console.browser(HCM)
    csrf = csrf_of(hn.get("/ui/lock-lists").text)
    preview = _upload(hn, csv_bytes(*GOOD), "pl01.csv", csrf)
    assert preview.status_code == 200  # type: ignore[attr-defined]
    text = preview.text  # type: ignore[attr-defined]
    assert text.count('class="row-lock"') == 2 and "nghỉ thai sản" in text and "03/05/2026" in text
    assert _count(console, LockDecision) == 0, "a preview records nothing"
    sha = re.search(r'name="sha256" value="([0-9a-f]{64})"', text).group(1)  # type: ignore[union-attr]
    assert hcm.post("/ui/lock-lists/confirm", data={"sha256": sha, "csrf_token": csrf_of(hcm.get("/ui/").text)}
                    ).status_code == 404, "another administrator cannot confirm my file"  # fmt: skip
    assert hn.post("/ui/lock-lists/confirm", data={"sha256": sha}).status_code == 403
    done = hn.post("/ui/lock-lists/confirm", data={"sha256": sha, "csrf_token": csrf})
    assert done.status_code == 303 and "locks=2" in done.headers["location"]
    assert "Đã ghi nhận: 2 quyết định khóa" in hn.get(done.headers["location"]).text
    with console.store.factory() as session:
        rows = session.scalars(select(LockDecision).order_by(LockDecision.id)).all()
    assert [(d.email, d.effective_date) for d in rows] == [(PERSON_A, dt.date(2025, 12, 1)),
                                                          ("an.nv@hanoi.vss.gov.vn", dt.date(2025, 11, 3))]  # fmt: skip
    again = hn.post("/ui/lock-lists/confirm", data={"sha256": sha, "csrf_token": csrf})
    assert again.status_code == 404 and _count(console, LockDecision) == 2 and _count(console, ConsoleUpload) == 0


def test_a_file_naming_another_province_is_refused_at_the_preview(console: Console) -> None:
    client = console.browser(HN)
    csrf = csrf_of(client.get("/ui/lock-lists").text)
    answer = _upload(client, csv_bytes(GOOD[0], row(email=PERSON_B, reason="nghỉ hưu", end="")), "pl01.csv", csrf)
    assert answer.status_code == 422 and "<td>3</td><td>Thư điện tử công vụ</td>" in answer.text  # type: ignore[attr-defined]
    assert _count(console, LockDecision) == 0 and _count(console, ConsoleUpload) == 0
    assert _upload(client, csv_bytes(*GOOD), "pl01.csv", "forged").status_code == 403  # type: ignore[attr-defined]


# --- Phê duyệt ----------------------------------------------------------------------------------------------


def _approval_of(console: Console, unit: str) -> int:
    with console.store.factory() as session:
        return int(session.scalars(select(ApprovalRequest.id).where(ApprovalRequest.unit_code == unit)).one())


def test_an_exception_shows_who_and_is_approved_by_leadership_only(console: Console) -> None:
    mine, theirs = _approval_of(console, "01002"), _approval_of(console, "79001")
    hn, lead = console.browser(HN), console.browser(LEAD)
    assert hn.get(f"/ui/approvals/{theirs}").status_code == 404
    csrf = csrf_of(hn.get("/ui/approvals").text)
    assert hn.post(f"/ui/approvals/{theirs}/decision", data={"decision": "approve", "csrf_token": csrf}
                   ).status_code == 404  # fmt: skip
    page = hn.get(f"/ui/approvals/{mine}")
    assert page.status_code == 200 and "ngoai.le.01002@example.vn" in page.text and "01002" in page.text
    refused = hn.post(f"/ui/approvals/{mine}/decision", data={"decision": "approve", "csrf_token": csrf})
    assert refused.status_code == 403 and 'id="form-error"' in refused.text  # the requester's own province admin
    lead_csrf = csrf_of(lead.get("/ui/approvals").text)
    assert lead.post(f"/ui/approvals/{mine}/decision", data={"decision": "approve"}).status_code == 403
    approved = lead.post(f"/ui/approvals/{mine}/decision", data={"decision": "approve", "csrf_token": lead_csrf})
    assert approved.status_code == 303 and "đã phê duyệt" in lead.get(f"/ui/approvals/{mine}").text


OUTSIDER = "ngoai.le.moi@example.vn"


def _exception_form(**changed: str) -> dict[str, str]:
    """What the Cấp quyền page's exception account form sends (an outsider for Hà Nội, 30 days)."""
    until = today_vn() + dt.timedelta(days=30)
    return {"email": OUTSIDER, "full_name": "Trần Thị Ngoại", "unit_code": "01002", "role_group": "TST/operator",
            "end_date": f"{until:%d/%m/%Y}", "reason": "Hỗ trợ triển khai TST tại Hà Nội", **changed}  # fmt: skip


def _requests_for(console: Console, email: str) -> list[ApprovalRequest]:
    with console.store.factory() as session:
        found = session.scalars(select(ApprovalRequest).order_by(ApprovalRequest.id)).all()
        return [r for r in found if dict(r.subject).get("email") == email]


def test_an_exception_account_is_requested_on_the_grants_page_and_approved_by_leadership(console: Console) -> None:
    hn, it, lead = console.browser(HN), console.browser(IT), console.browser(LEAD)
    page = hn.get("/ui/grants")
    assert page.status_code == 200 and "Đề nghị tài khoản ngoại lệ" in page.text
    for field in ("x-email", "x-full_name", "x-unit_code", "x-role_group", "x-end_date", "x-reason"):
        assert f'<label for="{field}">' in page.text and f'id="{field}"' in page.text
    csrf = csrf_of(page.text)
    assert hn.post("/ui/grants/exception", data=_exception_form()).status_code == 403  # no CSRF token
    assert hn.post("/ui/grants/exception", data={**_exception_form(), "csrf_token": "forged"}).status_code == 403

    impossible = hn.post("/ui/grants/exception", data={**_exception_form(end_date="31/02/2027"), "csrf_token": csrf})
    assert impossible.status_code == 422 and 'id="end_date-error"' in impossible.text
    assert "ngày không hợp lệ" in impossible.text and f'value="{OUTSIDER}"' in impossible.text  # kept as typed
    foreign = hn.post("/ui/grants/exception", data={**_exception_form(unit_code="79001"), "csrf_token": csrf})
    assert foreign.status_code == 404 and 'id="form-error"' in foreign.text  # another province: as the API
    eligible = hn.post("/ui/grants/exception", data={**_exception_form(email=PERSON_A), "csrf_token": csrf})
    assert eligible.status_code == 409 and "có trong danh bạ" in eligible.text
    assert _requests_for(console, OUTSIDER) == []
    with console.store.factory() as session:
        refused = session.scalars(select(LedgerEntry).where(LedgerEntry.outcome == "refused")).all()
    assert sum(1 for r in refused if r.actor == HN and r.action.startswith("POST")) >= 3  # every refusal audited

    made = hn.post("/ui/grants/exception", data={**_exception_form(), "csrf_token": csrf})
    assert made.status_code == 303
    (request,) = _requests_for(console, OUTSIDER)
    assert made.headers["location"] == f"/ui/approvals/{request.id}"
    assert (request.kind, request.status, request.unit_code, request.requested_by) == (
        "exception",
        "pending",
        "01002",
        HN,
    )
    shown = hn.get(made.headers["location"])
    until = today_vn() + dt.timedelta(days=30)
    assert "Trần Thị Ngoại" in shown.text and f'id="exception-end-date">{until:%d/%m/%Y}<' in shown.text

    own = hn.post(made.headers["location"] + "/decision", data={"decision": "approve", "csrf_token": csrf})
    assert own.status_code == 403  # four eyes: not the requester
    it_csrf = csrf_of(it.get("/ui/approvals").text)
    central = it.post(made.headers["location"] + "/decision", data={"decision": "approve", "csrf_token": it_csrf})
    assert central.status_code == 403 and "R14" in central.text  # an IT Center administrator is not leadership
    lead_csrf = csrf_of(lead.get("/ui/approvals").text)
    approved = lead.post(made.headers["location"] + "/decision", data={"decision": "approve", "csrf_token": lead_csrf})
    assert approved.status_code == 303
    with console.store.factory() as session:
        account = session.scalars(select(ExceptionAccount).where(ExceptionAccount.email == OUTSIDER)).one()
        grant = session.get(Grant, account.grant_id)
        end = session.get(LockDecision, account.lock_decision_id)
        assert (account.status, account.unit_code, account.end_date) == ("approved", "01002", until)
        assert grant is not None and (grant.application, grant.role_group, grant.granted_by) == ("TST", "operator", HN)
        assert end is not None and (end.reason_code, end.effective_date, end.status) == ("exception_ended", until,
                                                                                       "scheduled")  # fmt: skip


def _halted_plan(console: Console) -> int:
    digest = "ab" * 32
    with transaction(console.store.factory) as session:
        session.add(SyncRun(started_at=dt.datetime.now(dt.UTC), mode="full", status="halted", day=DAY, realm="bhxh",
                            plan_hash=digest, report={"valve": ["3 leavers to disable > limit 2"],
                            "leavers_by_unit": {"01002": 2, "79001": 1},
                            "leavers": [{"email": "x1@hanoi.vss.gov.vn", "unit": "01002"}]}))  # fmt: skip
        request = valve.request_release(session, digest=digest, realm="bhxh", verdict=Verdict(True, ("x",), 3),
                                        it_center_unit="00012")  # fmt: skip
        # a second IT Center administrator (the seeded world has one)
        session.add(Administrator(email=PERSON_CENTRAL, role="it_center_admin", unit_code="00012", appointed_by=IT,
                                  appointed_at=dt.datetime.now(dt.UTC)))  # fmt: skip
        return request.id


def test_a_valve_release_needs_two_different_it_center_administrators(console: Console) -> None:
    approval = _halted_plan(console)
    it, it2, hn = console.browser(IT), console.browser(PERSON_CENTRAL), console.browser(HN)
    assert hn.get(f"/ui/approvals/{approval}").status_code == 404
    page = it.get(f"/ui/approvals/{approval}")
    assert page.status_code == 200 and "ab" * 32 in page.text
    assert re.search(r"<td>01002</td><td>2</td>", page.text) and re.search(r"<td>79001</td><td>1</td>", page.text)
    csrf = csrf_of(page.text)
    first = it.post(f"/ui/approvals/{approval}/decision", data={"decision": "approve", "csrf_token": csrf})
    assert first.status_code == 303
    twice = it.post(f"/ui/approvals/{approval}/decision", data={"decision": "approve", "csrf_token": csrf})
    assert twice.status_code == 409 and "phải do một quản trị viên khác" in twice.text
    with console.store.factory() as session:
        assert not valve.is_released(session, digest="ab" * 32, realm="bhxh")
    second = it2.post(f"/ui/approvals/{approval}/decision",
                      data={"decision": "approve", "csrf_token": csrf_of(it2.get("/ui/approvals").text)})  # fmt: skip
    assert second.status_code == 303
    with console.store.factory() as session:
        assert valve.is_released(session, digest="ab" * 32, realm="bhxh")
    after = it.post(f"/ui/approvals/{approval}/decision", data={"decision": "approve", "csrf_token": csrf})
    assert after.status_code == 409 and "phải do một quản trị viên khác" in after.text


def _full_run_requests(console: Console) -> tuple[str, int, int]:
    """The pending request's stored value, the ledger's rows of requests made, and of requests refused."""
    with console.store.factory() as session:
        state = session.get(SyncState, "full_requested")
        allowed = session.scalars(select(LedgerEntry.id).where(LedgerEntry.action == "sync.full_requested")).all()
        asked = LedgerEntry.action.endswith("/sync/full-run")
        refused = session.scalars(select(LedgerEntry.id).where(LedgerEntry.outcome == "refused", asked)).all()
    return (state.value if state else "", len(allowed), len(refused))


def test_the_it_center_asks_for_a_full_reconcile_from_the_overview_and_a_province_cannot(console: Console) -> None:
    before = _full_run_requests(console)
    hn, it = console.browser(HN), console.browser(IT)
    page = hn.get("/ui/")
    assert page.status_code == 200 and 'id="full-run-form"' not in page.text  # no button outside the IT Center
    refused = hn.post("/ui/sync/full-run", data={"csrf_token": csrf_of(page.text)})
    assert refused.status_code == 403 and 'id="form-error"' in refused.text
    assert _full_run_requests(console) == (before[0], before[1], before[2] + 1)  # nothing asked; the refusal ledgered
    page = it.get("/ui/")
    assert 'id="full-run-form"' in page.text and "Yêu cầu đối soát đầy đủ" in page.text
    assert it.post("/ui/sync/full-run", data={}).status_code == 403  # the CSRF token is required
    asked = it.post("/ui/sync/full-run", data={"csrf_token": csrf_of(page.text)})
    assert asked.status_code == 303 and asked.headers["location"] == "/ui/#full-run"
    value, allowed, _refused = _full_run_requests(console)
    assert value.endswith(f" {IT}") and allowed == before[1] + 1
    shown = it.get("/ui/").text
    when = re.search(r'id="full-run-status">Đã yêu cầu lúc (\d\d/\d\d/\d{4} \d\d:\d\d) bởi ([^;]+);', shown)
    assert when is not None and when.group(2) == IT, shown[shown.find("full-run-status") - 20 :][:300]


# --- Sessions in the store ----------------------------------------------------------------------------------


def test_store_sessions_are_shared_by_workers_and_end_everywhere(console: Console) -> None:
    now = [1_000_000.0]
    worker_a = StoreSessions(idle_s=900, factory=console.store.factory, clock=lambda: now[0])
    worker_b = StoreSessions(idle_s=900, factory=console.store.factory, clock=lambda: now[0])
    made = worker_a.open(email=HN, keycloak_sid="kc-1", id_token="t")
    other = worker_a.open(email=STAFF, keycloak_sid="kc-2", id_token="t")
    seen = worker_b.touch(made.id)
    assert seen is not None and (seen.email, seen.csrf) == (HN, made.csrf)
    with console.store.factory() as session:
        assert session.get(ConsoleSessionRow, made.id) is None, "the table holds the id's hash, not the id"
    assert worker_b.end_keycloak_session(keycloak_sid="kc-1", email=None) == 1  # back-channel logout on worker B
    assert worker_a.touch(made.id) is None  # the next click on worker A
    now[0] += 901
    assert worker_a.touch(other.id) is None and _count(console, ConsoleSessionRow) == 0


def _console_tables(obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
    table = name if type_ == "table" else getattr(getattr(obj, "table", None), "name", None)
    return table in (ConsoleSessionRow.__tablename__, ConsoleUpload.__tablename__)


def test_the_console_models_match_the_migrated_schema(console: Console) -> None:
    with console.store.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True, "include_object": _console_tables})
        assert compare_metadata(context, Base.metadata) == []


def test_a_data_extraction_request_shows_its_letter_and_waits_for_its_units_leadership(
    console: Console, units: UnitTree, catalogue: Catalogue
) -> None:
    draft = ExtractionDraft(
        unit_code="01000", letter_number="77/BHXH-QLT", letter_date=DAY - dt.timedelta(days=2),
        purpose="Đối soát danh sách với Sở Y tế", data_scope=(ScopeItem("TST", ("nguoi_tham_gia",), ("ma_so_bhxh",)),),
        period_from=dt.date(2025, 1, 1), period_to=dt.date(2025, 6, 30), format="xlsx",
        recipients=("Sở Y tế thành phố Hà Nội",), legal_basis="Quy chế 2366/QĐ-BHXH",
        retention_until=DAY + dt.timedelta(days=60),
    )  # fmt: skip
    with transaction(console.store.factory) as session:
        ctx = GovContext(units, catalogue, DIRECTORY, DAY)
        approval = extractions.file_request(
            session, ctx=ctx, actor=load_actor(session, email=HN), draft=draft
        ).approval_id
    hn, hcm = console.browser(HN), console.browser(HCM)
    listed = hn.get("/ui/approvals").text
    assert f'id="approval-{approval}"' in listed and "77/BHXH-QLT" in listed and "chờ tôi phê duyệt" not in listed
    page = hn.get(f"/ui/approvals/{approval}")
    assert page.status_code == 200 and 'id="extraction"' in page.text and "Sở Y tế thành phố Hà Nội" in page.text
    assert hcm.get(f"/ui/approvals/{approval}").status_code == 404
