"""The safety valve for mass removals of role groups (issue 15 part 2): revocations waiting to reach Keycloak
that would take more than the configured share of one unit's role-group memberships are held, like a sync run's
disables, until two central administrators release exactly that set.

A revocation reaches Keycloak as a ``leave`` membership job (:mod:`bridge.services.grant_jobs`); the pending
ones are the plan. Per unit (the grant's unit), the removals are compared with the memberships the unit holds
in Keycloak (grants applied and not yet removed) by :func:`bridge.domain.sync.safety.role_removal_reasons`.
A held unit's removals stay pending — nothing is partially removed — and one release request per held set
(its hash) is filed with the IT Center through the sync valve's approvals (realm ``role-groups``): released
with ``bridge sync approve <hash> --realm role-groups`` by two central administrators. Joins are never held.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bridge.adapters.store import ledger
from bridge.adapters.store.job_columns import PENDING
from bridge.adapters.store.models import Grant, GrantJob
from bridge.domain.sync.safety import Verdict, role_removal_reasons
from bridge.services.sync import valve
from bridge.settings import SyncSettings

#: The approval "realm" of a role-group removal release (the sync valve's approvals, kept apart by name).
ROLE_GROUPS = "role-groups"
LEAVE = "leave"


@dataclass(frozen=True)
class RoleValveVerdict:
    """Which units' pending removals are held, why, and the hash two administrators release."""

    held_units: frozenset[str]
    reasons: tuple[str, ...] = ()
    digest: str = ""
    removals_by_unit: dict[str, int] | None = None


def judge(session: Session, *, limits: SyncSettings) -> RoleValveVerdict:
    """The pending role-group removals judged per unit (reads only)."""
    pending = session.execute(
        select(Grant.unit_code, GrantJob.id)
        .join(Grant, Grant.id == GrantJob.grant_id)
        .where(GrantJob.kind == LEAVE, GrantJob.state == PENDING)
    ).all()
    if not pending:
        return RoleValveVerdict(frozenset())
    removals = Counter(str(unit) for unit, _ in pending)
    members = dict(
        session.execute(
            select(Grant.unit_code, func.count(Grant.id))
            .where(Grant.unit_code.in_(removals), Grant.applied_at.is_not(None), Grant.removed_at.is_(None))
            .group_by(Grant.unit_code)
        ).all()
    )
    reasons = role_removal_reasons(removals, {str(k): int(v) for k, v in members.items()}, limits)
    if not reasons:
        return RoleValveVerdict(frozenset())
    held = frozenset(r.split(":", 1)[0].removeprefix("unit ") for r in reasons)
    jobs = sorted(job_id for unit, job_id in pending if unit in held)
    digest = ledger.sha256_hex({"kind": "role-group-removals", "jobs": jobs})
    return RoleValveVerdict(held, tuple(reasons), digest, dict(removals))


def held_units(session: Session, *, limits: SyncSettings, it_center_unit: str) -> frozenset[str]:
    """Units whose pending removals must wait; files the release request (once per held set, ledgered)."""
    verdict = judge(session, limits=limits)
    if not verdict.held_units or valve.is_released(session, digest=verdict.digest, realm=ROLE_GROUPS):
        return frozenset()
    disables = sum((verdict.removals_by_unit or {}).get(u, 0) for u in verdict.held_units)
    valve.request_release(
        session, digest=verdict.digest, realm=ROLE_GROUPS, it_center_unit=it_center_unit,
        verdict=Verdict(True, verdict.reasons, disables),
    )  # fmt: skip
    return verdict.held_units
