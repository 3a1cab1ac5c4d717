"""A small named world for the lock tests: Hà Nội (01000) and TP HCM (79000) administrators, the IT Center,
staff in both provinces, built through the governance services on a migrated store."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from bridge.adapters.directory.lookup import DirectoryPerson, SnapshotDirectory
from bridge.domain.policy import Actor, AdminRole
from bridge.domain.role_levels import Catalogue
from bridge.domain.units import UnitTree
from bridge.services import persons
from bridge.services.context import GovContext, load_actor

DAY = dt.date(2025, 11, 3)  # a Monday
IT = "it.admin@vss.gov.vn"
HN = "qt.hanoi@hanoi.vss.gov.vn"
HCM = "qt.hcm@hcm.vss.gov.vn"
AN = "an.nv@hanoi.vss.gov.vn"
BINH = "binh.tt@hanoi.vss.gov.vn"
CUONG = "cuong.lv@hcm.vss.gov.vn"

DIRECTORY = SnapshotDirectory(
    [
        DirectoryPerson(IT, "Nguyễn Văn Tâm", "00012"),
        DirectoryPerson(HN, "Trần Thị Hà", "01000"),
        DirectoryPerson(HCM, "Lê Văn Hùng", "79000"),
        DirectoryPerson(AN, "Nguyễn Văn An", "01001"),
        DirectoryPerson(BINH, "Trần Thanh Bình", "01002"),
        DirectoryPerson(CUONG, "Lê Văn Cường", "79001"),
    ]
)


def seed(session: Session, *, units: UnitTree, catalogue: Catalogue) -> None:
    """The IT Center administrator and the two provincial administrators."""
    ctx = GovContext(units, catalogue, DIRECTORY, DAY)
    persons.appoint_administrator(session, ctx=ctx, actor=None, email=IT, role=AdminRole.IT_CENTER_ADMIN,
                                  unit_code="00012")  # fmt: skip
    it = load_actor(session, email=IT)
    for email, unit in ((HN, "01000"), (HCM, "79000")):
        persons.appoint_administrator(session, ctx=ctx, actor=it, email=email, role=AdminRole.PROVINCE_ADMIN,
                                      unit_code=unit)  # fmt: skip


def actor(session: Session, email: str) -> Actor:
    return load_actor(session, email=email)
