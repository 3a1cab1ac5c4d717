"""Benchmark: what reading every account change (issue 14 B, docs/decisions/0632) costs a unit's quarterly report.

One command: ``python bench/report_changes.py [--people 30000]``. It builds a SQLite store for 2026-Q3 in which a
province moves onto the SSO: every person joins through the sync (a ``sync.ensure`` row each, the worst quarter
for account changes) and is granted one role group; then churn — 3 % leavers, 1 % returners, 2 % unit moves,
1 % console changes (half reverted), 1 % locks. It then builds the largest province's Q3 report (a regular
report: every unit submitted Q2) three times each way, in alternation, in one process:

* ``seconds``: the report as it is now (grants, dated movements and the account changes);
* ``baseline_seconds``: the same report with the account changes left out (what the report read before).

The ratio is what matters; the machine's load (``os.getloadavg()``) is recorded beside it. Results:
``bench/results/report_changes.json``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
YEAR = 2026


def build(workdir: Path, size: int) -> dict[str, int]:
    """The directory snapshot and the store; returns row counts."""
    from sqlalchemy import insert

    from bridge.adapters.directory.lookup import DirectoryPerson, SnapshotDirectory
    from bridge.adapters.store.migrate import upgrade
    from bridge.adapters.store.models import Grant, LedgerEntry
    from bridge.adapters.store.report_models import ReportSubmission
    from bridge.adapters.store.session import make_engine
    from bridge.domain.units import load_units
    from bridge.testbed.directory_gen import generate_people

    units = load_units(ROOT / "keycloak-config" / "units.yaml")
    people = generate_people(units, size=size, day=dt.date(YEAR, 9, 30))
    SnapshotDirectory(DirectoryPerson(p.mail, p.full_name, p.unit_code, title=p.title) for p in people).dump(
        workdir / "directory.json"
    )
    url = f"sqlite:///{workdir / 'bench.sqlite3'}"
    upgrade(url=url)
    rng, utc = random.Random(14), dt.UTC
    ledger: list[dict[str, object]] = []
    grants: list[dict[str, object]] = []

    def moment() -> dt.datetime:
        day = dt.date(YEAR, 7, 1) + dt.timedelta(days=rng.randrange(90))
        return dt.datetime(day.year, day.month, day.day, rng.randrange(1, 10), rng.randrange(60), tzinfo=utc)

    def row(action: str, target: str, detail: dict[str, object], *, outcome: str = "allowed", rule: str = "") -> None:
        ledger.append({"at": moment(), "actor": "system:sync", "action": action, "target": target,
                       "outcome": outcome, "rule": rule or "bench", "detail": detail})  # fmt: skip

    for n, p in enumerate(people, 1):
        row("sync.ensure", f"user:{p.mail}", {"run": 1, "unit": p.unit_code, "change": "joiner"}, rule="sync-joiner")
        grants.append({"id": n, "email": p.mail, "application": "TST", "role_group": "operator",
                       "unit_code": p.unit_code, "granted_by": "qt@vss.gov.vn", "granted_at": moment(),
                       "request_id": f"PL01-{n}", "approval_id": None, "revoked_at": None,
                       "revoked_by": None})  # fmt: skip
        row("grant", f"person:{p.mail}", {"grant": n, "application": "TST", "role_group": "operator",
                                          "unit": p.unit_code, "basis": "directory"})  # fmt: skip
    for p in rng.sample(people, size * 3 // 100):
        row("sync.disable", f"user:{p.mail}", {"run": 2, "unit": p.unit_code, "change": "leaver"}, rule="sync-leaver")
    for p in rng.sample(people, size // 100):
        row("sync.enable", f"user:{p.mail}", {"run": 3, "unit": p.unit_code, "change": "returner"})
    for p in rng.sample(people, size * 2 // 100):
        row("sync.move", f"user:{p.mail}", {"run": 4, "unit": p.unit_code, "change": "unit_move"})
    for n, p in enumerate(rng.sample(people, size // 100)):
        reverted = n % 2 == 1
        row("console:lock", p.mail, {"unit": p.unit_code, "reverted": reverted, "reason": "bench",
                                     "change": "console_reverted" if reverted else "console_accepted"},
            outcome="refused" if reverted else "allowed")  # fmt: skip
    for n, p in enumerate(rng.sample(people, size // 100)):
        row("lock", f"person:{p.mail}", {"decision_id": n, "reason_code": "retired", "unit_code": p.unit_code,
                                         "effective_date": moment().date().isoformat(), "role_groups": []})  # fmt: skip
    ledger.sort(key=lambda r: r["at"])  # type: ignore[arg-type, return-value]
    for index, entry in enumerate(ledger, 1):
        entry.update(id=index, prev_hash=f"{index - 1:064x}", hash=f"{index:064x}")
    provinces = sorted(c for c, u in units.on(dt.date(YEAR, 9, 30)).items() if u.type.value == "province")
    engine = make_engine(url)
    with engine.begin() as conn:
        for chunk in range(0, len(grants), 50_000):
            conn.execute(insert(Grant), grants[chunk : chunk + 50_000])
        for chunk in range(0, len(ledger), 50_000):
            conn.execute(insert(LedgerEntry), ledger[chunk : chunk + 50_000])
        conn.execute(insert(ReportSubmission), [
            {"unit_code": u, "quarter": f"{YEAR}-Q2", "submitted_by": "it@vss.gov.vn",
             "submitted_at": dt.datetime(YEAR, 7, 5, tzinfo=utc), "content_sha256": "0" * 64, "late": False}
            for u in [*provinces, "00012"]
        ])  # fmt: skip
    engine.dispose()
    return {"people": len(people), "ledger_rows": len(ledger)}


def measure(workdir: Path) -> dict[str, object]:
    """The largest province's Q3 report, three times with and three times without the account changes."""
    from collections import Counter

    from sqlalchemy.orm import sessionmaker

    from bridge.adapters.directory.lookup import SnapshotDirectory
    from bridge.adapters.store.session import make_engine
    from bridge.domain.policy import Actor, AdminRole
    from bridge.domain.role_levels import load_catalogue
    from bridge.domain.units import load_units
    from bridge.services.context import GovContext
    from bridge.services.reports import build

    day = dt.date(YEAR, 10, 8)
    units = load_units(ROOT / "keycloak-config" / "units.yaml")
    directory = SnapshotDirectory.load(workdir / "directory.json")
    ctx = GovContext(units, load_catalogue(ROOT / "keycloak-config" / "applications.yaml"), directory, day)
    counts = Counter(
        province.code
        for province in (units.province_of(p.unit_code, day) for p in directory.in_units(units.on(day)))
        if province is not None
    )
    province = counts.most_common(1)[0][0]
    factory = sessionmaker(make_engine(f"sqlite:///{workdir / 'bench.sqlite3'}"))
    it = Actor("it@vss.gov.vn", AdminRole.IT_CENTER_ADMIN, "00012")
    original = build.account_movements
    with_changes: list[float] = []
    without: list[float] = []
    lines: dict[str, int] = {}
    for _ in range(3):
        for label, times in (("with", with_changes), ("without", without)):
            if label == "without":
                build.account_movements = lambda *a, **k: iter(())  # type: ignore[assignment]
            with factory() as session:
                t0 = time.perf_counter()
                report = build.build_unit_report(session, ctx=ctx, actor=it, unit_code=province,
                                                 quarter=f"{YEAR}-Q3", generated_on=day)  # fmt: skip
                times.append(time.perf_counter() - t0)
            build.account_movements = original
            lines[label] = len(report.added) + len(report.removed)
    return {
        "province": province,
        "province_people": counts[province],
        "seconds": round(min(with_changes), 3),
        "baseline_seconds": round(min(without), 3),
        "ratio": round(min(with_changes) / max(min(without), 1e-9), 2),
        "report_lines": lines["with"],
        "baseline_report_lines": lines["without"],
        "load_avg": [round(x, 2) for x in os.getloadavg()],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--people", type=int, default=30_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-report-changes-") as tmp:
        workdir = Path(tmp)
        load_before = [round(x, 2) for x in os.getloadavg()]
        t0 = time.perf_counter()
        built = build(workdir, args.people)
        build_s = time.perf_counter() - t0
        result = {"people": args.people, **built, "build_seconds": round(build_s, 1), "load_avg_before": load_before,
                  **measure(workdir), "cpus": os.cpu_count()}  # fmt: skip
    out = ROOT / "bench" / "results" / "report_changes.json"
    out.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(json.dumps(result, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
