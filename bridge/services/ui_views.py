"""What the web console's pages read, each view in one call: the same scope policy as the API decides.

The console's routes only parse and render; a view that needs a rule calls the service that holds it
(:func:`bridge.services.persons.get_person` for a person's visibility, :func:`list_locks` for a unit scope), so
a person outside the caller's scope answers 404 here exactly as in the API (docs/decisions/0102).
"""

from __future__ import annotations

import datetime as dt
import heapq
import itertools
import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from bridge.adapters.directory.lookup import DirectoryPerson
from bridge.adapters.store.lock_models import LockDecision
from bridge.adapters.store.models import Administrator, Grant, LedgerEntry, ProviderPerson
from bridge.adapters.store.sync_models import PersonHold
from bridge.domain.policy import Actor
from bridge.domain.reports.quarter import Quarter
from bridge.domain.rules import Rule
from bridge.domain.text import fold
from bridge.services.approvals_in_scope import list_visible_approvals
from bridge.services.audit import record_refusal
from bridge.services.context import GovContext, load_actor
from bridge.services.persons import Person, get_person, list_persons
from bridge.services.reports.submissions import quarter_status
from bridge.settings import get_settings

_log = logging.getLogger(__name__)

#: Everyone in scope is read once per search; a province has a few thousand people at most.
_ALL = 10**9


#: How long the directory people of one scope, with their folded names, serve the console's reads (below): the
#: directory lookup's own bound (``lookup_cache_ttl_s``), the same one its decisions accept.
def _index_ttl_s() -> float:
    return get_settings().directory.lookup_cache_ttl_s


#: Share of the TTL an index may serve after it, while its successor is read in the background (decision 0640).
INDEX_GRACE_SHARE = 0.5


@dataclass(frozen=True)
class _ScopeIndex:
    """The directory people of a set of units, by e-mail, with their names folded for search."""

    people: tuple[DirectoryPerson, ...]
    folded: tuple[str, ...]
    active: int


_Key = tuple[int, frozenset[str]]
#: (id of the directory, unit codes) → (when read, the directory itself, the index); the directory is kept so
#: that its id cannot be reused by another directory while the entry lives.
_INDEX: dict[_Key, tuple[float, object, _ScopeIndex]] = {}
_INDEX_LOCK = threading.Lock()
#: One lock per scope being built: held by whoever reads it (a request, or a background refresh); the others
#: wait for that read (a request finding no usable index) or leave it alone (a refresh already running).
_BUILDING: dict[_Key, threading.Lock] = {}


def _kept(key: _Key, directory: object, now: float, max_age_s: float) -> _ScopeIndex | None:
    with _INDEX_LOCK:
        kept = _INDEX.get(key)
    if kept is not None and now - kept[0] < max_age_s and kept[1] is directory:
        return kept[2]
    return None


def _directory_index(ctx: GovContext, codes: frozenset[str]) -> _ScopeIndex:
    """The directory people of ``codes``, kept per serving process as long as the directory lookup keeps an
    answer, then refreshed in the background while the kept one still serves for half as long again.

    The IT Center's scope is every unit: 20,000 people whose names are folded for each search and counted for
    each overview. Read through the directory's own cache (``LdapDirectory``, 60 s) this cost about 150 ms a
    search at 20,000 people; kept, a search is a scan of prepared strings (decision 0619). Reading it again
    from the directory takes seconds of one worker's CPU at 20,000 people; when the requests that found it
    stale waited for that read, they were the console's whole p95 (decision 0640), so after the TTL one
    background thread reads it while the requests keep the previous index. Only a scope unused for longer
    than TTL + grace (or never read) is read while a request waits, once for all the requests that want it.
    """
    key, ttl_s = (id(ctx.directory), codes), _index_ttl_s()
    grace_s = ttl_s * INDEX_GRACE_SHARE
    now = time.monotonic()
    found = _kept(key, ctx.directory, now, ttl_s)
    if found is not None:
        return found
    with _INDEX_LOCK:
        building = _BUILDING.setdefault(key, threading.Lock())
    stale = _kept(key, ctx.directory, now, ttl_s + grace_s)
    if stale is not None:
        if building.acquire(blocking=False):  # nobody reads it yet: one background read, released there

            def refresh() -> None:
                try:
                    _build(ctx, key, codes, ttl_s + grace_s)
                except Exception:  # the next request past the grace reads it itself, and answers its error
                    _log.warning("console scope index: background read of %d units failed", len(codes),
                                 exc_info=True)  # fmt: skip
                finally:
                    building.release()

            threading.Thread(target=refresh, name="console-scope-index", daemon=True).start()
        return stale
    with building:
        found = _kept(key, ctx.directory, time.monotonic(), ttl_s)  # read meanwhile by another request
        if found is not None:
            return found
        return _build(ctx, key, codes, ttl_s + grace_s)


def _build(ctx: GovContext, key: _Key, codes: frozenset[str], keep_s: float) -> _ScopeIndex:
    """Read the scope's people from the directory, keep the index, and forget indexes older than ``keep_s``."""
    now = time.monotonic()
    people = tuple(sorted(ctx.directory.in_units(codes), key=lambda p: p.email))
    index = _ScopeIndex(people, tuple(fold(p.full_name) for p in people), sum(1 for p in people if p.active))
    with _INDEX_LOCK:
        for old in [k for k, (at, _, _) in _INDEX.items() if now - at >= keep_s]:
            del _INDEX[old]
            lock = _BUILDING.get(old)
            if lock is not None and not lock.locked():
                del _BUILDING[old]
        _INDEX[key] = (now, ctx.directory, index)
    return index


def scope_codes(ctx: GovContext, actor: Actor) -> frozenset[str]:
    """The unit codes of an administrator's scope (every unit in force for central readers), as
    :func:`bridge.services.persons.list_persons` reads them."""
    scope = ctx.units_in_scope(actor)
    return scope if scope is not None else frozenset(ctx.units.on(ctx.on_date))


def _providers(session: Session, codes: frozenset[str]) -> list[ProviderPerson]:
    query = select(ProviderPerson).where(ProviderPerson.provider_unit.in_(sorted(codes)))
    return list(session.scalars(query.order_by(ProviderPerson.email)).all())


@dataclass(frozen=True)
class Overview:
    """Tổng quan: counts over the caller's scope."""

    people: int
    enabled: int
    locked: int
    pending_locks: int
    approvals_waiting: int


@dataclass(frozen=True)
class PeoplePage:
    """One page of a people search and how many matched in all."""

    people: Sequence[Person]
    total: int


@dataclass(frozen=True)
class PersonFile:
    """Everything the person page shows about one person in scope."""

    person: Person
    holds: Sequence[PersonHold]
    grants: Sequence[Grant]
    locks: Sequence[LockDecision]
    ledger: Sequence[LedgerEntry]

    @property
    def role_groups(self) -> list[str]:
        """``application/role group`` of the grants in force."""
        return sorted({f"{g.application}/{g.role_group}" for g in self.grants if g.revoked_at is None})


def admit_to_console(factory: sessionmaker[Session], *, email: str) -> bool:
    """True when ``email`` is an administrator (an Administrator row); otherwise a refused login is recorded."""
    with factory() as session:
        admitted = load_actor(session, email=email).role is not None
    if not admitted:
        record_refusal(factory, actor=email, action="ui.login", target=f"person:{email}",
                       rule=Rule.R0_NOT_ADMINISTRATOR.value, detail={"status": 403})  # fmt: skip
    return admitted


def overview(session: Session, *, ctx: GovContext, actor: Actor) -> Overview:
    """Counts of the caller's scope: people, enabled, locked now, locks waiting, approvals waiting."""
    if actor.role is None:
        people = list_persons(session, ctx=ctx, actor=actor, limit=_ALL)
        total, enabled = len(people), sum(1 for p in people if p.active)
    else:
        codes = scope_codes(ctx, actor)
        index, providers = _directory_index(ctx, codes), _providers(session, codes)
        total, enabled = len(index.people) + len(providers), index.active + sum(1 for p in providers if p.active)
    scope = ctx.units_in_scope(actor) if actor.role is not None else frozenset()
    query = select(LockDecision.status, func.count()).group_by(LockDecision.status)
    if scope is not None:
        query = query.where(LockDecision.unit_code.in_(sorted(scope)))
    by_status = {status: count for status, count in session.execute(query).all()}
    approvals = list_visible_approvals(session, ctx=ctx, actor=actor, status="pending", limit=1000)
    waiting = [a for a in approvals if a.requested_by != actor.email]
    return Overview(
        people=total,
        enabled=enabled,
        locked=by_status.get("in_force", 0),
        pending_locks=by_status.get("scheduled", 0),
        approvals_waiting=len(waiting),
    )


def search_people(
    session: Session, *, ctx: GovContext, actor: Actor, query: str = "", limit: int = 25, offset: int = 0
) -> PeoplePage:
    """People in scope whose name or e-mail contains ``query``, ignoring case and diacritics, by e-mail.

    The same people as :func:`list_persons` (directory people of the scope's units, then its service-provider
    persons); only the page shown is turned into :class:`Person` rows.
    """
    wanted = fold(query)
    if actor.role is None:
        people = list_persons(session, ctx=ctx, actor=actor, limit=_ALL)
        if wanted:
            people = [p for p in people if wanted in fold(p.full_name) or wanted in p.email]
        return PeoplePage(people[offset : offset + limit], len(people))
    codes = scope_codes(ctx, actor)
    index, providers = _directory_index(ctx, codes), _providers(session, codes)
    found: list[DirectoryPerson | ProviderPerson]
    if wanted:
        found = [p for p, name in zip(index.people, index.folded, strict=True) if wanted in name or wanted in p.email]
        found += [p for p in providers if wanted in fold(p.full_name) or wanted in p.email]
        found.sort(key=lambda p: p.email)
        total, page = len(found), found[offset : offset + limit]
    else:
        sources: list[Sequence[DirectoryPerson | ProviderPerson]] = [index.people, providers]
        merged = heapq.merge(*sources, key=_email)
        total, page = len(index.people) + len(providers), list(itertools.islice(merged, offset, offset + limit))
    admins = set(session.scalars(select(Administrator.email).where(Administrator.email.in_([p.email for p in page]))))
    return PeoplePage([_person(p, admins) for p in page], total)


def _email(found: DirectoryPerson | ProviderPerson) -> str:
    return found.email


def _person(found: DirectoryPerson | ProviderPerson, admins: set[str]) -> Person:
    if isinstance(found, ProviderPerson):
        return Person(
            found.email, found.full_name, found.provider_unit, "provider", found.active, found.email in admins
        )
    return Person(found.email, found.full_name, found.unit_code, "directory", found.active, found.email in admins)


def person_file(session: Session, *, ctx: GovContext, actor: Actor, email: str, ledger_rows: int = 50) -> PersonFile:
    """One person in scope (404 otherwise, as the API) with holds, grants, lock history and ledger rows."""
    person = get_person(session, ctx=ctx, actor=actor, email=email)
    holds = session.scalars(select(PersonHold).where(PersonHold.email == person.email).order_by(PersonHold.id)).all()
    grants = session.scalars(select(Grant).where(Grant.email == person.email).order_by(Grant.id.desc())).all()
    locks = session.scalars(
        select(LockDecision).where(LockDecision.email == person.email).order_by(LockDecision.id.desc())
    ).all()
    ledger = session.scalars(
        select(LedgerEntry)
        .where(LedgerEntry.target == f"person:{person.email}")
        .order_by(LedgerEntry.id.desc())
        .limit(ledger_rows)
    ).all()
    return PersonFile(person, holds, grants, locks, ledger)


@dataclass(frozen=True)
class Deadline:
    """A quarterly report a unit of my scope owes (Công văn 907: before the 10th of the next quarter)."""

    unit_code: str
    unit_name: str
    quarter: str
    due_date: dt.date
    #: days from today to the due date (negative once it passed)
    days_left: int
    #: on_time | late | missing | pending (as :func:`quarter_status`)
    status: str


def report_deadlines(session: Session, *, ctx: GovContext, actor: Actor) -> list[Deadline]:
    """The reports of my scope's reporting units for the quarter just ended, and the one running now.

    A central reader sees every reporting unit; the list is then cut to the ones not yet submitted, so the
    overview names who still owes something rather than 35 lines.
    """
    today = ctx.on_date
    current = Quarter.of(today)
    found: list[Deadline] = []
    for quarter in (current.previous(), current):
        for status in quarter_status(session, ctx=ctx, actor=actor, quarter=str(quarter), today=today):
            found.append(Deadline(status.unit_code, status.unit_name, str(quarter), quarter.due_date,
                                  (quarter.due_date - today).days, status.status))  # fmt: skip
    if ctx.units_in_scope(actor) is None:
        found = [d for d in found if d.status in ("missing", "pending")]
    return found
