"""The rule book (bridge.domain.rules): every id has one meaning and a reason in Vietnamese and English."""

from __future__ import annotations

import re
from collections import Counter

from bridge.domain.rules import RULES, Rule, reason

ID = re.compile(r"^(?P<short>[RELWX]\d*)-[a-z]+(?:-[a-z]+)*$")


def test_every_rule_has_a_reason_vietnamese_first_english_beside() -> None:
    assert set(RULES) == set(Rule)
    for rule, text in RULES.items():
        vietnamese, _, english = text.partition(" / ")
        assert vietnamese and english, rule
        assert english.isascii() and not vietnamese.isascii(), rule


def test_each_short_id_names_one_rule() -> None:
    """``E4`` meant both an unknown approval and an unknown lock; now each number is one rule. R0 is the family
    of preconditions (who asks, from which unit, about which unit) and keeps its several ids."""
    shorts = Counter()
    for rule in Rule:
        match = ID.match(rule.value)
        assert match is not None, rule
        shorts[match["short"]] += 1
    assert {short for short, count in shorts.items() if count > 1} == {"R0"}


def test_ids_are_the_strings_ledger_rows_already_cite() -> None:
    assert Rule.E4_UNKNOWN_APPROVAL == "E4-unknown-approval"
    assert Rule.E5_UNKNOWN_LOCK == "E5-unknown-lock"
    assert Rule.L2_ANOTHER_HOLD == "L2-another-hold"
    assert f"{Rule.R9_NO_SELF}" == "R9-no-self"


def test_reasons_fill_their_placeholders() -> None:
    assert reason(Rule.R4_PROVINCE_OWN_UNITS, unit="01001", province="01000") == (
        "Đơn vị 01001 thuộc BHXH tỉnh 01000 của người thực hiện / unit 01001 is under the caller's province 01000"
    )
