"""Load (issue 17, item 4): mixed traffic for 30 minutes against a running ``bridge serve`` and ``bridge worker``.

One command (``python bench/load.py``, run by ``make reliability``) starts PostgreSQL, slapd with 2,000
generated people and Keycloak, applies the realm, syncs the directory into Keycloak, appoints an IT Center and a
Hà Nội administrator, and starts the two real processes as deployed (``bridge serve`` with one worker process,
so the process measured is the server; ``bridge worker`` with every task: sync every 2 minutes, lock and grant
scheduler, console watcher, login ingestion). Then, for ``--minutes``:

- API lists and grants at ``--rps`` (open loop: a request is sent on its schedule, whatever the previous one
  did): ``GET /grants``, ``GET /locks``, ``GET /persons``, and one ``POST /grants`` in ten (a Hà Nội person,
  TST/operator, each person once);
- 20 lock decisions a minute (``POST /locks``, "violation" effective today: the worker applies each at once,
  disabling the person in Keycloak and proving it);
- the worker's sync every 2 minutes (``BRIDGE_SYNC__WATCH_INTERVAL_S=120``) and its console watcher.

Every 10 s the resident memory and open file descriptors of both processes are sampled from ``/proc``; the
result is each series' least-squares slope (per hour) over the run after a 5-minute warm-up, and the errors:
any non-2xx answer or failed request, and lock decisions not applied by the end. Tokens are signed by a key
imported into the realm (they outlive the run; the API checks them as any token). Results:
``bench/results/load.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import random
import signal
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx
from joserfc import jwt
from joserfc.jwk import RSAKey
from sqlalchemy import func, select
from sqlalchemy.orm import sessionmaker

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bridge.adapters.directory.ldap import LdapDirectory  # noqa: E402
from bridge.adapters.store.lock_models import LockDecision  # noqa: E402
from bridge.adapters.store.migrate import upgrade  # noqa: E402
from bridge.adapters.store.session import make_engine, transaction  # noqa: E402
from bridge.adapters.store.sync_models import SyncRun  # noqa: E402
from bridge.clock import today_vn  # noqa: E402
from bridge.domain.policy import AdminRole  # noqa: E402
from bridge.services import persons  # noqa: E402
from bridge.services.context import build_context, load_actor  # noqa: E402
from bridge.services.keycloak_config import bootstrap_admin  # noqa: E402
from bridge.services.sync.run import run_sync  # noqa: E402
from bridge.settings import Settings  # noqa: E402
from bridge.testbed.postgres_server import APP_ROLE, PostgresServer  # noqa: E402
from bridge.testbed.processes import bridge_process, open_fds, process_tree, rss_kib  # noqa: E402
from bridge.testbed.stack import start_stack  # noqa: E402

AUDIENCE = "bhxh-bridge-api"
WARM_UP_S = 300
#: ``MALLOC_ARENA_MAX`` of the deployed processes (Dockerfile, docker-compose.yml; decision 0830).
DEPLOYED_ARENA_MAX = 2
MEMHOOK = ROOT / "bench" / "memhook"


def log(message: str) -> None:
    print(f"{time.strftime('%H:%M:%S')} {message}", file=sys.stderr, flush=True)


def slope_per_hour(points: list[tuple[float, float]]) -> float:
    """Least-squares slope of (seconds, value) points, per hour."""
    n = len(points)
    if n < 2:
        return 0.0
    mx = sum(t for t, _ in points) / n
    my = sum(v for _, v in points) / n
    sxx = sum((t - mx) ** 2 for t, _ in points)
    return 3600 * sum((t - mx) * (v - my) for t, v in points) / sxx if sxx else 0.0


def _or_zero(read: Any, pid: int) -> int:
    """``read(pid)``, or 0 for a process that ended between listing and reading."""
    try:
        return int(read(pid))
    except (FileNotFoundError, ProcessLookupError, LookupError):
        return 0


def anon_kib(pid: int) -> int:
    """Anonymous memory of ``pid`` (KiB, ``/proc/<pid>/smaps_rollup``): the heaps, not the mapped code."""
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        if line.startswith("Anonymous:"):
            return int(line.split()[1])
    raise LookupError(f"no Anonymous in /proc/{pid}/smaps_rollup")


def threads(pid: int) -> int:
    """Threads of ``pid`` now."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("Threads:"):
            return int(line.split()[1])
    raise LookupError(f"no Threads in /proc/{pid}/status")


def uvicorn_workers(pid: int) -> list[int]:
    """The worker processes uvicorn's supervisor ``pid`` spawned (not itself, nor multiprocessing's helpers)."""
    found = []
    for child in process_tree(pid)[1:]:
        try:
            if b"spawn_main" in Path(f"/proc/{child}/cmdline").read_bytes():
                found.append(child)
        except FileNotFoundError:
            continue
    return found


class Sampler(threading.Thread):
    """RSS (MB) and open fds of each process every ``interval_s``."""

    def __init__(self, pids: dict[str, int], interval_s: float = 10.0, probe_every: int = 0) -> None:
        super().__init__(daemon=True)
        self.pids, self.interval_s, self.stop = pids, interval_s, threading.Event()
        #: Every how many samples the serving workers are asked for a memory probe (0: never).
        self.probe_every = probe_every
        self.started = time.monotonic()
        self.started_wall = time.time()
        self.samples: list[dict[str, Any]] = []

    def run(self) -> None:
        while not self.stop.is_set():
            sample: dict[str, Any] = {"t": round(time.monotonic() - self.started, 1), "load": os.getloadavg()[0]}
            for name, pid in self.pids.items():  # the process and its children (``bridge serve --workers N``)
                tree = process_tree(pid)
                sample[f"{name}_rss_mb"] = round(sum(_or_zero(rss_kib, p) for p in tree) / 1024, 2)
                sample[f"{name}_fds"] = sum(_or_zero(open_fds, p) for p in tree)
                sample[f"{name}_processes"] = len(tree)
                sample[f"{name}_anon_mb"] = round(sum(_or_zero(anon_kib, p) for p in tree) / 1024, 2)
                sample[f"{name}_threads"] = sum(_or_zero(threads, p) for p in tree)
            if self.probe_every and len(self.samples) % self.probe_every == 0:
                for pid in uvicorn_workers(self.pids["serve"]):
                    os.kill(pid, signal.SIGUSR1)  # bench/memhook/sitecustomize.py writes what its memory holds
            self.samples.append(sample)
            self.stop.wait(self.interval_s)


async def traffic(base: str, tokens: dict[str, str], people: list[str], *, rps: float, locks_per_min: float,
                  seconds: float, rng: random.Random, max_in_flight: int = 32, burst_rps: float = 0,
                  burst_s: float = 0) -> dict[str, Any]:  # fmt: skip
    """Open-loop traffic at ``rps``; a tick finding ``max_in_flight`` requests unanswered is shed (counted, not
    sent), so an overloaded machine shows as a lower achieved rate, not as an ever-growing queue. For the first
    ``burst_s`` seconds the rate is ``burst_rps`` instead (when given): the serving processes reach their most
    requests in flight during the warm-up, not at some later moment of the measured part (decision 0830).
    Returns counts per kind, errors with examples, latencies, and the rate achieved after the burst."""
    counts: dict[str, int] = {}
    errors: dict[str, int] = {}
    examples: list[str] = []
    latencies: list[float] = []
    late = shed = after_burst = 0
    grant_people = iter(people[: len(people) // 2])
    lock_people = iter(people[len(people) // 2 :])
    hn, it = {"Authorization": f"Bearer {tokens['province']}"}, {"Authorization": f"Bearer {tokens['it']}"}
    today = today_vn().isoformat()
    limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
    async with httpx.AsyncClient(base_url=base, timeout=60, limits=limits) as client:
        in_flight: set[asyncio.Task[None]] = set()

        async def one(kind: str, method: str, path: str, headers: dict[str, str], **kw: Any) -> None:
            nonlocal after_burst
            started = time.monotonic()
            try:
                response = await client.request(method, path, headers=headers, **kw)
                ok = 200 <= response.status_code < 300
                detail = f"{response.status_code} {response.text[:200]}"
            except httpx.HTTPError as exc:
                ok, detail = False, f"{type(exc).__name__}: {exc}"
            latencies.append(time.monotonic() - started)
            counts[kind] = counts.get(kind, 0) + 1
            if started - start >= burst_s:
                after_burst += 1
            if not ok:
                errors[kind] = errors.get(kind, 0) + 1
                if len(examples) < 20:
                    examples.append(f"{kind} {method} {path}: {detail}")

        def launch(coro: Any) -> None:
            task = asyncio.create_task(coro)
            in_flight.add(task)
            task.add_done_callback(in_flight.discard)

        start = time.monotonic()
        next_api, next_lock, i = start, start, 0
        while (now := time.monotonic()) - start < seconds:
            if now >= next_lock:
                email = next(lock_people, None)
                if email is not None:
                    body = {"email": email, "reason": "violation", "decision_number": f"L{i}/QĐ-BHXH",
                            "effective_date": today}  # fmt: skip
                    launch(one("lock", "POST", "/locks", hn, json=body))
                next_lock += 60 / locks_per_min
            if now >= next_api:
                rate = burst_rps if burst_rps and now - start < burst_s else rps
                if now - next_api > 1.0:  # this process fell behind its schedule: those ticks are not sent
                    late += int((now - next_api) * rate)
                    next_api = now
                if len(in_flight) >= max_in_flight:  # the bridge is saturated: shed instead of queueing
                    shed += 1
                    next_api += 1 / rate
                    continue
                i += 1
                pick = i % 10
                if pick == 0 and (email := next(grant_people, None)) is not None:
                    body = {"email": email, "application": "TST", "role_group": "operator",
                            "request_ref": f"load {i}"}  # fmt: skip
                    launch(one("grant", "POST", "/grants", hn, json=body))
                elif pick in (1, 2, 3, 4):
                    launch(one("list_grants", "GET", "/grants", hn if pick % 2 else it, params={"limit": 50}))
                elif pick in (5, 6, 7):
                    launch(one("list_locks", "GET", "/locks", hn, params={"limit": 50}))
                else:
                    page = {"limit": 50, "offset": rng.randrange(150)}
                    launch(one("list_persons", "GET", "/persons", hn, params=page))
                next_api += 1 / rate
            await asyncio.sleep(max(0.0, min(next_api, next_lock) - time.monotonic()))
        await asyncio.gather(*in_flight)
    latencies.sort()
    elapsed = time.monotonic() - start
    return {"counts": counts, "errors": errors, "error_examples": examples, "seconds": round(elapsed, 1),
            "achieved_rps": round(sum(counts.values()) / elapsed, 1), "ticks_not_sent_behind_schedule": late,
            "achieved_rps_after_burst": round(after_burst / max(elapsed - burst_s, 1e-9), 1) if burst_rps else None,
            "ticks_shed_at_max_in_flight": shed, "max_in_flight": max_in_flight,
            "p50_ms": round(1000 * latencies[len(latencies) // 2], 1) if latencies else None,
            "p95_ms": round(1000 * latencies[int(len(latencies) * 0.95)], 1) if latencies else None}  # fmt: skip


def _probe_figures(line: dict[str, Any]) -> dict[str, Any]:
    """One probe line in MB: threads, glibc's arenas and bytes in use / free inside them / mmap'd, Python's."""
    m, mb = line["malloc"], 1024 * 1024
    shown = {"threads": line["threads"], "arenas": m["arenas"], "malloc_in_use_mb": round(m["uordblks"] / mb, 2),
             "malloc_free_held_mb": round(m["fordblks"] / mb, 2), "malloc_mmapped_mb": round(m["hblkhd"] / mb, 2),
             "arena_total_mb": round(m["arena"] / mb, 2)}  # fmt: skip
    if "traced" in line:
        shown["python_traced_mb"] = round(line["traced"]["current"] / mb, 2)
        shown["tracemalloc_overhead_mb"] = round(line["traced"]["overhead"] / mb, 2)
    return shown


def memory_probe(probes: Path, *, warm_up_end: float) -> dict[str, Any]:
    """What the serving workers' probes said (bench/memhook/sitecustomize.py): per worker, glibc's figures and
    threads at the first probe after the warm-up and at the last, and — with tracemalloc — Python's traced
    memory then and now, and the 15 source lines whose allocations grew most between those two snapshots."""
    import tracemalloc

    out: dict[str, Any] = {}
    for path in sorted(probes.glob("*.jsonl")):
        lines = [json.loads(line) for line in path.read_text().splitlines()]
        after = [line for line in lines if line["wall"] >= warm_up_end] or lines
        first, last = after[0], after[-1]

        worker: dict[str, Any] = {
            "probes": len(lines),
            "after_warm_up": _probe_figures(first),
            "at_end": _probe_figures(last),
            "series": [_probe_figures(line) | {"wall": line["wall"]} for line in lines],
        }
        if "snapshot" in first and "snapshot" in last and first is not last:
            older = tracemalloc.Snapshot.load(first["snapshot"])
            newer = tracemalloc.Snapshot.load(last["snapshot"])
            stats = newer.compare_to(older, "lineno")
            worker["top_growth_by_line"] = [
                {"where": str(stat.traceback[0]), "size_diff_kib": round(stat.size_diff / 1024, 1),
                 "count_diff": stat.count_diff, "size_kib": round(stat.size / 1024, 1)}
                for stat in stats[:15]
            ]  # fmt: skip
            worker["traced_growth_kib"] = round(sum(stat.size_diff for stat in stats) / 1024, 1)
            worker["top_growth_by_file"] = [
                {"where": stat.traceback[0].filename, "size_diff_kib": round(stat.size_diff / 1024, 1),
                 "count_diff": stat.count_diff, "size_kib": round(stat.size / 1024, 1)}
                for stat in newer.compare_to(older, "filename")[:10]
            ]  # fmt: skip
        out[path.stem] = worker
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--minutes", type=float, default=30)
    parser.add_argument("--rps", type=float, default=100)
    parser.add_argument("--locks-per-minute", type=float, default=20)
    parser.add_argument("--size", type=int, default=2000)
    parser.add_argument(
        "--serve-workers",
        type=int,
        default=2,
        help="bridge serve processes (2: BRIDGE_API__WORKERS' default, as deployed)",
    )
    parser.add_argument(
        "--malloc-arena-max",
        type=int,
        default=DEPLOYED_ARENA_MAX,
        help=f"MALLOC_ARENA_MAX of both processes ({DEPLOYED_ARENA_MAX}: as deployed, decision 0830; 0: glibc's)",
    )
    parser.add_argument(
        "--memory-probe",
        action="store_true",
        help="ask the serving workers every minute what their memory holds (bench/memhook: glibc arenas, threads)",
    )
    parser.add_argument(
        "--tracemalloc",
        type=int,
        default=0,
        metavar="FRAMES",
        help="with --memory-probe: trace Python's allocations in bridge serve (FRAMES deep) and compare snapshots",
    )
    parser.add_argument(
        "--jwks-cache-s",
        type=float,
        default=0,
        help="BRIDGE_GOVERNANCE__JWKS_CACHE_S of bridge serve (0: the setting's default, 300 s); shorter, the "
        "realm's keys are read again more often (decision 0830 measured RSS per JWKS refresh so)",
    )
    parser.add_argument("--warm-up-s", type=float, default=WARM_UP_S, help="seconds left out of the slopes")
    parser.add_argument(
        "--warm-up-rps",
        type=float,
        default=0,
        help="API rate during the warm-up (0: --rps throughout); above --rps it fills the serving processes' "
        "pools and thread pool to their high-water mark before the slopes are measured (decision 0830)",
    )
    parser.add_argument("--out", "--output", type=Path, default=ROOT / "bench" / "results" / "load.json")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # stopped from outside: the servers are stopped too
    load_before = os.getloadavg()
    workdir = Path(tempfile.mkdtemp(prefix="bhxh-bench-load-"))
    postgres = PostgresServer().start()
    stack = None
    try:
        upgrade(url=postgres.owner_url(), app_role=APP_ROLE)
        url = postgres.app_url()
        log(f"starting slapd ({args.size} people) + Keycloak, applying the realm")
        stack = start_stack(size=args.size, store_url=url)
        settings = stack.settings
        day = today_vn()
        report = asyncio.run(run_sync(settings=settings, units=stack.units, day=day, full=True))
        assert report.status == "applied", (report.status, report.error)
        log(f"initial sync: {report.applied} applied")
        sessions = sessionmaker(make_engine(url), expire_on_commit=False)
        people = stack.slapd.people
        it_admin = next(p for p in people if p.unit_code == settings.governance.it_center_unit)
        hanoi = [p for p in people if p.unit_code.startswith("01")]
        province_admin, targets = hanoi[0], [p.mail for p in hanoi[1:]]
        ctx = build_context(settings, directory=LdapDirectory(settings.directory))
        with transaction(sessions) as session:
            persons.appoint_administrator(session, ctx=ctx, actor=None, email=it_admin.mail,
                                          role=AdminRole.IT_CENTER_ADMIN, unit_code=it_admin.unit_code)  # fmt: skip
        with transaction(sessions) as session:
            persons.appoint_administrator(session, ctx=ctx, actor=load_actor(session, email=it_admin.mail),
                                          email=province_admin.mail, role=AdminRole.PROVINCE_ADMIN,
                                          unit_code="01000")  # fmt: skip
        admin = bootstrap_admin(settings, stack.units.realm)
        issuer = f"{settings.keycloak.url}/realms/{stack.units.realm}"
        local = RSAKey.generate_key(2048, private=True)
        config = {"privateKey": [local.as_pem(private=True).decode()], "priority": ["1"], "enabled": ["true"],
                  "active": ["true"], "algorithm": ["RS256"]}  # fmt: skip
        realm_id = admin.get("")["id"]
        admin.post("components", {"name": "load-bench-key", "providerId": "rsa", "config": config,
                                  "providerType": "org.keycloak.keys.KeyProvider", "parentId": realm_id})  # fmt: skip
        published = httpx.get(f"{issuer}/protocol/openid-connect/certs", timeout=10).json()["keys"]
        kid = next(k["kid"] for k in published if k.get("n") == local.as_dict()["n"])
        key = RSAKey.import_key(local.as_dict(private=True) | {"kid": kid})

        def token(person_mail: str) -> str:
            sub = admin.get("users", email=person_mail, exact="true")[0]["id"]
            now = int(time.time())
            claims = {"iss": issuer, "aud": AUDIENCE, "exp": now + 6 * 3600, "iat": now, "email": person_mail,
                      "typ": "Bearer", "azp": "bhxh-bridge-ui", "sub": sub}  # fmt: skip
            return jwt.encode({"alg": "RS256", "kid": kid, "typ": "JWT"}, claims, key)

        tokens = {"province": token(province_admin.mail), "it": token(it_admin.mail)}
        env = stack.env() | {"BRIDGE_SYNC__WATCH_INTERVAL_S": "120", "BRIDGE_LOG_LEVEL": "WARNING"}
        if args.jwks_cache_s:
            env["BRIDGE_GOVERNANCE__JWKS_CACHE_S"] = str(args.jwks_cache_s)
        if args.malloc_arena_max:
            env["MALLOC_ARENA_MAX"] = str(args.malloc_arena_max)
        serve_env = dict(env)
        probes = workdir / "memprobe"
        if args.memory_probe:
            probes.mkdir()
            serve_env |= {"PYTHONPATH": str(MEMHOOK), "BRIDGE_MEMPROBE_DIR": str(probes)}
            if args.tracemalloc:
                serve_env["BRIDGE_MEMPROBE_TRACE"] = str(args.tracemalloc)
        rng = random.Random(17)
        rng.shuffle(targets)
        serving = bridge_process("serve", serve_env, log=workdir / "serve.log", workers=args.serve_workers)
        working = bridge_process("worker", env, log=workdir / "worker.log", health_path="/readyz")
        with serving as (serve, base), working as (worker, _):
            log(f"serve pid {serve.pid}, worker pid {worker.pid}; traffic for {args.minutes} min at {args.rps} rps")
            sampler = Sampler({"serve": serve.pid, "worker": worker.pid}, probe_every=6 if args.memory_probe else 0)
            sampler.start()
            with sessions() as session:
                runs_before = session.scalar(select(func.count()).select_from(SyncRun)) or 0
            result = asyncio.run(traffic(base, tokens, targets, rps=args.rps, locks_per_min=args.locks_per_minute,
                                         seconds=args.minutes * 60, rng=rng, burst_rps=args.warm_up_rps,
                                         burst_s=args.warm_up_s))  # fmt: skip
            time.sleep(20)  # the last lock decisions are applied
            sampler.stop.set()
            sampler.join()
            alive = {"serve": serve.poll() is None, "worker": worker.poll() is None}
            with sessions() as session:
                statuses = {str(k): int(v) for k, v in session.execute(
                    select(LockDecision.status, func.count()).group_by(LockDecision.status))}  # fmt: skip
                applied = session.scalar(select(func.count()).select_from(LockDecision)
                                         .where(LockDecision.applied_at.is_not(None))) or 0  # fmt: skip
                runs = session.execute(select(SyncRun.status, func.count()).where(SyncRun.id > runs_before)
                                       .group_by(SyncRun.status)).all()  # fmt: skip
        samples = sampler.samples
        steady = [s for s in samples if s["t"] >= args.warm_up_s] or samples
        series = {}
        for name in ("serve", "worker"):
            for what in ("rss_mb", "fds", "anon_mb", "threads"):
                column = f"{name}_{what}"
                series[column] = {
                    "first": samples[0][column], "last": samples[-1][column],
                    "min": min(s[column] for s in samples), "max": max(s[column] for s in samples),
                    "slope_per_hour_after_warm_up": round(slope_per_hour([(s["t"], s[column]) for s in steady]), 3),
                    "slope_per_hour_whole_run": round(slope_per_hour([(s["t"], s[column]) for s in samples]), 3),
                }  # fmt: skip
        errors = sum(result["errors"].values())
        locks_sent = result["counts"].get("lock", 0)
        not_applied = locks_sent - applied
        out = {
            "issue": 17,
            "measured_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "machine_load_before": load_before, "machine_load_after": os.getloadavg(),
            "machine": f"{os.cpu_count()} cores, shared with other sessions",
            "minutes": args.minutes, "target_rps": args.rps, "warm_up_rps": args.warm_up_rps or args.rps,
            "locks_per_minute": args.locks_per_minute,
            "serve_workers": args.serve_workers, "server_keep_alive_s": Settings().api.keep_alive_s,
            "client_keepalive_expiry_s": httpx.Limits().keepalive_expiry,
            "people": args.size,
            "traffic": result, "lock_decisions": statuses, "locks_not_applied": not_applied,
            "sync_runs": {str(k): int(v) for k, v in runs}, "processes_alive_at_end": alive,
            "samples": len(samples), "sample_interval_s": 10, "warm_up_s": args.warm_up_s, "series": series,
            "errors": errors,
            "malloc_arena_max": args.malloc_arena_max or "glibc default",
            "jwks_cache_s": args.jwks_cache_s or Settings().governance.jwks_cache_s,
            "memory_probe": memory_probe(probes, warm_up_end=sampler.started_wall + args.warm_up_s)
            if args.memory_probe else None,
            "raw_samples": samples,
        }  # fmt: skip
        args.out.write_text(json.dumps(out, indent=2, ensure_ascii=False) + "\n")
        log(f"wrote {args.out}: {result['achieved_rps']} rps, errors {errors}, locks not applied {not_applied}, "
            f"series {json.dumps(series)}")  # fmt: skip
    finally:
        if stack is not None:
            stack.close()
        postgres.stop()


if __name__ == "__main__":
    main()
