"""A quarter of real activity (report_world) → the quarterly report, the IT Center workbook and the review.

The report is checked row by row against what happened and its totals against the ledger; the workbook is read
back with openpyxl; the review must find exactly the planted problems.
"""

from __future__ import annotations

import io
import os
import zipfile
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook
from sqlalchemy import select

from bridge.adapters.keycloak.admin import KeycloakAdmin
from bridge.adapters.store.models import LedgerEntry
from bridge.adapters.store.report_models import LoginEvent
from bridge.adapters.store.session import transaction
from bridge.clock import format_vn
from bridge.domain.reports import labels
from bridge.errors import NotFound
from bridge.interfaces.api.app import create_app
from bridge.interfaces.api.auth import TokenValidator
from bridge.interfaces.api.routes.reports import get_review_reader
from bridge.services.context import load_actor
from bridge.services.reports import render
from bridge.services.reports.build import build_unit_report, utc_bounds
from bridge.services.reports.keycloak_reader import ingest_logins, keycloak_reader
from bridge.services.reports.review import FindingKind, review_unit
from bridge.services.reports.submissions import submit_report
from bridge.services.reports.summary import build_it_center_quarter
from bridge.settings import PROJECT_ROOT
from bridge.testbed.directory_gen import password_for
from bridge.testbed.relying_party import RelyingParty
from bridge.testbed.stack import Stack
from tests.api_overrides import fix_day
from tests.integration.report_world import PROVINCE, World, build_world

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def world(
    stack: Stack, admin: KeycloakAdmin, bridge_admin: KeycloakAdmin, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[World]:
    yield build_world(stack, admin, bridge_admin, tmp_path_factory.mktemp("report-world"))


def _lines(report_rows: list) -> set[tuple[int, str, str, str, str, object]]:  # type: ignore[type-arg]
    return {(r.section, r.email, r.application, r.role_group, r.reason, r.day) for r in report_rows}


def test_first_report_lists_every_account_then_the_quarter_report_matches_what_happened_row_by_row(
    world: World,
) -> None:
    with world.factory() as s:
        boss = load_actor(s, email=world.admin.mail)
        first = build_unit_report(s, ctx=world.ctx, actor=boss, unit_code=PROVINCE, quarter=str(world.quarter))
    assert first.first_report
    # every grant the unit holds or held this quarter; a reinstatement is listed through its grant, once
    assert sorted((r.email, r.application, r.role_group) for r in first.added) == sorted(world.grant_ids)

    with transaction(world.factory) as s:
        done = submit_report(s, ctx=world.ctx, actor=load_actor(s, email=world.admin.mail), unit_code=PROVINCE,
                             quarter=str(world.quarter.previous()))  # fmt: skip
    assert done.late == (world.today > world.quarter.previous().due_date)
    with world.factory() as s:
        report = build_unit_report(s, ctx=world.ctx, actor=load_actor(s, email=world.admin.mail),
                                   unit_code=PROVINCE, quarter=str(world.quarter))  # fmt: skip
    assert not report.first_report
    assert _lines(report.removed) == {e for e in world.expected if e[0] == 1}
    assert _lines(report.added) == {e for e in world.expected if e[0] == 2}
    assert len(report.removed) + len(report.added) == len(world.expected)
    for row in report.removed + report.added:
        person = world.ctx.directory.find(row.email)
        assert person is not None
        assert (row.full_name, row.title, row.unit_code) == (person.full_name, person.title, person.unit_code)
        assert row.unit_name == world.ctx.units.require(person.unit_code, world.today).name
        assert row.application_name.endswith(f"({row.application})")
    assert report.removed == sorted(report.removed, key=lambda r: r.sort_key())
    notes = {r.email: r.note for r in report.removed}
    assert notes[world.staff[1].mail] == f"QĐ số QD31-1/QĐ-BHXH ngày {format_vn(world.decided)}"


def test_report_totals_match_the_ledger(world: World) -> None:
    start, end = utc_bounds(world.quarter)
    with world.factory() as s:
        report = build_unit_report(s, ctx=world.ctx, actor=load_actor(s, email=world.it.mail),
                                   unit_code=PROVINCE, quarter=str(world.quarter))  # fmt: skip
        rows = s.execute(
            select(LedgerEntry.action, LedgerEntry.detail).where(
                LedgerEntry.action.in_(("grant", "revoke", "lock", "unlock")),
                LedgerEntry.at >= start,
                LedgerEntry.at < end,
            )
        ).all()
    per_action = Counter(
        action for action, detail in rows
        if world.ctx.units.province_of(detail.get("unit") or detail.get("unit_code"), world.today).code == PROVINCE
    )  # fmt: skip
    reasons = Counter(r.reason for r in report.added)
    assert reasons["Cấp mới"] == per_action["grant"]
    assert sum(v for k, v in reasons.items() if k.startswith("Mở khóa")) == per_action["unlock"]
    assert len(report.removed) == per_action["lock"] + per_action["revoke"]
    assert report.totals()["removed"] == len(report.removed) and report.totals()["added"] == len(report.added)


def test_workbook_reads_back_with_openpyxl_and_renders_identically(world: World) -> None:
    with world.factory() as s:
        report = build_unit_report(s, ctx=world.ctx, actor=load_actor(s, email=world.admin.mail),
                                   unit_code=PROVINCE, quarter=str(world.quarter),
                                   signer="Nguyễn Văn Ký — Giám đốc")  # fmt: skip
    data = render.report_xlsx(report)
    assert data == render.report_xlsx(report), "same report, same bytes"
    if os.environ.get("BRIDGE_REPORT_SAMPLE"):
        Path(os.environ["BRIDGE_REPORT_SAMPLE"]).write_bytes(data)
    sheet = load_workbook(io.BytesIO(data))[PROVINCE]
    values = [[c for c in row] for row in sheet.iter_rows(values_only=True)]
    text = "\n".join(str(v) for row in values for v in row if v is not None)
    assert f"Bảo hiểm xã hội thành phố Hải Phòng (mã {PROVINCE})" in text
    assert world.quarter.label_vi in text and f"Ngày lập báo cáo: {format_vn(world.today)}" in text
    assert "Nguyễn Văn Ký — Giám đốc" in text
    headers = [i for i, row in enumerate(values) if row[0] == "STT"]
    assert len(headers) == 2 and list(values[headers[0]]) == [name for _, name in labels.COLUMNS]
    data_rows = [row for row in values if isinstance(row[0], int)]
    expected = [r.cells(i) for i, r in enumerate(report.removed, 1)] + [
        r.cells(i) for i, r in enumerate(report.added, 1)
    ]
    assert [list(row[:10]) for row in data_rows] == [[c if c != "" else None for c in e] for e in expected]
    csv_lines = render.report_csv(report).splitlines()
    assert len(csv_lines) == 1 + len(expected)
    assert render.report_json(report)["totals"] == report.totals()


def test_review_finds_the_planted_problems_and_only_in_scope(world: World, bridge_admin: KeycloakAdmin) -> None:
    p1, p2, _p3, p4, p5 = world.staff
    with transaction(world.factory) as s:
        findings = review_unit(s, ctx=world.ctx, actor=load_actor(s, email=world.admin.mail), unit_code=PROVINCE,
                               read_facts=keycloak_reader(bridge_admin), unused_days=0)  # fmt: skip
    got = {(f.kind, f.email) for f in findings}
    if world.back_day > world.today:  # the quarter began today: p2 came back "tomorrow", so is still held today
        got.discard((FindingKind.LOCKED_BUT_ENABLED, p2.mail))
    assert got == {
        (FindingKind.LOCKED_BUT_ENABLED, p4.mail),
        (FindingKind.UNUSED, p2.mail),
        (FindingKind.UNUSED, p4.mail),
        (FindingKind.UNUSED, p5.mail),
        (FindingKind.MEMBERSHIP_WITHOUT_GRANT, p5.mail),
        (FindingKind.CONCURRENT_SESSIONS, p1.mail),
        (FindingKind.ADMIN_WITHOUT_SECOND_FACTOR, world.admin.mail),
    }
    concurrent = next(f for f in findings if f.kind is FindingKind.CONCURRENT_SESSIONS)
    assert concurrent.detail == "127.0.0.1, 127.0.0.2"
    with transaction(world.factory) as s:
        central = review_unit(s, ctx=world.ctx, actor=load_actor(s, email=world.it.mail), unit_code="00012",
                              read_facts=keycloak_reader(bridge_admin), unused_days=0)  # fmt: skip
    assert (FindingKind.ABSENT_FROM_DIRECTORY, world.ghost) in {(f.kind, f.email) for f in central}
    assert (FindingKind.ADMIN_WITHOUT_SECOND_FACTOR, world.it.mail) in {(f.kind, f.email) for f in central}
    assert not {f.email for f in central} & {p.mail for p in world.staff}
    with world.factory() as s, pytest.raises(NotFound):
        review_unit(s, ctx=world.ctx, actor=load_actor(s, email=world.admin.mail), unit_code="01000",
                    read_facts=keycloak_reader(bridge_admin))  # fmt: skip


def test_review_lists_the_administrator_without_a_second_factor_and_not_the_one_who_set_up_totp(
    world: World, bridge_admin: KeycloakAdmin
) -> None:
    def credential_types(email: str) -> set[str]:
        [user] = bridge_admin.get("users", email=email, exact="true")
        return {c["type"] for c in bridge_admin.get(f"users/{user['id']}/credentials")}

    assert "otp" in credential_types(world.deputy.mail), "the deputy set up an authenticator on the real page"
    assert "otp" not in credential_types(world.admin.mail)
    with transaction(world.factory) as s:
        findings = review_unit(s, ctx=world.ctx, actor=load_actor(s, email=world.deputy.mail), unit_code=PROVINCE,
                               read_facts=keycloak_reader(bridge_admin), unused_days=0)  # fmt: skip
    without = {f.email for f in findings if f.kind is FindingKind.ADMIN_WITHOUT_SECOND_FACTOR}
    assert world.admin.mail in without
    assert world.deputy.mail not in without


def test_login_events_outlive_keycloak_expiry(world: World, admin: KeycloakAdmin, bridge_admin: KeycloakAdmin) -> None:
    assert world.login_events_stored >= 3
    admin.delete("events")  # what Keycloak's expiry does after 90 days
    assert bridge_admin.get("events", type="LOGIN") == []
    with transaction(world.factory) as s:
        assert ingest_logins(s, ctx=world.ctx, actor=None, admin=bridge_admin) == 0
        stored = {e.username for e in s.scalars(select(LoginEvent))}
    assert {world.staff[0].mail, world.staff[2].mail} <= stored
    with transaction(world.factory) as s:
        findings = review_unit(s, ctx=world.ctx, actor=load_actor(s, email=world.admin.mail), unit_code=PROVINCE,
                               read_facts=keycloak_reader(bridge_admin), unused_days=0)  # fmt: skip
    unused = {f.email for f in findings if f.kind is FindingKind.UNUSED}
    assert world.staff[0].mail not in unused and world.staff[2].mail not in unused


def test_it_center_workbook_has_a_summary_a_chart_and_one_sheet_per_unit(world: World) -> None:
    with world.factory() as s:
        result = build_it_center_quarter(s, ctx=world.ctx, actor=load_actor(s, email=world.it.mail),
                                         quarter=str(world.quarter.previous()))  # fmt: skip
        own = build_unit_report(s, ctx=world.ctx, actor=load_actor(s, email=world.it.mail),
                                unit_code=PROVINCE, quarter=str(world.quarter.previous()))  # fmt: skip
    book = load_workbook(io.BytesIO(result.workbook))
    assert book.sheetnames[0] == "Tổng hợp"
    assert book.sheetnames[1:-1] == [s.unit_code for s in result.statuses]
    assert book.sheetnames[-1] == "Khai thác dữ liệu"  # the data-extraction requests' own sheet (issue 14)
    assert len(book.sheetnames) == 37  # 34 provinces + the IT Center + the summary + data extractions
    summary_rows = list(book["Tổng hợp"].iter_rows(values_only=True))
    status_of = {row[1]: row[3] for row in summary_rows if isinstance(row[0], int)}
    past_due = world.today > world.quarter.previous().due_date
    assert status_of[PROVINCE] == ("Nộp muộn" if past_due else "Đúng hạn")
    assert status_of["79000"] == ("Chưa nộp (quá hạn)" if past_due else "Chưa nộp (chưa đến hạn)")
    late = {s.unit_code for s in result.late_or_missing}
    assert late == ({s.unit_code for s in result.statuses} if past_due else set())
    with zipfile.ZipFile(io.BytesIO(result.workbook)) as z:
        media = [n for n in z.namelist() if n.startswith("xl/media/")]
        assert len(media) == 1 and z.read(media[0]) == result.chart_png
    assert result.chart_png.startswith(b"\x89PNG")
    unit_rows = [r for r in book[PROVINCE].iter_rows(values_only=True) if isinstance(r[0], int)]
    assert len(unit_rows) == len(own.removed) + len(own.added)


def test_review_and_report_routes_answer_with_the_same_findings_and_rows(
    world: World, stack: Stack, bridge_admin: KeycloakAdmin
) -> None:
    issuer = f"{stack.settings.keycloak.url}/realms/{stack.units.realm}"
    validator = TokenValidator(
        issuer=issuer, audience="bhxh-bridge-api", jwks_url=f"{issuer}/protocol/openid-connect/certs"
    )
    ui = RelyingParty(issuer=issuer, client_id="bhxh-bridge-ui",
                      client_secret=stack.settings.ui.client_secret.get_secret_value(),
                      redirect_uri="http://127.0.0.1:8000/ui/callback")  # fmt: skip
    token = ui.login(world.admin.mail, password_for(world.admin.employee_number)).tokens["access_token"]
    app = create_app(factory=world.factory, directory=world.ctx.directory, validator=validator,
                     config_dir=PROJECT_ROOT / "keycloak-config")  # fmt: skip
    app.dependency_overrides[get_review_reader] = lambda: keycloak_reader(bridge_admin)
    fix_day(app, world.today)
    with TestClient(app) as client:
        auth = {"Authorization": f"Bearer {token}"}
        review = client.get(f"/reviews/{PROVINCE}?unused_days=0", headers=auth)
        report = client.get(f"/reports/{PROVINCE}/{world.quarter}", headers=auth)
        refused = client.get("/reviews/79000", headers=auth)
        bad = client.get(f"/reviews/{PROVINCE}?unused_days=-1", headers=auth)
    assert review.status_code == 200, review.text
    kinds = {(f["kind"], f["email"]) for f in review.json()}
    assert ("locked_but_enabled", world.staff[3].mail) in kinds
    assert ("concurrent_sessions", world.staff[0].mail) in kinds
    body = report.json()
    lines = {(1, r["email"], r["application_code"], r["role"]) for r in body["section_1"]["rows"]}
    assert lines == {(e[0], e[1], e[2], e[3]) for e in world.expected if e[0] == 1}
    assert refused.status_code == 404 and refused.json()["field"] == "unit"
    assert bad.status_code == 422 and bad.json()["field"] == "unused_days"
