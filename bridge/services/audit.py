"""Reading the audit trail and explaining decisions: the auditor's and the administrator's questions.

``record_refusal`` writes the ledger row of a refused request in its own transaction, after the request's own
transaction was rolled back, so a refusal leaves exactly one trace and no state change.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bridge.adapters.directory.lookup import normalise_email
from bridge.adapters.store import ledger
from bridge.adapters.store.models import LedgerEntry
from bridge.adapters.store.session import transaction
from bridge.clock import VN_TZ
from bridge.domain.policy import Action, Actor, Decision, Target
from bridge.domain.rules import Rule
from bridge.services.context import GovContext, load_actor, not_found, require, require_role
from bridge.services.persons import find_person


def record_refusal(
    factory: sessionmaker[Session], *, actor: str, action: str, target: str, rule: str, detail: dict[str, Any]
) -> LedgerEntry:
    """Append a ``refused`` row in a transaction of its own."""
    with transaction(factory) as session:
        return ledger.append(
            session, actor=actor, action=action, target=target, outcome="refused", rule=rule, detail=detail
        )


def query_ledger(
    session: Session,
    *,
    ctx: GovContext,
    actor: Actor,
    target: str | None = None,
    who: str | None = None,
    outcome: str | None = None,
    after_id: int = 0,
    limit: int = 100,
) -> Sequence[LedgerEntry]:
    """Ledger rows, oldest first, for audit readers (IT Center, leadership, auditors; R16)."""
    require_role(ctx, actor, Action.READ_AUDIT, target="ledger")
    query = select(LedgerEntry).where(LedgerEntry.id > after_id)
    if target is not None:
        query = query.where(LedgerEntry.target == target)
    if who is not None:
        query = query.where(LedgerEntry.actor == normalise_email(who))
    if outcome is not None:
        query = query.where(LedgerEntry.outcome == outcome)
    return session.scalars(query.order_by(LedgerEntry.id).limit(limit)).all()


def explain(
    session: Session,
    *,
    ctx: GovContext,
    actor: Actor,
    action: Action,
    email: str,
    application: str | None = None,
    role_group: str | None = None,
    lock_reason: str | None = None,
) -> Decision:
    """Which rule decides ``action`` by ``actor`` on the person ``email`` (nothing is changed or recorded)."""
    person = find_person(session, ctx=ctx, email=email)
    if person is None:
        raise not_found("person", normalise_email(email), rule=Rule.E1_UNKNOWN_PERSON, field="email")
    level = ctx.catalogue.role_level(application, role_group) if application and role_group else 0
    target = Target(
        email=person.email,
        unit_code=person.unit_code,
        administrator=person.administrator,
        role_level=level,
        lock_reason=lock_reason,
    )
    return ctx.decide(actor, action, target)


def explain_as_caller(
    session: Session, *, ctx: GovContext, caller: Actor, actor_email: str | None, **question: Any
) -> Decision:
    """The API's explain: about the caller's own rights, or anyone's for audit readers; hidden targets 404."""
    actor = caller
    if actor_email is not None and normalise_email(actor_email) != caller.email:
        require_role(ctx, caller, Action.READ_AUDIT, target=f"person:{actor_email}")
        actor = load_actor(session, email=actor_email)
    email = normalise_email(str(question["email"]))
    person = find_person(session, ctx=ctx, email=email)
    seen = person is not None and ctx.decide(caller, Action.VIEW, Target(email=email, unit_code=person.unit_code))
    if person is None or not (seen and seen.allowed):
        rule = Rule.E1_UNKNOWN_PERSON if person is None else Rule.R5_PROVINCE_OUT_OF_SCOPE
        require(Decision(False, rule, ""), target=f"person:{email}", visible=False, kind="person", key=email,
                field="email")  # fmt: skip
    return explain(session, ctx=ctx, actor=actor, **question)


@dataclass(frozen=True)
class LedgerPage:
    """One page of ledger rows, newest first, and whether an older page exists."""

    rows: Sequence[LedgerEntry]
    more: bool


def _utc_start(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(), tzinfo=VN_TZ).astimezone(dt.UTC)


def search_ledger(
    session: Session,
    *,
    ctx: GovContext,
    actor: Actor,
    who: str | None = None,
    target: str | None = None,
    action: str | None = None,
    day_from: dt.date | None = None,
    day_to: dt.date | None = None,
    limit: int = 50,
    offset: int = 0,
) -> LedgerPage:
    """The console's Nhật ký: rows by actor (exact e-mail), target (contains), action (prefix: ``lock`` finds
    ``lock.cancel``) and Vietnamese calendar days ``day_from``–``day_to`` (inclusive), newest first.

    The same readers as :func:`query_ledger` (R16: IT Center, leadership, auditors).
    """
    require_role(ctx, actor, Action.READ_AUDIT, target="ledger")
    query = select(LedgerEntry)
    if who:
        query = query.where(LedgerEntry.actor == normalise_email(who))
    if target:
        query = query.where(LedgerEntry.target.contains(target.strip(), autoescape=True))
    if action:
        query = query.where(LedgerEntry.action.startswith(action.strip(), autoescape=True))
    if day_from is not None:
        query = query.where(LedgerEntry.at >= _utc_start(day_from))
    if day_to is not None:
        query = query.where(LedgerEntry.at < _utc_start(day_to + dt.timedelta(days=1)))
    rows = session.scalars(query.order_by(LedgerEntry.id.desc()).offset(offset).limit(limit + 1)).all()
    return LedgerPage(rows[:limit], len(rows) > limit)


def verify_ledger(session: Session, *, ctx: GovContext, actor: Actor) -> ledger.Verification:
    """Check the whole hash chain (audit readers): rows checked, head hash, first broken row."""
    require_role(ctx, actor, Action.READ_AUDIT, target="ledger")
    return ledger.verify(session)
