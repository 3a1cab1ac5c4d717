"""Approved outsider accounts (tài khoản ngoại lệ): from a leadership approval to a login, and off on the end date.

Công văn 907 forbids accounts for people outside the official directory unless BHXH leadership approved them.
An administrator asks for such an account (who, which unit and role group, until when, why); leadership approves
it through the one approval mechanism (:mod:`bridge.services.approvals`, rule R14). The approval then sets the
account in motion, in the approver's transaction:
- a grant of the approved role group, made on behalf of the administrator who asked (scope-checked again), whose
  job (kind ``account`` on the one job queue) makes the worker create a *local* Keycloak user — the realm's
  federation takes no registrations — put it into the approved unit group and role group, and ask Keycloak to
  e-mail the person a link to its own "update password" required action (so neither the bridge nor an
  administrator ever knows the password);
- a lock decision with reason ``exception_ended`` due on the end date, which the lock scheduler applies like any
  other lock (disabled, logged out, checked).
The sync leaves these accounts alone (they are not in the directory by definition); the reports and the review
show them as exception accounts with their approval.
"""

from __future__ import annotations

import datetime as dt
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from bridge.adapters.directory.lookup import normalise_email
from bridge.adapters.keycloak.users import acreate_local_user, asend_required_actions, local_user
from bridge.adapters.store import ledger
from bridge.adapters.store.exception_models import ExceptionAccount
from bridge.adapters.store.lock_models import NO_BACKOFF, LockDecision, LockJob
from bridge.adapters.store.models import ApprovalRequest
from bridge.clock import today_vn
from bridge.domain.lock_reasons import LockReason
from bridge.domain.policy import Actor, ApprovalKind
from bridge.errors import Conflict, InvalidInput
from bridge.services import grants
from bridge.services.context import GovContext, load_actor
from bridge.services.locks.decisions import APPLY, ledger_detail
from bridge.services.locks.keycloak_actions import KeycloakLocks
from bridge.services.persons import find_person

ACTOR = "system:exception-accounts"
#: Rule ids of the ledger rows this module writes.
RULE_CREATED = "X1-exception-account-created"
RULE_END_DATE = "X2-exception-account-end-date"
#: What the person does from Keycloak's e-mail: set the password (Keycloak's own required action).
PASSWORD_ACTIONS = ["UPDATE_PASSWORD"]
#: How long the e-mailed link stays valid.
LINK_LIFESPAN_S = 72 * 3600
#: The ledger action of an account created (the quarterly report's "exception account created").
CREATED_ACTION = "exception_account.create"


def split_name(full_name: str) -> tuple[str, str]:
    """(family name, given names) of a Vietnamese full name, family name first (``Nguyễn Văn An``). Pure."""
    words = unicodedata.normalize("NFC", full_name).split()
    return (words[0], " ".join(words[1:]) or words[0]) if words else ("", "")


def request_exception_account(
    session: Session,
    *,
    ctx: GovContext,
    actor: Actor,
    email: str,
    full_name: str,
    unit_code: str,
    application: str,
    role_group: str,
    end_date: dt.date,
    reason: str,
) -> ApprovalRequest:
    """Ask leadership for an account for a person outside the directory, in ``unit_code``, until ``end_date``."""
    email = normalise_email(email)
    full_name = " ".join(unicodedata.normalize("NFC", full_name).split())
    if not full_name:
        raise InvalidInput("thiếu họ và tên / the full name is required", field="full_name")
    if end_date <= ctx.on_date:
        raise InvalidInput(
            f"ngày kết thúc {end_date:%d/%m/%Y} phải sau hôm nay / the end date must be after today", field="end_date"
        )
    person = find_person(session, ctx=ctx, email=email)
    if person is not None and person.eligible:
        raise Conflict(
            f"{email} có trong danh bạ, không cần ngoại lệ / is eligible already: grant it directly", field="email"
        )
    return grants.request_exception(
        session, ctx=ctx, actor=actor, email=email, unit_code=unit_code, application=application,
        role_group=role_group, reason=reason, account={"full_name": full_name, "end_date": end_date.isoformat()},
    )  # fmt: skip


def open_account(session: Session, *, ctx: GovContext, request: ApprovalRequest) -> ExceptionAccount | None:
    """After an approval: the grant (and its ``account`` job) and the end-date lock of an approved exception
    account, in the approver's transaction. None when the request asks for no account (a grant-only exception)."""
    subject = dict(request.subject)
    if request.kind != ApprovalKind.EXCEPTION.value or request.status != "approved" or "end_date" not in subject:
        return None
    existing = session.scalars(select(ExceptionAccount).where(ExceptionAccount.approval_id == request.id)).first()
    if existing is not None:
        return existing
    email, unit_code = normalise_email(str(subject["email"])), str(subject["unit_code"])
    end_date = dt.date.fromisoformat(str(subject["end_date"]))
    requester = load_actor(session, email=request.requested_by)
    grant = grants.request_grant(
        session, ctx=ctx, actor=requester, email=email, application=str(subject["application"]),
        role_group=str(subject["role_group"]), exception_id=request.id, job_kind=grants.ACCOUNT,
        request_ref=f"exception:{request.id}", origin={"exception_account": True},
    )  # fmt: skip
    now = dt.datetime.now(dt.UTC)
    decision = LockDecision(
        email=email, unit_code=unit_code, reason_code=LockReason.EXCEPTION_ENDED.value, decision_number=None,
        decision_date=ctx.on_date, effective_date=end_date, end_date=None, requested_by=request.requested_by,
        requested_at=now, source=f"exception:{request.id}", status="scheduled", hold_id=None,
    )  # fmt: skip
    session.add(decision)
    session.flush()
    session.add(LockJob(decision_id=decision.id, kind=APPLY, due_date=end_date, state="pending", not_before=NO_BACKOFF))
    account = ExceptionAccount(
        approval_id=request.id, email=email, full_name=str(subject.get("full_name") or email), unit_code=unit_code,
        unit_group=ctx.units.group_path(unit_code, ctx.on_date), end_date=end_date, grant_id=grant.id,
        lock_decision_id=decision.id, approved_at=now, status="approved",
    )  # fmt: skip
    session.add(account)
    session.flush()
    ledger.append(
        session, actor=ACTOR, action="lock.request", target=f"person:{email}", outcome="allowed", rule=RULE_END_DATE,
        detail={**ledger_detail(decision, []), "source": decision.source, "exception_id": request.id},
    )  # fmt: skip
    return account


@dataclass(frozen=True)
class AccountFacts:
    """What the worker needs to create one exception account."""

    account_id: int
    approval_id: int
    email: str
    full_name: str
    unit_code: str
    unit_group: str
    end_date: dt.date
    user_id: str | None
    email_sent: bool


def account_facts(session: Session, *, grant_id: int) -> AccountFacts | None:
    """The exception account whose grant is ``grant_id``, or None."""
    row = session.scalars(select(ExceptionAccount).where(ExceptionAccount.grant_id == grant_id)).first()
    if row is None:
        return None
    return AccountFacts(row.id, row.approval_id, row.email, row.full_name, row.unit_code, row.unit_group,
                        row.end_date, row.user_id, row.email_sent_at is not None)  # fmt: skip


async def ensure_account(locks: KeycloakLocks, facts: AccountFacts) -> str:
    """Create the local account (or find it) and put it into its unit group; its Keycloak id. Idempotent."""
    family, given = split_name(facts.full_name)
    representation = local_user(email=facts.email, first_name=given, last_name=family, unit_code=facts.unit_code)
    user_id = facts.user_id or await acreate_local_user(locks.admin, representation)
    await locks.join_group(user_id, facts.unit_group)
    return user_id


async def send_password_email(locks: KeycloakLocks, user_id: str) -> None:
    """Ask Keycloak to e-mail the person the link to set their password (its own required action)."""
    await asend_required_actions(locks.admin, user_id, PASSWORD_ACTIONS, lifespan_s=LINK_LIFESPAN_S)


def record_created(session: Session, *, facts: AccountFacts, user_id: str, now: dt.datetime, path: str) -> None:
    """The account exists in Keycloak and its e-mail went out: store it and write its ledger row."""
    row = session.get(ExceptionAccount, facts.account_id)
    if row is None:
        return
    first = row.created_at is None
    row.user_id, row.created_at = user_id, row.created_at or now
    row.email_sent_at = row.email_sent_at or now
    if row.status == "approved":
        row.status = "active"
    if first:
        ledger.append(
            session, actor=ACTOR, action=CREATED_ACTION, target=f"person:{facts.email}", outcome="allowed",
            rule=RULE_CREATED,
            detail={"exception_id": facts.approval_id, "unit": facts.unit_code, "unit_group": facts.unit_group,
                    "role_group_paths": [path], "end_date": facts.end_date.isoformat(), "user_id": user_id,
                    "effective_date": today_vn(now).isoformat()},
        )  # fmt: skip


def ended_detail(decision: LockDecision) -> dict[str, Any]:
    """What the lock row of an exception account's end adds: the approval it rested on ({} for other locks)."""
    prefix = "exception:"
    if decision.reason_code != LockReason.EXCEPTION_ENDED.value or not decision.source.startswith(prefix):
        return {}
    return {"exception_id": int(decision.source.removeprefix(prefix))}


def mark_ended(session: Session, *, decision: LockDecision) -> None:
    """The end-date lock took effect: the exception account it ends is over."""
    for row in session.scalars(select(ExceptionAccount).where(ExceptionAccount.lock_decision_id == decision.id)):
        row.status = "ended"


def managed_emails(session: Session) -> frozenset[str]:
    """Every exception account's e-mail: their life is this module's, never the directory sync's."""
    return frozenset(session.scalars(select(ExceptionAccount.email)))


def list_accounts(session: Session, *, unit_codes: Sequence[str] | None = None) -> Sequence[ExceptionAccount]:
    """Exception accounts (of ``unit_codes``, or all), oldest first."""
    query = select(ExceptionAccount)
    if unit_codes is not None:
        query = query.where(ExceptionAccount.unit_code.in_(sorted(unit_codes)))
    return session.scalars(query.order_by(ExceptionAccount.id)).all()


def describe(account: ExceptionAccount) -> dict[str, Any]:
    """The account as the review and the API show it."""
    return {
        "email": account.email, "full_name": account.full_name, "unit_code": account.unit_code,
        "approval_id": account.approval_id, "end_date": account.end_date.isoformat(), "status": account.status,
        "user_id": account.user_id,
    }  # fmt: skip
