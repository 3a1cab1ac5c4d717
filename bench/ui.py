"""Benchmark of the web console's pages: ``python bench/ui.py`` → ``bench/results/ui.json``.

Issue 12's target: p95 ≤ 200 ms for every page at 20 concurrent sessions on 20,000 people. The test bed's slapd
serves 20,000 generated people (the console reads the real directory through ``LdapDirectory`` and its cache,
as ``bridge serve`` does); the store (``--store postgres``, the deployed shape: a test-bed PostgreSQL cluster
used by the application role; or ``sqlite``, the default file) holds one grant per person, 500 lock
decisions recorded through the lock service (with their ledger rows), and 20 administrators: two of the IT
Center (all 20,000 people in scope) and one for each of 18 provinces. The console runs in its own uvicorn
process with ``--workers`` workers (2, as compose runs ``bridge serve``); its sessions are in the store
(decision 0612), one per administrator, opened before it starts (``bench/ui_server.open_sessions``).

Each of 20 clients (one per session, closed loop, its own keep-alive connection) asks, round after round, the
four pages — overview, a people search by a diacritics-free name fragment, a person page of its scope, the
locks list — and the baseline ``/ui/bench/baseline`` (same application and middleware, no work), so every
figure has a same-run reference. Unmeasured rounds first, each on a new connection, so that every worker has
read every scope's people (the steady state: a browser reconnects after uvicorn's 5 s keep-alive, so each
worker serves each administrator). Then at least ``--seconds`` (100) of measurement, longer than the directory
TTL and its grace, so each scope's index is read again from the directory while measured. The load average is
recorded before and after. Bounded: ``--seconds`` (and at least ``--rounds`` rounds per client), then it stops.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import platform
import random
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
from sqlalchemy import insert

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from http1 import Connection, request_bytes  # noqa: E402
from sqlalchemy.orm import sessionmaker  # noqa: E402
from ui_server import open_sessions  # noqa: E402

from bridge.adapters.directory.lookup import DirectoryPerson, SnapshotDirectory  # noqa: E402
from bridge.adapters.store.migrate import upgrade  # noqa: E402
from bridge.adapters.store.models import Grant  # noqa: E402
from bridge.adapters.store.session import make_engine, transaction  # noqa: E402
from bridge.clock import today_vn  # noqa: E402
from bridge.domain.lock_reasons import LockReason  # noqa: E402
from bridge.domain.policy import AdminRole  # noqa: E402
from bridge.domain.role_levels import load_catalogue  # noqa: E402
from bridge.domain.text import fold  # noqa: E402
from bridge.domain.units import UnitTree, load_units  # noqa: E402
from bridge.services.context import GovContext, load_actor  # noqa: E402
from bridge.services.locks.decisions import request_lock  # noqa: E402
from bridge.services.persons import appoint_administrator  # noqa: E402
from bridge.testbed.directory_gen import Person  # noqa: E402
from bridge.testbed.ports import free_port, stop_group, wait_until  # noqa: E402
from bridge.testbed.postgres_server import APP_ROLE, PostgresServer  # noqa: E402
from bridge.testbed.slapd_server import PEOPLE_BASE, SlapdServer, start_slapd  # noqa: E402

CONFIG = ROOT / "keycloak-config"
PAGES = ("overview", "people_search", "person", "locks")


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)

    def at(q: float) -> float:
        return round(ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))] * 1000, 1)

    return {"p50_ms": at(0.50), "p95_ms": at(0.95), "p99_ms": at(0.99), "max_ms": round(ordered[-1] * 1000, 1),
            "mean_ms": round(statistics.fmean(ordered) * 1000, 1), "n": len(ordered)}  # fmt: skip


def province_of(units: UnitTree, code: str, day: dt.date) -> str | None:
    found = units.province_of(code, day)
    return found.code if found else None


def seed(url: str, slapd: SlapdServer, units: UnitTree, day: dt.date, *, provinces: int, it_admins: int,
         locks: int) -> tuple[list[str], dict[str, list[Person]]]:  # fmt: skip
    """Administrators and locks through the services, one grant per person in bulk; the admins and, per admin,
    the people of their scope."""
    directory = SnapshotDirectory(DirectoryPerson(p.mail, p.full_name, p.unit_code, True, p.title)
                                  for p in slapd.people)  # fmt: skip
    catalogue = load_catalogue(CONFIG / "applications.yaml")
    ctx = GovContext(units, catalogue, directory, day)
    factory = sessionmaker(make_engine(url), expire_on_commit=False)
    by_province: dict[str, list[Person]] = defaultdict(list)
    for person in slapd.people:
        code = province_of(units, person.unit_code, day)
        if code:
            by_province[code].append(person)
    central = [p for p in slapd.people if p.unit_code == "00012"]
    chosen = sorted(by_province, key=lambda c: -len(by_province[c]))[:provinces]
    admins: list[str] = []
    scope: dict[str, list[Person]] = {}
    with transaction(factory) as session:
        first = central[0]
        appoint_administrator(session, ctx=ctx, actor=None, email=first.mail, role=AdminRole.IT_CENTER_ADMIN,
                              unit_code="00012")  # fmt: skip
        it = load_actor(session, email=first.mail)
        # the IT Center's sessions: the same administrator in several browsers (one IT Center root administrator)
        admins += [first.mail] * it_admins
        scope[first.mail] = list(slapd.people)
        for code in chosen:
            person = by_province[code][0]
            appoint_administrator(session, ctx=ctx, actor=it, email=person.mail, role=AdminRole.PROVINCE_ADMIN,
                                  unit_code=code)  # fmt: skip
            admins.append(person.mail)
            scope[person.mail] = by_province[code]
    rng = random.Random(2025)
    combos = [(app.code, rg) for app in catalogue.applications.values() for rg in app.role_groups[:2]]
    now = dt.datetime.now(dt.UTC)
    rows: list[dict[str, Any]] = []
    for person in slapd.people:
        app, rg = rng.choice(combos)
        rows.append({"email": person.mail, "application": app, "role_group": rg, "unit_code": person.unit_code,
                     "granted_by": admins[0], "granted_at": now, "request_id": f"bench-{len(rows)}"})  # fmt: skip
    with transaction(factory) as session:
        session.execute(insert(Grant), rows)
    with transaction(factory) as session:
        per_admin = max(1, locks // len(admins))
        for email in dict.fromkeys(admins):
            actor = load_actor(session, email=email)
            targets = [p for p in scope[email] if p.mail not in admins]
            if email == admins[0]:  # the IT Center locks central and provider accounts; provinces lock their own
                targets = [p for p in targets if province_of(units, p.unit_code, day) is None]
            for person in rng.sample(targets, min(per_admin, len(targets))):
                request_lock(session, ctx=ctx, actor=actor, email=person.mail, reason=LockReason.MATERNITY,
                             decision_number="01/QĐ-BHXH", decision_date=day,
                             effective_date=day + dt.timedelta(days=rng.randint(1, 60)),
                             end_date=day + dt.timedelta(days=200), source="bench")  # fmt: skip
    return admins, scope


@contextmanager
def console_server(env: dict[str, str], *, workers: int) -> Iterator[tuple[str, int]]:
    port = free_port()
    command = [sys.executable, "-m", "uvicorn", "--factory", "ui_server:create", "--app-dir", str(ROOT / "bench"),
               "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning", "--no-access-log",
               "--workers", str(workers)]  # fmt: skip
    inherited = {k: v for k, v in os.environ.items() if k != "BRIDGE_GOVERNANCE__DIRECTORY_SNAPSHOT"}
    process = subprocess.Popen(command, env={**inherited, **env, "PYTHONPATH": str(ROOT)}, start_new_session=True)
    base = f"http://127.0.0.1:{port}"

    def ready() -> bool:
        try:
            return httpx.get(f"{base}/ui/bench/baseline").status_code == 200
        except httpx.HTTPError:
            return False

    try:
        wait_until(ready, timeout=120, what="bench console", alive=lambda: process.poll() is None)
        yield base, process.pid
    finally:
        stop_group(process, timeout=10)


async def client(base: str, cookie: str, people: list[Person], rounds: int, rng: random.Random,
                 samples: dict[str, list[float]], *, measured: bool, until: float) -> None:  # fmt: skip
    """One administrator's browser: ``rounds`` rounds of the four pages and the baseline, one at a time, and
    more rounds until ``until`` (``time.perf_counter()``)."""
    headers = {"Cookie": f"bhxh_console={cookie}", "Accept-Language": "vi"}
    conn = await Connection.open(base)
    try:
        done = 0
        while done < rounds or time.perf_counter() < until:
            if done and not measured:  # warm-up: a new connection each round, so every worker reads each scope
                conn.close()
                conn = await Connection.open(base)
            done += 1
            someone = rng.choice(people)
            fragment = " ".join(fold(someone.full_name).split()[-2:])  # "van an": middle and given name
            paths = {
                "overview": "/ui/",
                "people_search": f"/ui/people?q={quote(fragment)}",
                "person": f"/ui/people/{quote(someone.mail)}",
                "locks": "/ui/locks",
                "baseline": "/ui/bench/baseline",
            }
            for name in rng.sample(list(paths), len(paths)):
                started = time.perf_counter()
                status, body = await conn.get(request_bytes(base, paths[name], headers))
                elapsed = time.perf_counter() - started
                if status != 200:
                    raise AssertionError(f"{paths[name]} answered {status}: {body[:300]!r}")
                if measured:
                    samples[name].append(elapsed)
    finally:
        conn.close()


async def load(base: str, cookies: list[tuple[str, str]], scope: dict[str, list[Person]], rounds: int,
               *, measured: bool, seconds: float = 0.0) -> tuple[dict[str, list[float]], float]:  # fmt: skip
    samples: dict[str, list[float]] = defaultdict(list)
    started = time.perf_counter()
    until = started + seconds
    await asyncio.gather(*(
        client(base, cookie, scope[email], rounds, random.Random(index), samples, measured=measured, until=until)
        for index, (email, cookie) in enumerate(cookies)
    ))  # fmt: skip
    return samples, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--people", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=15, help="measured rounds per session, at least")
    parser.add_argument(
        "--seconds",
        type=float,
        default=100.0,
        help="measure at least this long: longer than the directory TTL (60 s) plus its grace "
        "(30 s), so every scope's index is read again from the directory while measured",
    )
    parser.add_argument(
        "--store",
        choices=("postgres", "sqlite"),
        default="postgres",
        help="postgres: a test-bed PostgreSQL cluster, as deployed; sqlite: the default store file",
    )
    parser.add_argument("--workers", type=int, default=2, help="uvicorn workers (compose: API_WORKERS=2)")
    parser.add_argument(
        "--warmup-rounds",
        type=int,
        default=8,
        help="unmeasured rounds, each on a new connection: every worker reads every scope, as "
        "browsers that reconnect after uvicorn's 5 s keep-alive make them in steady state",
    )
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "ui.json")
    args = parser.parse_args()
    load_at_start = os.getloadavg()
    day = today_vn()
    units = load_units(CONFIG / "units.yaml")
    log(f"slapd with {args.people} generated people")
    slapd = start_slapd(units, size=args.people)
    postgres = PostgresServer().start() if args.store == "postgres" else None
    try:
        with tempfile.TemporaryDirectory(prefix="bench-ui-") as tmp:
            if postgres is not None:
                upgrade(url=postgres.owner_url(), app_role=APP_ROLE)
                url = postgres.app_url()
            else:
                url = f"sqlite:///{tmp}/bridge.sqlite3"
                upgrade(url=url)
            log("seeding the store (administrators, grants, locks)")
            admins, scope = seed(url, slapd, units, day, provinces=18, it_admins=2, locks=500)
            secret = secrets.token_urlsafe(32)
            cookies = open_sessions(url, admins, secret)  # two sessions of the IT Center administrator
            env = {
                "BENCH_UI_STORE": url, "BRIDGE_UI__SESSION_SECRET": secret, "BRIDGE_DIRECTORY__URL": slapd.url,
                "BRIDGE_DIRECTORY__BIND_DN": slapd.reader_dn, "BRIDGE_DIRECTORY__BIND_PASSWORD": slapd.reader_password,
                "BRIDGE_DIRECTORY__PEOPLE_BASE": PEOPLE_BASE,
            }  # fmt: skip
            with console_server(env, workers=args.workers) as (base, _pid):
                log(f"warm-up: {args.warmup_rounds} rounds, {len(cookies)} sessions")
                asyncio.run(load(base, cookies, scope, args.warmup_rounds, measured=False))
                load_before = os.getloadavg()
                log(f"measuring: {args.seconds:.0f} s (>= {args.rounds} rounds) x 5 requests x {len(cookies)} sessions")
                samples, wall = asyncio.run(load(base, cookies, scope, args.rounds, measured=True,
                                                 seconds=args.seconds))  # fmt: skip
                load_after = os.getloadavg()
    finally:
        slapd.stop()
        if postgres is not None:
            postgres.stop()
    baseline = percentiles(samples["baseline"])
    pages = {name: percentiles(samples[name]) for name in PAGES}
    for figures in pages.values():
        figures["p95_ratio_to_baseline"] = round(figures["p95_ms"] / max(baseline["p95_ms"], 0.1), 1)
    requests = sum(len(v) for v in samples.values())
    store_name = "PostgreSQL (test-bed cluster, the application role)" if args.store == "postgres" else "SQLite"
    result = {
        "pages": pages,
        "baseline_static_page": baseline,
        "concurrency": len(cookies),
        "people": args.people,
        "sessions": {"it_center": 2, "province": len(cookies) - 2},
        "scope_sizes": sorted({len(v) for v in scope.values()}, reverse=True)[:5],
        "target_p95_ms": 200,
        "meets_target": all(p["p95_ms"] <= 200 for p in pages.values()),
        "throughput_rps": round(requests / wall, 1),
        "requests": requests,
        "server": f"uvicorn, {args.workers} workers; sessions and store {store_name}; directory slapd via "
        "LdapDirectory (cache TTL 60 s; the console's scope index as long, then refreshed in the background)",
        "store": args.store,
        "measured_seconds": round(wall, 1),
        "load_average": {"at_start": load_at_start, "before_measuring": load_before, "after": load_after},
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    log(json.dumps({k: (v["p50_ms"], v["p95_ms"]) for k, v in {**pages, "baseline": baseline}.items()}))


if __name__ == "__main__":
    main()
