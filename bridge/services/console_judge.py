"""Judging one console change with the bridge's own rules, and writing what it decided to the ledger.

A change made in Keycloak's console is held to the rules a request to the bridge is held to, by the same code:
- a membership of an application role group (``/apps/<application>/<role group>``) is a grant or a revocation
  (:func:`bridge.services.grants.request_grant`, :func:`~bridge.services.grants.revoke_grant`): the scope
  policy with the role's level (no escalation, R10), the directory and eligibility, and when accepted a Grant
  row and its ledger row, so the quarterly report and the account review see it like any other grant;
- an account created in the console must belong to someone eligible — in the official directory, a registered
  service-provider person, or covered by a leadership-approved exception (Công văn 907: no accounts for
  outsiders without leadership approval); otherwise it is disabled;
- a lock, an unlock and a move between unit groups are judged by the scope policy (decision 0005).

Everything is written in the caller's session; the caller reverts refused changes in Keycloak and commits the
ledger rows with its cursor (:mod:`bridge.services.console_watcher`). Reads only, towards Keycloak.
"""

from __future__ import annotations

from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from bridge.adapters.directory.lookup import DirectoryLookup, normalise_email
from bridge.adapters.keycloak.admin import KeycloakAdmin
from bridge.adapters.store import ledger
from bridge.adapters.store.models import ApprovalRequest, Grant, LedgerEntry
from bridge.domain.catalogue import parse_role_group_path
from bridge.domain.policy import Action, Actor, ApprovalKind, Decision, Target
from bridge.domain.reports.changes import console_change
from bridge.domain.rules import RULES, Rule
from bridge.errors import BridgeError, Conflict, InvalidInput, NotFound
from bridge.services import approvals, grants
from bridge.services.context import GovContext, OutOfScope, Refused, load_actor
from bridge.services.persons import find_person

UNITS_PREFIX = "/units/"
#: Accounts read from Keycloak at once before a page of events is judged.
PREFETCH_THREADS = 4

PLATFORM_OPERATOR = Rule.W0_PLATFORM_OPERATOR
ACCOUNT_GONE = Rule.W1_ACCOUNT_GONE
ALREADY_GRANTED = Rule.W2_ALREADY_GRANTED
UNKNOWN_ROLE_GROUP = Rule.W3_UNKNOWN_ROLE_GROUP
UNJUDGEABLE = Rule.W4_NOT_JUDGED
OUTSIDER = Rule.E2_NOT_ELIGIBLE


@dataclass(frozen=True)
class ConsoleChange:
    """One console change as the policy sees it (derived from an admin event; pure data)."""

    event_time_ms: int
    actor_user_id: str
    actor_realm: str
    action: Action
    user_id: str
    group_path: str | None
    group_id: str | None
    enabled: bool | None
    #: Keycloak's id of the admin event (the ledger rows of the event cite it).
    event_id: str = ""
    #: The account itself was created in the console (``USER CREATE``).
    created: bool = False

    @property
    def ledger_action(self) -> str:
        """``console:create``, ``console:grant`` … — the ledger action of a console row."""
        return "console:create" if self.created else f"console:{self.action.value}"


@dataclass(frozen=True)
class Account:
    """A Keycloak user as the judge needs it."""

    user_id: str
    #: The e-mail (NFC, lower-case), or the username of an account without one.
    email: str
    #: ``unit_code`` as Keycloak holds it (from the directory's read-only mapper for federated users).
    unit_code: str | None


@dataclass(frozen=True)
class Judged:
    """The actor, the target, the decision, and whether Keycloak must be put back."""

    actor: str
    target: str
    decision: Decision
    revert: bool


def _decision(allowed: bool, rule: Rule) -> Decision:
    return Decision(allowed, rule.value, RULES[rule])


def unit_of_group(path: str | None) -> str | None:
    """The unit code a unit group (``/units/…/<code>``) stands for, None for other groups. Pure."""
    if path and path.startswith(UNITS_PREFIX):
        return path.rstrip("/").rsplit("/", 1)[-1]
    return None


class ConsoleJudge:
    """Judges console changes: reads Keycloak (accounts) and the store, writes grants and ledger rows."""

    def __init__(self, admin: KeycloakAdmin) -> None:
        self.admin = admin
        self._realm_ids: frozenset[str] | None = None
        #: Accounts read during one poll (a burst names the same administrator and people again and again).
        self._accounts: dict[str, Account | None] = {}
        #: Reads of accounts under way (:meth:`prefetch`), and the threads making them.
        self._pending: dict[str, Future[tuple[Account | None] | None]] = {}
        self._pool: ThreadPoolExecutor | None = None

    def forget(self) -> None:
        """Drop the accounts read so far (the watcher calls it at the start of each poll)."""
        self._accounts.clear()
        for pending in self._pending.values():
            pending.cancel()
        self._pending.clear()

    def own_realm(self, realm_id: str) -> bool:
        """True when ``realm_id`` (an event's ``authDetails.realmId``) is the watched realm, by name or id."""
        if self._realm_ids is None:
            self._realm_ids = frozenset({self.admin.realm, str(self.admin.get("").get("id", self.admin.realm))})
        return realm_id in self._realm_ids

    def account(self, user_id: str) -> Account | None:
        """The Keycloak account ``user_id``, or None when it no longer exists (read once per poll)."""
        if user_id not in self._accounts:
            pending = self._pending.pop(user_id, None)
            read = None if pending is None or pending.cancelled() else pending.result()
            self._accounts[user_id] = read[0] if read is not None else self._read_account(user_id)
        return self._accounts[user_id]

    def prefetch(self, targets: Iterable[str], actors: Iterable[str], directory: DirectoryLookup | None) -> None:
        """Start reading the accounts not read yet in this poll, ``PREFETCH_THREADS`` at a time, and looking the
        targets up in ``directory`` (which caches them for the decisions): a page of events names up to 200
        people, each a federated read in Keycloak and a search in the directory. Judging goes on meanwhile;
        :meth:`account` waits for the read it needs. A read that failed is made again there, and raises."""
        wanted = {user_id: False for user_id in actors} | {user_id: True for user_id in targets}
        missing = [(u, target) for u, target in wanted.items() if u not in self._accounts and u not in self._pending]
        if not missing:
            return
        if self._pool is None:
            self._pool = ThreadPoolExecutor(PREFETCH_THREADS, thread_name_prefix="console-accounts")

        def read(user_id: str, target: bool) -> tuple[Account | None] | None:
            try:
                account = self._read_account(user_id)
                if target and directory is not None and account is not None and "@" in account.email:
                    directory.find(account.email)
            except BridgeError:
                return None
            return (account,)

        for user_id, target in missing:
            self._pending[user_id] = self._pool.submit(read, user_id, target)

    def _read_account(self, user_id: str) -> Account | None:
        try:
            user = self.admin.get(f"users/{user_id}")
        except NotFound:
            return None
        unit = ((user.get("attributes") or {}).get("unit_code") or [None])[0]
        email = normalise_email(str(user.get("email") or user.get("username") or ""))
        return Account(user_id, email, unit)

    def judge(self, session: Session, change: ConsoleChange, *, ctx: GovContext) -> Judged:
        """Decide on ``change`` and write its ledger row(s) (and grant) into ``session``."""
        target = self.account(change.user_id)
        operator = not self.own_realm(change.actor_realm)  # an administrator of the master realm
        if operator:
            actor_email, actor = f"master:{change.actor_user_id}", None
        else:
            actor_account = self.account(change.actor_user_id)
            actor_email = actor_account.email if actor_account else f"user:{change.actor_user_id}"
            actor = _actor(session, actor_email)
        if target is None:
            judged = Judged(actor_email, f"user:{change.user_id}", _decision(False, ACCOUNT_GONE), revert=False)
        elif change.created:
            judged = self._creation(session, change, ctx, actor_email, actor, target)
        elif actor is None:
            judged = Judged(actor_email, target.email, _decision(True, PLATFORM_OPERATOR), revert=False)
        elif (role_group := parse_role_group_path(change.group_path or "")) is not None:
            outcome = self._role_group(session, change, ctx, actor, target, *role_group)
            if outcome is None:  # a grant or revocation, ledgered by the grant service
                return Judged(actor.email, target.email, _accepted_rule(session), revert=False)
            judged = outcome
        else:
            judged = self._scope(change, ctx, actor, target)
        self.record(session, change, judged, unit=self._unit_of(target, ctx))
        return judged

    @staticmethod
    def _unit_of(target: Account | None, ctx: GovContext) -> str | None:
        """The unit a console row is reported under: the directory's, else the account's attribute."""
        if target is None:
            return None
        person = ctx.directory.find(target.email) if "@" in target.email else None
        return person.unit_code if person is not None else target.unit_code

    def record(self, session: Session, change: ConsoleChange, judged: Judged, **detail: Any) -> LedgerEntry:
        """The ``console:*`` ledger row of a judged change."""
        return ledger.append(
            session,
            actor=judged.actor,
            action=change.ledger_action,
            target=judged.target,
            outcome="allowed" if judged.decision.allowed else "refused",
            rule=judged.decision.rule,
            detail={
                "event_id": change.event_id,
                "event_time_ms": change.event_time_ms,
                "user_id": change.user_id,
                "group": change.group_path,
                "reverted": judged.revert,
                "reason": judged.decision.reason,
                # the report's vocabulary: a console change accepted, or one put back
                "change": console_change(allowed=judged.decision.allowed, reverted=judged.revert),
                **detail,
            },
        )

    # --- the kinds of change -------------------------------------------------------------------------------
    def _creation(
        self, session: Session, change: ConsoleChange, ctx: GovContext, actor_email: str, actor: Actor | None,
        target: Account,
    ) -> Judged:  # fmt: skip
        """An account created in the console: eligible person (then the scope policy), exception, or outsider."""
        person = find_person(session, ctx=ctx, email=target.email) if "@" in target.email else None
        unit = person.unit_code if person is not None and person.eligible else _exception_unit(session, target.email)
        if unit is None:
            return Judged(actor_email, target.email, _decision(False, OUTSIDER), revert=True)
        if actor is None:
            return Judged(actor_email, target.email, _decision(True, PLATFORM_OPERATOR), revert=False)
        decision = ctx.decide(actor, Action.GRANT, Target(email=target.email, unit_code=unit))
        return Judged(actor_email, target.email, decision, revert=not decision.allowed)

    def _role_group(
        self, session: Session, change: ConsoleChange, ctx: GovContext, actor: Actor, target: Account,
        application: str, role_group: str,
    ) -> Judged | None:  # fmt: skip
        """A role-group membership: a grant or revocation of the bridge (None: accepted, ledgered by the service)."""
        origin = {"via": "console", "event_id": change.event_id, "event_time_ms": change.event_time_ms}
        try:
            with session.begin_nested():
                if change.action is Action.GRANT:
                    grants.request_grant(
                        session, ctx=ctx, actor=actor, email=target.email, application=application,
                        role_group=role_group, request_ref=f"console:{change.event_id}", origin=origin,
                        made_in_keycloak=True,
                    )  # fmt: skip
                    return None
                active = session.scalars(
                    select(Grant).where(
                        Grant.email == target.email, Grant.application == application, Grant.role_group == role_group,
                        Grant.revoked_at.is_(None),
                    )
                ).first()  # fmt: skip
                if active is not None:
                    grants.revoke_grant(
                        session, ctx=ctx, actor=actor, grant_id=active.id, origin=origin, made_in_keycloak=True
                    )
                    return None
                level = ctx.catalogue.role_level(application, role_group)
        except (Refused, OutOfScope) as exc:
            return Judged(actor.email, target.email, Decision(False, str(exc.rule), exc.message), revert=True)
        except Conflict:
            return Judged(actor.email, target.email, _decision(True, ALREADY_GRANTED), revert=False)
        except InvalidInput:
            return Judged(actor.email, target.email, _decision(False, UNKNOWN_ROLE_GROUP), revert=True)
        # a membership the bridge never granted (no Grant row): judged by the policy, ledgered as a console row
        person = find_person(session, ctx=ctx, email=target.email)
        unit = person.unit_code if person is not None else target.unit_code
        decision = ctx.decide(actor, Action.REVOKE, Target(email=target.email, unit_code=unit, role_level=level))
        return Judged(actor.email, target.email, decision, revert=not decision.allowed)

    def _scope(self, change: ConsoleChange, ctx: GovContext, actor: Actor, target: Account) -> Judged:
        """A lock, an unlock or a unit-group move: the scope policy on the account's unit (and the destination)."""
        person = ctx.directory.find(target.email) if "@" in target.email else None
        unit = person.unit_code if person is not None else target.unit_code
        decision = ctx.decide(actor, change.action, Target(email=target.email, unit_code=unit))
        destination = unit_of_group(change.group_path)
        if decision.allowed and destination and change.action is Action.GRANT:
            decision = ctx.decide(actor, change.action, Target(email=target.email, unit_code=destination))
        return Judged(actor.email, target.email, decision, revert=not decision.allowed)


def _actor(session: Session, email: str) -> Actor:
    """The actor's role, read once per session (the watcher opens one per batch of events, which often names the
    same administrator again and again; the session's identity map does not keep a row nobody holds)."""
    actors: dict[str, Actor] = session.info.setdefault("console_judge_actors", {})
    if email not in actors:
        actors[email] = load_actor(session, email=email)
    return actors[email]


def _accepted_rule(session: Session) -> Decision:
    """The decision the grant service just ledgered (the last row of the chain, written in this transaction)."""
    row = session.scalars(select(LedgerEntry).order_by(LedgerEntry.id.desc()).limit(1)).one()
    return Decision(True, row.rule, str(row.detail.get("reason") or row.rule))


def _exception_unit(session: Session, email: str) -> str | None:
    """The unit of a leadership-approved exception naming ``email`` (ngoại lệ, R14), or None."""
    requests = session.scalars(
        select(ApprovalRequest).where(
            ApprovalRequest.kind == ApprovalKind.EXCEPTION.value, ApprovalRequest.status == "approved"
        )
    ).all()
    for request in requests:
        subject = dict(request.subject)
        if normalise_email(str(subject.get("email", ""))) != email:
            continue
        if approvals.is_approved(session, kind=request.kind, subject=subject, approval_id=request.id):
            return str(subject.get("unit_code") or request.unit_code)
    return None
