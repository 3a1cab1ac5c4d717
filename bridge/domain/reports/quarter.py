"""Reporting quarters (quý) and their deadline (Công văn 907: before the 10th of the next quarter's first month).

One spelling is accepted, ``YYYY-Qn`` (``2026-Q3``), the one the API, the CLI and the file names share; anything
else — ``Q3/2026``, ``2026-Q5``, ``2026Q3`` — is an :class:`InvalidInput` naming the field ``quarter``. A quarter
that has not begun yet (in Asia/Ho_Chi_Minh) cannot be reported. Everything here is pure.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from bridge.errors import InvalidInput

_PATTERN = re.compile(r"(\d{4})-Q([1-4])")
#: Reports are due *before* this day of the following quarter's first month (trước ngày 10).
DUE_BEFORE_DAY = 10


@dataclass(frozen=True, order=True)
class Quarter:
    """A calendar quarter of a year."""

    year: int
    number: int

    @classmethod
    def parse(cls, text: str, *, field: str = "quarter") -> Quarter:
        """Parse ``YYYY-Qn``; any other spelling is refused with the accepted format in the message."""
        match = _PATTERN.fullmatch(text.strip())
        if match is None:
            raise InvalidInput(
                f"Quý không hợp lệ {text!r}: dùng dạng YYYY-Qn, ví dụ 2026-Q3 / "
                f"malformed quarter {text!r}: expected YYYY-Qn with n in 1..4, e.g. 2026-Q3",
                field=field,
            )
        return cls(int(match.group(1)), int(match.group(2)))

    @classmethod
    def of(cls, day: dt.date) -> Quarter:
        """The quarter ``day`` falls in."""
        return cls(day.year, (day.month - 1) // 3 + 1)

    @property
    def first_day(self) -> dt.date:
        """1st day of the quarter's first month."""
        return dt.date(self.year, 3 * self.number - 2, 1)

    @property
    def last_day(self) -> dt.date:
        """Last day of the quarter."""
        return self.next().first_day - dt.timedelta(days=1)

    @property
    def due_date(self) -> dt.date:
        """The last day a report is on time: the 9th of the next quarter's first month."""
        return self.next().first_day.replace(day=DUE_BEFORE_DAY - 1)

    def next(self) -> Quarter:
        """The following quarter."""
        return Quarter(self.year + 1, 1) if self.number == 4 else Quarter(self.year, self.number + 1)

    def previous(self) -> Quarter:
        """The preceding quarter."""
        return Quarter(self.year - 1, 4) if self.number == 1 else Quarter(self.year, self.number - 1)

    def contains(self, day: dt.date) -> bool:
        """True when ``day`` lies in the quarter."""
        return self.first_day <= day <= self.last_day

    def ended_by(self, today: dt.date) -> bool:
        """True once the quarter is over on ``today``."""
        return today > self.last_day

    def __str__(self) -> str:
        return f"{self.year}-Q{self.number}"

    @property
    def label_vi(self) -> str:
        """``Quý III/2026``, as the report's header writes it."""
        return f"Quý {('I', 'II', 'III', 'IV')[self.number - 1]}/{self.year}"


def reportable(text: str, *, today: dt.date, field: str = "quarter") -> Quarter:
    """Parse a quarter and refuse one that has not begun on ``today`` (a report of the future)."""
    quarter = Quarter.parse(text, field=field)
    if quarter.first_day > today:
        raise InvalidInput(
            f"Quý {quarter} chưa bắt đầu (hôm nay {today:%d/%m/%Y}) / quarter {quarter} is in the future",
            field=field,
        )
    return quarter
