"""The report as data: one row per person × application × role group, grouped in the appendix's two sections.

Rows are plain values (no ORM objects), so the same :class:`UnitReport` renders to .xlsx, CSV and JSON, and
its canonical JSON hash is what a submission records.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from bridge.clock import format_vn
from bridge.domain.reports.quarter import Quarter

#: Section 1: accounts locked or removed in the quarter (giảm); section 2: accounts added (tăng).
REMOVED, ADDED = 1, 2


@dataclass(frozen=True, slots=True)
class ReportRow:
    """One line of a section: what happened to one person's role group in one application."""

    section: int
    application: str
    application_name: str
    role_group: str
    email: str
    full_name: str
    title: str
    unit_code: str
    unit_name: str
    day: dt.date
    reason: str
    note: str
    #: Ledger row the line comes from (0 for existing accounts listed from the grants table).
    ledger_id: int = 0
    #: Grant the line concerns, when there is one (first reports list existing grants by id).
    grant_id: int | None = None
    #: The kind of account change (``bridge.domain.reports.changes.ChangeKind``), "" for existing accounts.
    change: str = ""

    def sort_key(self) -> tuple[str, dt.date, str, str, int, int]:
        """Per application, then by date, person, role group, and source row: stable for equal data."""
        return (self.application, self.day, self.email, self.role_group, self.ledger_id, self.grant_id or 0)

    def cells(self, stt: int) -> list[Any]:
        """The appendix's ten columns, dates written dd/mm/yyyy."""
        return [
            stt,
            self.full_name,
            self.title,
            self.unit_name,
            self.email,
            self.application_name,
            self.role_group,
            format_vn(self.day),
            self.reason,
            self.note,
        ]


@dataclass
class UnitReport:
    """One unit's report for one quarter."""

    unit_code: str
    unit_name: str
    quarter: Quarter
    generated_on: dt.date
    signer: str
    #: The unit's first report: section 2 lists every account existing at the quarter's end.
    first_report: bool
    removed: list[ReportRow] = field(default_factory=list)
    added: list[ReportRow] = field(default_factory=list)

    def totals(self) -> dict[str, Any]:
        """Row counts per section and per application."""
        return {
            "removed": len(self.removed),
            "added": len(self.added),
            "removed_by_application": dict(sorted(Counter(r.application for r in self.removed).items())),
            "added_by_application": dict(sorted(Counter(r.application for r in self.added).items())),
        }
