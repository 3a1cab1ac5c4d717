"""Account review (rà soát tài khoản, Công văn 907): accounts that should not be usable, or are not used.

Six questions, each answered from two real sources side by side — Keycloak as it is now (read in bulk by
:mod:`bridge.adapters.keycloak.account_facts`) and what the bridge knows (directory, grants, the ledger's locks,
stored logins):

1. enabled accounts of people absent from (or inactive in) the directory, who are not registered providers;
2. people under an effective lock (ledger ``lock`` rows, effective date reached, no later ``unlock``; or a hold
   in force in ``person_holds``, which the sync reads) whose account is still enabled;
3. enabled accounts holding application roles with no login since ``today - N days`` (stored LOGIN events);
4. application role-group memberships without an active grant record;
5. one account with live sessions from several addresses at once (Điều 9: sharing an account) — suspects come
   from the stored LOGIN events, Keycloak confirms which of their sessions are still live;
6. administrator accounts (bridge administrators, application top-role holders) without a second factor.

An approved exception account (tài khoản ngoại lệ, Công văn 907) is not in the directory by definition: until its
end date it is listed as an exception account with its approval, not as an account that should not exist.

:func:`evaluate` is pure; :func:`review_unit` gathers its inputs and applies the scope rules.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Protocol

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bridge.adapters.directory.lookup import DirectoryLookup
from bridge.adapters.keycloak.account_facts import SECOND_FACTORS, AccountFacts
from bridge.adapters.store import ledger
from bridge.adapters.store.exception_models import ExceptionAccount
from bridge.adapters.store.models import Administrator, Grant, LedgerEntry, ProviderPerson
from bridge.adapters.store.report_models import LoginEvent
from bridge.adapters.store.sync_models import PersonHold
from bridge.clock import today_vn
from bridge.domain.policy import Actor
from bridge.domain.reports.quarter import Quarter
from bridge.domain.rules import Rule
from bridge.services.context import GovContext
from bridge.services.holds import StoreHolds
from bridge.services.reports.build import check_unit, event_day, vn_day
from bridge.services.reports.logins import last_logins


class FactsReader(Protocol):
    """Reads the Keycloak side of a review."""

    def __call__(
        self,
        *,
        role_groups: Iterable[tuple[str, str]],
        session_suspects: Iterable[str],
        admin_emails: Iterable[str],
        admin_role_groups: Iterable[tuple[str, str]],
    ) -> AccountFacts: ...


class FindingKind(enum.StrEnum):
    """What a review finding is about."""

    ABSENT_FROM_DIRECTORY = "absent_from_directory"  # không còn trong danh bạ nhưng tài khoản còn hoạt động
    LOCKED_BUT_ENABLED = "locked_but_enabled"  # đang trong thời gian khóa nhưng tài khoản còn hoạt động
    UNUSED = "unused"  # không sử dụng quá N ngày
    MEMBERSHIP_WITHOUT_GRANT = "membership_without_grant"  # có quyền nhưng không có hồ sơ cấp quyền
    CONCURRENT_SESSIONS = "concurrent_sessions"  # đăng nhập đồng thời từ nhiều địa chỉ
    ADMIN_WITHOUT_SECOND_FACTOR = "admin_without_second_factor"  # quản trị viên chưa có xác thực hai lớp
    EXCEPTION_ACCOUNT = "exception_account"  # tài khoản ngoại lệ được Lãnh đạo Ngành phê duyệt


KIND_LABELS = {
    FindingKind.ABSENT_FROM_DIRECTORY: "Không còn trong danh bạ thư điện tử công vụ nhưng tài khoản còn hoạt động",
    FindingKind.LOCKED_BUT_ENABLED: "Đang trong thời gian khóa nhưng tài khoản còn hoạt động",
    FindingKind.UNUSED: "Tài khoản không sử dụng",
    FindingKind.MEMBERSHIP_WITHOUT_GRANT: "Có quyền phần mềm nghiệp vụ nhưng không có hồ sơ cấp quyền",
    FindingKind.CONCURRENT_SESSIONS: "Một tài khoản đăng nhập đồng thời từ nhiều địa chỉ",
    FindingKind.ADMIN_WITHOUT_SECOND_FACTOR: "Tài khoản quản trị chưa có xác thực hai lớp",
    FindingKind.EXCEPTION_ACCOUNT: "Tài khoản ngoại lệ (người ngoài danh bạ, được Lãnh đạo Ngành phê duyệt)",
}


@dataclass(frozen=True)
class Finding:
    """One account the review flags, and why."""

    kind: FindingKind
    email: str
    unit_code: str
    detail: str

    @property
    def label(self) -> str:
        """The Vietnamese name of the finding's kind."""
        return KIND_LABELS[self.kind]


@dataclass(frozen=True)
class StoreFacts:
    """What the bridge knows, as the review compares it with Keycloak."""

    #: (email, application, role group) of every active grant.
    grants: frozenset[tuple[str, str, str]]
    #: email → unit of their grants (for accounts Keycloak does not place in a unit).
    grant_units: dict[str, str]
    active_providers: frozenset[str]
    #: email → lock reason, for locks in effect today.
    locked: dict[str, str]
    #: Keycloak user id → latest stored login.
    last_login: dict[str, dt.datetime]
    administrators: frozenset[str]
    #: email → the approval of an exception account not yet ended ("phê duyệt số 12, đến ngày 31/12/2026").
    exceptions: dict[str, str] = field(default_factory=dict)


def evaluate(
    *,
    facts: AccountFacts,
    store: StoreFacts,
    directory: DirectoryLookup,
    admin_role_groups: Iterable[tuple[str, str]],
    covers: Callable[[str], bool],
    today: dt.date,
    unused_days: int,
) -> list[Finding]:
    """The findings of a review, sorted by kind and e-mail. Pure: no I/O, no clock."""
    by_id = {u.id: u for u in facts.users}
    cutoff = today - dt.timedelta(days=unused_days)
    member_of: dict[str, set[tuple[str, str]]] = defaultdict(set)
    for pair, ids in facts.memberships.items():
        for uid in ids:
            member_of[uid].add(pair)
    granted_emails = {email for email, _, _ in store.grants}
    admin_groups = set(admin_role_groups)
    found: list[Finding] = []

    def unit_of(uid: str) -> str:
        user = by_id[uid]
        person = directory.find(user.email)
        return user.unit_code or (person.unit_code if person else "") or store.grant_units.get(user.email, "")

    def add(kind: FindingKind, uid: str, detail: str) -> None:
        unit = unit_of(uid)
        if covers(unit):
            found.append(Finding(kind, by_id[uid].email, unit, detail))

    for user in facts.users:
        if not user.enabled:
            continue
        person = directory.find(user.email)
        if person is None and user.email in store.exceptions:
            add(FindingKind.EXCEPTION_ACCOUNT, user.id, store.exceptions[user.email])
        elif (person is None or not person.active) and user.email not in store.active_providers:
            state = "không có trong danh bạ / not in the directory" if person is None else "inactive"
            add(FindingKind.ABSENT_FROM_DIRECTORY, user.id, state)
        if user.email in store.locked:
            add(FindingKind.LOCKED_BUT_ENABLED, user.id, f"lý do khóa / lock reason: {store.locked[user.email]}")
        if member_of.get(user.id) or user.email in granted_emails:
            last = store.last_login.get(user.id)
            if vn_day(user.created) <= cutoff and (last is None or vn_day(last) < cutoff):
                when = f"lần cuối {vn_day(last):%d/%m/%Y}" if last else "chưa từng đăng nhập / never"
                add(FindingKind.UNUSED, user.id, f"{when}; ngưỡng / threshold {unused_days} ngày")
        for app, role in sorted(member_of.get(user.id, ())):
            if (user.email, app, role) not in store.grants:
                add(FindingKind.MEMBERSHIP_WITHOUT_GRANT, user.id, f"{app}/{role}")
        is_admin = user.email in store.administrators or bool(member_of.get(user.id, set()) & admin_groups)
        if is_admin and not user.totp and not facts.credentials.get(user.id, set()) & SECOND_FACTORS:
            pending = " (CONFIGURE_TOTP chờ thực hiện)" if "CONFIGURE_TOTP" in user.required_actions else ""
            add(FindingKind.ADMIN_WITHOUT_SECOND_FACTOR, user.id, "chỉ có mật khẩu / password only" + pending)
    addresses: dict[str, set[str]] = defaultdict(set)
    for live in facts.sessions:
        addresses[live.user_id].add(live.ip_address)
    for uid, ips in sorted(addresses.items()):
        if len(ips) > 1 and uid in by_id:
            add(FindingKind.CONCURRENT_SESSIONS, uid, ", ".join(sorted(ips)))
    return sorted(found, key=lambda f: (list(FindingKind).index(f.kind), f.email, f.detail))


def locked_now(session: Session, *, today: dt.date) -> dict[str, str]:
    """People whose latest effective lock/unlock (effective date ≤ today) is a lock, with its reason."""
    query = (
        select(LedgerEntry.action, LedgerEntry.target, LedgerEntry.at, LedgerEntry.detail)
        .where(LedgerEntry.action.in_(("lock", "unlock")), LedgerEntry.outcome == "allowed")
        .order_by(LedgerEntry.id)
    )
    latest: dict[str, tuple[dt.date, int, str, str]] = {}
    for index, (action, target, at, detail) in enumerate(session.execute(query)):
        effective = event_day(action, detail or {}, at)
        if effective > today:
            continue
        email = target.removeprefix("person:")
        reason = str((detail or {}).get("reason_code") or "")
        key = (effective, index, action, reason)
        if email not in latest or key[:2] >= latest[email][:2]:
            latest[email] = key
    return {email: v[3] for email, v in latest.items() if v[2] == "lock"}


def sharing_suspects(session: Session, *, now: dt.datetime, window_s: int) -> list[str]:
    """Users whose stored LOGIN events within one session lifespan (``ssoSessionMaxLifespan``) come from
    more than one address: the only accounts whose live sessions the review reads."""
    since = now - dt.timedelta(seconds=window_s)
    query = (
        select(LoginEvent.user_id)
        .where(LoginEvent.at >= since)
        .group_by(LoginEvent.user_id)
        .having(func.count(func.distinct(LoginEvent.ip_address)) > 1)
    )
    return sorted(session.scalars(query))


def held_now(session: Session, *, today: dt.date) -> dict[str, str]:
    """People under a hold in force today (``person_holds``, the sync's view of locks), with the reason."""
    held = StoreHolds(session).held_on(today)
    rows = session.execute(select(PersonHold.email, PersonHold.reason).where(PersonHold.email.in_(sorted(held))))
    return {email: reason for email, reason in rows if email in held}


def store_facts(session: Session, *, today: dt.date) -> StoreFacts:
    """Read grants, providers, locks, logins and administrators from the store."""
    grants = session.execute(
        select(Grant.email, Grant.application, Grant.role_group, Grant.unit_code).where(Grant.revoked_at.is_(None))
    ).all()
    return StoreFacts(
        grants=frozenset((e, a, r) for e, a, r, _ in grants),
        grant_units={e: u for e, _, _, u in grants},
        active_providers=frozenset(
            session.scalars(select(ProviderPerson.email).where(ProviderPerson.active.is_(True)))
        ),
        locked={**held_now(session, today=today), **locked_now(session, today=today)},
        last_login=last_logins(session),
        administrators=frozenset(session.scalars(select(Administrator.email))),
        exceptions={
            a.email: f"Lãnh đạo Ngành phê duyệt số {a.approval_id}, đến ngày {a.end_date:%d/%m/%Y} / approval "
            f"{a.approval_id}, until {a.end_date.isoformat()}"
            for a in session.scalars(select(ExceptionAccount).where(ExceptionAccount.status != "ended"))
        },
    )


def admin_role_groups(ctx: GovContext) -> list[tuple[str, str]]:
    """The top (administrator-grade) role group of each application."""
    return [(a.code, a.role_groups[-1]) for a in ctx.catalogue.applications.values() if a.role_groups]


def all_role_groups(ctx: GovContext) -> list[tuple[str, str]]:
    """Every application role group of the catalogue."""
    return [(a.code, r) for a in ctx.catalogue.applications.values() for r in a.role_groups]


def unit_filter(ctx: GovContext, unit_code: str, day: dt.date) -> Callable[[str], bool]:
    """Which account units a review of ``unit_code`` covers (the IT Center: central, providers, unplaced)."""
    cache: dict[str, bool] = {}

    def covers(code: str) -> bool:
        if code not in cache:
            current = ctx.units.successor_on(code, day) or code if code else ""
            if not current or ctx.units.get(current, day) is None:
                cache[code] = unit_code == ctx.it_center_unit
            elif ctx.units.is_under(current, unit_code, day):
                cache[code] = True
            else:
                cache[code] = unit_code == ctx.it_center_unit and ctx.units.province_of(current, day) is None
        return cache[code]

    return covers


def review_unit(
    session: Session,
    *,
    ctx: GovContext,
    actor: Actor,
    unit_code: str,
    read_facts: FactsReader,
    unused_days: int = 90,
    today: dt.date | None = None,
    now: dt.datetime | None = None,
    session_window_s: int = 36_000,
) -> list[Finding]:
    """Review the accounts of ``unit_code`` (and the units under it) within the actor's scope.

    ``read_facts`` reads Keycloak (in production :func:`bridge.adapters.keycloak.account_facts.read_account_facts`
    on the bridge's service account). The run is recorded in the ledger with its counts per kind.
    """
    now = now or dt.datetime.now(dt.UTC)
    day = today or today_vn(now)
    check_unit(ctx, actor, unit_code=unit_code, quarter=Quarter.of(day))
    store = store_facts(session, today=day)
    facts = read_facts(
        role_groups=all_role_groups(ctx),
        session_suspects=sharing_suspects(session, now=now, window_s=session_window_s),
        admin_emails=sorted(store.administrators),
        admin_role_groups=admin_role_groups(ctx),
    )
    findings = evaluate(
        facts=facts, store=store, directory=ctx.directory,
        admin_role_groups=admin_role_groups(ctx), covers=unit_filter(ctx, unit_code, day), today=day,
        unused_days=unused_days,
    )  # fmt: skip
    counts: dict[str, int] = defaultdict(int)
    for finding in findings:
        counts[finding.kind.value] += 1
    ledger.append(
        session, actor=actor.email, action="review.run", target=f"unit:{unit_code}", outcome="allowed",
        rule=Rule.R_REVIEW, detail={"unit": unit_code, "date": day.isoformat(), "unused_days": unused_days,
                                 "findings": dict(sorted(counts.items()))},
    )  # fmt: skip
    return findings
