"""People a grant can target, and who may see them: directory staff and registered service-provider persons.

Eligibility (Quy chế 2366 Điều 9: no accounts for ineligible people) is decided here: a person present and
active in the official directory, or a registered, active service-provider person (nhân sự đơn vị cung cấp
dịch vụ) sponsored by a BHXH unit. Anyone else needs a leadership exception, checked by the grant service.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from bridge.adapters.directory.lookup import normalise_email
from bridge.adapters.store import ledger
from bridge.adapters.store.models import Administrator, ProviderPerson
from bridge.domain.policy import ROLE_LEVEL, Action, Actor, AdminRole, Target
from bridge.domain.rules import Rule
from bridge.domain.units import UnitType
from bridge.errors import Conflict, InvalidInput
from bridge.services.context import GovContext, load_actor, not_found, require


@dataclass(frozen=True)
class Person:
    """A person as the governance core sees them."""

    email: str
    full_name: str
    unit_code: str
    #: directory | provider
    source: str
    active: bool
    administrator: bool = False

    @property
    def eligible(self) -> bool:
        """Present and active in the directory, or a registered active provider person."""
        return self.active


def find_person(session: Session, *, ctx: GovContext, email: str) -> Person | None:
    """Look a person up in the directory, then among provider persons; None when unknown."""
    email = normalise_email(email)
    admin = session.get(Administrator, email) is not None
    found = ctx.directory.find(email)
    if found is not None:
        return Person(email, found.full_name, found.unit_code, "directory", found.active, admin)
    provider = session.get(ProviderPerson, email)
    if provider is not None:
        return Person(email, provider.full_name, provider.provider_unit, "provider", provider.active, admin)
    return None


def get_person(session: Session, *, ctx: GovContext, actor: Actor, email: str) -> Person:
    """A person the actor may see; missing and out-of-scope answer alike (404)."""
    email = normalise_email(email)
    person = find_person(session, ctx=ctx, email=email)
    if person is None:
        raise not_found("person", email, rule=Rule.E1_UNKNOWN_PERSON, field="email")
    decision = ctx.decide(actor, Action.VIEW, Target(email=email, unit_code=person.unit_code))
    require(decision, target=f"person:{email}", visible=False, kind="person", key=email, field="email")
    return person


def list_persons(
    session: Session, *, ctx: GovContext, actor: Actor, limit: int = 100, offset: int = 0
) -> Sequence[Person]:
    """Directory and provider persons of the units in the actor's scope (staff: themselves), by e-mail."""
    if actor.role is None:
        own = find_person(session, ctx=ctx, email=actor.email)
        return [own] if own and offset == 0 else []
    scope = ctx.units_in_scope(actor)
    codes = scope if scope is not None else frozenset(ctx.units.on(ctx.on_date))
    admins = set(session.scalars(select(Administrator.email)).all())
    people = [
        Person(p.email, p.full_name, p.unit_code, "directory", p.active, p.email in admins)
        for p in ctx.directory.in_units(codes)
    ]
    providers = session.scalars(select(ProviderPerson).where(ProviderPerson.provider_unit.in_(codes))).all()
    people += [
        Person(p.email, p.full_name, p.provider_unit, "provider", p.active, p.email in admins) for p in providers
    ]
    people.sort(key=lambda p: p.email)
    return people[offset : offset + limit]


def register_provider_person(
    session: Session,
    *,
    ctx: GovContext,
    actor: Actor,
    email: str,
    full_name: str,
    provider_unit: str,
) -> ProviderPerson:
    """Register a service-provider person (IT Center only, R3); the sponsor is the provider unit's sponsor."""
    email = normalise_email(email)
    unit = ctx.units.require(provider_unit, ctx.on_date)
    if unit.type is not UnitType.PROVIDER or unit.sponsor is None:
        raise InvalidInput(f"{provider_unit} is not a sponsored service-provider unit", field="provider_unit")
    decision = ctx.decide(actor, Action.GRANT, Target(email=email, unit_code=provider_unit))
    require(decision, target=f"person:{email}", visible=True, kind="person", key=email, field="provider_unit")
    if ctx.directory.find(email) is not None or session.get(ProviderPerson, email) is not None:
        raise Conflict(f"{email} is already known", field="email")
    person = ProviderPerson(
        email=email,
        full_name=full_name,
        provider_unit=provider_unit,
        sponsor_unit=unit.sponsor,
        active=True,
        registered_by=actor.email,
        registered_at=dt.datetime.now(dt.UTC),
    )
    session.add(person)
    ledger.append(
        session, actor=actor.email, action="provider.register", target=f"person:{email}", outcome="allowed",
        rule=decision.rule, detail={"provider_unit": provider_unit, "sponsor_unit": unit.sponsor},
    )  # fmt: skip
    return person


def appoint_administrator(
    session: Session, *, ctx: GovContext, actor: Actor | None, email: str, role: AdminRole, unit_code: str
) -> Administrator:
    """Give a person an administrative role; ``actor=None`` bootstraps the first IT Center administrator."""
    email = normalise_email(email)
    ctx.units.require(unit_code, ctx.on_date)
    if actor is None:
        if session.scalars(select(Administrator).where(Administrator.role == AdminRole.IT_CENTER_ADMIN)).first():
            raise Conflict("an IT Center administrator exists: appoint as one of them", field="actor")
        rule, by = "bootstrap", "system:bootstrap"
    else:
        target = Target(email=email, unit_code=unit_code, administrator=True, role_level=ROLE_LEVEL[role])
        decision = ctx.decide(actor, Action.GRANT, target)
        require(decision, target=f"person:{email}", visible=True, kind="person", key=email, field="email")
        rule, by = decision.rule, actor.email
    if load_actor(session, email=email).role is not None:
        raise Conflict(f"{email} already holds an administrative role", field="email")
    admin = Administrator(
        email=email,
        role=role.value,
        unit_code=unit_code,
        appointed_by=by,
        appointed_at=dt.datetime.now(dt.UTC),
    )
    session.add(admin)
    ledger.append(
        session, actor=by, action="admin.appoint", target=f"person:{email}", outcome="allowed", rule=rule,
        detail={"role": role.value, "unit": unit_code},
    )  # fmt: skip
    return admin
