"""Benchmark of the full Phụ lục 01 import (issue 14, docs/decisions/0621): ``python bench/phu_luc.py`` →
``bench/results/phu_luc.json``.

On a private PostgreSQL cluster (the production store), with a 20,000-person generated directory, the IT
Center imports a .csv of ``--rows`` rows (default 1,200, people of the central units):
- baseline: every row "Khóa" — the import as it was before issue 14;
- mixed: a third "Khóa", a third "Cấp" (TST/operator), a third "Mở khóa" (ending a maternity lock recorded
  before the timing);
- rejected: the mixed file plus one out-of-scope last row, so every row is applied and then rolled back.
Each run has a fresh database seeded alike; the ratio mixed/baseline is what the new row kinds cost. The
machine's load (``os.getloadavg()``) is recorded beside every figure.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy.orm import Session, sessionmaker  # noqa: E402

from bridge.adapters.directory.lookup import DirectoryPerson, SnapshotDirectory  # noqa: E402
from bridge.adapters.store.migrate import upgrade  # noqa: E402
from bridge.adapters.store.session import make_engine, transaction  # noqa: E402
from bridge.clock import format_vn, today_vn  # noqa: E402
from bridge.domain.lock_reasons import LockReason  # noqa: E402
from bridge.domain.policy import AdminRole  # noqa: E402
from bridge.domain.role_levels import load_catalogue  # noqa: E402
from bridge.domain.units import UnitTree, UnitType, load_units  # noqa: E402
from bridge.errors import BridgeError  # noqa: E402
from bridge.services.context import GovContext, load_actor  # noqa: E402
from bridge.services.locks import decisions  # noqa: E402
from bridge.services.persons import appoint_administrator  # noqa: E402
from bridge.testbed.directory_gen import Person, generate_people  # noqa: E402
from bridge.testbed.postgres_server import APP_ROLE, PostgresServer  # noqa: E402

CONFIG = ROOT / "keycloak-config"
IT_ADMIN = "bench.cntt@vss.gov.vn"
HEADER = ["STT", "Họ và tên", "Đơn vị", "Chức vụ", "Thư điện tử công vụ", "Phần mềm nghiệp vụ", "Vai trò",
          "Đề nghị", "Lý do", "Số quyết định", "Ngày quyết định", "Ngày hiệu lực", "Ngày kết thúc"]  # fmt: skip


def central_people(units: UnitTree, people: list[Person], day: dt.date) -> list[Person]:
    def central(code: str) -> bool:
        chain = units.ancestors(code, day)
        return bool(chain) and units.province_of(code, day) is None and all(u.type is not UnitType.PROVIDER
                                                                            for u in chain)  # fmt: skip

    return [p for p in people if central(p.unit_code)]


def csv_of(rows: list[list[str]]) -> bytes:
    return ("\ufeff" + "\r\n".join(";".join(r) for r in [HEADER, *rows]) + "\r\n").encode()


def line(n: int, p: Person, request: str, reason: str, effective: dt.date, end: str = "") -> list[str]:
    today = today_vn()
    return [str(n), p.full_name, p.unit_code, p.title, p.mail, "TST", "operator", request, reason, f"{n}/QĐ-BHXH",
            format_vn(today - dt.timedelta(days=3)), format_vn(effective), end]  # fmt: skip


def files(chosen: list[Person], foreign: Person) -> dict[str, bytes]:
    today, third = today_vn(), len(chosen) // 3
    baseline = [line(n, p, "Khóa", "nghỉ hưu", today + dt.timedelta(days=5)) for n, p in enumerate(chosen, 1)]
    mixed = []
    for n, p in enumerate(chosen, 1):
        if n <= third:
            mixed.append(line(n, p, "Khóa", "nghỉ hưu", today + dt.timedelta(days=5)))
        elif n <= 2 * third:
            mixed.append(line(n, p, "Cấp", "Nhân sự mới", today))
        else:
            mixed.append(line(n, p, "Mở khóa", "Đi làm sớm", today + dt.timedelta(days=30)))
    wrong = line(len(chosen) + 1, foreign, "Khóa", "nghỉ hưu", today + dt.timedelta(days=5))
    return {"baseline": csv_of(baseline), "mixed": csv_of(mixed), "rejected": csv_of([*mixed, wrong])}


def seeded(server: PostgresServer, name: str, units: UnitTree, directory: SnapshotDirectory,
           pre_locked: list[Person]) -> sessionmaker[Session]:  # fmt: skip
    server.create_database(name)
    upgrade(url=server.owner_url(name), app_role=APP_ROLE)
    factory = sessionmaker(make_engine(server.app_url(name)), expire_on_commit=False)
    ctx = GovContext(units, load_catalogue(CONFIG / "applications.yaml"), directory, today_vn())
    with transaction(factory) as session:
        appoint_administrator(session, ctx=ctx, actor=None, email=IT_ADMIN, role=AdminRole.IT_CENTER_ADMIN,
                              unit_code="00012")  # fmt: skip
        actor = load_actor(session, email=IT_ADMIN)
        for p in pre_locked:
            decisions.request_lock(session, ctx=ctx, actor=actor, email=p.mail, reason=LockReason.MATERNITY,
                                   decision_number="1/QĐ", decision_date=today_vn(), effective_date=today_vn(),
                                   end_date=today_vn() + dt.timedelta(days=180))  # fmt: skip
    return factory


def timed_import(factory: sessionmaker[Session], units: UnitTree, directory: SnapshotDirectory,
                 data: bytes) -> dict[str, Any]:  # fmt: skip
    ctx = GovContext(units, load_catalogue(CONFIG / "applications.yaml"), directory, today_vn())
    load_before = os.getloadavg()[0]
    started = time.perf_counter()
    outcome: dict[str, Any]
    try:
        with transaction(factory) as session:
            made = decisions.import_phu_luc(session, ctx=ctx, actor=load_actor(session, email=IT_ADMIN), data=data,
                                            filename="phu-luc-01.csv")  # fmt: skip
        outcome = {"locks": len(made.locks), "grants": len(made.grants), "early_endings": len(made.early_endings)}
    except BridgeError as exc:
        outcome = {"rejected": exc.message[:160]}
    seconds = time.perf_counter() - started
    return {"seconds": round(seconds, 3), "loadavg_1m_before": round(load_before, 2),
            "loadavg_1m_after": round(os.getloadavg()[0], 2), **outcome}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1200)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "phu_luc.json")
    args = parser.parse_args()
    units = load_units(CONFIG / "units.yaml")
    people = generate_people(units, size=20_000)
    directory = SnapshotDirectory(DirectoryPerson(p.mail, p.full_name, p.unit_code) for p in people)
    chosen = central_people(units, people, today_vn())[: args.rows]
    assert len(chosen) == args.rows, f"only {len(chosen)} central people"
    foreign = next(p for p in people if p.unit_code.startswith("01"))
    pre_locked = chosen[2 * (args.rows // 3) :]
    bodies = files(chosen, foreign)
    runs: dict[str, Any] = {}
    with PostgresServer() as server:
        for index, kind in enumerate(("baseline", "mixed", "rejected")):
            factory = seeded(server, f"pl01_{index}", units, directory, pre_locked)
            runs[kind] = timed_import(factory, units, directory, bodies[kind])
            factory.kw["bind"].dispose()
            print(kind, runs[kind], flush=True)
    result = {
        "benchmark": "phu_luc",
        "rows": args.rows,
        "store": "postgresql (private cluster, bridge.testbed.postgres_server)",
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "runs": runs,
        "ratio_mixed_to_baseline": round(runs["mixed"]["seconds"] / runs["baseline"]["seconds"], 2),
        "ratio_rejected_to_mixed": round(runs["rejected"]["seconds"] / runs["mixed"]["seconds"], 2),
        "note": "machine shared by five sessions; figures are one run each, with the load beside them",
    }
    args.out.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(json.dumps(result, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
