"""The reorganisation plan (pure): a merger carries every row to the successor, a split follows the directory,
and the safety valve counts reorganisation moves per unit."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from bridge.domain.reorg import Held, plan_reorg
from bridge.domain.sync.planner import Operation, OpKind, Reason
from bridge.domain.sync.safety import reorg_reasons
from bridge.domain.units import load_units, parse_units
from bridge.settings import SyncSettings

CONFIG = Path(__file__).resolve().parents[2] / "keycloak-config"
DAY = dt.date(2025, 10, 1)
SPLIT = """
- {code: '01011', name: Mê Linh cũ, type: branch, parent: '01000', valid_from: '2025-07-01', valid_to: '2025-09-30',
   successors: ['01012', '01013']}
- {code: '01012', name: Mê Linh, type: branch, parent: '01000', valid_from: '2025-10-01'}
- {code: '01013', name: Tiền Phong, type: branch, parent: '01000', valid_from: '2025-10-01'}
"""
UNITS = parse_units((CONFIG / "units.yaml").read_text(encoding="utf-8") + SPLIT)


def test_a_merger_moves_grants_locks_and_administrators_to_the_successor() -> None:
    held = [Held("grant", "3", "b@x", "01009"), Held("grant", "1", "a@x", "01009"), Held("lock", "7", "a@x", "01009"),
            Held("administrator", "q@x", "q@x", "01009"), Held("grant", "9", "z@x", "01010")]  # fmt: skip
    plan = plan_reorg("01009", DAY, UNITS, held, {})
    assert plan.problems == () and plan.successors == ("01010",) and not plan.split
    assert [(m.kind, m.key, m.to_unit) for m in plan.moves] == [
        ("administrator", "q@x", "01010"), ("grant", "1", "01010"), ("grant", "3", "01010"), ("lock", "7", "01010")
    ]  # fmt: skip
    assert plan.by_unit == {"01010": 4}
    again = plan_reorg("01009", DAY, UNITS, list(reversed(held)), {})
    assert again.subject() == plan.subject()  # same state, same plan, same hash


def test_a_split_follows_the_directory_and_names_who_it_cannot_place() -> None:
    held = [Held("grant", "1", "a@x", "01011"), Held("grant", "2", "b@x", "01011"), Held("grant", "3", "c@x", "01011")]
    plan = plan_reorg("01011", DAY, UNITS, held, {"a@x": "01012", "b@x": "01013", "c@x": "79001"})
    assert plan.split and {m.email: m.to_unit for m in plan.moves} == {"a@x": "01012", "b@x": "01013"}
    assert len(plan.problems) == 1 and "c@x" in plan.problems[0]


def test_an_open_unit_or_one_without_successor_is_a_problem() -> None:
    assert plan_reorg("01010", DAY, UNITS, [], {}).problems  # still open
    assert plan_reorg("01009", dt.date(2025, 9, 1), UNITS, [], {}).problems  # not closed yet on that day


def test_units_yaml_refuses_a_unit_with_both_successor_and_successors() -> None:
    bad = SPLIT.replace("successors: ['01012', '01013']", "successors: ['01012', '01013'], successor: '01012'")
    try:
        parse_units((CONFIG / "units.yaml").read_text(encoding="utf-8") + bad)
    except Exception as exc:  # ConfigError naming the line
        assert "both successor and successors" in str(exc)
    else:
        raise AssertionError("accepted a unit with both successor and successors")
    assert load_units(CONFIG / "units.yaml").closing_successors("01009") == ("01010",)
    assert UNITS.closing_successors("01011") == ("01012", "01013")


def test_the_safety_valve_counts_reorganisation_moves_per_unit() -> None:
    limits = SyncSettings(max_unit_reorg_moves=2)
    assert reorg_reasons({"01010": 2, "01012": 3}, limits) == ["unit 01012: 3 reorganisation moves > limit 2"]
    ops = [Operation(OpKind.MOVE, Reason.REORGANISATION, f"p{i}@x", "01010") for i in range(3)]
    from bridge.adapters.keycloak.actual import ActualState
    from bridge.domain.sync.safety import check

    verdict = check(ops, ActualState(), limits)
    assert verdict.halted and verdict.moves_by_unit == {"01010": 3}
    assert check(ops[:2], ActualState(), limits).halted is False
