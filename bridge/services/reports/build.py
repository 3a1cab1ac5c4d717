"""Building a unit's quarterly report from the audit ledger (Keycloak's events expire; the ledger does not).

Section 1 (giảm) takes the quarter's ``lock`` rows (one line per role group the lock ended), and ``revoke``
rows (a transfer ends the old field's roles with reason ``transferred``); section 2 (tăng) takes ``grant`` rows
and ``unlock`` rows (reinstatement). Every other account change — the sync's joiners, leavers, returners and unit
moves, console changes accepted or reverted, exception accounts created and ended — is read in the report's
vocabulary (:mod:`bridge.domain.reports.changes`) and goes to the section its kind says, one line per row.
A row belongs to the quarter of its effective date — a lock decided in
September that takes effect on 1 October is a Q4 lock; a grant is effective when written. A unit's first
report (no earlier submission) lists in section 2 every account existing at the quarter's end, read from the
grants table the ledger rows were written with. Rows are attributed to the unit of the account on the unit
tree valid on the quarter's last day (closed units follow their successor links), and a report of unit U
covers every unit under U; central and service-provider accounts are reported by the IT Center.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from bridge.adapters.store.models import Grant, LedgerEntry, ProviderPerson
from bridge.adapters.store.report_models import ReportSubmission
from bridge.clock import VN_TZ, today_vn
from bridge.domain.catalogue import parse_role_group_path
from bridge.domain.policy import Action, Actor, Target
from bridge.domain.reports import labels
from bridge.domain.reports.changes import ACCOUNT_ACTIONS, LABELS, ChangeKind, change_kind, section_of
from bridge.domain.reports.model import ADDED, REMOVED, ReportRow, UnitReport
from bridge.domain.reports.quarter import Quarter, reportable
from bridge.domain.rules import Rule
from bridge.errors import InvalidInput
from bridge.services.context import GovContext, Refused, require, require_role

#: Asia/Ho_Chi_Minh has kept UTC+7 without daylight saving since 1975: a fixed offset is exact and fast.
_VN_OFFSET = dt.timedelta(hours=7)
MOVEMENTS = ("grant", "revoke", "lock", "unlock")


def vn_day(moment: dt.datetime) -> dt.date:
    """The Vietnamese calendar day of a stored (UTC, possibly naive on SQLite) timestamp."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(dt.UTC).replace(tzinfo=None)
    return (moment + _VN_OFFSET).date()


def utc_bounds(quarter: Quarter) -> tuple[dt.datetime, dt.datetime]:
    """The quarter as a half-open UTC interval [start, end)."""
    start = dt.datetime.combine(quarter.first_day, dt.time(), VN_TZ).astimezone(dt.UTC)
    end = dt.datetime.combine(quarter.next().first_day, dt.time(), VN_TZ).astimezone(dt.UTC)
    return start, end


class ReportSource:
    """Who the people, units and applications of a quarter's rows are; every lookup is cached."""

    def __init__(self, session: Session, *, ctx: GovContext, quarter: Quarter) -> None:
        self.ctx, self.quarter, self.day = ctx, quarter, quarter.last_day
        self._providers = {
            p.email: (p.full_name, "Nhân sự đơn vị cung cấp dịch vụ") for p in session.scalars(select(ProviderPerson))
        }
        self._people: dict[str, tuple[str, str]] = {}
        self._current: dict[str, str] = {}
        self._reporter: dict[str, str] = {}
        self._covers: dict[tuple[str, str], bool] = {}

    def current(self, code: str) -> str:
        """The unit in force on the quarter's last day that ``code`` is, or became through reorganisation."""
        if code not in self._current:
            self._current[code] = self.ctx.units.successor_on(code, self.day) or code
        return self._current[code]

    def reporter_of(self, code: str) -> str:
        """The unit that reports an account of ``code``: its province, else the IT Center."""
        if code not in self._reporter:
            province = self.ctx.units.province_of(self.current(code), self.day)
            self._reporter[code] = province.code if province else self.ctx.it_center_unit
        return self._reporter[code]

    def covers(self, unit: str, code: str) -> bool:
        """True when unit ``unit``'s report includes accounts of unit ``code``."""
        key = (unit, code)
        if key not in self._covers:
            self._covers[key] = self.reporter_of(code) == unit or self.ctx.units.is_under(
                self.current(code), unit, self.day
            )
        return self._covers[key]

    def unit_name(self, code: str) -> str:
        """Name of the unit on the quarter's last day (or its last known name)."""
        unit = self.ctx.units.get(self.current(code), self.day)
        if unit is None:
            versions = [u for u in self.ctx.units.units if u.code == code]
            return versions[-1].name if versions else code
        return unit.name

    def app_name(self, code: str) -> str:
        """``Thu – Sổ – Thẻ (TST)``: the catalogue name with the code."""
        app = self.ctx.catalogue.applications.get(code)
        return f"{app.name} ({code})" if app else code

    def person(self, email: str) -> tuple[str, str]:
        """Full name and title from the directory, else the provider register, else blanks."""
        if email not in self._people:
            found = self.ctx.directory.find(email)
            if found is not None:
                self._people[email] = (found.full_name, found.title)
            else:
                self._people[email] = self._providers.get(email, ("", ""))
        return self._people[email]

    def unit_codes_of(self, unit: str) -> list[str]:
        """Every known unit code whose accounts ``unit``'s report covers."""
        codes = {u.code for u in self.ctx.units.units}
        return sorted(c for c in codes if self.covers(unit, c))

    def unit_of_reporter(self) -> dict[str, str]:
        """Every known unit code → the unit that reports its accounts."""
        return {u.code: self.reporter_of(u.code) for u in self.ctx.units.units}


def _day(value: Any) -> dt.date | None:
    if not value:
        return None
    try:
        return dt.date.fromisoformat(str(value)[:10])
    except ValueError:
        return None


def event_day(action: str, detail: dict[str, Any], at: dt.datetime) -> dt.date:
    """The day a movement takes effect: an unlock on the lock's (planned or changed) end date — its row
    repeats the lock's effective date — anything else on its effective date; else the day it was written."""
    if action == "unlock":
        return _day(detail.get("end_date")) or vn_day(at)
    return _day(detail.get("effective_date")) or vn_day(at)


def _role_groups(detail: dict[str, Any]) -> list[tuple[str, str]]:
    """(application, role group) pairs a lock or unlock row names; ``("", "")`` when it names none."""
    pairs: list[tuple[str, str]] = []
    for item in detail.get("role_groups") or []:
        if isinstance(item, dict):
            pairs.append((str(item.get("application", "")), str(item.get("role_group", ""))))
        elif "/" in str(item):
            pair = parse_role_group_path(str(item))
            if pair is None:  # a bare ``<application>/<role group>``
                app, _, role = str(item).strip("/").partition("/")
                pair = (app, role)
            pairs.append(pair)
    if not pairs:
        pairs = [(str(app), "") for app in detail.get("applications") or []]
    return sorted(set(pairs)) or [("", "")]


def _decision_note(detail: dict[str, Any]) -> str:
    number, decided = detail.get("decision_number"), _day(detail.get("decision_date"))
    if not number:
        return ""
    return f"QĐ số {number}" + (f" ngày {decided:%d/%m/%Y}" if decided else "")


def _grant_note(detail: dict[str, Any]) -> str:
    notes = []
    request = str(detail.get("request_id") or "")
    if request and not (len(request) == 32 and all(c in "0123456789abcdef" for c in request)):
        notes.append(f"Đề nghị (Phụ lục 01): {request}")
    if detail.get("exception_id"):
        notes.append(f"Ngoại lệ được Lãnh đạo Ngành phê duyệt số {detail['exception_id']}")
    if detail.get("basis") == "provider":
        notes.append("Nhân sự đơn vị cung cấp dịch vụ")
    return "; ".join(notes)


@dataclass(frozen=True, slots=True)
class Movement:
    """One ledger row that changes what a person may use, with its effective day and the account's unit."""

    entry_id: int
    at: dt.datetime
    action: str
    email: str
    detail: dict[str, Any]
    effective: dt.date
    unit: str
    #: The change's kind (``ChangeKind``) when the row was read as one; grant, revoke, lock and unlock rows are
    #: classified by their action.
    kind: str = ""

    @property
    def change(self) -> ChangeKind | None:
        """What the row changed, in the report's vocabulary."""
        return ChangeKind(self.kind) if self.kind else change_kind(self.action, "allowed", "", self.detail)

    @property
    def section(self) -> int:
        """Section 1 (giảm) for revoke and lock, section 2 (tăng) for grant and unlock; others by their kind."""
        if self.kind:
            return section_of(ChangeKind(self.kind), self.action)
        return REMOVED if self.action in ("revoke", "lock") else ADDED

    def pairs(self) -> list[tuple[str, str]]:
        """(application, role group) pairs the row concerns: one line each."""
        if self.action in ("grant", "revoke"):
            return [(str(self.detail.get("application", "")), str(self.detail.get("role_group", "")))]
        return _role_groups(self.detail)


def rows_of(move: Movement, src: ReportSource) -> Iterator[ReportRow]:
    """The report lines one movement makes."""
    detail, action = move.detail, move.action
    name, title = src.person(move.email)
    reason_code = str(detail.get("reason_code") or detail.get("reason") or "")
    # the report's own label (capitalised, as the appendix prints it) before the one the ledger row carries
    reason_label = labels.LOCK_REASONS.get(reason_code) or str(detail.get("reason_label_vi") or "")
    kind = move.change
    if move.kind:
        reason, note = LABELS[ChangeKind(move.kind)], _account_note(detail)
    elif action == "grant":
        reason, note = labels.REASON_GRANT, _grant_note(detail)
    elif action == "revoke":
        reason, note = reason_label or labels.REASON_REVOKE, _decision_note(detail)
    elif action == "lock":  # an exception account's end names its approval
        reason, note = reason_label or "Khóa tài khoản", _decision_note(detail) or _account_note(detail)
    else:
        reason = labels.REASON_UNLOCK + (f" (sau: {reason_label.lower()})" if reason_label else "")
        note = _decision_note(detail)
    grant_id = detail.get("grant") if action in ("grant", "revoke") else None
    unit_name = src.unit_name(move.unit) if move.unit else ""
    for app, role in move.pairs():
        yield ReportRow(
            section=move.section, application=app,
            application_name=src.app_name(app) if app else labels.ALL_APPLICATIONS, role_group=role or "—",
            email=move.email, full_name=name, title=title, unit_code=move.unit, unit_name=unit_name,
            day=move.effective, reason=reason, note=note, ledger_id=move.entry_id,
            grant_id=int(grant_id) if grant_id else None, change=kind.value if kind else "",
        )  # fmt: skip


def _account_note(detail: dict[str, Any]) -> str:
    """The note of a sync, console or exception-account line: the approval, the console's decision, the run."""
    if detail.get("exception_id"):
        end = _day(detail.get("end_date"))
        return f"Ngoại lệ được Lãnh đạo Ngành phê duyệt số {detail['exception_id']}" + (
            f", đến ngày {end:%d/%m/%Y}" if end else ""
        )
    if detail.get("event_id") is not None:
        return str(detail.get("reason") or "")
    return f"Lượt đồng bộ số {detail['run']}" if detail.get("run") is not None else ""


def account_movements(
    session: Session, *, first: Quarter, last: Quarter, unit_codes: Iterable[str] | None = None
) -> Iterator[Movement]:
    """The sync's, the console watcher's and the exception accounts' changes written in ``first``..``last`` (of
    units ``unit_codes``, or all: their rows name the unit as ``unit``, which the database filters on).

    These take effect when written, so they are read by the time of their row, in the report's vocabulary.
    """
    start, end = utc_bounds(first)[0], utc_bounds(last)[1]
    query = (
        select(LedgerEntry.id, LedgerEntry.at, LedgerEntry.action, LedgerEntry.outcome, LedgerEntry.rule,
               LedgerEntry.target, LedgerEntry.detail)
        .where(LedgerEntry.action.in_(ACCOUNT_ACTIONS), LedgerEntry.at >= start, LedgerEntry.at < end)
        .order_by(LedgerEntry.id)
        .execution_options(yield_per=5000)
    )  # fmt: skip
    if unit_codes is not None:
        query = query.where(LedgerEntry.detail["unit"].as_string().in_(sorted(unit_codes)))
    for entry_id, at, action, outcome, rule, target, detail in session.execute(query):
        # person:<mail> (services), user:<mail> (the sync), the bare mail (the console watcher)
        prefix, _, rest = str(target).partition(":")
        email = rest if prefix in ("person", "user") else str(target)
        if "@" not in email or ":" in email:
            continue
        detail = detail or {}
        kind = change_kind(action, outcome, rule, detail)
        if kind is None:
            continue
        unit = str(detail.get("unit") or detail.get("unit_code") or "")
        yield Movement(entry_id, at, action, email, detail, vn_day(at), unit, kind.value)


#: Changes that are not a grant or a reinstatement: a first report keeps them beside the listing of grants.
_ACCOUNT_KINDS = frozenset(k.value for k in ChangeKind) - {ChangeKind.ROLE_GRANTED.value, ChangeKind.REINSTATED.value}
_GRANT_KEYS = ("application", "role_group", "unit", "grant", "request_id", "exception_id", "basis")


def grant_movements(
    session: Session, *, first: Quarter, last: Quarter, unit_codes: Iterable[str] | None = None
) -> Iterator[Movement]:
    """Grants written in the quarters ``first``..``last`` (of units ``unit_codes``, or all).

    Grants are most of the ledger, so the database extracts the few detail fields a line needs (and filters by
    unit) instead of Python decoding every row's JSON.
    """
    start, end = utc_bounds(first)[0], utc_bounds(last)[1]
    fields = [LedgerEntry.detail[key].as_string() for key in _GRANT_KEYS]
    query = select(LedgerEntry.id, LedgerEntry.at, LedgerEntry.target, *fields).where(
        LedgerEntry.action == "grant", LedgerEntry.outcome == "allowed", LedgerEntry.at >= start,
        LedgerEntry.at < end,
    )  # fmt: skip
    if unit_codes is not None:
        query = query.where(fields[2].in_(sorted(unit_codes)))
    for entry_id, at, target, *values in session.execute(query.execution_options(yield_per=10_000)):
        if not target.startswith("person:"):
            continue
        detail = {k: v for k, v in zip(_GRANT_KEYS, values, strict=True) if v is not None}
        yield Movement(entry_id, at, "grant", target[7:], detail, vn_day(at), detail.get("unit", ""))


def dated_movements(session: Session, *, first: Quarter, last: Quarter) -> Iterator[Movement]:
    """Revocations, locks and unlocks effective in the quarters ``first``..``last``.

    They count by their effective date, which may lie before the row was written (a decision recorded late),
    so rows are read from a year before the period on and filtered here.
    """
    start = utc_bounds(first)[0] - dt.timedelta(days=366)
    query = (
        select(LedgerEntry.id, LedgerEntry.at, LedgerEntry.action, LedgerEntry.target, LedgerEntry.detail)
        .where(LedgerEntry.action.in_(("revoke", "lock", "unlock")), LedgerEntry.outcome == "allowed",
               LedgerEntry.at >= start)
        .order_by(LedgerEntry.id)
        .execution_options(yield_per=5000)
    )  # fmt: skip
    seen: set[tuple[str, str, str]] = set()
    low, high = first.first_day, last.last_day
    for entry_id, at, action, target, detail in session.execute(query):
        if not target.startswith("person:"):
            continue
        detail = detail or {}
        effective = event_day(action, detail, at)
        if not low <= effective <= high:
            continue
        email = target.removeprefix("person:")
        decision = detail.get("decision_id")
        if decision is not None and action in ("lock", "unlock"):
            if (action, str(decision), email) in seen:
                continue  # the lock engine may record a decision and, later, its application
            seen.add((action, str(decision), email))
        unit = str(detail.get("unit_code") or detail.get("unit") or "")
        yield Movement(entry_id, at, action, email, detail, effective, unit)


def movement_rows(session: Session, *, src: ReportSource, unit_code: str) -> Iterator[ReportRow]:
    """The quarter's lines of the accounts ``unit_code``'s report covers."""
    codes = src.unit_codes_of(unit_code)
    for move in grant_movements(session, first=src.quarter, last=src.quarter, unit_codes=codes):
        yield from rows_of(move, src)
    for move in dated_movements(session, first=src.quarter, last=src.quarter):
        if move.unit and src.covers(unit_code, move.unit):
            yield from rows_of(move, src)
    for move in account_movements(session, first=src.quarter, last=src.quarter, unit_codes=codes):
        if move.unit and src.covers(unit_code, move.unit):
            yield from rows_of(move, src)


def existing_rows(session: Session, *, src: ReportSource, unit_codes: Iterable[str]) -> Iterator[ReportRow]:
    """Accounts existing at the quarter's end in ``unit_codes`` (a first report's section 2), streamed."""
    _, end = utc_bounds(src.quarter)
    query = (
        select(Grant.id, Grant.email, Grant.application, Grant.role_group, Grant.unit_code, Grant.granted_at)
        .where(
            Grant.unit_code.in_(sorted(unit_codes)),
            Grant.granted_at < end,
            or_(Grant.revoked_at.is_(None), Grant.revoked_at >= end),
        )
        .execution_options(yield_per=5000)
    )
    for grant_id, email, app, role, unit, granted_at in session.execute(query):
        name, title = src.person(email)
        day = vn_day(granted_at)
        yield ReportRow(
            section=ADDED, application=app, application_name=src.app_name(app), role_group=role, email=email,
            full_name=name, title=title, unit_code=unit, unit_name=src.unit_name(unit), day=day,
            reason=labels.REASON_GRANT if src.quarter.contains(day) else labels.REASON_EXISTING, note="",
            grant_id=grant_id,
        )  # fmt: skip


def submitted_before(session: Session, *, unit_code: str, quarter: Quarter) -> bool:
    """True when the unit submitted a report for an earlier quarter (so this one is not its first)."""
    query = select(ReportSubmission.id).where(
        ReportSubmission.unit_code == unit_code, ReportSubmission.quarter < str(quarter)
    )
    return session.execute(query.limit(1)).first() is not None


def assemble(
    session: Session,
    *,
    src: ReportSource,
    unit_code: str,
    movements: Iterable[ReportRow],
    first_report: bool,
    generated_on: dt.date,
    signer: str,
) -> UnitReport:
    """Sort a unit's lines into its two sections; a first report adds every existing account."""
    report = UnitReport(
        unit_code=unit_code, unit_name=src.unit_name(unit_code), quarter=src.quarter,
        generated_on=generated_on, signer=signer, first_report=first_report,
    )  # fmt: skip
    for row in movements:
        (report.removed if row.section == REMOVED else report.added).append(row)
    if first_report:
        # reinstated accounts are listed through their (still active) grants, once; the account changes of the
        # sync, the console and exception accounts stay (they are no grant, so the listing does not repeat them)
        report.added = [row for row in report.added if row.grant_id is not None or row.change in _ACCOUNT_KINDS]
        listed = {row.grant_id for row in report.added}
        report.added += [
            r for r in existing_rows(session, src=src, unit_codes=src.unit_codes_of(unit_code))
            if r.grant_id not in listed
        ]  # fmt: skip
    report.removed.sort(key=ReportRow.sort_key)
    report.added.sort(key=ReportRow.sort_key)
    return report


def check_unit(ctx: GovContext, actor: Actor, *, unit_code: str, quarter: Quarter) -> None:
    """Refuse an unknown unit (422, field ``unit``) or one outside the actor's scope (404)."""
    require_role(ctx, actor, Action.VIEW, target=f"unit:{unit_code}")
    if ctx.units.get(unit_code, quarter.last_day) is None and ctx.units.get(unit_code, ctx.on_date) is None:
        raise InvalidInput(f"Không có đơn vị {unit_code!r} / unknown unit {unit_code!r}", field="unit")
    if actor.role is None:
        raise Refused("Chỉ quản trị viên xem báo cáo / administrators only", rule=Rule.R0_NOT_ADMINISTRATOR,
                      target=f"unit:{unit_code}")  # fmt: skip
    on = ctx.on_date if ctx.units.get(unit_code, ctx.on_date) else quarter.last_day
    decision = GovContext(ctx.units, ctx.catalogue, ctx.directory, on, ctx.it_center_unit).decide(
        actor, Action.VIEW, Target(unit_code=unit_code)
    )
    require(decision, target=f"unit:{unit_code}", visible=False, kind="unit", key=unit_code, field="unit")


def build_unit_report(
    session: Session,
    *,
    ctx: GovContext,
    actor: Actor,
    unit_code: str,
    quarter: str,
    signer: str | None = None,
    generated_on: dt.date | None = None,
) -> UnitReport:
    """The quarterly report of ``unit_code`` (``quarter`` as ``YYYY-Qn``), within the actor's scope."""
    today = generated_on or today_vn()
    parsed = reportable(quarter, today=today)
    check_unit(ctx, actor, unit_code=unit_code, quarter=parsed)
    src = ReportSource(session, ctx=ctx, quarter=parsed)
    rows = movement_rows(session, src=src, unit_code=unit_code)
    first = not submitted_before(session, unit_code=unit_code, quarter=parsed)
    return assemble(
        session, src=src, unit_code=unit_code, movements=rows, first_report=first, generated_on=today,
        signer=signer if signer is not None else default_signer(ctx, actor),
    )  # fmt: skip


def default_signer(ctx: GovContext, actor: Actor) -> str:
    """The actor's name and title from the directory, else their e-mail."""
    found = ctx.directory.find(actor.email)
    if found is None:
        return actor.email
    return f"{found.full_name} — {found.title}" if found.title else found.full_name
