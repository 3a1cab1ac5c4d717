"""An incremental no-change run at national scale, with Keycloak out of reach (issue 16, decision 0903).

An incremental run must not read Keycloak: ``python bench/sync_incremental.py --size 100000`` starts slapd with
the generated directory, writes the applied record a full run would have left (one row per person, the managed
groups' ids, the high-water mark of a run that has just finished) into a fresh store, and runs the engine
incrementally against a Keycloak URL where nothing listens — any admin or token call would fail the run. It
records the run's seconds, Keycloak calls (must be 0), the machine's load, and peak RSS; the last no-change run
reads every entry's mail (the leaver check of ``sync.presence_every_s``). Then it deletes 100 entries from
slapd and plans again (a dry run reading every mail): those leavers must be planned (nothing is written, as
Keycloak is unreachable — the plan is the measure). Results: ``bench/results/sync-incremental.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import sys
import tempfile
import time
import uuid
from pathlib import Path

from pydantic import SecretStr

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bridge.adapters.directory.ldap import now_generalized  # noqa: E402
from bridge.adapters.keycloak.admin import service_account_admin  # noqa: E402
from bridge.adapters.store import migrate  # noqa: E402
from bridge.adapters.store.session import session_factory, transaction  # noqa: E402
from bridge.adapters.store.sync_models import SyncState  # noqa: E402
from bridge.clock import today_vn  # noqa: E402
from bridge.domain.sync.planner import OpKind, Reason  # noqa: E402
from bridge.domain.sync.record import Recorded  # noqa: E402
from bridge.domain.units import load_units  # noqa: E402
from bridge.services.sync import record  # noqa: E402
from bridge.services.sync.run import run_sync  # noqa: E402
from bridge.settings import Settings  # noqa: E402
from bridge.testbed.slapd_server import PEOPLE_BASE, start_slapd  # noqa: E402


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size", type=int, default=100000)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "sync-incremental.json")
    args = parser.parse_args()
    day = today_vn()
    units = load_units(ROOT / "keycloak-config" / "units.yaml")
    started = time.monotonic()
    slapd = start_slapd(units, size=args.size)
    log(f"slapd with {args.size} people in {time.monotonic() - started:.0f} s")
    workdir = Path(tempfile.mkdtemp(prefix="bhxh-bench-incr-"))
    try:
        settings = Settings()
        settings.directory.url = slapd.url
        settings.directory.bind_dn = slapd.reader_dn
        settings.directory.bind_password = SecretStr(slapd.reader_password)
        settings.store.url = f"sqlite:///{workdir / 'store.sqlite3'}"
        settings.keycloak.url = "http://127.0.0.1:9"  # discard port: nothing listens, any call fails the run
        settings.keycloak.realm = "bench-incr"
        settings.sync.max_disable_count = 1000
        # The whole directory was written by slapadd seconds ago: with the default overlap (120 s) every entry
        # would count as changed. A quiet directory is the case measured, so the overlap here is 5 s.
        settings.sync.incremental_overlap_s = 5
        migrate.upgrade(url=settings.store.url)
        factory = session_factory(settings.store.url)
        rows, groups = [], {}
        for person in slapd.people:
            code = units.successor_on(person.unit_code, day) or person.unit_code
            path = units.group_path(code, day)
            groups[path] = str(uuid.uuid5(uuid.NAMESPACE_URL, path))
            rows.append(Recorded(person.mail, str(uuid.uuid5(uuid.NAMESPACE_DNS, person.mail)), path, True))
        with transaction(factory) as session:
            record.write(session, rows, known={})
            record.save_group_ids(session, groups)
            for key, value in {"high_water": now_generalized(), "last_full_day": day.isoformat(),
                               "runs_since_full": "0"}.items():  # fmt: skip
                session.add(SyncState(key=key, value=value))
        del rows
        result: dict[str, object] = {"users": args.size, "cores": os.cpu_count(), "date": day.isoformat(),
                                     "incremental_overlap_s": settings.sync.incremental_overlap_s}  # fmt: skip
        time.sleep(7)  # past the overlap after the mark
        for name in ("incr_first_after_load", "incr_noop", "incr_noop_with_presence"):
            # the last run reads every entry's mail (leaver check) whether due or not: its cost at this size
            settings.sync.presence_every_s = 0 if name == "incr_noop_with_presence" else 300
            kc = service_account_admin(settings.keycloak)
            load = os.getloadavg()[0]
            report = asyncio.run(run_sync(settings=settings, units=units, day=day, admin=kc))
            assert report.mode == "incremental" and report.status == "applied", (report.status, report.error)
            calls = kc.calls.reads + kc.calls.writes
            result |= {f"{name}_s": round(report.seconds, 2), f"{name}_keycloak_calls": calls,
                       f"{name}_token": kc._conn.token is not None, f"{name}_changed_entries": report.directory_size,
                       f"{name}_ops": len(report.ops), f"{name}_loadavg_1m_before": round(load, 2),
                       f"{name}_presence_read": report.presence_checked}  # fmt: skip
            log(f"{name}: {report.seconds:.2f} s, {calls} Keycloak calls, {report.directory_size} changed entries")
        gone = slapd.people[:: max(1, args.size // 100)][:100]
        slapd.delete(f"{p.dn_rdn},{PEOPLE_BASE}" for p in gone)
        load = os.getloadavg()[0]
        report = asyncio.run(run_sync(settings=settings, units=units, day=day, dry_run=True))
        leavers = {op.mail for op in report.ops if op.kind is OpKind.DISABLE and op.reason is Reason.LEAVER}
        assert leavers == {p.mail for p in gone}, (len(leavers), report.error)
        result |= {"incr_leavers_plan_s": round(report.seconds, 2), "incr_leavers_planned": len(leavers),
                   "incr_leavers_loadavg_1m_before": round(load, 2)}  # fmt: skip
        log(f"100 leavers planned by an incremental dry run in {report.seconds:.2f} s")
        result["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
        result["loadavg_1m_at_end"] = round(os.getloadavg()[0], 2)
        out = args.out
        existing = json.loads(out.read_text(encoding="utf-8")) if out.exists() else {}
        existing[str(args.size)] = result
        out.write_text(json.dumps(existing, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        log(json.dumps(result))
    finally:
        slapd.close()


if __name__ == "__main__":
    main()
