"""Lock decisions as services (quyết định khóa tài khoản): request, cancel, return early, extend, read.

A decision is taken now and acted on later: the service checks scope (Quy chế 2366 Điều 6) and dates, writes
the decision, its hold (the one "lock in force" notion the sync respects, ``bridge.services.holds``) and the
scheduler's jobs, with one ledger row, in the caller's transaction. Keycloak is touched only by the scheduler
on the effective date, so a decision dated next Monday changes nothing until Monday in Asia/Ho_Chi_Minh.
API routes, the CLI and the Phụ lục 01 import all call these functions.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from bridge.adapters.directory.lookup import normalise_email
from bridge.adapters.store import ledger
from bridge.adapters.store.lock_models import NO_BACKOFF, LockDecision, LockJob
from bridge.adapters.store.models import Grant, ProviderPerson
from bridge.adapters.store.sync_models import PersonHold
from bridge.domain.catalogue import parse_role_group_path
from bridge.domain.lock_reasons import LABELS_VI, TEMPORARY, LockReason, check_dates
from bridge.domain.policy import Action, Actor, Decision, Target
from bridge.domain.rules import Rule
from bridge.errors import BridgeError, Conflict, InvalidInput
from bridge.services import grants
from bridge.services.context import GovContext, not_found, require, require_role
from bridge.services.holds import add_hold
from bridge.services.locks.intake import (
    HEADER_OF,
    GrantRow,
    ImportCheck,
    ImportRejected,
    RowProblem,
    UnlockRow,
    check_file,
)
from bridge.services.persons import find_person

APPLY, REINSTATE = "apply", "reinstate"
OPEN_STATUSES = ("scheduled", "in_force")


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def applications_of(role_groups: Sequence[str]) -> list[str]:
    """Application codes of role-group paths ``/apps/<CODE>/<role>``. Pure."""
    return sorted({parsed[0] for p in role_groups if (parsed := parse_role_group_path(p)) is not None})


def ledger_detail(decision: LockDecision, role_groups: Sequence[str] | None = None) -> dict[str, Any]:
    """The ledger detail of a lock or unlock row (the quarterly reports read exactly these keys)."""
    groups = sorted(role_groups if role_groups is not None else (decision.role_groups or []))
    return {
        "decision_id": decision.id,
        "reason_code": decision.reason_code,
        "reason_label_vi": LABELS_VI[LockReason(decision.reason_code)],
        "decision_number": decision.decision_number,
        "decision_date": decision.decision_date.isoformat() if decision.decision_date else None,
        "effective_date": decision.effective_date.isoformat(),
        "end_date": decision.end_date.isoformat() if decision.end_date else None,
        "unit_code": decision.unit_code,
        "role_groups": groups,
        "applications": applications_of(groups),
    }


def check_lock(
    session: Session, *, ctx: GovContext, actor: Actor, email: str, reason: LockReason
) -> tuple[str, Decision]:
    """Scope-check a lock of ``email`` for ``reason``: the person's unit and the deciding rule."""
    require_role(ctx, actor, Action.LOCK, target=f"person:{email}")
    person = find_person(session, ctx=ctx, email=email)
    if person is None:
        raise not_found("person", email, rule=Rule.E1_UNKNOWN_PERSON, field="email")
    target = Target(email=email, unit_code=person.unit_code, administrator=person.administrator,
                    lock_reason=reason.value)  # fmt: skip
    decision = ctx.decide(actor, Action.LOCK, target)
    visible = ctx.decide(actor, Action.VIEW, target).allowed
    require(decision, target=f"person:{email}", visible=visible, kind="person", key=email, field="email")
    return person.unit_code, decision


def request_lock(
    session: Session,
    *,
    ctx: GovContext,
    actor: Actor,
    email: str,
    reason: LockReason,
    decision_number: str | None,
    decision_date: dt.date | None,
    effective_date: dt.date | None = None,
    end_date: dt.date | None = None,
    source: str = "api",
) -> LockDecision:
    """Record a lock decision in the actor's scope; the scheduler applies it on ``effective_date``.

    A violation lock (vi phạm, Điều 6 khoản 3) by the IT Center may omit the decision and its date and takes
    effect today. A past effective date is applied at once (the scheduler catches up).
    """
    email = normalise_email(email)
    effective = effective_date or ctx.on_date
    dates = check_dates(reason=reason, decision_date=decision_date, effective_date=effective, end_date=end_date)
    if reason is not LockReason.VIOLATION and not (decision_number or "").strip():
        raise InvalidInput("thiếu số quyết định / the decision number is required", field="decision_number")
    unit_code, decision = check_lock(session, ctx=ctx, actor=actor, email=email, reason=reason)
    number = decision_number.strip() if decision_number else None
    duplicate = session.scalars(
        select(LockDecision.id).where(
            LockDecision.email == email,
            LockDecision.reason_code == reason.value,
            LockDecision.effective_date == effective,
            LockDecision.decision_number == number if number else LockDecision.decision_number.is_(None),
            LockDecision.status.in_(OPEN_STATUSES),
        )
    ).first()
    if duplicate is not None:
        raise Conflict(f"quyết định trùng / the same decision is already recorded (#{duplicate})", field="email")
    now = _now()
    hold = None
    if reason is not LockReason.TRANSFERRED:
        hold = add_hold(session, email=email, reason=reason.value, effective_from=effective,
                        effective_to=dates.hold_to, source="lock:pending")  # fmt: skip
    row = LockDecision(
        email=email, unit_code=unit_code, reason_code=reason.value, decision_number=number,
        decision_date=decision_date, effective_date=effective, end_date=end_date, requested_by=actor.email,
        requested_at=now, source=source, status="scheduled", hold_id=hold.id if hold else None,
    )  # fmt: skip
    session.add(row)
    session.flush()
    if hold is not None:
        hold.source = f"lock:{row.id}"
    session.add(LockJob(decision_id=row.id, kind=APPLY, due_date=effective, state="pending", not_before=NO_BACKOFF))
    if end_date is not None:
        session.add(LockJob(decision_id=row.id, kind=REINSTATE, due_date=end_date, state="pending",
                            not_before=NO_BACKOFF))  # fmt: skip
    session.flush()
    ledger.append(
        session,
        actor=actor.email,
        action="lock.request",
        target=f"person:{email}",
        outcome="allowed",
        rule=decision.rule,
        detail={**ledger_detail(row, []), "source": source},
    )
    return row


def get_lock(session: Session, *, ctx: GovContext, actor: Actor, decision_id: int) -> LockDecision:
    """A decision the actor may see; missing and out-of-scope answer alike (404)."""
    row = session.get(LockDecision, decision_id)
    if row is None:
        raise not_found("lock", decision_id, rule=Rule.E5_UNKNOWN_LOCK, field="decision_id")
    visible = ctx.decide(actor, Action.VIEW, Target(email=row.email, unit_code=row.unit_code))
    require(visible, target=f"lock:{decision_id}", visible=False, kind="lock", key=decision_id,
            field="decision_id")  # fmt: skip
    return row


def _authorise_change(
    session: Session, *, ctx: GovContext, actor: Actor, decision_id: int, action: Action
) -> tuple[LockDecision, Decision]:
    require_role(ctx, actor, action, target=f"lock:{decision_id}")
    row = get_lock(session, ctx=ctx, actor=actor, decision_id=decision_id)
    target = Target(email=row.email, unit_code=row.unit_code, lock_reason=row.reason_code)
    decision = ctx.decide(actor, action, target)
    require(decision, target=f"lock:{decision_id}", visible=True, kind="lock", key=decision_id,
            field="decision_id")  # fmt: skip
    return row, decision


def _take_job(session: Session, *, decision_id: int, kind: str, values: dict[str, Any]) -> bool:
    """Change a pending job nobody is working on (a conditional update: the scheduler may hold a claim)."""
    now = _now()
    changed = session.execute(
        update(LockJob)
        .where(LockJob.decision_id == decision_id, LockJob.kind == kind, LockJob.state == "pending",
               (LockJob.claimed_until.is_(None)) | (LockJob.claimed_until < now))
        .values(**values)
    )  # fmt: skip
    return bool(getattr(changed, "rowcount", 0))


def _set_hold_end(session: Session, row: LockDecision, last_day: dt.date | None) -> None:
    if row.hold_id is not None:
        hold = session.get(PersonHold, row.hold_id)
        if hold is not None:
            hold.effective_to = last_day


def cancel_lock(session: Session, *, ctx: GovContext, actor: Actor, decision_id: int) -> LockDecision:
    """Cancel a decision before it takes effect (hủy quyết định chưa có hiệu lực)."""
    row, decision = _authorise_change(session, ctx=ctx, actor=actor, decision_id=decision_id,
                                      action=Action.UNLOCK)  # fmt: skip
    if row.status != "scheduled" or not _take_job(
        session, decision_id=row.id, kind=APPLY, values={"state": "cancelled", "done_at": _now()}
    ):
        raise Conflict(f"lock {decision_id} is {row.status}: only a decision not yet in effect can be cancelled",
                       field="decision_id")  # fmt: skip
    _take_job(session, decision_id=row.id, kind=REINSTATE, values={"state": "cancelled", "done_at": _now()})
    _set_hold_end(session, row, row.effective_date - dt.timedelta(days=1))
    row.status, row.end_reason, row.ended_at = "cancelled", "cancelled", _now()
    ledger.append(session, actor=actor.email, action="lock.cancel", target=f"person:{row.email}",
                  outcome="allowed", rule=decision.rule, detail=ledger_detail(row, []))  # fmt: skip
    return row


def change_end_date(
    session: Session, *, ctx: GovContext, actor: Actor, decision_id: int, end_date: dt.date,
    origin: dict[str, Any] | None = None,
) -> LockDecision:  # fmt: skip
    """Move a temporary lock's return day: earlier (đi làm sớm) or later (gia hạn)."""
    row = session.get(LockDecision, decision_id)
    earlier = row is not None and row.end_date is not None and end_date < row.end_date
    action = Action.UNLOCK if earlier else Action.LOCK
    row, decision = _authorise_change(session, ctx=ctx, actor=actor, decision_id=decision_id, action=action)
    if LockReason(row.reason_code) not in TEMPORARY or row.end_date is None:
        raise InvalidInput(f"lock {decision_id} ({row.reason_code}) has no end date to move", field="end_date")
    if row.status not in OPEN_STATUSES:
        raise Conflict(f"lock {decision_id} is {row.status}", field="decision_id")
    check_dates(reason=LockReason(row.reason_code), decision_date=row.decision_date,
                effective_date=row.effective_date, end_date=end_date)  # fmt: skip
    if not _take_job(session, decision_id=row.id, kind=REINSTATE,
                     values={"due_date": end_date, "not_before": NO_BACKOFF}):  # fmt: skip
        raise Conflict(f"lock {decision_id} is being reinstated right now; retry", field="decision_id")
    previous = row.end_date
    row.end_date = end_date
    _set_hold_end(session, row, end_date - dt.timedelta(days=1))
    ledger.append(
        session, actor=actor.email, action="lock.return_early" if earlier else "lock.extend",
        target=f"person:{row.email}", outcome="allowed", rule=decision.rule,
        detail={**ledger_detail(row), "previous_end_date": previous.isoformat(), **(origin or {})},
    )  # fmt: skip
    return row


def list_locks(
    session: Session,
    *,
    ctx: GovContext,
    actor: Actor,
    status: str | None = None,
    email: str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> Sequence[LockDecision]:
    """Decisions of the units in the actor's scope, newest first (staff: none)."""
    if actor.role is None:
        return []
    query = select(LockDecision)
    scope = ctx.units_in_scope(actor)
    if scope is not None:
        query = query.where(LockDecision.unit_code.in_(sorted(scope)))
    if status is not None:
        query = query.where(LockDecision.status == status)
    if email is not None:
        query = query.where(LockDecision.email == normalise_email(email))
    return session.scalars(query.order_by(LockDecision.id.desc()).limit(limit).offset(offset)).all()


@dataclass(frozen=True)
class ImportResult:
    """What a Phụ lục 01 file recorded: lock decisions ("Khóa"), grants ("Cấp"), early endings ("Mở khóa")."""

    locks: list[LockDecision]
    grants: list[Grant]
    early_endings: list[LockDecision]

    @property
    def applied(self) -> int:
        """Rows applied: every row of the file."""
        return len(self.locks) + len(self.grants) + len(self.early_endings)


def import_locks(session: Session, *, ctx: GovContext, actor: Actor, data: bytes, filename: str) -> list[LockDecision]:
    """The lock decisions of a Phụ lục 01 file (see :func:`import_phu_luc`, which also returns its grants and
    early endings)."""
    return import_phu_luc(session, ctx=ctx, actor=actor, data=data, filename=filename).locks


def _role_problem(ctx: GovContext) -> Callable[[str, str], str | None]:
    def problem(application: str, role_group: str) -> str | None:
        try:
            ctx.catalogue.role_level(application, role_group)
        except BridgeError as exc:
            return exc.message
        return None

    return problem


def _open_temporary_lock(session: Session, *, email: str, return_date: dt.date) -> LockDecision:
    """The one open temporary lock of ``email`` that ``return_date`` can end early, or :class:`InvalidInput`."""
    query = select(LockDecision).where(LockDecision.email == email, LockDecision.status.in_(OPEN_STATUSES),
                                       LockDecision.end_date.is_not(None))  # fmt: skip
    found = [d for d in session.scalars(query.order_by(LockDecision.id)) if LockReason(d.reason_code) in TEMPORARY]
    if not found:
        raise InvalidInput(
            "không có quyết định khóa tạm thời đang hiệu lực để mở khóa / no open temporary lock to end", field="email"
        )
    ending = [d for d in found if d.effective_date < return_date < (d.end_date or return_date)]
    if len(ending) != 1:
        ends = ", ".join(f"#{d.id} {d.effective_date:%d/%m/%Y}–{d.end_date:%d/%m/%Y}" for d in found)
        raise InvalidInput(
            f"ngày đi làm lại {return_date:%d/%m/%Y} phải nằm trong đúng một thời gian khóa ({ends}) / the return "
            "date must fall inside exactly one open temporary lock, before its planned end",
            field="effective_date",
        )
    return ending[0]


def check_phu_luc(session: Session, *, ctx: GovContext, data: bytes, filename: str) -> ImportCheck:
    """Read and validate a Phụ lục 01 file without recording anything: its rows in file order, or its problems
    (people are looked up in the directory and among provider people; applications in the catalogue)."""

    def known(email: str) -> bool:
        return ctx.directory.find(email) is not None or session.get(ProviderPerson, email) is not None

    return check_file(data, filename=filename, known=known, role_problem=_role_problem(ctx), today=ctx.on_date)


def import_phu_luc(session: Session, *, ctx: GovContext, actor: Actor, data: bytes, filename: str) -> ImportResult:
    """Apply every row of a Phụ lục 01 file, or none: any wrong row rejects the file.

    Rows are validated first (dates, reasons, people, applications and role groups, duplicates, formulas), then
    each is scope-checked and recorded in file order: "Khóa" as a lock decision, "Cấp" as a grant (with its
    membership job), "Mở khóa" as the early end of the person's open temporary lock. A refusal or conflict on
    any row raises :class:`ImportRejected` and the caller's transaction rolls back every row already recorded.
    """
    require_role(ctx, actor, Action.LOCK, target=f"file:{filename}"[:300])
    check = check_phu_luc(session, ctx=ctx, data=data, filename=filename)
    if check.problems:
        raise ImportRejected(check.problems)
    source = f"import:{check.sha256[:12]}"
    problems: list[RowProblem] = []
    result = ImportResult([], [], [])
    for row in check.in_file_order:
        try:  # every refusal below is raised before the row writes anything
            if isinstance(row, GrantRow):
                ref = f"PL01 {row.decision_number or check.sha256[:12]} dòng {row.row}"[:64]
                result.grants.append(grants.request_grant(
                    session, ctx=ctx, actor=actor, email=row.email, application=row.application,
                    role_group=row.role_group, request_ref=ref, origin={"source": source, "row": row.row},
                ))  # fmt: skip
            elif isinstance(row, UnlockRow):
                result.early_endings.append(end_lock_early(
                    session, ctx=ctx, actor=actor, email=row.email, return_date=row.return_date,
                    origin={"source": source, "row": row.row, "decision_number": row.decision_number},
                ))  # fmt: skip
            else:
                result.locks.append(request_lock(
                    session, ctx=ctx, actor=actor, email=row.email, reason=row.reason,
                    decision_number=row.decision_number or None, decision_date=row.decision_date,
                    effective_date=row.effective_date, end_date=row.end_date, source=source,
                ))  # fmt: skip
        except BridgeError as exc:
            problems.append(RowProblem(row.row, HEADER_OF.get(exc.field or "email", "Thư điện tử công vụ"),
                                       exc.message))  # fmt: skip
    if problems:
        raise ImportRejected(problems)
    return result


def end_lock_early(
    session: Session, *, ctx: GovContext, actor: Actor, email: str, return_date: dt.date,
    origin: dict[str, Any] | None = None,
) -> LockDecision:  # fmt: skip
    """End ``email``'s one open temporary lock on ``return_date`` (đi làm sớm), as a "Mở khóa" row does."""
    lock = _open_temporary_lock(session, email=normalise_email(email), return_date=return_date)
    return change_end_date(session, ctx=ctx, actor=actor, decision_id=lock.id, end_date=return_date, origin=origin)
