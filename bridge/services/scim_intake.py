"""SCIM 2.0 intake for HR systems: who a client is, the people it may see, and what ``active`` changes mean.

The official directory stays the source of people; an HR system does not create or delete anyone. What it
reports is the personnel decision: ``active=false`` is a lock decision (the lock service, with its scope check,
hold, scheduler jobs and ledger row), ``active=true`` ends the person's open temporary lock early. Every call
acts as :func:`bridge.domain.policy.hr_system_actor`, so the province HR system reaches only its province and a
person of another province answers exactly like a missing one (docs/decisions/0700).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from bridge.adapters.directory.lookup import normalise_email
from bridge.adapters.store.lock_models import LockDecision
from bridge.domain.lock_reasons import parse_reason
from bridge.domain.policy import Action, Actor, Decision, Target, hr_system_actor
from bridge.errors import InvalidInput
from bridge.services.context import GovContext, require
from bridge.services.locks import decisions
from bridge.services.persons import Person, get_person, list_persons

#: The ``source`` of lock decisions an HR system recorded (the ledger row says which client).
SOURCE = "scim"


def client_actor(ctx: GovContext, *, client_id: str, unit_code: str) -> Actor:
    """The actor of an HR system's client scoped to ``unit_code`` (from its token), on the context's day."""
    return hr_system_actor(client_id, unit_code, ctx.units, ctx.on_date, it_center_unit=ctx.it_center_unit)


@dataclass(frozen=True)
class ScimPerson:
    """A person as SCIM shows them: ``active`` is false while a lock decision is in force on the day."""

    person: Person
    locked: bool

    @property
    def active(self) -> bool:
        """Active in the directory and not locked on the day."""
        return self.person.active and not self.locked


@dataclass(frozen=True)
class LockRequest:
    """The lock extension's values of a PATCH ``active=false``."""

    reason: str | None = None
    decision_number: str | None = None
    decision_date: dt.date | None = None
    effective_date: dt.date | None = None
    end_date: dt.date | None = None


def _locked(session: Session, ctx: GovContext, emails: Sequence[str]) -> set[str]:
    if not emails:
        return set()
    day = ctx.on_date
    rows = session.scalars(
        select(LockDecision.email).where(
            LockDecision.email.in_(list(emails)), LockDecision.status.in_(decisions.OPEN_STATUSES),
            LockDecision.effective_date <= day,
            (LockDecision.end_date.is_(None)) | (LockDecision.end_date > day),
        )
    )  # fmt: skip
    return set(rows)


def _reach(ctx: GovContext, actor: Actor, person: Person) -> Decision:
    """Whether the client may act on the person's unit: an HR system sees only the people whose personnel
    decisions it may report (a province's: its province, as its VIEW; the central HR system: central units and
    providers, not the provinces its central VIEW would show; docs/decisions/0704)."""
    return ctx.decide(actor, Action.LOCK, Target(email=person.email, unit_code=person.unit_code))


def get_user(session: Session, *, ctx: GovContext, actor: Actor, email: str) -> ScimPerson:
    """One person in the client's scope (404 for a missing one and for one outside the scope alike)."""
    person = get_person(session, ctx=ctx, actor=actor, email=email)
    require(_reach(ctx, actor, person), target=f"person:{person.email}", visible=False, kind="person",
            key=person.email, field="email")  # fmt: skip
    return ScimPerson(person, person.email in _locked(session, ctx, [person.email]))


def search_users(
    session: Session, *, ctx: GovContext, actor: Actor, user_name: str | None, start: int, count: int
) -> tuple[int, list[ScimPerson]]:
    """The total and one page (``start`` 1-based) of the people in scope, or the one whose userName matches."""
    if user_name is not None:
        found = list_persons(session, ctx=ctx, actor=actor, limit=1_000_000)
        people = [p for p in found if p.email == normalise_email(user_name)]
    else:
        people = list(list_persons(session, ctx=ctx, actor=actor, limit=1_000_000))
    people = [p for p in people if _reach(ctx, actor, p).allowed]
    page = people[start - 1 : start - 1 + count]
    locked = _locked(session, ctx, [p.email for p in page])
    return len(people), [ScimPerson(p, p.email in locked) for p in page]


def set_active(
    session: Session, *, ctx: GovContext, actor: Actor, email: str, active: bool, lock: LockRequest
) -> ScimPerson:
    """Apply an HR system's ``active``: false records a lock decision, true ends the open temporary lock early.

    Unchanged ``active`` changes nothing. The scope check comes first, so a person outside the client's scope
    is answered 404 before anything is read from the request's lock values.
    """
    current = get_user(session, ctx=ctx, actor=actor, email=email)
    if current.active == active:
        return current
    if not active:
        if not lock.reason:
            raise InvalidInput("thiếu lý do khóa / the lock extension's reason is required", field="reason")
        reason = parse_reason(lock.reason)
        decisions.request_lock(
            session, ctx=ctx, actor=actor, email=current.person.email, reason=reason,
            decision_number=lock.decision_number, decision_date=lock.decision_date,
            effective_date=lock.effective_date, end_date=lock.end_date, source=SOURCE,
        )  # fmt: skip
    else:
        decisions.end_lock_early(
            session, ctx=ctx, actor=actor, email=current.person.email,
            return_date=lock.effective_date or ctx.on_date, origin={"source": SOURCE},
        )  # fmt: skip
    return get_user(session, ctx=ctx, actor=actor, email=email)
