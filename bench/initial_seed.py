"""Benchmark of the initial load by seeding (``partialImport`` with the bridge's ids) against Keycloak's full sync.

One command (``python bench/initial_seed.py --size 10000``) starts slapd with a generated directory and one fresh
Keycloak (2 h transaction timeout, as bench/sync.py), creates fresh realms from keycloak-config/, and measures in
one run: (a) Keycloak's own LDAP full sync into a fresh realm (the baseline), (b) the seed
(bridge.services.sync.seed) into another fresh realm per variant (``--batches 20,50x4``: users per request, and
requests in flight), (c) optionally today's bridge initial load (``run_sync``: federation import, per-unit id
searches, one join per person) at small sizes, (d) optionally
Keycloak's full sync run over the seeded realm afterwards. On the first seeded realm it checks: every person
exists with the expected id, enabled, in their unit group only (members per unit group against the directory);
a sample logs in with the directory password; a sample's representation equals the baseline realm's (as Keycloak
serves it, and as stored, read with the federation off); a later full run of the bridge plans nothing.
The machine's load is recorded beside every figure. Results go to ``bench/results/initial-seed.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import os
import random
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sync import KEYCLOAK_TRANSACTION_TIMEOUT, keycloak_full_sync, log, realm_settings  # noqa: E402

from bridge.adapters.keycloak.actual import read_actual  # noqa: E402
from bridge.adapters.keycloak.admin import KeycloakAdmin, service_account_admin  # noqa: E402
from bridge.adapters.store import migrate  # noqa: E402
from bridge.clock import today_vn  # noqa: E402
from bridge.domain.catalogue import by_code, load_applications  # noqa: E402
from bridge.domain.sync.seed import seeded_user_id  # noqa: E402
from bridge.domain.units import load_units  # noqa: E402
from bridge.errors import BridgeError  # noqa: E402
from bridge.services.keycloak_config import apply_keycloak_config, bootstrap_admin  # noqa: E402
from bridge.services.sync.bulk import federation_component  # noqa: E402
from bridge.services.sync.run import run_sync  # noqa: E402
from bridge.services.sync.seed import seed_realm  # noqa: E402
from bridge.settings import Settings  # noqa: E402
from bridge.testbed.directory_gen import Person, password_for  # noqa: E402
from bridge.testbed.keycloak_server import KEYCLOAK_VERSION, start_keycloak  # noqa: E402
from bridge.testbed.relying_party import RelyingParty  # noqa: E402
from bridge.testbed.slapd_server import start_slapd  # noqa: E402
from bridge.testbed.stack import settings_for  # noqa: E402

#: Fields of a user representation that differ between two realms by nature (``origin`` is the federation
#: component's id, as ``federationLink``). ``groups`` are compared apart: Keycloak's import joins no group.
VOLATILE = {
    "id",
    "createdTimestamp",
    "federationLink",
    "origin",
    "access",
    "notBefore",
    "userProfileMetadata",
    "groups",
}


def load1() -> float:
    return round(os.getloadavg()[0], 2)


def with_store(settings: Settings, workdir: Path, name: str) -> Settings:
    """``settings`` with a store of its own (each realm's applied record apart)."""
    out = settings.model_copy(deep=True)
    out.store.url = f"sqlite:///{workdir / (name + '.sqlite3')}"
    migrate.upgrade(url=out.store.url)
    return out


def comparable(user: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in user.items() if k not in VOLATILE}


async def set_federation(admin: KeycloakAdmin, *, enabled: bool) -> None:
    component_id = await federation_component(admin)
    component = await admin.aget(f"components/{component_id}")
    component["config"]["enabled"] = ["true" if enabled else "false"]
    await admin.aput(f"components/{component_id}", component)


async def representations(admin: KeycloakAdmin, sample: list[Person]) -> dict[str, dict[str, Any]]:
    """Each sampled person's user representation (with groups) as Keycloak serves it in ``admin``'s realm."""
    out: dict[str, dict[str, Any]] = {}
    for person in sample:
        found = await admin.aget("users", username=person.mail, exact="true")
        if len(found) != 1:
            out[person.mail] = {"missing": True}
            continue
        user = found[0]
        groups = await admin.aget(f"users/{user['id']}/groups")
        user["groups"] = sorted(g["path"] for g in groups)
        out[person.mail] = user
    return out


def diff(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    keys = sorted(set(a) | set(b))
    return {k: {"seed": a.get(k), "keycloak": b.get(k)} for k in keys if a.get(k) != b.get(k)}


async def compare(seed_admin: KeycloakAdmin, base_admin: KeycloakAdmin, sample: list[Person]) -> dict[str, Any]:
    """Sample representations, seed realm vs baseline realm: as served (federation on) and as stored (off)."""
    out: dict[str, Any] = {}
    for label, enabled in (("served", True), ("stored", False)):
        if not enabled:
            await set_federation(seed_admin, enabled=False)
            await set_federation(base_admin, enabled=False)
        try:
            seeded = await representations(seed_admin, sample)
            base = await representations(base_admin, sample)
        finally:
            if not enabled:
                await set_federation(seed_admin, enabled=True)
                await set_federation(base_admin, enabled=True)
        diffs = {m: diff(comparable(seeded[m]), comparable(base[m])) for m in seeded}
        diffs = {m: d for m, d in diffs.items() if d}
        # the seed's one addition: the person's unit group (the baseline realm's users are in none)
        unit = {p.mail: p.unit_code for p in sample}
        groups_ok = all(
            base[m].get("groups") == []
            and len(seeded[m].get("groups", [])) == 1
            and seeded[m]["groups"][0].endswith("/" + unit[m])
            for m in seeded
        )
        out[label] = {"compared": len(sample), "differing": len(diffs), "diffs": dict(list(diffs.items())[:3]),
                      "seed_unit_group_only_addition": groups_ok}  # fmt: skip
        out[label]["example_seed"] = comparable(next(iter(seeded.values())))
    return out


async def check_seeded(settings: Settings, people: list[Person], units: Any, day: Any) -> dict[str, Any]:
    """Every person with the expected id, enabled, in their unit group only; members per group vs directory."""
    admin = service_account_admin(settings.keycloak)
    try:
        actual = await read_actual(admin, unit_root=units.group_root, leavers=frozenset(), concurrency=4)
    finally:
        await admin.aclose()
    wrong_id, wrong_group, missing, disabled = [], [], [], []
    expected_members: collections.Counter[str] = collections.Counter()
    for person in people:
        path = units.group_path(units.successor_on(person.unit_code, day) or person.unit_code, day)
        expected_members[path] += 1
        user = actual.users.get(person.mail)
        if user is None:
            missing.append(person.mail)
            continue
        if user.id != seeded_user_id(settings.keycloak.realm, person.uid):
            wrong_id.append(person.mail)
        if user.unit_groups != {path}:
            wrong_group.append(person.mail)
        if not user.enabled:
            disabled.append(person.mail)
    members = collections.Counter(p for u in actual.users.values() for p in u.unit_groups)
    differing_groups = {p: (members.get(p, 0), n) for p, n in expected_members.items() if members.get(p, 0) != n}
    extra = sorted(set(actual.users) - {p.mail for p in people})
    return {
        "people": len(people),
        "found": len(actual.users),
        "missing": len(missing),
        "wrong_id": len(wrong_id),
        "wrong_group": len(wrong_group),
        "disabled": len(disabled),
        "extra_accounts": len(extra),
        "unit_groups_checked": len(expected_members),
        "unit_groups_differing": len(differing_groups),
        "examples": {"missing": missing[:3], "wrong_id": wrong_id[:3], "wrong_group": wrong_group[:3]},
        "ok": not (missing or wrong_id or wrong_group or disabled or differing_groups or extra),
    }


def logins(settings: Settings, sample: list[Person]) -> dict[str, Any]:
    """The sample logs in to TST (authorization code + PKCE) with the directory password."""
    admin = bootstrap_admin(settings, settings.keycloak.realm)
    tst = by_code(load_applications(ROOT / "keycloak-config" / "applications.yaml"), "TST")
    client = admin.get("clients", clientId=tst.client)[0]
    party = RelyingParty(
        issuer=f"{settings.keycloak.url}/realms/{settings.keycloak.realm}",
        client_id=tst.client,
        client_secret=admin.get(f"clients/{client['id']}/client-secret")["value"],
        redirect_uri=tst.redirect_uris[0],
    )
    ok, failures = 0, []
    for person in sample:
        try:
            result = party.login(person.mail, password_for(person.employee_number))
            assert result.id_claims["sub"] == seeded_user_id(settings.keycloak.realm, person.uid), result.id_claims[
                "sub"
            ]
            assert result.id_claims["email"] == person.mail
            ok += 1
        except (BridgeError, AssertionError) as exc:
            failures.append(f"{person.mail}: {exc}")
    wrong = logins_wrong_password(party, sample[0])
    return {"tried": len(sample), "ok": ok, "failures": failures[:3], "wrong_password_refused": wrong}


def logins_wrong_password(party: RelyingParty, person: Person) -> bool:
    try:
        party.login(person.mail, "not-the-password")
    except BridgeError:
        return True
    return False


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size", type=int, default=2000)
    parser.add_argument(
        "--batches",
        default="20",
        help="variants, comma-separated: SIZE or SIZExCONCURRENCY (e.g. 20x4); the first is verified",
    )
    parser.add_argument("--concurrency", type=int, default=2, help="partialImport requests in flight")
    parser.add_argument("--bridge", action="store_true", help="(c) also today's bridge initial load (small N)")
    parser.add_argument("--full-sync-after", action="store_true", help="(d) Keycloak's full sync over the seed")
    parser.add_argument("--sample", type=int, default=20)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "initial-seed.json")
    args = parser.parse_args()
    day = today_vn()
    units = load_units(ROOT / "keycloak-config" / "units.yaml")
    variants = [b.strip() for b in args.batches.split(",")]

    def shape(variant: str) -> tuple[int, int]:
        size, _, flight = variant.partition("x")
        return int(size), int(flight or args.concurrency)

    results: dict[str, Any] = {"size": args.size, "date": day.isoformat(), "keycloak_version": KEYCLOAK_VERSION,
                               "keycloak_java_opts": KEYCLOAK_TRANSACTION_TIMEOUT, "cores": os.cpu_count(),
                               "concurrency": args.concurrency, "loadavg_1m_at_start": load1()}  # fmt: skip
    log(f"generating and loading {args.size} people")
    slapd = start_slapd(units, size=args.size)
    keycloak = start_keycloak(java_opts=KEYCLOAK_TRANSACTION_TIMEOUT)
    workdir = Path(tempfile.mkdtemp(prefix="bhxh-bench-seed-"))
    try:
        base = settings_for(slapd, keycloak, store_url=f"sqlite:///{workdir / 'unused.sqlite3'}")
        names = ["bench-kcsync", *(f"bench-seed-{v}" for v in variants)]
        if args.bridge:
            names.append("bench-bridge")
        realms = {n: with_store(realm_settings(base, n), workdir, n) for n in names}
        for name, settings in realms.items():
            log(f"applying keycloak-config/ to realm {name}")
            started = time.monotonic()
            apply_keycloak_config(settings, day=day)
            results.setdefault("realm_apply_s", {})[name] = round(time.monotonic() - started, 1)
        people = list(slapd.people)

        log("(a) Keycloak's own LDAP full sync (baseline)")
        before = load1()
        kc_s = keycloak_full_sync(realms["bench-kcsync"])
        results["a_keycloak_full_sync"] = {"seconds": round(kc_s, 2), "calls": 1, "loadavg_1m_before": before,
                                           "loadavg_1m_after": load1()}  # fmt: skip
        log(f"(a) {kc_s:.1f} s")

        results["b_seed"] = {}
        for variant in variants:
            name = f"bench-seed-{variant}"
            size, flight = shape(variant)
            log(f"(b) seed, batches of {size}, {flight} in flight")
            before = load1()
            started = time.monotonic()
            report = asyncio.run(seed_realm(settings=realms[name], units=units, day=day, batch_size=size,
                                            concurrency=flight))  # fmt: skip
            seconds = time.monotonic() - started
            results["b_seed"][variant] = {
                "concurrency": flight,
                "seconds": round(seconds, 2),
                "ratio_to_keycloak_full_sync": round(seconds / kc_s, 3),
                "report": report.summary(),
                "loadavg_1m_before": before,
                "loadavg_1m_after": load1(),
            }
            log(f"(b) {variant}: {seconds:.1f} s = {seconds / kc_s:.2f} x Keycloak's full sync")

        verified = realms[f"bench-seed-{variants[0]}"]
        rng = random.Random(16)
        sample = rng.sample(people, min(args.sample, len(people)))
        log("checks on the seeded realm")
        checks: dict[str, Any] = {"variant": variants[0]}
        checks["accounts"] = asyncio.run(check_seeded(verified, people, units, day))
        checks["logins"] = logins(verified, sample[:5])

        async def both() -> dict[str, Any]:
            seed_admin = bootstrap_admin(verified, verified.keycloak.realm)
            base_admin = bootstrap_admin(realms["bench-kcsync"], "bench-kcsync")
            try:
                return await compare(seed_admin, base_admin, sample)
            finally:
                await seed_admin.aclose()
                await base_admin.aclose()

        checks["representation_vs_keycloak_import"] = asyncio.run(both())
        started = time.monotonic()
        later = asyncio.run(run_sync(settings=verified, units=units, day=day, full=True))
        checks["later_full_run"] = {"mode": later.mode, "status": later.status, "planned": len(later.ops),
                                    "writes": later.writes, "reads": later.reads,
                                    "seconds": round(time.monotonic() - started, 2)}  # fmt: skip
        later_incr = asyncio.run(run_sync(settings=verified, units=units, day=day))
        checks["later_incremental_run"] = {"mode": later_incr.mode, "status": later_incr.status,
                                           "planned": len(later_incr.ops), "writes": later_incr.writes}  # fmt: skip
        results["checks"] = checks
        log(json.dumps(checks, ensure_ascii=False)[:2000])

        if args.full_sync_after:
            log("(d) Keycloak's full sync over the seeded realm")
            before = load1()
            d_s = keycloak_full_sync(verified)
            results["d_full_sync_after_seed"] = {"seconds": round(d_s, 2), "loadavg_1m_before": before,
                                                 "loadavg_1m_after": load1()}  # fmt: skip
            results["d_full_sync_after_seed"]["accounts_after"] = asyncio.run(
                check_seeded(verified, people, units, day)
            )
            seed_s = results["b_seed"][variants[0]]["seconds"]
            results["d_full_sync_after_seed"]["seed_plus_full_sync_ratio"] = round((seed_s + d_s) / kc_s, 3)

        if args.bridge:
            log("(c) today's bridge initial load (run_sync)")
            before = load1()
            initial = asyncio.run(run_sync(settings=realms["bench-bridge"], units=units, day=day, full=True))
            results["c_bridge_initial_load"] = {"seconds": round(initial.seconds, 2), "status": initial.status,
                                                "writes": initial.writes, "reads": initial.reads,
                                                "ratio_to_keycloak_full_sync": round(initial.seconds / kc_s, 3),
                                                "bulk": initial.bulk, "loadavg_1m_before": before,
                                                "loadavg_1m_after": load1()}  # fmt: skip
        results["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
        results["loadavg_1m_at_end"] = load1()
    finally:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        keycloak.close()
        slapd.close()
    log(json.dumps(results, ensure_ascii=False)[:3000])


if __name__ == "__main__":
    main()
