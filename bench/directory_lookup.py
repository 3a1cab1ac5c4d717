"""Benchmark of the directory lookup behind every decision (``LdapDirectory.find``) against a raw ldap3 search.

One command (``python bench/directory_lookup.py``) starts slapd with 20,000 generated people and measures, in one
run: (1) ``find()`` on a cache miss (cold: one search on a pooled connection, parsing, caching), single-threaded
and from 8 threads at once; (2) ``find()`` answered from the cache (warm); (3) the baseline, interleaved with (1):
a bare ldap3 search for one e-mail on one already bound connection, with the same filter and attributes;
(4) for scale, ``in_units()`` of the largest unit on a miss, and the sync-style full read that warms the cache
(``read_people``: time, addresses cached, resident memory it added). The 1-minute load average is recorded
before and after. Results go to ``bench/results/directory_lookup.json``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import statistics
import subprocess
import sys
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import ldap3
from pydantic import SecretStr

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bridge.adapters.directory.ldap import ATTRIBUTES, LdapDirectory  # noqa: E402
from bridge.domain.units import load_units  # noqa: E402
from bridge.settings import DirectorySettings  # noqa: E402
from bridge.testbed.slapd_server import PEOPLE_BASE, SlapdServer, start_slapd  # noqa: E402

TARGETS = {"warm_p95_ms": 20.0, "cold_p95_ms": 200.0}


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def percentiles(samples: list[float]) -> dict[str, float]:
    """p50/p95/p99/max/mean in ms (3 decimals: a cache hit is microseconds)."""
    ordered = sorted(samples)

    def at(q: float) -> float:
        return round(ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))] * 1000, 3)

    return {"p50_ms": at(0.50), "p95_ms": at(0.95), "p99_ms": at(0.99), "max_ms": round(ordered[-1] * 1000, 3),
            "mean_ms": round(statistics.fmean(ordered) * 1000, 3), "n": len(ordered)}  # fmt: skip


def rss_mb() -> float:
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def settings_of(slapd: SlapdServer) -> DirectorySettings:
    return DirectorySettings(
        url=slapd.url,
        bind_dn=slapd.reader_dn,
        bind_password=SecretStr(slapd.reader_password),
        people_base=PEOPLE_BASE,
    )


def raw_connection(settings: DirectorySettings) -> ldap3.Connection:
    server = ldap3.Server(settings.url, get_info=ldap3.NONE)
    return ldap3.Connection(
        server,
        user=settings.bind_dn,
        password=settings.bind_password.get_secret_value(),
        auto_bind=ldap3.AUTO_BIND_NO_TLS,
        read_only=True,
    )


def raw_find(conn: ldap3.Connection, base: str, email: str) -> float:
    """The baseline: one search by mail on a bound connection, nothing else."""
    started = time.perf_counter()
    conn.search(base, f"(&(objectClass=inetOrgPerson)(mail={email}))", search_scope=ldap3.LEVEL,
                attributes=list(ATTRIBUTES))  # fmt: skip
    elapsed = time.perf_counter() - started
    assert len(conn.response) == 1, email
    return elapsed


def timed_find(lookup: LdapDirectory, email: str) -> float:
    started = time.perf_counter()
    found = lookup.find(email)
    elapsed = time.perf_counter() - started
    assert found is not None and found.email == email, email
    return elapsed


def measure_find(
    lookup: LdapDirectory,
    cold_mails: list[str],
    base_mails: list[str],
    *,
    warm_up: list[str],
    warm_rounds: int,
    rng: random.Random,
) -> tuple[list[float], list[float], list[float]]:
    """(1) cold ``find()`` interleaved with (3) the raw ldap3 search, then (2) warm ``find()``: seconds each.

    Also used by ``bench/worker.py`` (the same measurement at 20,000 people while the worker runs).
    """
    settings = lookup.settings
    conn = raw_connection(settings)
    for email in warm_up:  # warm-up: connections, slapd's caches
        lookup.find(email)
        raw_find(conn, settings.people_base, email)
    lookup.cache.clear()

    log(f"(1)+(3) cold find() and raw ldap3 search, interleaved, {len(cold_mails)} each")
    cold: list[float] = []
    baseline: list[float] = []
    for ours, theirs in zip(cold_mails, base_mails, strict=True):
        cold.append(timed_find(lookup, ours))
        baseline.append(raw_find(conn, settings.people_base, theirs))
    conn.unbind()

    log(f"(2) warm find(), {warm_rounds} rounds over the same {len(cold_mails)} people")
    warm: list[float] = []
    for _ in range(warm_rounds):
        for email in rng.sample(cold_mails, len(cold_mails)):
            warm.append(timed_find(lookup, email))
    return cold, warm, baseline


def slapd_version() -> str:
    out = subprocess.run(["dpkg-query", "-W", "-f=${Version}", "slapd"], capture_output=True, text=True, check=False)
    return out.stdout.strip() or "unknown"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size", type=int, default=20_000)
    parser.add_argument("--samples", type=int, default=3000, help="distinct people for cold and baseline each")
    parser.add_argument("--warm-rounds", type=int, default=5)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "directory_lookup.json")
    args = parser.parse_args()
    load_before = os.getloadavg()
    units = load_units(ROOT / "keycloak-config" / "units.yaml")
    log(f"generating and loading {args.size} people")
    started = time.perf_counter()
    slapd = start_slapd(units, size=args.size)
    log(f"slapd ready in {time.perf_counter() - started:.1f} s")
    try:
        settings = settings_of(slapd)
        rng = random.Random(7)
        chosen = rng.sample([p.mail for p in slapd.people], 2 * args.samples + 800)
        cold_mails = chosen[: args.samples]
        base_mails = chosen[args.samples : 2 * args.samples]
        threaded_mails = chosen[2 * args.samples :]

        lookup = LdapDirectory(settings)
        cold, warm, baseline = measure_find(
            lookup, cold_mails, base_mails, warm_up=rng.sample([p.mail for p in slapd.people], 50),
            warm_rounds=args.warm_rounds, rng=rng,
        )  # fmt: skip

        log("(1b) cold find() from 8 threads (pool of settings.lookup_connections connections)")
        with ThreadPoolExecutor(8) as pool:
            threaded = list(pool.map(lambda e: timed_find(lookup, e), threaded_mails))

        log("(4) in_units() of the largest unit, cold, and the full read that warms the cache")
        largest, members = Counter(p.unit_code for p in slapd.people).most_common(1)[0]
        in_units: list[float] = []
        for _ in range(10):
            lookup.cache.clear()
            t0 = time.perf_counter()
            assert len(lookup.in_units([largest])) == members
            in_units.append(time.perf_counter() - t0)
        lookup.cache.clear()
        rss_before = rss_mb()
        t0 = time.perf_counter()
        read = lookup.read_people()
        prime_s = time.perf_counter() - t0
        cached_after_prime = len(lookup.cache)
        rss_added = rss_mb() - rss_before
        del read
        lookup.close()

        result: dict[str, Any] = {
            "people": args.size,
            "find_cold": percentiles(cold),
            "find_warm": percentiles(warm),
            "baseline_raw_ldap3_search": percentiles(baseline),
            "ratio_cold_p95_to_baseline_p95": round(percentiles(cold)["p95_ms"] / percentiles(baseline)["p95_ms"], 2),
            "find_cold_8_threads": percentiles(threaded),
            "lookup_connections": settings.lookup_connections,
            "in_units_largest_unit_cold": {"unit": largest, "people": members, **percentiles(in_units)},
            "full_read_warming_cache_s": round(prime_s, 2),
            "addresses_cached_after_full_read": cached_after_prime,
            "rss_added_by_full_read_mb": round(rss_added, 1),
            "targets": TARGETS,
            "meets_target": percentiles(warm)["p95_ms"] <= TARGETS["warm_p95_ms"]
            and percentiles(cold)["p95_ms"] <= TARGETS["cold_p95_ms"],
            "loadavg_1m_5m_15m_before": [round(x, 2) for x in load_before],
            "loadavg_1m_5m_15m_at_end": [round(x, 2) for x in os.getloadavg()],
            "machine_cpus": len(os.sched_getaffinity(0)),
            "slapd": slapd_version(),
            "measured_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        }
    finally:
        slapd.close()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    log(json.dumps(result, ensure_ascii=False))
    log(f"written {args.out}")


if __name__ == "__main__":
    main()
