"""Quarters: the one accepted spelling, deadlines of Công văn 907, and refusals that name the field."""

from __future__ import annotations

import datetime as dt

import pytest

from bridge.domain.reports.quarter import Quarter, reportable
from bridge.errors import InvalidInput


@pytest.mark.parametrize("text", ["2026-Q5", "2026-Q0", "Q3/2026", "2026Q3", "2026-q3x", "", "26-Q1", "2026-Q3 x"])
def test_malformed_quarters_are_refused_naming_the_field(text: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        Quarter.parse(text)
    assert caught.value.field == "quarter" and "YYYY-Qn" in caught.value.message


def test_quarter_bounds_and_deadline_before_the_10th() -> None:
    q3 = Quarter.parse("2026-Q3")
    assert (q3.first_day, q3.last_day) == (dt.date(2026, 7, 1), dt.date(2026, 9, 30))
    assert q3.due_date == dt.date(2026, 10, 9)
    assert Quarter.parse("2026-Q4").due_date == dt.date(2027, 1, 9)
    assert Quarter.parse("2026-Q1").previous() == Quarter(2025, 4)
    assert Quarter.of(dt.date(2026, 12, 31)) == Quarter(2026, 4)
    assert q3.label_vi == "Quý III/2026" and str(q3) == "2026-Q3"


def test_future_quarter_is_refused_but_the_current_one_is_reportable() -> None:
    today = dt.date(2026, 11, 23)
    assert reportable("2026-Q4", today=today) == Quarter(2026, 4)
    with pytest.raises(InvalidInput) as caught:
        reportable("2027-Q1", today=today)
    assert caught.value.field == "quarter" and "future" in caught.value.message
