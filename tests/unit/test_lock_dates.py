"""Date and reason rules of lock decisions (pure)."""

from __future__ import annotations

import datetime as dt
import unicodedata

import pytest

from bridge.domain.lock_reasons import LABELS_VI, LockReason, check_dates, parse_reason, parse_vn_date
from bridge.errors import InvalidInput

D = dt.date


@pytest.mark.parametrize("text", ["31/02/2025", "29/02/2025", "00/01/2025", "12/13/2025", "1/1/25", "abc", ""])
def test_impossible_or_malformed_dates_are_refused(text: str) -> None:
    with pytest.raises(InvalidInput, match="not a real date"):
        parse_vn_date(text, field="effective_date")


def test_vietnamese_day_month_year_order_and_leap_day() -> None:
    assert parse_vn_date("03/11/2025", field="x") == D(2025, 11, 3)
    assert parse_vn_date("29/02/2024", field="x") == D(2024, 2, 29)
    assert parse_vn_date("2025-11-03", field="x") == D(2025, 11, 3)


def test_reason_from_code_or_vietnamese_label_any_case_and_unicode_form() -> None:
    assert parse_reason("maternity") is LockReason.MATERNITY
    assert parse_reason("Nghỉ Thai Sản") is LockReason.MATERNITY
    assert parse_reason(unicodedata.normalize("NFD", "nghỉ hưu")) is LockReason.RETIRED
    assert all(parse_reason(label) is reason for reason, label in LABELS_VI.items())
    with pytest.raises(InvalidInput, match="unknown reason"):
        parse_reason("nghỉ phép")


def test_temporary_reason_needs_an_end_after_the_start() -> None:
    with pytest.raises(InvalidInput, match="needs an end date") as missing:
        check_dates(
            reason=LockReason.MATERNITY, decision_date=D(2025, 1, 1), effective_date=D(2025, 2, 1), end_date=None
        )
    assert missing.value.field == "end_date"
    with pytest.raises(InvalidInput, match="after the effective date"):
        check_dates(reason=LockReason.UNPAID_LEAVE, decision_date=D(2025, 1, 1), effective_date=D(2025, 2, 1),
                    end_date=D(2025, 1, 31))  # fmt: skip
    ok = check_dates(reason=LockReason.MATERNITY, decision_date=D(2025, 1, 1), effective_date=D(2025, 2, 1),
                     end_date=D(2025, 8, 1))  # fmt: skip
    assert ok.hold_to == D(2025, 7, 31)


def test_permanent_reason_takes_no_end_and_violation_needs_no_decision_date() -> None:
    with pytest.raises(InvalidInput, match="takes no end date"):
        check_dates(reason=LockReason.RETIRED, decision_date=D(2025, 1, 1), effective_date=D(2025, 2, 1),
                    end_date=D(2025, 3, 1))  # fmt: skip
    with pytest.raises(InvalidInput, match="decision date is required"):
        check_dates(reason=LockReason.RETIRED, decision_date=None, effective_date=D(2025, 2, 1), end_date=None)
    assert check_dates(reason=LockReason.VIOLATION, decision_date=None, effective_date=D(2025, 2, 1),
                       end_date=None).hold_to is None  # fmt: skip


def test_effective_date_far_from_the_decision_is_refused_as_a_typo() -> None:
    with pytest.raises(InvalidInput, match="more than 3 years"):
        check_dates(reason=LockReason.RETIRED, decision_date=D(2025, 1, 1), effective_date=D(2052, 1, 1),
                    end_date=None)  # fmt: skip
