"""Benchmark of the worker as one running system at 20,000 people: console watcher lag over a 2,000-change burst,
the directory lookup behind its decisions, and ``/readyz``.

One command (``python bench/worker.py``) starts PostgreSQL (the store, as deployed: migrations by the owner role,
the worker as the application role), slapd with 20,000 generated people and a fresh Keycloak; applies
keycloak-config/, syncs the directory into Keycloak (the bulk import, as ``bench/sync.py``), appoints a Hà Nội
provincial administrator and gives him the FGAP v2 console permissions (``apply_console_permissions``), logs him
in through the admin console (his own token), and starts ``python -m bridge worker`` with the environment
docker-compose.yml gives it (every task: sync, scheduler, console watcher, login ingestion, gauges; default
intervals). Then, in one run:

1. **two bursts**, each of 2,000 console changes made through the admin REST API with the administrator's token,
   as fast as the machine allows (``--concurrency`` people's changes in flight): for each of 500 Hà Nội people, a
   role group below administrator level added, the account disabled, enabled again, the role group removed. The
   watcher turns each into a grant, a lock, an unlock or a revocation (a ledger row each). Burst A meets the
   worker's first sync run (a run, incremental or not, reads all of Keycloak's managed state in the worker's
   process: the load a burst meets most of the time at this size), burst B starts as a run ends. **Lag** of an
   event = when its ledger row is first seen committed (another session polls the ledger every 50 ms) minus
   Keycloak's event ``time``; every event must have exactly one row. ``watcher_lag_p95_s`` is the worse burst's;
2. **baselines, same run**: (a) a bare reader polling the same admin-events query at the worker's interval
   during the burst, doing nothing else: its lag is what any watcher must have; (b) after the burst, the time to
   merely read the burst's admin events page by page with the watcher's query (what any watcher must spend);
3. ``GET /readyz`` of the worker's health server, all dependencies up, interleaved with ``GET /healthz`` (the
   same server without the checks) as its baseline;
4. ``LdapDirectory.find()`` warm and cold vs. a raw ldap3 search (``bench/directory_lookup.py``'s measurement)
   on the same 20,000-person directory;
5. the worker's exit on SIGTERM, and the ledger chain verified.

The load average is recorded before and after, and at each burst; CPU seconds of Keycloak, the worker, slapd and
PostgreSQL during each burst say where the machine's two cores went. Results: ``bench/results/worker.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from directory_lookup import measure_find, percentiles  # noqa: E402
from procstat import cpu_seconds  # noqa: E402
from sqlalchemy import select  # noqa: E402
from sqlalchemy.orm import Session, sessionmaker  # noqa: E402

from bridge.adapters.directory.ldap import LdapDirectory  # noqa: E402
from bridge.adapters.keycloak.admin import KeycloakAdmin, service_account_admin  # noqa: E402
from bridge.adapters.store import ledger  # noqa: E402
from bridge.adapters.store.migrate import upgrade  # noqa: E402
from bridge.adapters.store.models import LedgerEntry  # noqa: E402
from bridge.adapters.store.ops_models import ConsoleCursor  # noqa: E402
from bridge.adapters.store.session import make_engine, transaction  # noqa: E402
from bridge.adapters.store.sync_models import SyncRun  # noqa: E402
from bridge.clock import today_vn  # noqa: E402
from bridge.domain.policy import AdminRole  # noqa: E402
from bridge.services import persons  # noqa: E402
from bridge.services.console import apply_console_permissions  # noqa: E402
from bridge.services.console_cursor import GRACE_MS  # noqa: E402
from bridge.services.console_watcher import RESOURCE_TYPES  # noqa: E402
from bridge.services.context import build_context, load_actor  # noqa: E402
from bridge.services.sync.run import run_sync  # noqa: E402
from bridge.settings import Settings  # noqa: E402
from bridge.testbed.directory_gen import Person, password_for  # noqa: E402
from bridge.testbed.keycloak_server import KEYCLOAK_VERSION  # noqa: E402
from bridge.testbed.ports import free_port  # noqa: E402
from bridge.testbed.postgres_server import APP_ROLE, PostgresServer  # noqa: E402
from bridge.testbed.relying_party import RelyingParty  # noqa: E402
from bridge.testbed.stack import Stack, start_stack  # noqa: E402

TARGETS = {"watcher_lag_p95_s": 3.0, "directory_lookup_p95_ms_warm": 20.0, "directory_lookup_p95_ms_cold": 200.0}
PROVINCE = "01000"  # BHXH TP Hà Nội: its administrator makes the burst on its own people
IT_CENTER_ADMIN_INDEX = 0
#: Role groups below administrator level a provincial administrator may grant (Catalogue.role_groups_below(2)).
ROLE_GROUPS = ("/apps/TST/operator", "/apps/KT/accountant", "/apps/DVC/operator", "/apps/XDCD/operator")
PAGE = 200  # the watcher's page size


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def seconds(samples: list[float]) -> dict[str, float]:
    """p50/p95/max/mean of samples in seconds (3 decimals)."""
    ordered = sorted(samples)

    def at(q: float) -> float:
        return round(ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))], 3)

    return {"p50_s": at(0.50), "p95_s": at(0.95), "max_s": round(ordered[-1], 3),
            "mean_s": round(statistics.fmean(ordered), 3), "n": len(ordered)}  # fmt: skip


def loadavg() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


# --- set-up ---------------------------------------------------------------------------------------------------
def console_token(stack: Stack, person: Person) -> str:
    """The person's own access token from the admin console's login (public client, PKCE), as in the tests."""
    console = RelyingParty(
        issuer=f"{stack.settings.keycloak.url}/realms/{stack.units.realm}",
        client_id="security-admin-console",
        client_secret=None,
        redirect_uri=f"{stack.settings.keycloak.url}/admin/{stack.units.realm}/console/",
    )
    return str(console.login(person.mail, password_for(person.employee_number)).tokens["access_token"])


def appoint(stack: Stack, sessions: sessionmaker[Session], *, it_admin: Person, province_admin: Person) -> None:
    """The first IT Center administrator (bootstrap), who appoints the Hà Nội administrator."""
    ctx = build_context(stack.settings, directory=LdapDirectory(stack.settings.directory))
    with transaction(sessions) as session:
        persons.appoint_administrator(
            session, ctx=ctx, actor=None, email=it_admin.mail, role=AdminRole.IT_CENTER_ADMIN,
            unit_code=it_admin.unit_code,
        )  # fmt: skip
    with transaction(sessions) as session:
        actor = load_actor(session, email=it_admin.mail)
        persons.appoint_administrator(
            session, ctx=ctx, actor=actor, email=province_admin.mail, role=AdminRole.PROVINCE_ADMIN,
            unit_code=PROVINCE,
        )  # fmt: skip


def keycloak_ids(admin: KeycloakAdmin, unit_codes: set[str]) -> dict[str, str]:
    """E-mail → Keycloak id of everyone in ``unit_codes`` (one search per unit, as the sync's bulk path)."""
    ids: dict[str, str] = {}
    for code in sorted(unit_codes):
        for user in admin.get("users", q=f"unit_code:{code}", briefRepresentation="true", max=100_000):
            ids[str(user["email"])] = str(user["id"])
    return ids


# --- the worker -------------------------------------------------------------------------------------------------
def start_worker(
    stack: Stack, *, port: int, log_path: Path, extra: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    """``python -m bridge worker`` with the environment docker-compose.yml gives it (host names replaced)."""
    env = {**os.environ, **stack.env(), "BRIDGE_WORKER__HTTP_HOST": "127.0.0.1", "BRIDGE_WORKER__HTTP_PORT": str(port)}
    env.update(extra or {})
    return subprocess.Popen(
        [sys.executable, "-m", "bridge", "worker"],
        env=env,
        stdout=log_path.open("ab"),
        stderr=subprocess.STDOUT,
        cwd=ROOT,
        start_new_session=True,  # its own process group: its CPU time is measured apart
    )


def wait_until(check: Callable[[], bool], *, timeout_s: float, what: str, interval_s: float = 0.2) -> float:
    started = time.monotonic()
    while not check():
        if time.monotonic() - started > timeout_s:
            raise RuntimeError(f"not within {timeout_s:.0f} s: {what}")
        time.sleep(interval_s)
    return time.monotonic() - started


def ready(url: str) -> bool:
    try:
        return httpx.get(url, timeout=10).status_code == 200
    except httpx.HTTPError:
        return False


# --- the burst --------------------------------------------------------------------------------------------------
class Token:
    """The administrator's console token, logged in again before it expires (access tokens live 300 s)."""

    def __init__(self, login: Callable[[], str]) -> None:
        self._login = login
        self.value, self.at = login(), time.monotonic()
        self.logins = 1
        self._lock = asyncio.Lock()

    async def header(self) -> dict[str, str]:
        async with self._lock:
            if time.monotonic() - self.at > 200:
                self.value, self.at = await asyncio.to_thread(self._login), time.monotonic()
                self.logins += 1
        return {"Authorization": f"Bearer {self.value}"}


async def burst(base: str, token: Token, people: list[tuple[str, str]], *, concurrency: int) -> dict[str, Any]:
    """For each (user id, role group id): add to the role group, disable, enable, remove — in that order per
    person, ``concurrency`` people at a time. Every call must answer 204."""
    queue: asyncio.Queue[tuple[str, str]] = asyncio.Queue()
    for item in people:
        queue.put_nowait(item)
    statuses: Counter[int] = Counter()
    calls: list[float] = []
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=base, timeout=60, limits=limits) as client:

        async def call(method: str, path: str, body: Any = None) -> None:
            started = time.perf_counter()
            answer = await client.request(method, path, json=body, headers=await token.header())
            calls.append(time.perf_counter() - started)
            statuses[answer.status_code] += 1
            if answer.status_code != 204:
                raise RuntimeError(f"{method} {path}: {answer.status_code} {answer.text[:300]}")

        async def worker() -> None:
            while not queue.empty():
                uid, group = queue.get_nowait()
                await call("PUT", f"users/{uid}/groups/{group}")
                await call("PUT", f"users/{uid}", {"enabled": False})
                await call("PUT", f"users/{uid}", {"enabled": True})
                await call("DELETE", f"users/{uid}/groups/{group}")

        started = time.monotonic()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.monotonic() - started
    return {"seconds": round(elapsed, 2), "changes": len(calls), "changes_per_s": round(len(calls) / elapsed, 1),
            "statuses": dict(statuses), "call_ms": percentiles(calls)}  # fmt: skip


class BareReader(threading.Thread):
    """Baseline (a): the watcher's admin-events query, page by page from a window cursor, at the worker's poll
    interval, doing nothing with the events but noting when each was first seen."""

    def __init__(self, admin: KeycloakAdmin, *, since_ms: int, interval_s: float) -> None:
        super().__init__(daemon=True)
        self.admin, self.interval_s = admin, interval_s
        self.newest = since_ms
        self.seen: dict[str, float] = {}
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            lower, first = self.newest - GRACE_MS, 0
            while True:
                page = read_page(self.admin, lower, first)
                now = time.time()
                for event in page:
                    self.seen.setdefault(str(event["id"]), now)
                    self.newest = max(self.newest, int(event["time"]))
                if len(page) < PAGE:
                    break
                newest = int(page[-1]["time"])
                lower, first = (lower, first + len(page)) if newest == lower else (newest, 0)
            self.stop.wait(self.interval_s)


def read_page(admin: KeycloakAdmin, lower: int, first: int, upper: int | None = None) -> list[dict[str, Any]]:
    """One page of the watcher's query (``bridge.services.console_watcher.ConsoleWatcher._pages``)."""
    extra = {"dateTo": str(upper)} if upper is not None else {}
    page: list[dict[str, Any]] = admin.get(
        "admin-events", dateFrom=str(lower), direction="asc", first=first, max=PAGE,
        resourceTypes=list(RESOURCE_TYPES), **extra,
    ) or []  # fmt: skip
    return page


def read_all(admin: KeycloakAdmin, lower: int, upper: int) -> list[dict[str, Any]]:
    """Every admin event of the watcher's query between two times, page by page as the watcher reads them (the
    next page from the newest time seen; offsets only within one millisecond: Keycloak orders by time alone, so
    plain offsets over a range can repeat one event and skip another), each event once."""
    events: dict[str, dict[str, Any]] = {}
    first = 0
    while True:
        page = read_page(admin, lower, first, upper)
        for event in page:
            events.setdefault(str(event["id"]), event)
        if len(page) < PAGE:
            return sorted(events.values(), key=lambda e: int(e["time"]))
        newest = max(int(e["time"]) for e in page)
        lower, first = (lower, first + len(page)) if newest == lower else (newest, 0)


def judged_rows(sessions: sessionmaker[Session], after_id: int) -> list[tuple[int, dt.datetime, str, str]]:
    """(id, at, action, event id) of the ledger rows citing a console event, after ``after_id``."""
    with sessions() as session:
        query = select(LedgerEntry.id, LedgerEntry.at, LedgerEntry.action, LedgerEntry.detail)
        rows = session.execute(query.where(LedgerEntry.id > after_id)).all()
    return [(r.id, r.at, r.action, str(r.detail["event_id"])) for r in rows if r.detail.get("event_id")]


def last_row(sessions: sessionmaker[Session]) -> int:
    with sessions() as session:
        return int(session.scalar(select(LedgerEntry.id).order_by(LedgerEntry.id.desc()).limit(1)) or 0)


class Cpu:
    """CPU seconds of servers between ``start`` and ``stop``: each a function reading its total so far."""

    def __init__(self, readers: dict[str, Callable[[], float]]) -> None:
        self.readers = {**readers, "bench": time.process_time}
        self.before: dict[str, float] = {}

    def start(self) -> None:
        self.before = {k: read() for k, read in self.readers.items()}

    def stop(self) -> dict[str, float]:
        return {k: round(read() - self.before[k], 1) for k, read in self.readers.items()}


def keycloak_pid(stack: Stack) -> int:
    assert stack.keycloak.process is not None
    return stack.keycloak.process.pid


def slapd_pid(stack: Stack) -> int:
    assert stack.slapd.process is not None
    return stack.slapd.process.pid


def postgres_cpu(server: PostgresServer) -> Callable[[], float]:
    """CPU seconds of the postmaster and its live children (each backend calls setsid: no common process group;
    a backend that exited takes its time with it, the worker's pooled connections live through the burst)."""
    postmaster = int((server.data_dir / "postmaster.pid").read_text().split()[0])

    def read() -> float:
        total = 0
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                pid, rest = stat.read_text().split(" ", 1)
            except OSError:
                continue
            fields = rest.rsplit(")", 1)[1].split()
            if int(pid) == postmaster or int(fields[1]) == postmaster:
                total += int(fields[11]) + int(fields[12])
        return total / os.sysconf("SC_CLK_TCK")

    return read


class LedgerTail(threading.Thread):
    """When each console event's ledger row became visible to another session, i.e. was committed (polled every
    ``interval_s``; rows are numbered under the ledger's lock, so they commit in id order and a tail by id misses
    none)."""

    def __init__(self, sessions: sessionmaker[Session], *, after_id: int, interval_s: float = 0.05) -> None:
        super().__init__(daemon=True)
        self.sessions, self.last, self.interval_s = sessions, after_id, interval_s
        self.seen: dict[str, float] = {}
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            with self.sessions() as session:
                query = select(LedgerEntry.id, LedgerEntry.detail).where(LedgerEntry.id > self.last)
                rows = session.execute(query.order_by(LedgerEntry.id)).all()
            now = time.time()
            for row in rows:
                self.last = row.id
                if row.detail.get("event_id"):
                    self.seen.setdefault(str(row.detail["event_id"]), now)
            self.stop.wait(self.interval_s)


# --- main -------------------------------------------------------------------------------------------------------
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size", type=int, default=20_000)
    parser.add_argument("--changes", type=int, default=2000, help="console changes in the burst (4 per person)")
    parser.add_argument("--concurrency", type=int, default=8, help="people whose changes are in flight at once")
    parser.add_argument("--readyz-calls", type=int, default=50)
    parser.add_argument("--lookup-samples", type=int, default=1000, help="distinct people for cold and baseline")
    parser.add_argument(
        "--worker-env",
        action="append",
        default=[],
        metavar="BRIDGE_X__Y=VALUE",
        help="a setting for the worker (diagnostics, e.g. BRIDGE_WORKER__SCHEDULER_INTERVAL_S=3600)",
    )
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "worker.json")
    args = parser.parse_args()
    load_before = loadavg()
    day = today_vn()
    workdir = Path(tempfile.mkdtemp(prefix="bhxh-bench-worker-"))
    started_all = time.monotonic()
    timings: dict[str, float] = {}
    postgres = PostgresServer().start()
    worker: subprocess.Popen[bytes] | None = None
    stack: Stack | None = None
    try:
        upgrade(url=postgres.owner_url(), app_role=APP_ROLE)
        url = postgres.app_url()
        log(f"slapd ({args.size} people) + Keycloak {KEYCLOAK_VERSION}, realm applied")
        t0 = time.monotonic()
        stack = start_stack(size=args.size, store_url=url)
        settings: Settings = stack.settings
        timings["servers_and_realm_s"] = round(time.monotonic() - t0, 1)
        sessions = sessionmaker(make_engine(url), expire_on_commit=False)

        log("initial sync of the directory into Keycloak (bulk import)")
        t0 = time.monotonic()
        report = asyncio.run(run_sync(settings=settings, units=stack.units, day=day, full=True))
        assert report.status == "applied", (report.status, report.error)
        timings["initial_sync_s"] = round(time.monotonic() - t0, 1)
        log(f"synced in {timings['initial_sync_s']} s ({report.applied} applied)")

        people = stack.slapd.people
        it_admin = [p for p in people if p.unit_code == settings.governance.it_center_unit][IT_CENTER_ADMIN_INDEX]
        hanoi = [p for p in people if p.unit_code.startswith(PROVINCE[:2])]
        per_burst = args.changes // 4
        province_admin, targets = hanoi[0], hanoi[1 : 1 + 2 * per_burst]
        assert len(targets) == 2 * per_burst, f"only {len(hanoi) - 1} people in province {PROVINCE}"
        appoint(stack, sessions, it_admin=it_admin, province_admin=province_admin)
        t0 = time.monotonic()
        assert apply_console_permissions(settings, day=day) == {PROVINCE: 1}
        timings["console_permissions_s"] = round(time.monotonic() - t0, 1)

        bridge_admin = service_account_admin(settings.keycloak)
        ids = keycloak_ids(bridge_admin, {p.unit_code for p in (province_admin, *targets)})
        groups = {path: str(bridge_admin.get(f"group-by-path/{path.lstrip('/')}")["id"]) for path in ROLE_GROUPS}
        plan = [(ids[p.mail], groups[ROLE_GROUPS[i % len(ROLE_GROUPS)]]) for i, p in enumerate(targets)]
        admin_id = ids[province_admin.mail]
        token = Token(lambda: console_token(stack, province_admin))

        port = free_port()
        worker_log = workdir / "worker.log"
        log(f"starting the worker (log {worker_log})")
        extra = dict(item.split("=", 1) for item in args.worker_env)
        worker = start_worker(stack, port=port, log_path=worker_log, extra=extra)
        health = f"http://127.0.0.1:{port}"
        wait_until(lambda: ready(f"{health}/readyz"), timeout_s=120, what="the worker's /readyz green")

        def cursor_open() -> bool:
            with sessions() as session:
                return session.get(ConsoleCursor, settings.keycloak.realm) is not None

        def syncing() -> bool:
            with sessions() as session:
                return session.scalar(select(SyncRun.id).where(SyncRun.status == "running").limit(1)) is not None

        wait_until(cursor_open, timeout_s=60, what="the worker's console watcher polling")
        time.sleep(settings.worker.watcher_interval_s * 2)  # its first polls done: the burst starts on a quiet cursor
        assert keycloak_pid(stack) and worker.pid
        readers: dict[str, Callable[[], float]] = {
            "keycloak": partial(cpu_seconds, keycloak_pid(stack)),
            "worker": partial(cpu_seconds, worker.pid),
            "slapd": partial(cpu_seconds, slapd_pid(stack)),
            "postgres": postgres_cpu(postgres),
        }

        def measure(label: str, chosen: list[tuple[str, str]]) -> dict[str, Any]:
            """(1) one burst of ``chosen`` people's changes, with (2a) the bare reader alongside, and (2b) the
            read of its events afterwards."""
            first_row = last_row(sessions)
            start_ms = int(time.time() * 1000)
            reader = BareReader(service_account_admin(settings.keycloak), since_ms=start_ms,
                                interval_s=settings.worker.watcher_interval_s)  # fmt: skip
            cpu = Cpu(readers)
            tail = LedgerTail(sessions, after_id=first_row)
            load_start, sync_at_start = loadavg(), syncing()
            tail.start()
            reader.start()
            cpu.start()
            log(f"burst {label}: {4 * len(chosen)} console changes by {province_admin.mail}, "
                f"{args.concurrency} people at a time; a sync run under way: {sync_at_start}")  # fmt: skip
            made = asyncio.run(
                burst(f"{settings.keycloak.url}/admin/realms/{stack.units.realm}/", token, chosen,
                      concurrency=args.concurrency)
            )  # fmt: skip
            burst_end, sync_at_end = time.time(), syncing()
            log(f"burst made in {made['seconds']} s ({made['changes_per_s']} changes/s)")
            events = [
                e for e in read_all(bridge_admin, start_ms, int(burst_end * 1000) + 1000)
                if (e.get("authDetails") or {}).get("userId") == admin_id
            ]  # fmt: skip
            assert len(events) == 4 * len(chosen), f"{len(events)} admin events by the administrator"
            wanted = {str(e["id"]): int(e["time"]) for e in events}
            drain_s = wait_until(lambda: wanted.keys() <= tail.seen.keys(), timeout_s=600,
                                 what="every event of the burst judged", interval_s=0.1)  # fmt: skip
            burst_cpu, load_end = cpu.stop(), loadavg()
            wait_until(lambda: wanted.keys() <= reader.seen.keys(), timeout_s=30, what="the bare reader seeing all")
            reader.stop.set()
            tail.stop.set()
            log(f"every event judged {drain_s:.1f} s after the burst ended")

            rows = [r for r in judged_rows(sessions, first_row) if r[3] in wanted]
            at = {r[3]: r[1].timestamp() for r in rows}
            lag = seconds([tail.seen[key] - wanted[key] / 1000 for key in wanted])
            bare = seconds([reader.seen[key] - wanted[key] / 1000 for key in wanted])
            span = max(tail.seen[k] for k in wanted) - min(tail.seen[k] for k in wanted)
            reads: list[float] = []
            read_count = 0
            for _ in range(3):
                t0 = time.perf_counter()
                read_count = len(read_all(bridge_admin, start_ms - GRACE_MS, max(wanted.values())))
                reads.append(time.perf_counter() - t0)
            read_s = statistics.median(reads)
            return {
                "events": len(wanted),
                "sync_run_under_way_at_start_and_end": [sync_at_start, sync_at_end],
                "lag": lag,
                "lag_by_row_at": seconds([at[key] - wanted[key] / 1000 for key in wanted]),
                "ledger_rows_per_event": dict(Counter(Counter(r[3] for r in rows).values())),
                "ledger_rows_by_action": dict(Counter(r[2] for r in rows)),
                "judged_span_s": round(span, 2),
                "judged_per_s": round(len(wanted) / span, 1) if span else None,
                "all_judged_after_burst_end_s": round(drain_s, 2),
                "baseline_bare_reader_lag": bare,
                "ratio_lag_p95_to_bare_reader_p95": round(lag["p95_s"] / bare["p95_s"], 2),
                "baseline_read_burst_events_s": round(read_s, 3),
                "baseline_read_burst_events_count": read_count,
                "ratio_judging_span_to_reading": round(span / read_s, 1),
                "burst": {**made, "token_logins": token.logins},
                "cpu_s_burst_start_to_all_judged": burst_cpu,
                "loadavg_1m_5m_15m_at_start": load_start,
                "loadavg_1m_5m_15m_when_all_judged": load_end,
            }

        # the worker's first sync run starts with it: burst A meets it (a run reads all of Keycloak's managed
        # state, 20,000 accounts, in the worker's process); burst B starts as a run ends (60 s until the next)
        wait_until(syncing, timeout_s=60, what="the worker's first sync run")
        during = measure("A (during a sync run)", plan[:per_burst])
        wait_until(lambda: not syncing(), timeout_s=300, what="the worker's sync run to end", interval_s=0.1)
        between = measure("B (between sync runs)", plan[per_burst:])

        # (3) /readyz, with /healthz as its baseline
        log(f"(3) /readyz and /healthz, {args.readyz_calls} calls each, interleaved")
        readyz: list[float] = []
        healthz: list[float] = []
        checks: dict[str, list[float]] = {}
        with httpx.Client(base_url=health, timeout=10) as client:
            for _ in range(args.readyz_calls):
                t0 = time.perf_counter()
                answer = client.get("/readyz")
                readyz.append(time.perf_counter() - t0)
                assert answer.status_code == 200, answer.text
                for name, check in answer.json()["checks"].items():
                    checks.setdefault(name, []).append(float(check["ms"]))
                t0 = time.perf_counter()
                assert client.get("/healthz").status_code == 200
                healthz.append(time.perf_counter() - t0)

        # (4) the directory lookup at this size, while the worker runs
        log(f"(4) directory lookup, {args.lookup_samples} cold + baseline, 5 warm rounds")
        rng = random.Random(7)
        chosen = rng.sample([p.mail for p in people], 2 * args.lookup_samples)
        lookup = LdapDirectory(settings.directory)
        cold, warm, raw = measure_find(
            lookup, chosen[: args.lookup_samples], chosen[args.lookup_samples :],
            warm_up=rng.sample([p.mail for p in people], 50), warm_rounds=5, rng=rng,
        )  # fmt: skip
        lookup.close()

        # (5) SIGTERM, and the ledger
        t0 = time.monotonic()
        worker.send_signal(signal.SIGTERM)
        exit_code = worker.wait(30)
        worker_exit_s = round(time.monotonic() - t0, 2)
        worker = None
        with sessions() as session:
            chain = ledger.verify(session)
        assert chain.broken is None, chain

        cold_p, warm_p, raw_p = percentiles(cold), percentiles(warm), percentiles(raw)
        readyz_p, healthz_p = percentiles(readyz), percentiles(healthz)
        lag_p95 = max(during["lag"]["p95_s"], between["lag"]["p95_s"])
        result: dict[str, Any] = {
            "watcher_events": during["events"],
            "watcher_lag_p95_s": lag_p95,
            "watcher_lag_p95_s_is": "the worse of two bursts of 2,000 changes: A met a sync run, B did not",
            "watcher_lag_p95_s_during_sync_run": during["lag"]["p95_s"],
            "directory_lookup_p95_ms_warm": warm_p["p95_ms"],
            "directory_lookup_p95_ms_cold": cold_p["p95_ms"],
            "readyz_ms": {"p50_ms": readyz_p["p50_ms"], "p95_ms": readyz_p["p95_ms"], "n": readyz_p["n"]},
            "targets": TARGETS,
            "meets_targets": {
                "watcher_lag_p95_s": lag_p95 <= TARGETS["watcher_lag_p95_s"],
                "watcher_lag_p95_s_during_sync_run": during["lag"]["p95_s"] <= TARGETS["watcher_lag_p95_s"],
                "watcher_lag_p95_s_between_sync_runs": between["lag"]["p95_s"] <= TARGETS["watcher_lag_p95_s"],
                "directory_lookup_p95_ms_warm": warm_p["p95_ms"] <= TARGETS["directory_lookup_p95_ms_warm"],
                "directory_lookup_p95_ms_cold": cold_p["p95_ms"] <= TARGETS["directory_lookup_p95_ms_cold"],
            },
            "watcher_lag_p95_s_between_sync_runs": between["lag"]["p95_s"],
            "people": args.size,
            "store": "postgresql (test bed cluster, fsync off; the worker as the application role)",
            "worker": "python -m bridge worker, every task (sync, scheduler, console-watcher, login-ingestion, "
            "queue-gauges), default settings",
            "worker_settings_changed": extra,
            "watcher_poll_interval_s": settings.worker.watcher_interval_s,
            "watcher_page_size": PAGE,
            "lag_definition": "when the event's ledger row was first seen committed by another session (polled "
            "every 50 ms) minus the admin event's `time` (Keycloak's clock; same machine); `lag_by_row_at` uses the "
            "row's `at`, taken when the row is appended, before its transaction commits",
            "bursts": {
                "by": f"provincial administrator of {PROVINCE} (FGAP v2 console permissions, his own console token)",
                "per_person": ["add to a role group below administrator level", "disable", "enable", "remove"],
                "role_groups": list(ROLE_GROUPS),
                "concurrency": args.concurrency,
                "baselines": "bare reader: the watcher's admin-events query polled at the same interval, doing "
                "nothing else; read: the burst's window read page by page with the watcher's query afterwards",
                "A_during_sync_run": during,
                "B_between_sync_runs": between,
            },
            "directory_lookup": {
                "find_warm": warm_p,
                "find_cold": cold_p,
                "baseline_raw_ldap3_search": raw_p,
                "ratio_cold_p95_to_baseline_p95": round(cold_p["p95_ms"] / raw_p["p95_ms"], 2),
                "measured": "after the bursts, the worker running; bench/directory_lookup.py's measure_find",
            },
            "readyz": {
                "readyz": readyz_p,
                "baseline_healthz": healthz_p,
                "ratio_p50_to_healthz_p50": round(readyz_p["p50_ms"] / healthz_p["p50_ms"], 1),
                "check_ms_p50": {k: round(statistics.median(v), 1) for k, v in checks.items()},
            },
            "worker_exit_on_sigterm_s": worker_exit_s,
            "worker_exit_code": exit_code,
            "ledger_rows_verified": chain.rows,
            "setup": timings,
            "total_run_s": round(time.monotonic() - started_all, 1),
            "keycloak_version": KEYCLOAK_VERSION,
            "loadavg_1m_5m_15m_before": load_before,
            "loadavg_1m_5m_15m_at_end": loadavg(),
            "machine_cpus": len(os.sched_getaffinity(0)),
            "date": day.isoformat(),
            "measured_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        }
    finally:
        if worker is not None and worker.poll() is None:
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait(10)
        if stack is not None:
            stack.close()
        postgres.stop()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    log(json.dumps(result, ensure_ascii=False))
    log(f"written {args.out}")


if __name__ == "__main__":
    main()
