"""The API under schemathesis, with valid tokens of three roles, on the real realm, slapd and PostgreSQL
(issue 17, item 3 "The API").

Every operation of the API's own OpenAPI document gets generated requests, valid and invalid (schemathesis'
positive and negative modes), as the IT Center's administrator, Hà Nội's administrator and a member of staff who
administers nothing. Two checks of schemathesis are applied to every answer (``not_a_server_error``,
``response_schema_conformance``) and one of our own: a refusal (any 4xx) writes nothing, which is proved by
counting the rows of every table of the store before and after: only ``refused`` ledger rows may be added, and
a 401/403 must add one. All failures are collected and reported together, so one run shows every problem.

The bounded variant (``RELIABILITY_API_EXAMPLES``, default 12 per mode, role and operation: 72 per operation)
runs in ``make test``; the long one (``reliability_long``: 350 per mode and role, 2,100 per operation) runs
behind ``make reliability``.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from bridge.adapters.keycloak.admin import KeycloakAdmin
from bridge.testbed.postgres_server import PostgresServer
from bridge.testbed.stack import Stack
from tests.integration.test_foundation import person_in
from tests.reliability.api_bed import ApiBed, RealmKey, import_realm_key, record_result, start_api_bed

pytestmark = pytest.mark.integration
ROLES = ("it", "province", "staff")
BOUNDED = int(os.environ.get("RELIABILITY_API_EXAMPLES", "12"))
LONG = int(os.environ.get("RELIABILITY_API_LONG_EXAMPLES", "350"))
PROGRESS = Path(__file__).resolve().parents[2] / "bench" / "results" / "schemathesis-long-progress.json"


@pytest.fixture(scope="module")
def realm_key(stack: Stack, admin: KeycloakAdmin) -> Iterator[RealmKey]:
    key = import_realm_key(stack, admin, "i17b-schemathesis-key")
    yield key
    admin.delete(f"components/{key.component}")


@pytest.fixture(scope="module")
def bed(stack: Stack, admin: KeycloakAdmin, postgres: PostgresServer, realm_key: RealmKey) -> Iterator[ApiBed]:
    people = {"it": person_in(stack, "00012", 9), "province": person_in(stack, "01", 110),
              "staff": person_in(stack, "01", 111)}  # fmt: skip
    yield from start_api_bed(stack, admin, postgres, database="i17b_schemathesis", people=people, realm_key=realm_key)


@dataclass
class Tally:
    """What a run tried and what went wrong (each distinct problem once, with one example)."""

    requests: Counter[str] = field(default_factory=Counter)
    statuses: Counter[int] = field(default_factory=Counter)
    by_role: Counter[str] = field(default_factory=Counter)
    server_errors: int = 0
    schema_mismatches: int = 0
    writes_on_refusal: int = 0
    refusals_without_ledger: int = 0
    problems: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0

    def problem(self, key: str, example: str) -> None:
        self.problems.setdefault(key, example[:1500])

    def merge(self, other: Tally) -> None:
        self.requests.update(other.requests)
        self.statuses.update(other.statuses)
        self.by_role.update(other.by_role)
        self.server_errors += other.server_errors
        self.schema_mismatches += other.schema_mismatches
        self.writes_on_refusal += other.writes_on_refusal
        self.refusals_without_ledger += other.refusals_without_ledger
        for key, example in other.problems.items():
            self.problem(key, example)
        self.seconds += other.seconds

    def as_json(self) -> dict[str, Any]:
        return {"requests": dict(self.requests), "statuses": {str(k): n for k, n in self.statuses.items()},
                "by_role": dict(self.by_role), "server_errors": self.server_errors,
                "schema_mismatches": self.schema_mismatches, "writes_on_refusal": self.writes_on_refusal,
                "refusals_without_ledger": self.refusals_without_ledger, "problems": self.problems,
                "seconds": round(self.seconds, 1)}  # fmt: skip

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Tally:
        return cls(Counter(data["requests"]), Counter({int(k): n for k, n in data["statuses"].items()}),
                   Counter(data["by_role"]), data["server_errors"], data["schema_mismatches"],
                   data["writes_on_refusal"], data["refusals_without_ledger"], dict(data["problems"]),
                   float(data.get("seconds", 0.0)))  # fmt: skip


def _fuzz_operation(bed: ApiBed, client: TestClient, operation: Any, role: str, mode: GenerationMode, examples: int,
                    tally: Tally) -> bool:  # fmt: skip
    """Fuzz one operation in one mode and role; False when the mode has no request to make (Unsatisfiable)."""
    label = f"{operation.method.upper()} {operation.path}"
    headers = {"Authorization": f"Bearer {bed.tokens[role]}"}

    @settings(max_examples=examples, deadline=None, database=None, derandomize=False, print_blob=False,
              suppress_health_check=list(HealthCheck), phases=[Phase.explicit, Phase.generate])  # fmt: skip
    @given(case=operation.as_strategy(generation_mode=mode))
    def run(case: Any) -> None:
        kwargs = case.as_transport_kwargs(headers=headers)
        before = bed.row_counts()
        try:
            response = client.request(
                kwargs["method"], kwargs["url"].removeprefix("http://localhost"),
                headers=kwargs.get("headers"), params=kwargs.get("params"), content=kwargs.get("content"),
                data=kwargs.get("data"), files=kwargs.get("files"), json=kwargs.get("json"),
                cookies=kwargs.get("cookies"),
            )  # fmt: skip
        except Exception as exc:  # the application raised through the test client: a server error
            tally.server_errors += 1
            tally.problem(f"{label}: raised {type(exc).__name__}", f"{role} {mode}: {exc!r}\n{case.as_curl_command()}")
            return
        after = bed.row_counts()
        tally.requests[label] += 1
        tally.statuses[response.status_code] += 1
        tally.by_role[f"{role} {response.status_code}"] += 1
        try:
            case.validate_response(response, checks=[not_a_server_error, response_schema_conformance])
        except BaseException as exc:  # schemathesis' FailureGroup: one or more failed checks
            text = str(exc)
            if response.status_code >= 500:
                tally.server_errors += 1
            else:
                tally.schema_mismatches += 1
            tally.problem(f"{label}: {response.status_code} {text.splitlines()[0] if text else type(exc).__name__}",
                          f"{role} {mode}: {text}")  # fmt: skip
        if 400 <= response.status_code < 500:
            changed = {k: (before[k], after[k]) for k in after if k != "ledger.refused" and after[k] != before[k]}
            if changed:
                tally.writes_on_refusal += 1
                tally.problem(f"{label}: {response.status_code} wrote {sorted(changed)}",
                              f"{role} {mode}: {changed} {response.text[:300]}\n{case.as_curl_command()}")  # fmt: skip
            if response.status_code in (401, 403) and after["ledger.refused"] <= before["ledger.refused"]:
                tally.refusals_without_ledger += 1
                tally.problem(f"{label}: {response.status_code} without a refused ledger row",
                              f"{role} {mode}: {response.text[:300]}")  # fmt: skip

    try:
        run()
    except Unsatisfiable:  # an operation without parameters, or with only a free path string, has no invalid request
        assert mode == GenerationMode.NEGATIVE, label
        return False
    return True


def operation_label(operation: Any) -> str:
    return f"{operation.method.upper()} {operation.path}"


def _first_to_fuzz(operation: Any) -> tuple[bool, bool, bool, str]:
    """The order operations are fuzzed in, so a run cut short has done the likeliest to break first: the
    governance API before SCIM (which refuses the three roles' tokens before reading a body), then operations
    with a body, then those with parameters."""
    raw = operation.definition.raw
    return (operation.path.startswith("/scim/"), "requestBody" not in raw, not raw.get("parameters"),
            operation_label(operation))  # fmt: skip


def fuzz(bed: ApiBed, examples: int, *, progress: Path | None = None, only: frozenset[str] = frozenset(),
         budget_s: float | None = None) -> tuple[Tally, int]:  # fmt: skip
    """``examples`` generated requests per mode (positive, negative), role and operation: the tally of every
    operation done, and how many operations the API has.

    ``progress``: a JSON file that keeps each finished operation's tally; operations already in it are not run
    again, so a long run stopped (or out of time) resumes where it was. ``only``: run just these operations
    (labels such as ``GET /grants``). ``budget_s``: start no new operation after that many seconds.
    """
    schema = schemathesis.openapi.from_dict(bed.app.openapi())
    done: dict[str, Any] = json.loads(progress.read_text()) if progress and progress.exists() else {}
    if done.get("examples", examples) != examples:
        raise AssertionError(f"{progress} was made with {done['examples']} examples per mode and role, not {examples}")
    finished: dict[str, Any] = done.get("operations", {})
    tally, operations, started = Tally(), 0, time.monotonic()
    with TestClient(bed.app, raise_server_exceptions=True) as client:
        for operation in sorted((r.ok() for r in schema.get_all_operations()), key=_first_to_fuzz):
            label = operation_label(operation)
            operations += 1
            if label in finished:
                tally.merge(Tally.from_json(finished[label]))
                continue
            if (only and label not in only) or (budget_s is not None and time.monotonic() - started > budget_s):
                continue
            one, op_started = Tally(), time.monotonic()
            for role in ROLES:
                _fuzz_operation(bed, client, operation, role, GenerationMode.POSITIVE, examples, one)
                if not _fuzz_operation(bed, client, operation, role, GenerationMode.NEGATIVE, examples, one):
                    # no invalid request to make: the negative mode's share goes to more valid ones
                    _fuzz_operation(bed, client, operation, role, GenerationMode.POSITIVE, examples, one)
            one.seconds = time.monotonic() - op_started
            tally.merge(one)
            print(f"{label}: {one.requests[label]} requests, {one.seconds:.0f} s", file=sys.stderr)
            if progress is not None:
                finished[label] = one.as_json()
                progress.write_text(json.dumps({"examples": examples, "operations": finished}, indent=1,
                                               ensure_ascii=False) + "\n")  # fmt: skip
    return tally, operations


def _summary(tally: Tally, per_mode_and_role: int) -> dict[str, Any]:
    counts = tally.requests.values()
    return {"operations": len(tally.requests), "roles": list(ROLES), "modes": ["positive", "negative"],
            "examples_per_mode_and_role": per_mode_and_role, "tried": sum(counts),
            "per_operation_min": min(counts), "per_operation_max": max(counts), "statuses": dict(tally.statuses),
            "by_role": dict(tally.by_role), "server_errors": tally.server_errors,
            "schema_mismatches": tally.schema_mismatches, "writes_on_refusal": tally.writes_on_refusal,
            "refusals_without_ledger_row": tally.refusals_without_ledger,
            "failed": tally.server_errors + tally.schema_mismatches, "lost": tally.writes_on_refusal,
            "problems": sorted(tally.problems)}  # fmt: skip


def _assert_clean(tally: Tally) -> None:
    report = "\n\n".join(f"{k}\n{v}" for k, v in sorted(tally.problems.items()))
    assert tally.server_errors == 0, report
    assert tally.schema_mismatches == 0, report
    assert tally.writes_on_refusal == 0, report
    assert tally.refusals_without_ledger == 0, report
    assert tally.problems == {}, report


def test_every_operation_under_generated_requests_of_three_roles(bed: ApiBed) -> None:
    tally, operations = fuzz(bed, BOUNDED)
    record_result("hostile_input.api.bounded", _summary(tally, BOUNDED))
    print(f"requests {sum(tally.requests.values())}, statuses {dict(tally.statuses)}, {dict(tally.by_role)}",
          file=sys.stderr)  # fmt: skip
    _assert_clean(tally)
    assert len(tally.requests) == operations, f"operations tried: {len(tally.requests)} of {operations}"
    # the three roles are really three: each sees a 2xx somewhere, and refusals happen
    assert tally.statuses[200] > 0 and (tally.statuses[403] + tally.statuses[404]) > 0


def _open_ended(operation: dict[str, Any]) -> bool:
    """An operation whose inputs have no end (a body, or a parameter without an enumeration): it can take 2,000
    distinct requests. Others (no parameter, an enumeration) are tried until Hypothesis has exhausted them."""
    params = operation.get("parameters") or []
    return "requestBody" in operation or any("enum" not in str(p.get("schema", {})) for p in params)


@pytest.mark.reliability_long
def test_every_operation_under_2000_generated_requests(bed: ApiBed) -> None:
    """The long variant, resumable: each finished operation is kept in ``RELIABILITY_API_PROGRESS`` (default
    bench/results/schemathesis-long-progress.json), so a run stopped or out of ``RELIABILITY_API_BUDGET_S``
    continues with the operations not yet done; ``RELIABILITY_API_ONLY`` (labels, comma-separated) runs only
    those. The test passes only when every operation of the API is done and clean."""
    spec = bed.app.openapi()["paths"]
    progress = Path(os.environ.get("RELIABILITY_API_PROGRESS", str(PROGRESS)))
    only = frozenset(x.strip() for x in os.environ.get("RELIABILITY_API_ONLY", "").split(",") if x.strip())
    budget = os.environ.get("RELIABILITY_API_BUDGET_S")
    tally, operations = fuzz(bed, LONG, progress=progress, only=only, budget_s=float(budget) if budget else None)
    open_ended = {f"{m.upper()} {p}" for p, ms in spec.items() for m, o in ms.items() if _open_ended(o)}
    short = {k: n for k, n in tally.requests.items() if k in open_ended and n < 2000}
    summary = _summary(tally, LONG) | {"operations_in_the_api": operations, "per_operation": dict(tally.requests),
                                       "seconds_per_operation": _seconds(progress),
                                       "open_ended_operations_under_2000": short,
                                       "operations_not_run": operations - len(tally.requests)}  # fmt: skip
    record_result("hostile_input.api", summary, variant="long")
    _assert_clean(tally)
    assert short == {}, f"operations under 2,000 generated requests: {short}"
    assert len(tally.requests) == operations, (
        f"{len(tally.requests)} of {operations} operations done (kept in {progress}): run again to continue"
    )


def _seconds(progress: Path) -> dict[str, float]:
    if not progress.exists():
        return {}
    return {k: v["seconds"] for k, v in json.loads(progress.read_text())["operations"].items()}
