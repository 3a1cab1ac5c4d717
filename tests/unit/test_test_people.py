"""The integration tests share one Keycloak per session: two tests that change the same Hà Nội person's account
interfere (a membership already there makes no admin event; a lock already there changes nothing). Each fixed
index of ``person_in(stack, "01", N)`` belongs to one test module."""

from __future__ import annotations

import re
from collections import defaultdict

from bridge.settings import PROJECT_ROOT

FIXED = re.compile(r'person_in\((?:stack|bed\.stack), "01", (\d+)\)')
#: A pair that shared a person before this check and passes together (its order in the session is fixed); new
#: tests take a free index instead. Ranges written as ``101 + i`` (the watcher restart test: 101–106) are not seen.
KNOWN_SHARED = {"21": {"tests/integration/test_locks.py", "tests/integration/test_console_watcher.py"}}


def test_each_fixed_hanoi_person_belongs_to_one_test_module() -> None:
    owners: dict[str, set[str]] = defaultdict(set)
    for path in (PROJECT_ROOT / "tests").rglob("*.py"):
        for index in FIXED.findall(path.read_text(encoding="utf-8")):
            owners[index].add(str(path.relative_to(PROJECT_ROOT)))
    shared = {i: m for i, m in owners.items() if len(m) > 1 and m != KNOWN_SHARED.get(i)}
    assert shared == {}, f"Hà Nội people used by more than one test module: {shared}"
