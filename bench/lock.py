"""Benchmark of the lock lifecycle: API acceptance → verified lock, and a 5,000-row Phụ lục 01 import.

One command (``python bench/lock.py``) starts slapd (2,000 people) and a fresh Keycloak with the realm applied,
runs the bridge API under uvicorn with an in-process scheduler worker, and measures, in one run:
(1) latency from the API's 201 (a decision effective now) to the decision's verified lock — disabled, sessions
ended, read back — at 1, 10 and 50 concurrent decisions; (2) a baseline: the bare Keycloak calls a script
would make without the bridge (find the user, disable, log out), at the same concurrency, and the ratio;
(3) the import of a 5,000-row .xlsx Phụ lục 01 list, in a child process so its peak RSS is its own.
Results go to ``bench/results/lock.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import io
import json
import resource
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import anyio.to_thread
import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bridge.adapters.directory.lookup import DirectoryPerson, SnapshotDirectory  # noqa: E402
from bridge.adapters.store.migrate import upgrade  # noqa: E402
from bridge.adapters.store.session import make_engine, transaction  # noqa: E402
from bridge.clock import format_vn, today_vn  # noqa: E402
from bridge.domain.policy import AdminRole  # noqa: E402
from bridge.domain.role_levels import load_catalogue  # noqa: E402
from bridge.domain.units import UnitTree, load_units  # noqa: E402
from bridge.services import persons  # noqa: E402
from bridge.services.context import GovContext, load_actor  # noqa: E402

CONFIG = ROOT / "keycloak-config"
IT_ADMIN = "qt.cntt@vss.gov.vn"
LEVELS = {1: 30, 10: 5, 50: 2}  # concurrency → rounds (30, 50 and 100 samples)


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)

    def at(q: float) -> float:
        return round(ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))] * 1000, 1)

    return {"p50_ms": at(0.50), "p95_ms": at(0.95), "p99_ms": at(0.99), "n": len(ordered),
            "mean_ms": round(statistics.fmean(ordered) * 1000, 1)}  # fmt: skip


def seed_store(url: str, units: UnitTree, directory: SnapshotDirectory, *, owner_url: str | None = None) -> Any:
    from sqlalchemy.orm import sessionmaker

    from bridge.testbed.postgres_server import APP_ROLE

    upgrade(url=owner_url or url, app_role=APP_ROLE if owner_url else None)
    # One connection per API worker thread (see docs/decisions/0300: SQLite takes the write lock per request).
    factory = sessionmaker(make_engine(url, pool_size=120, max_overflow=0), expire_on_commit=False)
    ctx = GovContext(units, load_catalogue(CONFIG / "applications.yaml"), directory, today_vn())
    with transaction(factory) as session:
        persons.appoint_administrator(session, ctx=ctx, actor=None, email=IT_ADMIN, role=AdminRole.IT_CENTER_ADMIN,
                                      unit_code="00012")  # fmt: skip
    return factory


# --- (1) the bridge: API → verified lock ---------------------------------------------------------------
Poll = Any  # Callable[[list[int]], dict[int, dt.datetime]]


def sqlite_poll(db_path: Path) -> Poll:
    """A plain WAL reader: polling must not take the write lock the API and the worker need."""

    def poll(ids: list[int]) -> dict[int, dt.datetime]:
        marks = ",".join(str(i) for i in ids)
        with sqlite3.connect(f"file:{db_path}?mode=ro", uri=True) as reader:
            rows = reader.execute(
                f"SELECT id, applied_at FROM lock_decisions WHERE id IN ({marks}) AND applied_at IS NOT NULL"  # noqa: S608
            ).fetchall()
        return {i: dt.datetime.fromisoformat(str(at)).replace(tzinfo=dt.UTC) for i, at in rows}

    return poll


def store_poll(factory: Any) -> Poll:
    from sqlalchemy import select

    from bridge.adapters.store.lock_models import LockDecision

    def poll(ids: list[int]) -> dict[int, dt.datetime]:
        with factory() as session:
            rows = session.execute(
                select(LockDecision.id, LockDecision.applied_at).where(
                    LockDecision.id.in_(ids), LockDecision.applied_at.is_not(None))
            ).all()  # fmt: skip
        return {r.id: r.applied_at for r in rows}

    return poll


async def bridge_round(base: str, token: str, poll: Poll, emails: list[str]) -> list[float]:
    accepted: dict[int, float] = {}
    async with httpx.AsyncClient(base_url=base, timeout=60) as client:

        async def one(email: str) -> None:
            body = {"email": email, "reason": "violation"}
            answer = await client.post("/locks", json=body, headers={"Authorization": f"Bearer {token}"})
            if answer.status_code != 201:
                raise RuntimeError(answer.text)
            accepted[answer.json()["id"]] = time.time()

        await asyncio.gather(*(one(e) for e in emails))
    deadline = time.time() + 120
    while True:
        done = await asyncio.to_thread(poll, list(accepted))
        if len(done) == len(accepted):
            break
        if time.time() > deadline:
            raise RuntimeError(f"only {len(done)}/{len(accepted)} locks verified in 120 s")
        await asyncio.sleep(0.1)  # latency is measured from applied_at, not from when the poll sees it
    return [done[i].timestamp() - accepted[i] for i in accepted]


# --- (2) the baseline: bare Keycloak calls ----------------------------------------------------------------
async def baseline_round(admin: Any, emails: list[str]) -> list[float]:
    async def one(email: str) -> float:
        started = time.perf_counter()
        found = await admin.aget("users", email=email, exact="true", briefRepresentation="true")
        uid = found[0]["id"]
        await admin.aput(f"users/{uid}", {"enabled": False})
        await admin.apost(f"users/{uid}/logout", {})
        return time.perf_counter() - started

    return list(await asyncio.gather(*(one(e) for e in emails)))


def breakdown(factory: Any, emails: list[str]) -> dict[str, float]:
    """Median time of each stage: API request → worker starts, Keycloak calls and read-back, recording."""
    from sqlalchemy import select

    from bridge.adapters.store.lock_models import LockDecision

    def utc(moment: dt.datetime) -> dt.datetime:
        return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)

    stages: dict[str, list[float]] = {"request_to_start": [], "keycloak": [], "record": []}
    with factory() as session:
        for d in session.scalars(select(LockDecision).where(LockDecision.email.in_(emails))):
            if d.proof is None or d.applied_at is None:
                continue
            started = dt.datetime.fromisoformat(d.proof["started_at"])
            checked = dt.datetime.fromisoformat(d.proof["checked_at"])
            stages["request_to_start"].append((started - utc(d.requested_at)).total_seconds())
            stages["keycloak"].append((checked - started).total_seconds())
            stages["record"].append((utc(d.applied_at) - checked).total_seconds())
    return {k: round(statistics.median(v) * 1000, 1) for k, v in stages.items() if v}


async def prime(admin: Any, emails: list[str]) -> None:
    """Import the people from LDAP beforehand, for both sides alike."""
    gate = asyncio.Semaphore(16)

    async def one(e: str) -> None:
        async with gate:
            await admin.aget("users", email=e, exact="true", briefRepresentation="true")

    await asyncio.gather(*(one(e) for e in emails))


async def run_level(
    admin: Any, base: str, token: str, poll: Poll, bridge_sets: list[list[str]], base_sets: list[list[str]]
) -> tuple[list[float], list[float]]:
    """All rounds of one concurrency level: the bridge's, then the baseline's (on other people)."""
    await prime(admin, [e for s in bridge_sets + base_sets for e in s])
    ours: list[float] = []
    theirs: list[float] = []
    for emails in bridge_sets:
        ours += await bridge_round(base, token, poll, emails)
    for emails in base_sets:
        theirs += await baseline_round(admin, emails)
    await admin.aclose()
    return ours, theirs


def latency_runs(stack: Any, units: UnitTree, tmp: Path, *, store: str, offset: int = 0) -> dict[str, Any]:
    import uvicorn

    from bridge.adapters.keycloak.admin import service_account_admin
    from bridge.interfaces.api.app import create_app
    from bridge.interfaces.api.deps import Wake, get_scheduler_wake
    from bridge.services.locks.scheduler import BackgroundWorker, build_scheduler
    from bridge.testbed.local_issuer import LocalIssuer
    from bridge.testbed.ports import free_port

    people = [p for p in stack.slapd.people if p.unit_code != "00012"]
    directory = SnapshotDirectory(DirectoryPerson(p.mail, p.full_name, p.unit_code) for p in stack.slapd.people)
    pg = None
    if store == "sqlite":
        db_path = tmp / "bench.sqlite3"
        factory = seed_store(f"sqlite:///{db_path}", units, directory)
        poll = sqlite_poll(db_path)
    else:
        from bridge.testbed.postgres_server import PostgresServer

        pg = PostgresServer().start()
        pg.create_database("bench")
        factory = seed_store(pg.app_url("bench"), units, directory, owner_url=pg.owner_url("bench"))
        poll = store_poll(factory)
    issuer = LocalIssuer().start()
    app = create_app(factory=factory, directory=directory, validator=issuer.validator(), config_dir=CONFIG)
    stack.settings.keycloak.concurrency = max(LEVELS)  # the worker keeps as many locks in flight as arrive
    worker = BackgroundWorker(
        lambda: build_scheduler(stack.settings, factory=factory, directory=directory, batch=200), interval_s=0.5
    ).start()

    async def scheduler_wake() -> Wake:  # async, as the dependency it overrides: no thread hop per request
        return worker.wake

    app.dependency_overrides[get_scheduler_wake] = scheduler_wake

    async def more_threads() -> None:  # 50 concurrent requests must not exhaust the 40 default threads
        anyio.to_thread.current_default_thread_limiter().total_tokens = 120

    app.router.on_startup.append(more_threads)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    token = issuer.token(IT_ADMIN, lifetime_s=3600)
    base = f"http://127.0.0.1:{port}"
    cursor = offset

    def take(n: int) -> list[str]:
        nonlocal cursor
        cursor += n
        return [p.mail for p in people[cursor - n : cursor]]

    result: dict[str, Any] = {"concurrency": {}, "baseline": {}, "ratio_p95": {}, "breakdown_p50_ms": {}}
    try:
        for level, rounds in LEVELS.items():
            bridge_sets = [take(level) for _ in range(rounds)]
            base_sets = [take(level) for _ in range(rounds)]
            ours, theirs = asyncio.run(
                run_level(service_account_admin(stack.settings.keycloak), base, token, poll, bridge_sets, base_sets)
            )
            result["concurrency"][str(level)] = percentiles(ours)
            result["breakdown_p50_ms"][str(level)] = breakdown(factory, [e for s in bridge_sets for e in s])
            result["baseline"][str(level)] = percentiles(theirs)
            result["ratio_p95"][str(level)] = round(
                result["concurrency"][str(level)]["p95_ms"] / result["baseline"][str(level)]["p95_ms"], 2
            )
            log(f"concurrency {level}: bridge {result['concurrency'][str(level)]}, "
                f"baseline {result['baseline'][str(level)]}")  # fmt: skip
    finally:
        server.should_exit = True
        thread.join(10)
        worker.close()
        issuer.stop()
        if pg is not None:
            pg.stop()
    return result


# --- (3) the import ---------------------------------------------------------------------------------------
HEADER = ["STT", "Họ và tên", "Đơn vị", "Chức vụ", "Thư điện tử công vụ", "Phần mềm nghiệp vụ", "Vai trò",
          "Đề nghị", "Lý do", "Số quyết định", "Ngày quyết định", "Ngày hiệu lực", "Ngày kết thúc"]  # fmt: skip


def build_import_file(units: UnitTree, rows: int, tmp: Path) -> tuple[Path, Path]:
    """A directory snapshot and an .xlsx list of ``rows`` lock rows (one per person) for the IT Center."""
    from openpyxl import Workbook

    from bridge.testbed.directory_gen import generate_people

    people = generate_people(units, size=max(rows * 2, 20_000))
    today = today_vn()
    chosen = people[:rows]
    directory = tmp / "directory.json"
    SnapshotDirectory(DirectoryPerson(p.mail, p.full_name, p.unit_code) for p in people).dump(directory)
    book = Workbook(write_only=True)
    sheet = book.create_sheet("Phụ lục 01")
    sheet.append(HEADER)
    for n, p in enumerate(chosen, 1):
        central = units.province_of(p.unit_code, today) is None
        reason, end = ("nghỉ thai sản", format_vn(today + dt.timedelta(days=180))) if central and n % 2 else (
            ("nghỉ hưu", "") if central else ("vi phạm", ""))  # fmt: skip
        sheet.append([n, p.full_name, p.unit_code, p.title, p.mail, "TST", "operator", "Khóa", reason,
                      f"{n}/QĐ-BHXH", format_vn(today - dt.timedelta(days=3)),
                      format_vn(today + dt.timedelta(days=n % 30)), end])  # fmt: skip
    path = tmp / "phu-luc-01.xlsx"
    out = io.BytesIO()
    book.save(out)
    path.write_bytes(out.getvalue())
    return path, directory


def import_child(path: Path, directory_path: Path, store: Path) -> None:
    """Run inside the child process: seed a store, import the file, print timings and peak RSS."""
    from bridge.services.locks import decisions

    units = load_units(CONFIG / "units.yaml")
    directory = SnapshotDirectory.load(directory_path)
    factory = seed_store(f"sqlite:///{store}", units, directory)
    data = path.read_bytes()
    base_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    started = time.perf_counter()
    ctx = GovContext(units, load_catalogue(CONFIG / "applications.yaml"), directory, today_vn())
    with transaction(factory) as session:
        made = decisions.import_locks(session, ctx=ctx, actor=load_actor(session, email=IT_ADMIN), data=data,
                                    filename=path.name)  # fmt: skip
    seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"import_rows": len(made), "import_s": round(seconds, 2), "import_peak_rss_mb": round(peak, 1),
                      "import_rss_before_mb": round(base_rss, 1), "import_file_bytes": len(data)}))  # fmt: skip


def import_run(units: UnitTree, rows: int, tmp: Path) -> dict[str, Any]:
    path, directory = build_import_file(units, rows, tmp)
    out = subprocess.run(
        [sys.executable, __file__, "--import-child", str(path), str(directory), str(tmp / "import.sqlite3")],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=5000)
    parser.add_argument("--store", default="sqlite,postgresql", help="stores to measure; the first is reported")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "lock.json")
    parser.add_argument("--import-child", nargs=3, type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.import_child:
        import_child(*args.import_child)
        return
    from bridge.testbed.keycloak_server import KEYCLOAK_VERSION
    from bridge.testbed.stack import start_stack

    units = load_units(CONFIG / "units.yaml")
    with tempfile.TemporaryDirectory(prefix="bench-lock-") as name:
        tmp = Path(name)
        log(f"import of {args.rows} rows …")
        imported = import_run(units, args.rows, tmp)
        log(f"import: {imported}")
        log("starting slapd (2,000 people) and Keycloak …")
        stack = start_stack(size=2000)
        try:
            by_store = {}
            for number, store in enumerate(args.store.split(",")):
                log(f"latency on {store} …")
                by_store[store] = latency_runs(stack, units, tmp, store=store, offset=number * 600)
        finally:
            stack.close()
    primary = args.store.split(",")[0]
    latency = {**by_store[primary], "store": primary, "by_store": by_store}
    result = {
        **latency,
        **imported,
        "targets": {"10": {"p95_ms": 1000, "p99_ms": 2000}},
        "meets_target": latency["concurrency"]["10"]["p95_ms"] <= 1000
        and latency["concurrency"]["10"]["p99_ms"] <= 2000,
        "keycloak": KEYCLOAK_VERSION,
        "machine_cpus": len(__import__("os").sched_getaffinity(0)),
        "measured_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    log(f"written {args.out}")


if __name__ == "__main__":
    main()
