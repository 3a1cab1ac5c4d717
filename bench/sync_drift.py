"""Incremental runs with 1,000 changed entries, on the real servers, at two directory sizes (issue 16).

``python bench/sync_drift.py --sizes 3000 12000`` starts, for each size, slapd with the generated directory and a
fresh Keycloak, provisions everyone with a full run, measures a no-change full reconcile against the servers' CPU
floor, then changes ``--changes`` entries (a third unit moves, a third leavers, a third title changes: the same
mix as ``bench/sync.py``'s phase (7)) and runs incrementally, once per variant, on fresh changes each time: with
the leaver check due (every entry's mail and the whole record are read, the leavers found) at each executor
concurrency of ``--compare``, then with no leaver check due (only the changed people's rows of the record are
read; the leavers wait for the next check, which a last run makes). The no-change full reconcile is measured three
times in the same run: member listings started as the group tree is walked (decision 0905), the walk first and
sequential (the code before it), and the first again. Each run records its seconds, phases, Keycloak calls by
kind, the CPU seconds of Keycloak, slapd and this process (the servers' floor), and the machine's load, so the
cost of a change set can be read against the number of people. Results:
``bench/results/sync-drift.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import datetime as dt
import io
import json
import os
import pstats
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from sync import CpuMeter, drift, realm_settings  # noqa: E402

import bridge.services.sync.run as run_module  # noqa: E402
from bridge.adapters.directory.ldap import read_people  # noqa: E402
from bridge.adapters.directory.lookup import normalise_email  # noqa: E402
from bridge.adapters.keycloak.actual import ActualState, ActualUser, read_actual, read_members  # noqa: E402
from bridge.adapters.keycloak.admin import KeycloakAdmin, service_account_admin  # noqa: E402
from bridge.adapters.store import migrate  # noqa: E402
from bridge.clock import today_vn  # noqa: E402
from bridge.domain.units import UnitTree, load_units  # noqa: E402
from bridge.services.keycloak_config import apply_keycloak_config  # noqa: E402
from bridge.services.sync.run import RunReport, SyncObserver, run_sync  # noqa: E402
from bridge.settings import Settings  # noqa: E402
from bridge.testbed.keycloak_server import KEYCLOAK_VERSION, start_keycloak  # noqa: E402
from bridge.testbed.slapd_server import start_slapd  # noqa: E402
from bridge.testbed.stack import settings_for  # noqa: E402


async def sequential_read_actual(
    admin: KeycloakAdmin, *, unit_root: str, leavers: frozenset[str] = frozenset(), concurrency: int = 6
) -> ActualState:
    """The listing as it was before decision 0905: the whole group tree walked one call at a time, then the member
    listings (``concurrency`` at once). Kept here as the same-run baseline."""
    before = admin.calls.reads
    found: dict[str, str] = {}
    root = unit_root.rstrip("/")

    async def walk(groups: list[dict[str, Any]]) -> None:
        for group in groups:
            path = str(group["path"])
            if not (path == root or path.startswith(root + "/")):
                continue
            found[path] = str(group["id"])
            if group.get("subGroupCount"):
                await walk(
                    await admin.aget(f"groups/{group['id']}/children", first=0, max=5000, briefRepresentation="true")
                )

    await walk(await admin.aget("groups", first=0, max=5000, briefRepresentation="true"))
    gate = asyncio.Semaphore(max(1, concurrency))
    seen: dict[str, tuple[str, bool]] = {}
    paths: dict[str, set[str]] = {}

    async def one(path: str, group_id: str) -> None:
        async with gate:
            members = await read_members(admin, group_id)
        for member in members:
            if member.get("email"):
                mail = normalise_email(str(member["email"]))
                seen[mail] = (str(member["id"]), bool(member.get("enabled", True)))
                paths.setdefault(mail, set()).add(path)

    await asyncio.gather(*(one(p, g) for p, g in found.items() if p != root))
    users = {m: ActualUser(id=i, mail=m, enabled=e, unit_groups=frozenset(paths[m])) for m, (i, e) in seen.items()}
    return ActualState(users=users, group_ids=found, leavers=leavers, reads=admin.calls.reads - before)


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


class PhaseClock:
    """Seconds between the run's phases (the observer's ``phase`` calls)."""

    def __init__(self) -> None:
        self.marks: list[tuple[str, float]] = [("start", time.monotonic())]

    def phase(self, name: str, total: int | None = None) -> None:
        self.marks.append((name, time.monotonic()))

    def step(self, result: Any) -> None:
        return None

    def seconds(self, end: float) -> dict[str, float]:
        marks = [*self.marks, ("end", end)]
        return {marks[i][0]: round(marks[i + 1][1] - marks[i][1], 2) for i in range(len(marks) - 1)}


def one_run(
    settings: Settings, units: UnitTree, day: dt.date, *, full: bool, meter: CpuMeter, profile: bool = False
) -> tuple[RunReport, dict[str, Any]]:
    """One run with its own admin client (so its calls can be counted by kind), its phases and its CPU."""
    admin: KeycloakAdmin = service_account_admin(settings.keycloak)
    clock = PhaseClock()
    observer: SyncObserver = clock

    async def go() -> RunReport:
        try:
            return await run_sync(settings=settings, units=units, day=day, full=full, admin=admin, observer=observer)
        finally:
            await admin.aclose()

    profiler = cProfile.Profile() if profile else None
    meter.start()
    if profiler is not None:
        profiler.enable()
    report = asyncio.run(go())
    if profiler is not None:
        profiler.disable()
    cpu = meter.stop()
    figures: dict[str, Any] = {
        "seconds": round(report.seconds, 2),
        "status": report.status,
        "mode": report.mode,
        "ops": report.counts(),
        "reads": report.reads,
        "writes": report.writes,
        "calls_by_kind": dict(sorted(admin.calls.by_kind.items())),
        "phases_s": clock.seconds(time.monotonic()),
        "cpu_s": cpu,
        "concurrency": settings.keycloak.concurrency,
        "listing_concurrency": settings.sync.member_listing_concurrency,
        "loadavg_1m": round(os.getloadavg()[0], 2),
    }
    if profiler is not None:
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(35)
        figures["profile_top"] = out.getvalue().splitlines()[:70]
    return report, figures


def parts(settings: Settings, units: UnitTree, meter: CpuMeter) -> dict[str, Any]:
    """The two reads of a full run, each alone (seconds, CPU): Keycloak's member listings (with the group tree) and
    the directory read. Their longer one is what the run cannot go below on this machine now; the rest of the
    run's time is the bridge's own (planning, the record's repair, the store)."""
    found: dict[str, Any] = {}

    async def listing() -> int:
        admin = service_account_admin(settings.keycloak)
        try:
            actual = await read_actual(
                admin, unit_root=units.group_root, concurrency=settings.sync.member_listing_concurrency
            )
        finally:
            await admin.aclose()
        return len(actual.users)

    calls: tuple[tuple[str, Callable[[], int]], ...] = (
        ("keycloak_listing", lambda: asyncio.run(listing())),
        ("directory_read", lambda: len(read_people(settings.directory).entries)),
    )
    for name, call in calls:
        meter.start()
        started = time.monotonic()
        count = call()
        found[name] = {
            "seconds": round(time.monotonic() - started, 2),
            "people": count,
            "cpu_s": meter.stop(),
            "loadavg_1m": round(os.getloadavg()[0], 2),
        }
    return found


def listing_rounds(
    settings: Settings, units: UnitTree, meter: CpuMeter, concurrencies: list[int], rounds: int = 3
) -> dict[str, list[dict[str, Any]]]:
    """Keycloak's member listings alone (the full run's longer read), at each listing concurrency, alternated over
    ``rounds`` rounds so that the machine's changing load falls on every value alike."""
    found: dict[str, list[dict[str, Any]]] = {str(c): [] for c in concurrencies}

    async def listing(concurrency: int) -> int:
        admin = service_account_admin(settings.keycloak)
        try:
            actual = await read_actual(admin, unit_root=units.group_root, concurrency=concurrency)
        finally:
            await admin.aclose()
        return len(actual.users)

    for _ in range(rounds):
        for concurrency in concurrencies:
            meter.start()
            started = time.monotonic()
            people = asyncio.run(listing(concurrency))
            cpu = meter.stop()
            found[str(concurrency)].append(
                {
                    "seconds": round(time.monotonic() - started, 2),
                    "people": people,
                    "servers_floor_s": cpu["servers_floor_s"],
                    "cpu_s": cpu,
                    "loadavg_1m": round(os.getloadavg()[0], 2),
                }
            )
    return found


def measure(
    size: int,
    *,
    changes: int,
    compare: list[int],
    units: UnitTree,
    day: dt.date,
    profile: bool,
    listing_values: list[int] | None = None,
    listings_only: bool = False,
) -> dict[str, Any]:
    started = time.monotonic()
    slapd = start_slapd(units, size=size)
    keycloak = start_keycloak()
    workdir = Path(tempfile.mkdtemp(prefix="bhxh-bench-drift-"))
    try:
        base = settings_for(slapd, keycloak, store_url=f"sqlite:///{workdir / 'store.sqlite3'}")
        base.sync.max_disable_count = changes
        base.sync.max_disable_share = 0.5
        base.sync.max_unit_disable_share = 1.0
        migrate.upgrade(url=base.store.url)
        settings = realm_settings(base, "bench-drift")
        apply_keycloak_config(settings, day=day)
        log(f"{size}: servers up and realm applied in {time.monotonic() - started:.0f} s")
        assert keycloak.process is not None and slapd.process is not None
        meter = CpuMeter(keycloak.process.pid, slapd.process.pid)
        people = list(slapd.people)
        initial, initial_figures = one_run(settings, units, day, full=True, meter=meter)
        assert initial.status == "applied", (initial.status, initial.error)
        log(f"{size}: initial {initial_figures['seconds']} s")
        noop_full: dict[str, Any] = {}
        # this branch (the walk pipelined, 12 listings) against the code before decision 0905 (the walk first and
        # sequential, 6 listings), alternated, then the pipelined walk with 6 listings
        for name, listings in (("after_0905", 12), ("sequential_before_0905", 6), ("after_0905_again", 12),
                               ("sequential_before_0905_again", 6), ("pipelined_6_listings", 6)):  # fmt: skip
            if name.startswith("sequential"):
                setattr(run_module, "read_actual", sequential_read_actual)  # noqa: B010
            noop_settings = settings.model_copy(deep=True)
            noop_settings.sync.member_listing_concurrency = listings
            try:
                noop, figures = one_run(noop_settings, units, day, full=True, meter=meter, profile=profile)
            finally:
                setattr(run_module, "read_actual", read_actual)  # noqa: B010
            assert noop.status == "applied" and not noop.ops, (noop.status, noop.error, noop.counts())
            figures["vs_floor"] = round(noop.seconds / max(figures["cpu_s"]["servers_floor_s"], 0.1), 2)
            log(f"{size}: no-change full, {name}: {figures}")
            noop_full[name] = figures
        noop_full["parts"] = parts(settings, units, meter)
        log(f"{size}: the full run's reads alone: {noop_full['parts']}")
        if listing_values:
            noop_full["listing_by_concurrency"] = listing_rounds(settings, units, meter, listing_values)
            log(f"{size}: listings alone by concurrency: {noop_full['listing_by_concurrency']}")
            if listings_only:
                return {"users": size, "noop_full": noop_full}
        runs = []
        variants = [(c, True) for c in compare] + [(compare[0], False)]
        for i, (concurrency, presence) in enumerate(variants):
            changed = drift(slapd, people, units, day, count=changes, seed=1600 + i)
            run_settings = settings.model_copy(deep=True)
            run_settings.keycloak.concurrency = concurrency
            run_settings.sync.presence_every_s = 0 if presence else 86400  # the leaver check: due, or not
            report, figures = one_run(run_settings, units, day, full=False, meter=meter, profile=profile)
            assert report.mode == "incremental" and report.status == "applied", (
                report.mode,
                report.status,
                report.error,
                report.verdict.reasons,
                [r.error for r in report.failed[:3]],
            )
            figures["changed"] = changed
            figures["leaver_check"] = report.presence_checked
            log(f"{size}: incremental, {changes} changes, concurrency {concurrency}, check {presence}: {figures}")
            runs.append(figures)
        # the leavers the last run left for the check: a run with the check due and nothing else changed
        run_settings = settings.model_copy(deep=True)
        run_settings.sync.presence_every_s = 0
        report, figures = one_run(run_settings, units, day, full=False, meter=meter)
        assert report.status == "applied", (report.status, report.error)
        figures["leaver_check"] = report.presence_checked
        figures["changed"] = "none since the previous run (its leavers wait for this check)"
        log(f"{size}: incremental, the previous run's leavers: {figures}")
        runs.append(figures)
        return {
            "users": size,
            "changes": changes,
            "initial_s": initial_figures["seconds"],
            "noop_full": noop_full,
            "incremental": runs,
        }
    finally:
        keycloak.close()
        slapd.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[3000, 12000])
    parser.add_argument("--changes", type=int, default=1000)
    parser.add_argument("--compare", type=int, nargs="+", default=[16, 32])
    parser.add_argument("--profile", action="store_true", help="cProfile each measured run (adds overhead)")
    parser.add_argument("--listings", type=int, nargs="*", default=[], help="listing concurrencies to alternate")
    parser.add_argument("--listings-only", action="store_true", help="stop after the listings (no incremental runs)")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "sync-drift.json")
    args = parser.parse_args()
    day = today_vn()
    units = load_units(ROOT / "keycloak-config" / "units.yaml")
    load_before = os.getloadavg()
    results = [
        measure(
            size,
            changes=args.changes,
            compare=args.compare,
            units=units,
            day=day,
            profile=args.profile,
            listing_values=args.listings,
            listings_only=args.listings_only,
        )
        for size in args.sizes
    ]
    out = {
        "command": "python bench/sync_drift.py " + " ".join(sys.argv[1:]),
        "keycloak_version": KEYCLOAK_VERSION,
        "cores": os.cpu_count(),
        "loadavg_before": [round(x, 2) for x in load_before],
        "loadavg_at_end": [round(x, 2) for x in os.getloadavg()],
        "date": day.isoformat(),
        "sizes": results,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    log(json.dumps(out, ensure_ascii=False)[:3000])


if __name__ == "__main__":
    main()
