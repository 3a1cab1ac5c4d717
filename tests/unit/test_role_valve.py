"""Mass removals of role groups count in the safety valve (issue 15 part 2, docs/decisions/0703).

Revocations reach Keycloak as pending ``leave`` membership jobs; when one unit's would take more than the
configured share of its role-group memberships, the worker claims none of them (joins and other units'
removals proceed) until two central administrators release exactly that set. On a migrated SQLite store, the
claim of the real worker class; no Keycloak call is made by a claim.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bridge.adapters.store import migrate
from bridge.adapters.store.job_columns import PENDING
from bridge.adapters.store.models import Administrator, ApprovalRequest, Grant, GrantJob, LedgerEntry
from bridge.adapters.store.session import session_factory, transaction
from bridge.domain.catalogue import role_group_path
from bridge.domain.sync.safety import role_removal_reasons
from bridge.domain.units import UnitTree
from bridge.services import role_valve
from bridge.services.grant_jobs import MembershipJobs, RoleValve
from bridge.services.grants import NO_BACKOFF
from bridge.services.sync import valve
from bridge.settings import SyncSettings

LIMITS = SyncSettings(max_unit_disable_share=0.5, min_unit_size_for_share=10)
NOW = dt.datetime(2026, 11, 20, 3, 0, tzinfo=dt.UTC)
CENTRAL = ("quantri1@vss.gov.vn", "quantri2@vss.gov.vn")


def test_a_unit_losing_more_than_its_share_of_role_groups_halts() -> None:
    assert role_removal_reasons({"01001": 6}, {"01001": 10}, LIMITS) == [
        "unit 01001: 6/10 role-group memberships to remove > limit 50%"
    ]
    assert role_removal_reasons({"01001": 5}, {"01001": 10}, LIMITS) == []  # exactly the share: allowed
    assert role_removal_reasons({"01001": 9}, {"01001": 9}, LIMITS) == []  # too small to judge by share


@pytest.fixture()
def factory(tmp_path: Path) -> sessionmaker[Session]:
    url = f"sqlite:///{tmp_path / 'store.sqlite3'}"
    migrate.upgrade(url=url)
    made = session_factory(url)
    with transaction(made) as session:
        for email in CENTRAL:
            session.add(Administrator(email=email, role="it_center_admin", unit_code="00012",
                                      appointed_by="bootstrap", appointed_at=NOW))  # fmt: skip
    return made


def grant(session: Session, email: str, unit: str, *, leave: bool) -> None:
    row = Grant(email=email, application="TST", role_group="operator", unit_code=unit, granted_by=CENTRAL[0],
                granted_at=NOW, request_id=f"r-{email}", applied_at=NOW,
                revoked_at=NOW if leave else None, revoked_by=CENTRAL[0] if leave else None)  # fmt: skip
    session.add(row)
    session.flush()
    kind = "leave" if leave else "join"
    session.add(GrantJob(grant_id=row.id, kind=kind, email=email, path=role_group_path("TST", "operator"),
                         state=PENDING, attempts=0, not_before=NO_BACKOFF, created_at=NOW))  # fmt: skip


def test_mass_removal_of_one_unit_is_held_until_two_central_administrators_release_it(
    factory: sessionmaker[Session], units: UnitTree
) -> None:
    with transaction(factory) as session:
        for i in range(12):  # Ba Đình: 12 memberships, 8 revoked at once (67 % > 50 %)
            grant(session, f"nv{i}@hanoi.vss.gov.vn", "01001", leave=i < 8)
        for i in range(12):  # another unit: 2 of 12 revoked, below the share
            grant(session, f"nv{i}@hcm.vss.gov.vn", "79001", leave=i < 2)
    jobs = MembershipJobs(factory=factory, locks=None, clock=lambda: NOW, worker_id="t",  # type: ignore[arg-type]
                          lease=dt.timedelta(minutes=2), valve=RoleValve(LIMITS, "00012"))  # fmt: skip
    claimed = jobs.claim(limit=100)
    kinds = sorted((c.kind, c.email.split("@")[1]) for c in claimed)
    assert ("leave", "hanoi.vss.gov.vn") not in kinds  # held: not one of the unit's removals
    assert kinds.count(("join", "hanoi.vss.gov.vn")) == 4 and kinds.count(("leave", "hcm.vss.gov.vn")) == 2
    with transaction(factory) as session:
        verdict = role_valve.judge(session, limits=LIMITS)
        assert verdict.held_units == {"01001"} and verdict.reasons == (
            "unit 01001: 8/12 role-group memberships to remove > limit 50%",
        )
        [request] = session.scalars(select(ApprovalRequest)).all()
        assert request.subject == valve.valve_subject(verdict.digest, role_valve.ROLE_GROUPS)
        halted = session.scalars(select(LedgerEntry).where(LedgerEntry.action == "sync.halted")).all()
        assert [(r.target, r.detail["disables"]) for r in halted] == [(f"plan:{verdict.digest}", 8)]
    assert jobs.claim(limit=100) == []  # still held, and the request is not filed twice
    with transaction(factory) as session:
        assert len(session.scalars(select(ApprovalRequest)).all()) == 1
        for approver in CENTRAL:
            valve.approve_release(session, digest=verdict.digest, realm=role_valve.ROLE_GROUPS, approver=approver,
                                  units=units, day=NOW.date(), it_center_unit="00012")  # fmt: skip
    released = jobs.claim(limit=100)
    assert sorted(c.email for c in released) == sorted(f"nv{i}@hanoi.vss.gov.vn" for i in range(8))
    assert {c.kind for c in released} == {"leave"}
