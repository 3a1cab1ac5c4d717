"""The province scope cache keeps only the newest day's answers (issue 17, item 4; decision 0830).

A serving process runs for months; one entry per province per day, never emptied, grows without bound.
"""

from __future__ import annotations

import datetime as dt

import pytest

from bridge.domain.policy import Actor, AdminRole
from bridge.domain.units import UnitTree
from bridge.services import context


def test_a_new_day_empties_the_previous_days_answers(units: UnitTree, monkeypatch: pytest.MonkeyPatch) -> None:
    # the process-wide cache starts empty here: other tests of the session asked other days (today, later ones)
    monkeypatch.setattr(context, "_SCOPE_CACHE", {})
    actor = Actor(email="qt.hanoi@hanoi.vss.gov.vn", role=AdminRole.PROVINCE_ADMIN, unit_code="01000")
    start = dt.date(2026, 1, 5)
    first = context._units_under(units, actor, start)
    assert "01000" in first
    for offset in range(1, 60):
        day = start + dt.timedelta(days=offset)
        assert context._units_under(units, actor, day) == context._units_under(units, actor, day)
        days = {key[2] for key in context._SCOPE_CACHE}
        assert days == {day}, f"answers of {sorted(days)} kept on {day}"
    assert len(context._SCOPE_CACHE) == 1
    assert context._units_under(units, actor, start) == first  # an older day asked again is answered again
