"""Submitting quarterly reports and following deadlines (Công văn 907: before the 10th of the next quarter).

A reporting unit — a province, or the IT Center for central and service-provider accounts — marks its report
submitted once the quarter is over. The submission records who, when, whether it was late, and the sha256 of
the report's content, in its own table and in the ledger (one transaction). The IT Center's view lists every
reporting unit of the quarter with its status: on time, late, missing (overdue), or pending (not yet due).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from bridge.adapters.store import ledger
from bridge.adapters.store.report_models import ReportSubmission
from bridge.domain.policy import Action, Actor, Target
from bridge.domain.reports.quarter import Quarter, reportable
from bridge.domain.units import UnitType
from bridge.errors import Conflict, InvalidInput
from bridge.services.context import GovContext, require
from bridge.services.reports.build import build_unit_report, check_unit, vn_day
from bridge.services.reports.render import content_hash


def reporting_units(ctx: GovContext, quarter: Quarter) -> list[str]:
    """Units that owe a report for the quarter: provinces in force on its last day, and the IT Center."""
    day = quarter.last_day
    provinces = [u.code for u in ctx.units.on(day).values() if u.type in (UnitType.PROVINCE, UnitType.REGION)]
    return sorted({*provinces, ctx.it_center_unit})


def submit_report(
    session: Session,
    *,
    ctx: GovContext,
    actor: Actor,
    unit_code: str,
    quarter: str,
    now: dt.datetime | None = None,
) -> ReportSubmission:
    """Mark ``unit_code``'s report for ``quarter`` submitted by ``actor`` (its administrator)."""
    moment = (now or dt.datetime.now(dt.UTC)).astimezone(dt.UTC)
    today = vn_day(moment)
    parsed = reportable(quarter, today=today)
    check_unit(ctx, actor, unit_code=unit_code, quarter=parsed)
    if unit_code not in reporting_units(ctx, parsed):
        raise InvalidInput(
            f"{unit_code} không phải đơn vị báo cáo (tỉnh hoặc Trung tâm CNTT) / not a reporting unit",
            field="unit",
        )
    decision = ctx.decide(actor, Action.GRANT, Target(unit_code=unit_code))
    require(decision, target=f"unit:{unit_code}", visible=True, kind="unit", key=unit_code, field="unit")
    if not parsed.ended_by(today):
        raise Conflict(
            f"Quý {parsed} chưa kết thúc (đến {parsed.last_day:%d/%m/%Y}) / the quarter has not ended",
            field="quarter",
        )
    exists = session.scalars(
        select(ReportSubmission).where(ReportSubmission.unit_code == unit_code, ReportSubmission.quarter == str(parsed))
    ).first()
    if exists is not None:
        raise Conflict(
            f"Báo cáo {parsed} của {unit_code} đã nộp ngày {vn_day(exists.submitted_at):%d/%m/%Y} / already submitted",
            field="quarter",
        )
    report = build_unit_report(
        session, ctx=ctx, actor=actor, unit_code=unit_code, quarter=str(parsed), generated_on=today
    )
    submission = ReportSubmission(
        unit_code=unit_code, quarter=str(parsed), submitted_by=actor.email, submitted_at=moment,
        content_sha256=content_hash(report), late=today > parsed.due_date,
    )  # fmt: skip
    session.add(submission)
    ledger.append(
        session, actor=actor.email, action="report.submit", target=f"report:{unit_code}:{parsed}",
        outcome="allowed", rule=decision.rule, at=moment,
        detail={"unit": unit_code, "quarter": str(parsed), "sha256": submission.content_sha256,
                "late": submission.late, "due_date": parsed.due_date.isoformat(), **report.totals()},
    )  # fmt: skip
    return submission


@dataclass(frozen=True)
class UnitStatus:
    """Where a reporting unit stands for a quarter."""

    unit_code: str
    unit_name: str
    #: on_time | late | missing | pending
    status: str
    submitted_at: dt.datetime | None = None
    submitted_by: str | None = None
    content_sha256: str | None = None


def quarter_status(
    session: Session, *, ctx: GovContext, actor: Actor, quarter: str, today: dt.date
) -> Sequence[UnitStatus]:
    """Every reporting unit in the actor's scope with its submission status on ``today``."""
    parsed = reportable(quarter, today=today)
    scope = ctx.units_in_scope(actor) if actor.role is not None else frozenset()
    units = [u for u in reporting_units(ctx, parsed) if scope is None or u in scope]
    if actor.role is None:
        check_unit(ctx, actor, unit_code=ctx.it_center_unit, quarter=parsed)
    found = {
        s.unit_code: s for s in session.scalars(select(ReportSubmission).where(ReportSubmission.quarter == str(parsed)))
    }
    result = []
    for code in units:
        unit = ctx.units.get(code, parsed.last_day)
        name = unit.name if unit else code
        sub = found.get(code)
        if sub is not None:
            status = "late" if sub.late else "on_time"
            result.append(UnitStatus(code, name, status, sub.submitted_at, sub.submitted_by, sub.content_sha256))
        else:
            result.append(UnitStatus(code, name, "missing" if today > parsed.due_date else "pending"))
    return result
