"""The console in a real browser against the real Keycloak and slapd (issue 12, scenarios 2 and 3).

2. A Hà Nội administrator uploads a Phụ lục 01 file with an impossible date and a formula: the row / column /
   problem table appears and nothing is recorded. A good file gives a preview, then a confirmation, and is
   recorded.
3. The IT Center administrator approves a valve release as the second approver after another administrator;
   the first approver cannot approve a second time.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.common.by import By
from sqlalchemy import select

from bridge.adapters.store.lock_models import LockDecision
from bridge.adapters.store.models import Administrator
from bridge.adapters.store.session import transaction
from bridge.adapters.store.sync_models import SyncRun
from bridge.clock import today_vn
from bridge.domain.policy import AdminRole
from bridge.domain.sync.safety import Verdict
from bridge.services.sync import valve
from tests.browser.console_bed import HN_UNIT, IT_UNIT, ConsoleBed, person_in
from tests.browser.test_console_scenarios import go, snap, text, vn
from tests.unit.test_lock_import import HEADER, csv_bytes, xlsx_bytes

pytestmark = pytest.mark.integration


def _row(email: str, name: str, reason: str, effective: str, end: str, number: str) -> list[object]:
    return ["1", name, "", "", email, "", "", "Khóa", reason, number, vn(today_vn()), effective, end]


def _locks(bed: ConsoleBed) -> list[LockDecision]:
    assert bed.factory is not None
    with bed.factory() as session:
        return list(session.scalars(select(LockDecision).where(LockDecision.source.like("import:%"))))


def test_a_wrong_phu_luc_file_shows_its_problems_and_a_good_one_is_previewed_then_recorded(
    console_bed: ConsoleBed, browser: webdriver.Chrome, tmp_path: Path
) -> None:
    bed, today = console_bed, today_vn()
    units = bed.stack.units
    province = units.province_of(HN_UNIT, today)
    assert province is not None
    people = [p for p in bed.stack.slapd.people if units.is_under(p.unit_code, province.code, today)
              and p.mail != bed.hn_admin.mail][10:12]  # fmt: skip
    later = today + dt.timedelta(days=3)
    wrong = tmp_path / "phu-luc-01-sai.xlsx"
    wrong.write_bytes(xlsx_bytes(
        _row(people[0].mail, people[0].full_name, "nghỉ hưu", "31/02/2026", "", "40/QĐ-BHXH"),
        _row(people[1].mail, people[1].full_name, "nghỉ hưu", vn(later), "", '=HYPERLINK("http://x","41")'),
        header=HEADER,
    ))  # fmt: skip
    good = tmp_path / "phu-luc-01.csv"
    good.write_bytes(csv_bytes(
        [str(c) for c in _row(people[0].mail, people[0].full_name, "nghỉ hưu", vn(later), "", "40/QĐ-BHXH")],
        [str(c) for c in _row(people[1].mail, people[1].full_name, "nghỉ thai sản", vn(later),
                              vn(later + dt.timedelta(days=180)), "41/QĐ-BHXH")],
    ))  # fmt: skip

    bed.login(browser, bed.hn_admin)
    go(browser, "nav-lock_lists", until_url="/ui/lock-lists", until_id="upload-form")
    browser.find_element(By.ID, "file").send_keys(str(wrong))
    go(browser, "upload-submit", until_url="/ui/lock-lists", until_id="problems")
    problems = [[td.text for td in tr.find_elements(By.TAG_NAME, "td")]
                for tr in browser.find_elements(By.CSS_SELECTOR, "#problems tbody tr")]  # fmt: skip
    assert ["2", "Ngày hiệu lực"] in [p[:2] for p in problems]
    assert any(p[:2] == ["3", "Số quyết định"] and "công thức" in p[2] for p in problems)
    assert not browser.find_elements(By.ID, "confirm") and _locks(bed) == []
    snap(browser, "phu-luc-01-loi")

    browser.find_element(By.ID, "file").send_keys(str(good))
    go(browser, "upload-submit", until_url="/ui/lock-lists", until_id="preview")
    rows = [[td.text for td in tr.find_elements(By.TAG_NAME, "td")]
            for tr in browser.find_elements(By.CSS_SELECTOR, "#preview tbody tr")]  # fmt: skip
    assert [(r[0], r[1], r[2]) for r in rows] == [("2", "Khóa", people[0].mail), ("3", "Khóa", people[1].mail)]
    assert rows[1][4] == "nghỉ thai sản" and rows[1][6] == vn(later)
    assert _locks(bed) == [], "the preview recorded nothing"
    snap(browser, "phu-luc-01-xem-truoc")
    go(browser, "confirm", until_url="/ui/lock-lists?locks=2", until_id="recorded")
    assert "Đã ghi nhận: 2 quyết định khóa" in text(browser, "#recorded")
    assert sorted(d.email for d in _locks(bed)) == sorted(p.mail for p in people)


def test_the_it_center_administrator_releases_the_valve_as_the_second_approver(
    console_bed: ConsoleBed, browsers: Callable[..., webdriver.Chrome]
) -> None:
    bed = console_bed
    assert bed.factory is not None
    first = person_in(bed.stack, IT_UNIT, 1)  # another IT Center administrator
    digest = "c0ffee" * 10 + "abcd"
    with transaction(bed.factory) as session:
        # a second IT Center administrator: the policy lets nobody appoint a peer (R10), so the test bed writes the
        # row an initial deployment of two IT Center administrators would have
        session.add(Administrator(email=first.mail, role=AdminRole.IT_CENTER_ADMIN.value, unit_code=IT_UNIT,
                                  appointed_by=bed.it_admin.mail, appointed_at=dt.datetime.now(dt.UTC)))  # fmt: skip
        session.add(SyncRun(started_at=dt.datetime.now(dt.UTC), mode="full", status="halted", day=today_vn(),
                            realm=bed.stack.units.realm, plan_hash=digest,
                            report={"valve": ["412 leavers to disable > limit 100"],
                                    "leavers_by_unit": {"01002": 400, "79001": 12},
                                    "leavers": [{"email": "a@hanoi.vss.gov.vn", "unit": "01002"}]}))  # fmt: skip
        verdict = Verdict(True, ("412 > 100",), 412)
        approval = valve.request_release(session, digest=digest, realm=bed.stack.units.realm, verdict=verdict,
                                         it_center_unit=IT_UNIT).id  # fmt: skip

    other = browsers()
    bed.login(other, first)
    go(other, "nav-approvals", until_url="/ui/approvals", until_id="approval-list")
    other.get(f"{bed.url}/ui/approvals/{approval}")
    assert text(other, "#plan-hash") == digest
    by_unit = [[td.text for td in tr.find_elements(By.TAG_NAME, "td")]
               for tr in other.find_elements(By.CSS_SELECTOR, "#leavers-by-unit tbody tr")]  # fmt: skip
    assert by_unit == [["01002", "400"], ["79001", "12"]]
    go(other, "approve", until_url=f"/ui/approvals/{approval}", until_id="decided-by-me")
    assert text(other, "#approval-status") == "chờ phê duyệt"
    go(other, "approve", until_url=f"/ui/approvals/{approval}", until_id="form-error")
    assert "lần phê duyệt thứ hai phải do một quản trị viên khác" in text(other, "#form-error")
    assert bed.status_of(other, f"/ui/approvals/{approval}") == 200

    it = browsers()
    bed.login(it, bed.it_admin)
    it.get(f"{bed.url}/ui/approvals")
    assert "chờ tôi phê duyệt" in text(it, f"#approval-{approval}")
    it.get(f"{bed.url}/ui/approvals/{approval}")
    snap(it, "phe-duyet")
    go(it, "approve", until_url=f"/ui/approvals/{approval}", until_id="approval-status")
    assert text(it, "#approval-status") == "đã phê duyệt"
    with bed.factory() as session:
        assert valve.is_released(session, digest=digest, realm=bed.stack.units.realm)
    other.get(f"{bed.url}/ui/approvals/{approval}")
    assert not other.find_elements(By.ID, "approve"), "a released plan offers no approval"
