"""Granting and revoking application role groups (cấp, thu hồi quyền phần mềm nghiệp vụ), within scope.

A grant request names a person, an application and a role group — never a unit: the unit comes from the
directory (or from the leadership exception that made an ineligible person grantable), so a caller cannot
smuggle a unit into their scope. Every grant and revocation is written with its ledger row and a membership
job (``grant_jobs``) in one transaction; the lock scheduler's worker applies the job to Keycloak (joins or leaves
``/apps/<application>/<role group>``), so a grant reaches Keycloak even if the bridge restarts in between
(docs/decisions/0403).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from sqlalchemy import Row, Select, bindparam, select
from sqlalchemy.orm import Session

from bridge.adapters.directory.lookup import normalise_email
from bridge.adapters.store import ledger
from bridge.adapters.store.job_columns import DONE, PENDING
from bridge.adapters.store.models import Administrator, ApprovalRequest, Grant, GrantJob
from bridge.domain.catalogue import role_group_path
from bridge.domain.policy import Action, Actor, ApprovalKind, Target
from bridge.domain.rules import Rule
from bridge.errors import Conflict, InvalidInput
from bridge.services import approvals
from bridge.services.context import GovContext, Refused, not_found, require, require_role
from bridge.services.persons import find_person

#: ``not_before`` of a job that never failed (due at once).
NO_BACKOFF = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
JOIN, LEAVE = "join", "leave"
#: Result of a membership job whose change was made in Keycloak itself (the console), not by the worker.
IN_KEYCLOAK = "in-keycloak"
#: The job of an approved exception account's grant: create the local account, then join (exception_accounts).
ACCOUNT = "account"


def enqueue_membership(session: Session, *, grant: Grant, kind: str, made_in_keycloak: bool = False) -> GrantJob:
    """Ask the worker to make Keycloak's membership of ``grant``'s role group match the store (join/leave).

    ``made_in_keycloak``: the membership change was made in Keycloak itself (an administrator's console change,
    proven by its admin event), so there is nothing left to apply: the job is written done (result
    ``in-keycloak``), keeping the record of every membership change in one table without the worker re-applying
    it (decision 0501: during a console burst those re-applications were most of the worker's CPU).
    """
    now = dt.datetime.now(dt.UTC)
    job = GrantJob(
        grant_id=grant.id, kind=kind, email=grant.email, path=role_group_path(grant.application, grant.role_group),
        state=DONE if made_in_keycloak else PENDING, attempts=0, not_before=NO_BACKOFF, created_at=now,
        done_at=now if made_in_keycloak else None, result=IN_KEYCLOAK if made_in_keycloak else None,
    )  # fmt: skip
    session.add(job)
    return job


def exception_subject(*, email: str, unit_code: str, application: str, role_group: str) -> dict[str, Any]:
    """What a leadership exception approves: exactly this role group for this person in this unit."""
    return {
        "email": normalise_email(email),
        "unit_code": unit_code,
        "application": application,
        "role_group": role_group,
    }


def request_exception(
    session: Session,
    *,
    ctx: GovContext,
    actor: Actor,
    email: str,
    unit_code: str,
    application: str,
    role_group: str,
    reason: str,
    account: dict[str, Any] | None = None,
) -> ApprovalRequest:
    """Ask leadership to allow a grant to a person who is not eligible (ngoại lệ, Quy chế 2366 Điều 6).

    ``account`` (full name, end date) asks for the account itself too: approved, it is created in Keycloak
    (:mod:`bridge.services.exception_accounts`); it is part of what the approver sees and approves."""
    require_role(ctx, actor, Action.GRANT, target=f"person:{email}")
    level = ctx.catalogue.role_level(application, role_group)
    ctx.units.require(unit_code, ctx.on_date)
    target = Target(email=normalise_email(email), unit_code=unit_code, role_level=level)
    decision = ctx.decide(actor, Action.GRANT, target)
    visible = ctx.decide(actor, Action.VIEW, target).allowed
    require(decision, target=f"unit:{unit_code}", visible=visible, kind="unit", key=unit_code, field="unit_code")
    subject = exception_subject(email=email, unit_code=unit_code, application=application, role_group=role_group)
    subject["reason"] = reason
    subject.update(account or {})
    return approvals.request_approval(
        session,
        kind=ApprovalKind.EXCEPTION.value,
        subject=subject,
        requested_by=actor.email,
        unit_code=unit_code,
        rule=decision.rule,
    )


def _exception_unit(session: Session, *, approval_id: int, email: str, application: str, role_group: str) -> str:
    request = session.get(ApprovalRequest, approval_id)
    if request is None or request.kind != ApprovalKind.EXCEPTION.value:
        raise InvalidInput(f"no exception approval {approval_id}", field="exception_id")
    subject = dict(request.subject)
    if {k: subject.get(k) for k in ("email", "application", "role_group")} != {
        "email": normalise_email(email),
        "application": application,
        "role_group": role_group,
    }:
        raise InvalidInput(f"exception {approval_id} approves another grant", field="exception_id")
    if not approvals.is_approved(session, kind=request.kind, subject=subject, approval_id=approval_id):
        raise Conflict(f"exception {approval_id} is {request.status}, not approved", field="exception_id")
    return str(subject["unit_code"])


def request_grant(
    session: Session,
    *,
    ctx: GovContext,
    actor: Actor,
    email: str,
    application: str,
    role_group: str,
    request_ref: str | None = None,
    exception_id: int | None = None,
    origin: dict[str, Any] | None = None,
    made_in_keycloak: bool = False,
    job_kind: str = JOIN,
) -> Grant:
    """Grant a role group to an eligible person in the actor's scope (or one covered by an exception).

    ``origin`` (e.g. the console event a grant was made by) is added to the ledger row's detail;
    ``made_in_keycloak``: the membership already exists in Keycloak (a console change), no job to work.
    """
    email = normalise_email(email)
    require_role(ctx, actor, Action.GRANT, target=f"person:{email}")
    level = ctx.catalogue.role_level(application, role_group)
    person = find_person(session, ctx=ctx, email=email)
    if exception_id is not None:
        unit_code = _exception_unit(
            session, approval_id=exception_id, email=email, application=application, role_group=role_group
        )
    elif person is None:
        raise not_found("person", email, rule=Rule.E1_UNKNOWN_PERSON, field="email")
    else:
        unit_code = person.unit_code
    target = Target(
        email=email,
        unit_code=unit_code,
        administrator=bool(person and person.administrator),
        role_level=level,
    )
    decision = ctx.decide(actor, Action.GRANT, target)
    visible = ctx.decide(actor, Action.VIEW, target).allowed
    require(decision, target=f"person:{email}", visible=visible, kind="person", key=email, field="email")
    if exception_id is None and person is not None and not person.eligible:
        raise Refused(
            f"{email} không còn hoạt động trong danh bạ; cần ngoại lệ được Lãnh đạo Ngành phê duyệt / "
            f"not active in the directory: needs a leadership-approved exception ({Rule.E2_NOT_ELIGIBLE})",
            rule=Rule.E2_NOT_ELIGIBLE,
            target=f"person:{email}",
            field="email",
        )
    if session.scalars(_active(email, application, role_group)).first() is not None:
        raise Conflict(
            f"{email} đã có nhóm quyền {application}/{role_group} / already holds {application}/{role_group}",
            field="role_group",
        )
    grant = Grant(
        email=email,
        application=application,
        role_group=role_group,
        unit_code=unit_code,
        granted_by=actor.email,
        granted_at=dt.datetime.now(dt.UTC),
        request_id=request_ref or uuid.uuid4().hex,
        approval_id=exception_id,
    )
    session.add(grant)
    session.flush()
    basis = "exception" if exception_id is not None else (person.source if person else "exception")
    ledger.append(
        session, actor=actor.email, action="grant", target=f"person:{email}", outcome="allowed",
        rule=decision.rule,
        detail={"grant": grant.id, "application": application, "role_group": role_group, "unit": unit_code,
                "basis": basis, "request_id": grant.request_id, "exception_id": exception_id, **(origin or {})},
    )  # fmt: skip
    enqueue_membership(session, grant=grant, kind=job_kind, made_in_keycloak=made_in_keycloak)
    return grant


def _active(email: str, application: str, role_group: str) -> Any:
    return select(Grant).where(
        Grant.email == email,
        Grant.application == application,
        Grant.role_group == role_group,
        Grant.revoked_at.is_(None),
    )


def get_grant(session: Session, *, ctx: GovContext, actor: Actor, grant_id: int) -> Grant:
    """A grant the actor may see; missing and out-of-scope answer alike (404)."""
    grant = session.get(Grant, grant_id)
    if grant is None:
        raise not_found("grant", grant_id, rule=Rule.E3_UNKNOWN_GRANT, field="grant_id")
    target = Target(email=grant.email, unit_code=grant.unit_code)
    require(
        ctx.decide(actor, Action.VIEW, target),
        target=f"grant:{grant_id}", visible=False, kind="grant", key=grant_id, field="grant_id",
    )  # fmt: skip
    return grant


def revoke_grant(
    session: Session,
    *,
    ctx: GovContext,
    actor: Actor,
    grant_id: int,
    origin: dict[str, Any] | None = None,
    made_in_keycloak: bool = False,
) -> Grant:
    """Revoke a grant in the actor's scope (thu hồi quyền); ``origin`` is added to the ledger row's detail;
    ``made_in_keycloak``: the membership was already removed in Keycloak (a console change)."""
    require_role(ctx, actor, Action.REVOKE, target=f"grant:{grant_id}")
    grant = get_grant(session, ctx=ctx, actor=actor, grant_id=grant_id)
    administrator = session.get(Administrator, grant.email) is not None
    level = ctx.catalogue.role_level(grant.application, grant.role_group)
    target = Target(email=grant.email, unit_code=grant.unit_code, administrator=administrator, role_level=level)
    decision = ctx.decide(actor, Action.REVOKE, target)
    require(decision, target=f"grant:{grant_id}", visible=True, kind="grant", key=grant_id, field="grant_id")
    if grant.revoked_at is not None:
        raise Conflict(f"quyền {grant_id} đã bị thu hồi / grant {grant_id} was already revoked", field="grant_id")
    grant.revoked_at = dt.datetime.now(dt.UTC)
    grant.revoked_by = actor.email
    ledger.append(
        session, actor=actor.email, action="revoke", target=f"person:{grant.email}", outcome="allowed",
        rule=decision.rule,
        detail={"grant": grant.id, "application": grant.application, "role_group": grant.role_group,
                "unit": grant.unit_code, **(origin or {})},
    )  # fmt: skip
    enqueue_membership(session, grant=grant, kind=LEAVE, made_in_keycloak=made_in_keycloak)
    return grant


@lru_cache(maxsize=16)
def _list_statement(*, own: bool, scoped: bool, active_only: bool, by_application: bool) -> Select[Any]:
    """The list query of one shape, built once: only bound parameters vary between requests."""
    query = select(*Grant.__table__.c)
    if own:
        query = query.where(Grant.email == bindparam("email"))
    elif scoped:
        query = query.where(Grant.unit_code.in_(bindparam("units", expanding=True)))
    if active_only:
        query = query.where(Grant.revoked_at.is_(None))
    if by_application:
        query = query.where(Grant.application == bindparam("application"))
    return query.order_by(Grant.id.desc()).limit(bindparam("limit")).offset(bindparam("offset"))


def list_grants(
    session: Session,
    *,
    ctx: GovContext,
    actor: Actor,
    active_only: bool = True,
    application: str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> Sequence[Row[Any]]:
    """Grants of units in the actor's scope (staff: their own), newest first, as plain rows."""
    # Core rows on the session's connection (no ORM loading, no identity map) from a statement built once.
    params: dict[str, Any] = {"limit": limit, "offset": offset}
    scope: frozenset[str] | None = None
    if actor.role is None:
        params["email"] = actor.email
    else:
        scope = ctx.units_in_scope(actor)
        if scope is not None:
            params["units"] = sorted(scope)
    if application is not None:
        params["application"] = application
    query = _list_statement(
        own=actor.role is None,
        scoped=scope is not None,
        active_only=active_only,
        by_application=application is not None,
    )
    return session.connection().execute(query, params).all()
