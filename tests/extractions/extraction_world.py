"""A small named world for the data-extraction tests: Hà Nội's administrator and its leadership, BHXH Việt Nam's
leadership (Lãnh đạo Ngành, unit 00000), the IT Center, and TP HCM's administrator, appointed through the
governance services."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy.orm import Session

from bridge.adapters.directory.lookup import DirectoryPerson, SnapshotDirectory
from bridge.clock import today_vn
from bridge.domain.policy import AdminRole
from bridge.domain.role_levels import Catalogue
from bridge.domain.units import UnitTree
from bridge.services import persons
from bridge.services.context import GovContext, load_actor

DAY = today_vn()
IT = "qt.cntt@vss.gov.vn"
HN = "qt.hanoi@hanoi.vss.gov.vn"
HN_LEAD = "giamdoc@hanoi.vss.gov.vn"
VSS_LEAD = "lanhdao.nganh@vss.gov.vn"
HCM = "qt.hcm@hcm.vss.gov.vn"

DIRECTORY = SnapshotDirectory(
    [
        DirectoryPerson(IT, "Nguyễn Văn Tâm", "00012"),
        DirectoryPerson(HN, "Trần Thị Hà", "01000"),
        DirectoryPerson(HN_LEAD, "Phạm Văn Giám", "01000"),
        DirectoryPerson(VSS_LEAD, "Lê Minh Ngành", "00000"),
        DirectoryPerson(HCM, "Lê Văn Hùng", "79000"),
    ]
)


def seed(session: Session, *, units: UnitTree, catalogue: Catalogue) -> None:
    """The administrators and the two leaderships."""
    ctx = GovContext(units, catalogue, DIRECTORY, DAY)
    persons.appoint_administrator(session, ctx=ctx, actor=None, email=IT, role=AdminRole.IT_CENTER_ADMIN,
                                  unit_code="00012")  # fmt: skip
    it = load_actor(session, email=IT)
    appointed = (
        (HN, AdminRole.PROVINCE_ADMIN, "01000"),
        (HCM, AdminRole.PROVINCE_ADMIN, "79000"),
        (HN_LEAD, AdminRole.LEADERSHIP, "01000"),
        (VSS_LEAD, AdminRole.LEADERSHIP, "00000"),
    )
    for email, role, unit in appointed:
        persons.appoint_administrator(session, ctx=ctx, actor=it, email=email, role=role, unit_code=unit)


def request_body(**changes: Any) -> dict[str, Any]:
    """A complete request of Hà Nội for insured people's data, in the API's JSON."""
    body: dict[str, Any] = {
        "unit_code": "01000",
        "letter_number": "1234/BHXH-QLT",
        "letter_date": (DAY - dt.timedelta(days=3)).isoformat(),
        "purpose": "Đối soát danh sách người tham gia BHXH tự nguyện với Sở Y tế",
        "data_scope": [
            {
                "system": "TST",
                "tables": ["nguoi_tham_gia", "qua_trinh_dong"],
                "fields": ["ma_so_bhxh", "ho_ten", "ngay_sinh", "muc_dong"],
            }
        ],
        "period_from": "2025-01-01",
        "period_to": "2025-12-31",
        "format": "xlsx",
        "recipients": ["Sở Y tế thành phố Hà Nội"],
        "legal_basis": "Quy chế 2366/QĐ-BHXH; Công văn 907/BHXH-CNTT",
        "retention_until": (DAY + dt.timedelta(days=90)).isoformat(),
    }
    body.update(changes)
    return body
