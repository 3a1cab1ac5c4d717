"""Benchmark of the quarterly reports: 100,000 accounts × 7 applications × one year of ledger rows.

One command: ``python bench/report.py``. It builds a SQLite store (grants table and audit ledger) for 2026 —
every account granted its 7 applications during Q1 (the move onto SSO), then a year of churn: locks with
their effective dates, reinstatements, transfers, revocations and new grants — and a 100,000-person directory
snapshot. A child process then measures, with its own peak RSS:

* ``seconds``: the IT Center's Q4 workbook — one ledger scan, 35 reporting units, summary, chart, one sheet per
  unit (every unit reported Q3, so these are regular reports of the quarter's movements);
* ``baseline_seconds``: a plain SQL aggregate over the same ledger rows (count per action and unit) — the
  least any report must read;
* ``first_report_seconds``: one province's first report (every existing account listed), the largest unit.

The ledger rows carry placeholder hashes (the chain is not what is measured); their contents follow the
grant service's and the lock engine's vocabulary. Results go to ``bench/results/report.json``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

ACCOUNTS = 100_000
YEAR = 2026


def _rss_mb() -> float:
    """Peak RSS of this process: VmHWM (``ru_maxrss`` survives exec on Linux and would count the parent)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def build(workdir: Path, accounts: int) -> dict[str, int]:
    """Write the directory snapshot and the store; returns row counts."""
    from sqlalchemy import insert

    from bridge.adapters.directory.lookup import DirectoryPerson, SnapshotDirectory
    from bridge.adapters.store.migrate import upgrade
    from bridge.adapters.store.models import Administrator, Grant, LedgerEntry
    from bridge.adapters.store.report_models import ReportSubmission
    from bridge.adapters.store.session import make_engine
    from bridge.domain.catalogue import load_applications
    from bridge.domain.rules import Rule
    from bridge.domain.units import load_units
    from bridge.testbed.directory_gen import generate_people

    units = load_units(ROOT / "keycloak-config" / "units.yaml")
    apps = [a for a in load_applications(ROOT / "keycloak-config" / "applications.yaml") if a.code != "DEMO"][:7]
    people = generate_people(units, size=accounts, day=dt.date(YEAR, 10, 1))
    SnapshotDirectory(DirectoryPerson(p.mail, p.full_name, p.unit_code, title=p.title) for p in people).dump(
        workdir / "directory.json"
    )
    url = f"sqlite:///{workdir / 'bench.sqlite3'}"
    upgrade(url=url)
    engine = make_engine(url)
    rng = random.Random(2026)
    ledger: list[dict[str, object]] = []
    grants: list[dict[str, object]] = []
    utc = dt.UTC

    def moment(start: dt.date, end: dt.date) -> dt.datetime:
        span = (end - start).days
        day = start + dt.timedelta(days=rng.randrange(span))
        return dt.datetime(day.year, day.month, day.day, rng.randrange(1, 10), rng.randrange(60), tzinfo=utc)

    def row(at: dt.datetime, action: str, email: str, detail: dict[str, object]) -> None:
        ledger.append({"at": at, "actor": "qt@vss.gov.vn", "action": action, "target": f"person:{email}",
                       "outcome": "allowed", "rule": Rule.R4_PROVINCE_OWN_UNITS, "detail": detail})  # fmt: skip

    grant_id = 0
    for person in people:
        for app in apps:
            grant_id += 1
            at = moment(dt.date(YEAR, 1, 2), dt.date(YEAR, 3, 31))
            role = app.role_groups[0]
            grants.append({"id": grant_id, "email": person.mail, "application": app.code, "role_group": role,
                           "unit_code": person.unit_code, "granted_by": "qt@vss.gov.vn", "granted_at": at,
                           "request_id": f"PL01-{grant_id}", "approval_id": None, "revoked_at": None,
                           "revoked_by": None})  # fmt: skip
            row(at, "grant", person.mail, {"grant": grant_id, "application": app.code, "role_group": role,
                                            "unit": person.unit_code, "basis": "directory",
                                            "request_id": f"PL01-{grant_id}", "exception_id": None})  # fmt: skip
    reasons = [("maternity", "Nghỉ thai sản"), ("long_sick_leave", "Ốm đau dài ngày"), ("retired", "Nghỉ hưu"),
               ("terminated", "Chấm dứt làm việc / thôi việc")]  # fmt: skip
    for n, person in enumerate(rng.sample(people, accounts // 10)):  # a year of churn: 10 % of the people
        code, label = reasons[n % len(reasons)]
        decided = moment(dt.date(YEAR, 4, 1), dt.date(YEAR, 12, 20))
        effective = (decided + dt.timedelta(days=rng.randrange(0, 20))).date()
        detail = {"decision_id": f"D{n}", "reason_code": code, "reason_label_vi": label,
                  "decision_number": f"{n}/QĐ-BHXH", "decision_date": decided.date().isoformat(),
                  "effective_date": effective.isoformat(), "unit_code": person.unit_code,
                  "role_groups": [f"{a.code}/{a.role_groups[0]}" for a in apps],
                  "applications": [a.code for a in apps]}  # fmt: skip
        row(decided, "lock", person.mail, detail)
        if code == "maternity" and effective.month < 10:
            back = effective + dt.timedelta(days=120)
            row(dt.datetime.combine(back, dt.time(1), utc), "unlock", person.mail,
                {**detail, "decision_id": f"U{n}", "effective_date": back.isoformat()})  # fmt: skip
    for n, index in enumerate(rng.sample(range(len(people)), accounts // 20)):  # transfers, revocations
        grant = grants[index * len(apps) + n % len(apps)]
        at = moment(dt.date(YEAR, 4, 1), dt.date(YEAR, 12, 28))
        grant["revoked_at"], grant["revoked_by"] = at, "qt@vss.gov.vn"
        detail = {"grant": grant["id"], "application": grant["application"], "role_group": grant["role_group"],
                  "unit": grant["unit_code"]}  # fmt: skip
        if n % 2:
            detail.update(reason="transferred", decision_number=f"T{n}/QĐ-BHXH",
                          effective_date=at.date().isoformat())  # fmt: skip
        row(at, "revoke", str(grant["email"]), detail)
    ledger.sort(key=lambda r: r["at"])  # type: ignore[arg-type, return-value]
    for index, entry in enumerate(ledger, 1):
        entry.update(id=index, prev_hash=f"{index - 1:064x}", hash=f"{index:064x}")
    reporters = sorted({c for c, u in units.on(dt.date(YEAR, 9, 30)).items() if u.type.value == "province"} | {"00012"})
    with engine.begin() as conn:
        conn.execute(insert(Administrator), [{"email": "it@vss.gov.vn", "role": "it_center_admin",
                     "unit_code": "00012", "appointed_by": "bootstrap",
                     "appointed_at": dt.datetime.now(utc)}])  # fmt: skip
        for chunk in range(0, len(grants), 50_000):
            conn.execute(insert(Grant), grants[chunk : chunk + 50_000])
        for chunk in range(0, len(ledger), 50_000):
            conn.execute(insert(LedgerEntry), ledger[chunk : chunk + 50_000])
        conn.execute(insert(ReportSubmission), [
            {"unit_code": u, "quarter": f"{YEAR}-Q3", "submitted_by": "it@vss.gov.vn",
             "submitted_at": dt.datetime(YEAR, 10, 5, tzinfo=utc), "content_sha256": "0" * 64, "late": False}
            for u in reporters
        ])  # fmt: skip
    engine.dispose()
    return {"grants": len(grants), "ledger_rows": len(ledger)}


def measure(workdir: Path) -> dict[str, float | int]:
    """Run in a fresh process: the IT Center's Q4 workbook, the baseline, one first report."""
    from sqlalchemy import func, select
    from sqlalchemy.orm import sessionmaker

    from bridge.adapters.directory.lookup import SnapshotDirectory
    from bridge.adapters.store.models import Grant, LedgerEntry
    from bridge.adapters.store.session import make_engine
    from bridge.domain.policy import Actor, AdminRole
    from bridge.domain.role_levels import load_catalogue
    from bridge.domain.units import load_units
    from bridge.services.context import GovContext
    from bridge.services.reports.build import build_unit_report
    from bridge.services.reports.render import report_xlsx
    from bridge.services.reports.summary import build_it_center_quarter

    day = dt.date(YEAR + 1, 1, 12)
    ctx = GovContext(load_units(ROOT / "keycloak-config" / "units.yaml"),
                     load_catalogue(ROOT / "keycloak-config" / "applications.yaml"),
                     SnapshotDirectory.load(workdir / "directory.json"), day)  # fmt: skip
    factory = sessionmaker(make_engine(f"sqlite:///{workdir / 'bench.sqlite3'}"))
    it = Actor("it@vss.gov.vn", AdminRole.IT_CENTER_ADMIN, "00012")
    start_rss = _rss_mb()
    with factory() as session:
        t0 = time.perf_counter()
        unit = func.coalesce(func.json_extract(LedgerEntry.detail, "$.unit"),
                             func.json_extract(LedgerEntry.detail, "$.unit_code"))  # fmt: skip
        baseline = session.execute(
            select(LedgerEntry.action, unit, func.count()).where(
                LedgerEntry.action.in_(("grant", "revoke", "lock", "unlock"))).group_by(LedgerEntry.action, unit)
        ).all()  # fmt: skip
        t1 = time.perf_counter()
        result = build_it_center_quarter(session, ctx=ctx, actor=it, quarter=f"{YEAR}-Q4", generated_on=day)
        t2 = time.perf_counter()
        biggest = session.execute(
            select(Grant.unit_code, func.count()).group_by(Grant.unit_code).order_by(func.count().desc()).limit(1)
        ).one()[0]  # fmt: skip
        province = ctx.units.province_of(biggest, day)
        code = province.code if province else "00012"
        t3 = time.perf_counter()
        first = build_unit_report(session, ctx=ctx, actor=it, unit_code="00012" if code == "00012" else code,
                                  quarter=f"{YEAR}-Q1", generated_on=day)  # fmt: skip
        first_bytes = report_xlsx(first)
        t4 = time.perf_counter()
        ledger_rows = session.scalar(select(func.count()).select_from(LedgerEntry)) or 0
    sheet_rows = sum(v for (u, q, s), v in result.counts.items() if q == f"{YEAR}-Q4")
    return {
        "ledger_rows": ledger_rows,
        "seconds": round(t2 - t1, 3),
        "baseline_seconds": round(t1 - t0, 3),
        "ratio": round((t2 - t1) / max(t1 - t0, 1e-9), 2),
        "peak_rss_mb": round(_rss_mb(), 1),
        "rss_before_report_mb": round(start_rss, 1),
        "workbook_bytes": len(result.workbook),
        "q4_report_lines": sheet_rows,
        "units": len(result.statuses),
        "baseline_groups": len(baseline),
        "first_report_unit": code,
        "first_report_lines": len(first.added) + len(first.removed),
        "first_report_seconds": round(t4 - t3, 3),
        "first_report_bytes": len(first_bytes),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=ACCOUNTS)
    parser.add_argument("--measure", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--keep", type=Path, help="Build the store in this directory and keep it (profiling)")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "report.json")
    args = parser.parse_args()
    if args.measure is not None:
        print(json.dumps(measure(args.measure)))
        return
    with tempfile.TemporaryDirectory(prefix="bench-report-") as tmp:
        workdir = args.keep or Path(tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        t0 = time.perf_counter()
        counts = build(workdir, args.accounts)
        setup = time.perf_counter() - t0
        child = subprocess.run([sys.executable, __file__, "--measure", str(workdir)], check=True,
                               capture_output=True, text=True, cwd=ROOT)  # fmt: skip
        measured = json.loads(child.stdout.strip().splitlines()[-1])
    result = {
        "accounts": args.accounts,
        "applications": 7,
        **measured,
        "grants": counts["grants"],
        "setup_seconds": round(setup, 1),
        "target": {"seconds": 10, "peak_rss_mb": 512},
        "machine_load_1m": round(__import__("os").getloadavg()[0], 2),
        "measured_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(json.dumps(result, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
