"""A small, named world for the API tests: two provinces (A = Hà Nội 01000, B = TP HCM 79000), the IT Center,
leadership, an auditor, staff, a service provider, grants and pending exceptions — built through the services.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy.orm import Session

from bridge.adapters.directory.lookup import DirectoryPerson, SnapshotDirectory
from bridge.domain.policy import AdminRole
from bridge.domain.role_levels import Catalogue
from bridge.domain.units import UnitTree
from bridge.services import grants, persons
from bridge.services.context import GovContext, load_actor

DAY = dt.date(2025, 10, 1)
IT = "it.admin@vss.gov.vn"
HN = "qt.hanoi@hanoi.vss.gov.vn"
HCM = "qt.hcm@hcm.vss.gov.vn"
LEAD = "lanh.dao@vss.gov.vn"
AUDIT = "kiem.toan@vss.gov.vn"
STAFF = "an.nv@hanoi.vss.gov.vn"
PERSON_A = "binh.tt@hanoi.vss.gov.vn"
PERSON_B = "cuong.lv@hcm.vss.gov.vn"
PERSON_CENTRAL = "dung.pt@vss.gov.vn"
PERSON_INACTIVE = "khanh.off@hanoi.vss.gov.vn"
PROVIDER_PERSON = "minh.dv@dv001.com.vn"

#: The world's directory people; the active ones are also real entries of the test bed's slapd (gov_realm.py),
#: so the administrators among them log in through the real realm.
PEOPLE = (
    DirectoryPerson(IT, "Nguyễn Văn Tâm", "00012", title="Chuyên viên"),
    DirectoryPerson(HN, "Trần Thị Hà", "01000", title="Phó Giám đốc"),
    DirectoryPerson(HCM, "Lê Văn Hùng", "79000", title="Trưởng phòng"),
    DirectoryPerson(LEAD, "Phạm Quang Minh", "00000", title="Phó Giám đốc BHXH Việt Nam"),
    DirectoryPerson(AUDIT, "Đỗ Thu Trang", "00006", title="Kiểm toán viên"),
    DirectoryPerson(STAFF, "Nguyễn Văn An", "01001", title="Chuyên viên"),
    DirectoryPerson(PERSON_A, "Trần Thanh Bình", "01002", title="Chuyên viên"),
    DirectoryPerson(PERSON_B, "Lê Văn Cường", "79001", title="Chuyên viên"),
    DirectoryPerson(PERSON_CENTRAL, "Phạm Thị Dung", "00002", title="Chuyên viên"),
    DirectoryPerson(PERSON_INACTIVE, "Hoàng Văn Khánh", "01004", active=False),
)
DIRECTORY = SnapshotDirectory(PEOPLE)


@dataclass(frozen=True)
class World:
    """Ids of the seeded rows."""

    grant_a: int
    grant_b: int
    grant_central: int
    grant_staff: int
    approval_a: int
    approval_b: int
    approval_central: int


def seed(session: Session, *, units: UnitTree, catalogue: Catalogue) -> World:
    """Administrators, a provider person, four grants and three pending exceptions."""
    ctx = GovContext(units, catalogue, DIRECTORY, DAY)
    persons.appoint_administrator(
        session, ctx=ctx, actor=None, email=IT, role=AdminRole.IT_CENTER_ADMIN, unit_code="00012"
    )
    it = load_actor(session, email=IT)
    for email, role, unit in (
        (HN, AdminRole.PROVINCE_ADMIN, "01000"),
        (HCM, AdminRole.PROVINCE_ADMIN, "79000"),
        (LEAD, AdminRole.LEADERSHIP, "00000"),
        (AUDIT, AdminRole.AUDITOR, "00006"),
    ):
        persons.appoint_administrator(session, ctx=ctx, actor=it, email=email, role=role, unit_code=unit)
    persons.register_provider_person(
        session, ctx=ctx, actor=it, email=PROVIDER_PERSON, full_name="Vũ Đức Minh", provider_unit="DV001"
    )
    hn, hcm = load_actor(session, email=HN), load_actor(session, email=HCM)

    def grant(actor_email: str, email: str, app: str = "TST", role: str = "operator") -> int:
        actor = load_actor(session, email=actor_email)
        return grants.request_grant(session, ctx=ctx, actor=actor, email=email, application=app, role_group=role).id

    def exception(actor_email: str, unit: str) -> int:
        actor = load_actor(session, email=actor_email)
        return grants.request_exception(
            session, ctx=ctx, actor=actor, email=f"ngoai.le.{unit}@example.vn", unit_code=unit,
            application="TST", role_group="operator", reason="Cán bộ biệt phái, chưa có trong danh bạ",
        ).id  # fmt: skip

    world = World(
        grant_a=grant(HN, PERSON_A),
        grant_b=grant(HCM, PERSON_B),
        grant_central=grant(IT, PERSON_CENTRAL),
        grant_staff=grant(HN, STAFF, "QLVB", "staff"),
        approval_a=exception(HN, "01002"),
        approval_b=exception(HCM, "79001"),
        approval_central=exception(IT, "00002"),
    )
    assert hn.role is hcm.role is AdminRole.PROVINCE_ADMIN
    return world
