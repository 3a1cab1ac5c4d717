"""The report routes on the seeded governance world, on SQLite and PostgreSQL: formats, scope, bad input,
submissions and deadlines, the IT Center workbook. Every refusal names its field.

Callers present real access tokens issued by the test bed's Keycloak realm, validated against its JWKS."""

from __future__ import annotations

import io
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import pytest
from fastapi.testclient import TestClient
from gov_world import DAY, HCM, HN, IT, PERSON_A, STAFF
from openpyxl import load_workbook

from bridge.clock import today_vn
from bridge.domain.reports.quarter import Quarter
from tests.api_overrides import fix_day, serve_store

if TYPE_CHECKING:
    from conftest import Seeded
    from gov_realm import Realm

pytestmark = pytest.mark.integration

TODAY = today_vn()
NOW_Q = Quarter.of(TODAY)
PREV_Q = NOW_Q.previous()


@contextmanager
def _client(seeded: Seeded, realm: Realm) -> Iterator[Any]:
    """A client on a fresh copy of the seeded store, the API's day set to today."""
    with seeded.clone() as store, TestClient(seeded.app) as client:
        serve_store(seeded.app, store.factory)
        fix_day(seeded.app, TODAY)
        try:

            def call(method: str, path: str, who: str) -> Any:
                return client.request(method, path, headers=realm.headers(who))

            yield call
        finally:
            fix_day(seeded.app, DAY)


@pytest.mark.parametrize(
    ("path", "status", "field"),
    [
        (f"/reports/01000/{NOW_Q.year}-Q5", 422, "quarter"),
        (f"/reports/01000/Q{NOW_Q.number}/{NOW_Q.year}", 404, None),  # not a route: one spelling only
        (f"/reports/01000/{NOW_Q.year}Q{NOW_Q.number}", 422, "quarter"),
        (f"/reports/01000/{NOW_Q.next()}", 422, "quarter"),
        (f"/reports/99999/{NOW_Q}", 422, "unit"),
        (f"/reports/79000/{NOW_Q}", 404, "unit"),
        (f"/reports/01000/{NOW_Q}?format=pdf", 422, "format"),
    ],
)
def test_bad_report_requests_are_refused_naming_the_field(
    seeded: Seeded, realm: Realm, path: str, status: int, field: str | None
) -> None:
    with _client(seeded, realm) as call:
        response = call("GET", path, HN)
    assert response.status_code == status, response.text
    if field is not None:
        assert response.json()["field"] == field


def test_first_report_in_three_formats_for_the_province_admin(seeded: Seeded, realm: Realm) -> None:
    with _client(seeded, realm) as call:
        body = call("GET", f"/reports/01000/{NOW_Q}", HN).json()
        xlsx = call("GET", f"/reports/01000/{NOW_Q}?format=xlsx", HN)
        csv = call("GET", f"/reports/01000/{NOW_Q}?format=csv", HN)
        staff = call("GET", f"/reports/01000/{NOW_Q}", STAFF)
    assert body["first_report"] is True and body["quarter"] == str(NOW_Q)
    listed = {(r["email"], r["application_code"], r["role"]) for r in body["section_2"]["rows"]}
    assert listed == {(PERSON_A, "TST", "operator"), (STAFF, "QLVB", "staff")}
    assert body["columns"]["email"] == "Tài khoản (thư điện tử công vụ)"
    assert body["date"] == TODAY.strftime("%d/%m/%Y")
    book = load_workbook(io.BytesIO(xlsx.content))
    assert book.sheetnames == ["01000"] and "attachment" in xlsx.headers["content-disposition"]
    assert csv.text.splitlines()[0].startswith("\ufeffMục / section,STT,Họ và tên")
    assert len(csv.text.splitlines()) == 3
    assert staff.status_code == 403


def test_submission_needs_a_finished_quarter_and_is_recorded_once(seeded: Seeded, realm: Realm) -> None:
    with _client(seeded, realm) as call:
        early = call("POST", f"/reports/01000/{NOW_Q}/submission", HN)
        other = call("POST", f"/reports/01000/{PREV_Q}/submission", HCM)
        done = call("POST", f"/reports/01000/{PREV_Q}/submission", HN)
        again = call("POST", f"/reports/01000/{PREV_Q}/submission", HN)
        own = call("GET", f"/reports/quarters/{PREV_Q}/status", HN).json()
        everyone = call("GET", f"/reports/quarters/{PREV_Q}/status", IT).json()
        audit = call("GET", f"/audit/ledger?target=report:01000:{PREV_Q}", IT).json()
        later = call("GET", f"/reports/01000/{NOW_Q}", HN).json()
    assert early.status_code == 409 and early.json()["field"] == "quarter"
    assert other.status_code == 404
    assert done.status_code == 201 and done.json()["submitted_by"] == HN
    assert done.json()["late"] is (PREV_Q.due_date < TODAY)
    assert again.status_code == 409
    assert [s["unit_code"] for s in own] == ["01000"]
    status = {s["unit_code"]: s["status"] for s in everyone}
    assert status["01000"] == ("late" if PREV_Q.due_date < TODAY else "on_time")
    assert status["79000"] == ("missing" if PREV_Q.due_date < TODAY else "pending")
    assert len(status) == 35
    assert [(r["action"], r["actor"]) for r in audit] == [("report.submit", HN)]
    assert later["first_report"] is False


def test_it_center_workbook_is_for_central_readers(seeded: Seeded, realm: Realm) -> None:
    with _client(seeded, realm) as call:
        refused = call("GET", f"/reports/quarters/{NOW_Q}/it-center", HN)
        book = call("GET", f"/reports/quarters/{NOW_Q}/it-center", IT)
        png = call("GET", f"/reports/quarters/{NOW_Q}/it-center?format=png", IT)
    assert refused.status_code == 403
    sheets = load_workbook(io.BytesIO(book.content)).sheetnames
    assert sheets[0] == "Tổng hợp" and "01000" in sheets and "79000" in sheets and len(sheets) == 37
    assert sheets[-1] == "Khai thác dữ liệu"  # the data-extraction requests' own sheet (issue 14)
    assert png.headers["content-type"] == "image/png" and png.content.startswith(b"\x89PNG")
