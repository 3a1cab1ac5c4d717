"""How ledger rows of the lock engine's vocabulary become report lines: dates and role groups. Pure."""

from __future__ import annotations

import datetime as dt

from bridge.services.reports.build import Movement, _role_groups, event_day, vn_day

AT = dt.datetime(2026, 11, 20, 18, 30)  # naive UTC, as SQLite hands it back: 21/11 01:30 in Vietnam
LOCK = {"effective_date": "2026-10-01", "end_date": "2026-11-23", "role_groups": ["/apps/TST/operator",
        "/apps/QLVB/staff"], "applications": ["QLVB", "TST"]}  # fmt: skip


def test_stored_utc_times_fall_on_the_vietnamese_day() -> None:
    assert vn_day(AT) == dt.date(2026, 11, 21)
    assert vn_day(AT.replace(tzinfo=dt.UTC)) == dt.date(2026, 11, 21)


def test_lock_counts_on_its_effective_date_and_unlock_on_its_end_date() -> None:
    assert event_day("lock", LOCK, AT) == dt.date(2026, 10, 1)
    assert event_day("unlock", LOCK, AT) == dt.date(2026, 11, 23)
    assert event_day("unlock", {"effective_date": "2026-10-01"}, AT) == dt.date(2026, 11, 21)
    assert event_day("grant", {}, AT) == dt.date(2026, 11, 21)


def test_role_groups_as_paths_names_or_applications_give_one_line_each() -> None:
    assert _role_groups(LOCK) == [("QLVB", "staff"), ("TST", "operator")]
    assert _role_groups({"role_groups": ["TST/operator"]}) == [("TST", "operator")]
    assert _role_groups({"role_groups": [], "applications": ["KT"]}) == [("KT", "")]
    assert _role_groups({}) == [("", "")]
    move = Movement(1, AT, "revoke", "a@vss.gov.vn", {"application": "TST", "role_group": "admin"},
                    dt.date(2026, 11, 21), "00012")  # fmt: skip
    assert move.pairs() == [("TST", "admin")] and move.section == 1
