"""The console's Báo cáo, Rà soát and Nhật ký pages without a browser (issue 12, phase 2c): the preview is the
file, submission and the IT Center's view, report deadlines on Tổng quan, review findings linked to people, the
ledger's filters, pages and verify button — each scope-checked like the API — and the English switch on every
page. The store is the real one (SQLite and PostgreSQL, ``store`` fixture); the console's session stands in for
a browser as in test_console_web.py.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re

import pytest
from gov_world import DAY, DIRECTORY, HCM, HN, IT, PERSON_A, PERSON_B
from openpyxl import load_workbook
from sqlalchemy import select

from bridge.adapters.keycloak.account_facts import AccountFacts, KcUser
from bridge.adapters.store import ledger
from bridge.adapters.store.models import LedgerEntry
from bridge.adapters.store.session import transaction
from bridge.clock import today_vn
from bridge.domain.reports.quarter import Quarter
from bridge.domain.text import fold
from bridge.interfaces.api.deps import get_today
from bridge.interfaces.api.routes.reports import get_review_reader
from bridge.interfaces.web.app import console_of
from bridge.interfaces.web.render import NAV
from bridge.services import ui_views
from bridge.services.context import GovContext, load_actor
from bridge.services.persons import list_persons
from tests.governance import test_console_web
from tests.governance.test_console_web import Console, csrf_of

console = test_console_web.console  # the console over the seeded world (fixture)

QUARTER = "2025-Q3"  # DAY is 01/10/2025: the quarter just ended, due 09/10/2025


def table_rows(page: str, table_id: str) -> list[list[str]]:
    """The cells of a table's body, as text (links unwrapped)."""
    body = re.search(rf'<table[^>]*id="{table_id}".*?<tbody>(.*?)</tbody>', page, re.S)
    assert body, f"no table {table_id}"
    rows = []
    for row in re.findall(r"<tr>(.*?)</tr>", body.group(1), re.S):
        cells = [re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]
        rows.append([c.replace("&#39;", "'").replace("&amp;", "&") for c in cells])
    return rows


def on_day(console: Console, day: dt.date) -> None:
    """The console's calendar day (the world's grants are made on the real one)."""

    async def today() -> dt.date:
        return day

    console_of(console.app).dependency_overrides[get_today] = today


def test_the_preview_holds_the_rows_of_the_csv_and_xlsx_files(console: Console) -> None:
    client = console.browser(HN)
    page = client.get(f"/ui/reports/01000/{QUARTER}")
    assert page.status_code == 200 and "Báo cáo quý" in page.text and "09/10/2025" in page.text
    assert "còn 8 ngày" in page.text  # days left to the due date, on 01/10/2025
    on_day(console, today_vn())
    quarter = Quarter.of(today_vn())
    page = client.get(f"/ui/reports/01000/{quarter}")
    shown = [r for r in table_rows(page.text, "rows-1") + table_rows(page.text, "rows-2") if len(r) > 1]
    assert shown, "the first report lists the province's existing grants"
    assert any(PERSON_A in r for r in shown)
    got = client.get(f"/ui/reports/01000/{quarter}/file", params={"format": "csv"})
    assert got.status_code == 200 and "attachment" in got.headers["content-disposition"]
    in_csv = [row[1:] for row in csv.reader(io.StringIO(got.text.lstrip("\ufeff")))][1:]
    assert in_csv == shown
    xlsx = client.get(f"/ui/reports/01000/{quarter}/file", params={"format": "xlsx"})
    sheet = load_workbook(io.BytesIO(xlsx.content)).active
    assert sheet is not None
    emails = {str(c.value) for row in sheet.iter_rows() for c in row if c.value and "@" in str(c.value)}
    assert {r[4] for r in shown} <= emails


def test_another_provinces_report_answers_404_and_the_aggregate_is_central_only(console: Console) -> None:
    hn = console.browser(HN)
    for path in (f"/ui/reports/79000/{QUARTER}", f"/ui/reports/79000/{QUARTER}/file?format=xlsx",
                 f"/ui/reports/79000/{QUARTER}/file?format=csv"):  # fmt: skip
        answer = hn.get(path)
        assert answer.status_code == 404 and "Không tìm thấy" in answer.text, path
    csrf = csrf_of(hn.get("/ui/reports").text)
    assert hn.post(f"/ui/reports/79000/{QUARTER}/submit", data={"csrf_token": csrf}).status_code == 404
    assert hn.get(f"/ui/reports/quarters/{QUARTER}/it-center.png").status_code == 403
    listed = hn.get("/ui/reports", params={"quarter": QUARTER})
    assert [r[0] for r in table_rows(listed.text, "report-status")] == ["01000"]
    assert 'id="aggregate-chart"' not in listed.text


def test_a_province_submits_and_the_it_center_sees_every_unit_with_the_chart(console: Console) -> None:
    hn, it = console.browser(HN), console.browser(IT)
    page = hn.get(f"/ui/reports/01000/{QUARTER}")
    assert hn.post(f"/ui/reports/01000/{QUARTER}/submit", data={}).status_code == 403  # no CSRF token
    done = hn.post(f"/ui/reports/01000/{QUARTER}/submit", data={"csrf_token": csrf_of(page.text)})
    assert done.status_code == 303
    after = hn.get(done.headers["location"]).text
    # the submission is dated by the real clock (as through the API): after 09/10/2025, so late
    assert "nộp muộn" in after and 'id="report-submit"' not in after
    again = hn.post(f"/ui/reports/01000/{QUARTER}/submit", data={"csrf_token": csrf_of(page.text)})
    assert again.status_code == 409 and "đã nộp" in again.text
    with console.store.factory() as session:
        row = session.scalars(select(LedgerEntry).where(LedgerEntry.action == "report.submit")).one()
    assert (row.actor, row.target) == (HN, f"report:01000:{QUARTER}")
    listed = it.get("/ui/reports", params={"quarter": QUARTER})
    statuses = {r[0]: r[2] for r in table_rows(listed.text, "report-status")}
    assert statuses["01000"] == "nộp muộn" and statuses["79000"] == "chưa đến hạn" and "00012" in statuses
    chart = it.get(f"/ui/reports/quarters/{QUARTER}/it-center.png")
    assert chart.status_code == 200 and chart.headers["content-type"] == "image/png"
    assert chart.content.startswith(b"\x89PNG")
    workbook = load_workbook(io.BytesIO(it.get(f"/ui/reports/quarters/{QUARTER}/it-center.xlsx").content))
    assert any("01000" in name for name in workbook.sheetnames) and any("79000" in n for n in workbook.sheetnames)


def test_the_overview_shows_report_deadlines_with_days_left(console: Console) -> None:
    page = console.browser(HN).get("/ui/").text
    rows = table_rows(page, "report-deadlines")
    assert ["01000 — " in r[0] for r in rows] == [True, True]
    assert [r[1:4] for r in rows] == [[QUARTER, "09/10/2025", "8"], ["2025-Q4", "09/01/2026", "100"]]
    late = console.browser(HCM)
    on_day(console, dt.date(2025, 10, 15))
    overdue = table_rows(late.get("/ui/").text, "report-deadlines")
    assert overdue[0][3] == "quá hạn 6 ngày" and overdue[0][4] == "chưa nộp (quá hạn)"


class Reader:
    """The review's Keycloak side as data: an enabled Hà Nội account nobody in the directory owns."""

    def __call__(self, **_: object) -> AccountFacts:
        made = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
        return AccountFacts(users=[
            KcUser("u1", "gone", "gone.nv@hanoi.vss.gov.vn", True, made, unit_code="01002"),
            KcUser("u2", "left", "left.lv@hcm.vss.gov.vn", True, made, unit_code="79001"),
        ])  # fmt: skip


def test_review_findings_link_to_each_person_and_stay_in_scope(console: Console) -> None:
    console_of(console.app).dependency_overrides[get_review_reader] = lambda: Reader()
    hn = console.browser(HN)
    assert 'id="review-total"' not in hn.get("/ui/review").text  # the form alone runs nothing
    page = hn.get("/ui/review", params={"unit": "01000", "unused_days": "90"})
    assert page.status_code == 200
    assert '<a href="/ui/people/gone.nv%40hanoi.vss.gov.vn">gone.nv@hanoi.vss.gov.vn</a>' in page.text
    assert "Không còn trong danh bạ" in page.text and "left.lv@hcm" not in page.text
    assert hn.get("/ui/review", params={"unit": "79000"}).status_code == 404
    with console.store.factory() as session:
        runs = session.scalars(select(LedgerEntry).where(LedgerEntry.action == "review.run")).all()
    assert [(r.actor, r.target) for r in runs] == [(HN, "unit:01000")]


def test_the_ledger_filters_pages_and_verifies_for_audit_readers_only(console: Console) -> None:
    with transaction(console.store.factory) as session:
        for n in range(1000):
            ledger.append(session, actor=IT, action="bench.filler", target=f"note:{n}", outcome="allowed",
                          rule="R-test", detail={"n": n})  # fmt: skip
    it = console.browser(IT)
    first = it.get("/ui/ledger")
    assert (
        first.status_code == 200 and len(table_rows(first.text, "ledger-rows")) == 50 and "ledger-older" in first.text
    )
    grants = table_rows(it.get("/ui/ledger", params={"who": HN, "action": "grant"}).text, "ledger-rows")
    assert grants and all(r[2] == HN and r[3].startswith("grant") for r in grants)
    mine = table_rows(it.get("/ui/ledger", params={"target": PERSON_B}).text, "ledger-rows")
    assert mine and all(PERSON_B in r[4] for r in mine)
    today = dt.datetime.now(dt.UTC).astimezone(dt.timezone(dt.timedelta(hours=7))).date()
    tomorrow = f"{today + dt.timedelta(days=1):%d/%m/%Y}"
    assert table_rows(it.get("/ui/ledger", params={"date_from": tomorrow}).text, "ledger-rows") == [["Không có"]]
    assert len(table_rows(it.get("/ui/ledger", params={"date_to": f"{today:%d/%m/%Y}"}).text, "ledger-rows")) == 50
    bad = it.get("/ui/ledger", params={"date_from": "31/02/2026"})
    assert bad.status_code == 422 and "31/02/2026" in bad.text
    newest = table_rows(it.get("/ui/ledger").text, "ledger-rows")  # the refused date above is a row of its own
    second = table_rows(it.get("/ui/ledger", params={"page": "2"}).text, "ledger-rows")
    assert int(second[0][0]) == int(newest[-1][0]) - 1
    checked = it.get("/ui/ledger", params={"verify": "1"}).text
    with console.store.factory() as session:
        truth = ledger.verify(session)
    assert truth.rows > 1000 and 'id="chain-intact"' in checked and truth.head in checked
    assert f"đã kiểm tra {truth.rows // 1000}.{truth.rows % 1000:03d} dòng" in checked  # Vietnamese grouping
    refused = console.browser(HN).get("/ui/ledger")
    assert refused.status_code == 403


@pytest.mark.parametrize("item", [i for i in NAV if i.built], ids=lambda i: i.name)
def test_the_english_switch_works_on_every_page(console: Console, item: object) -> None:
    console_of(console.app).dependency_overrides[get_review_reader] = lambda: Reader()
    path = getattr(item, "path")  # noqa: B009
    client = console.browser(IT)
    vietnamese = client.get(path)
    assert vietnamese.status_code == 200 and '<html lang="vi">' in vietnamese.text and "Tổng quan" in vietnamese.text
    switched = client.get("/ui/lang/en", params={"back": path})
    assert switched.status_code == 303 and switched.headers["location"] == path
    english = client.get(path)
    assert english.status_code == 200 and '<html lang="en">' in english.text
    assert ">Overview<" in english.text and "Tổng quan" not in english.text


@pytest.mark.parametrize("who", [IT, HN])
def test_the_console_search_lists_the_people_list_persons_lists(console: Console, who: str) -> None:
    """The console's search reads the scope's directory people through its short index (decision 0619): the
    same people, providers and administrator flags as the API's ``list_persons``, page by page."""
    with console.store.factory() as session:
        ctx = GovContext(console_of(console.app).state.gov.units, console_of(console.app).state.gov.catalogue,
                         DIRECTORY, DAY)  # fmt: skip
        actor = load_actor(session, email=who)
        everyone = list_persons(session, ctx=ctx, actor=actor, limit=10**6)
        for query in ("", "minh", "tran thanh binh", "vss.gov", "nobody-at-all"):
            wanted = fold(query)
            expected = [p for p in everyone if not wanted or wanted in fold(p.full_name) or wanted in p.email]
            pages = [ui_views.search_people(session, ctx=ctx, actor=actor, query=query, limit=3, offset=o)
                     for o in range(0, len(expected) + 3, 3)]  # fmt: skip
            assert all(page.total == len(expected) for page in pages), query
            assert [p for page in pages for p in page.people] == expected, query
        counts = ui_views.overview(session, ctx=ctx, actor=actor)
        assert (counts.people, counts.enabled) == (len(everyone), sum(1 for p in everyone if p.active))
    if who == IT:
        assert any(p.source == "provider" for p in everyone) and any(p.administrator for p in everyone)
