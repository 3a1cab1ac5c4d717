"""How the bulk import learns the new users' ids after Keycloak's federation import (decision 0902).

``python bench/sync_ids.py --size 5000`` starts slapd with a generated directory and a fresh Keycloak, imports
the directory through the federation (as the bridge's service account), then times, on the same realm and in
the same run: one ``q=unit_code:`` search per unit (decision 0205) against ``GET users`` pages (brief
representations) at two page sizes and two concurrencies. The load average is recorded beside every figure.
Results: ``bench/results/sync-ids.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bridge.adapters.keycloak.admin import service_account_admin  # noqa: E402
from bridge.clock import today_vn  # noqa: E402
from bridge.domain.units import load_units  # noqa: E402
from bridge.services.keycloak_config import apply_keycloak_config  # noqa: E402
from bridge.services.sync import bulk  # noqa: E402
from bridge.settings import Settings  # noqa: E402
from bridge.testbed.keycloak_server import KEYCLOAK_VERSION, start_keycloak  # noqa: E402
from bridge.testbed.slapd_server import start_slapd  # noqa: E402
from bridge.testbed.stack import settings_for  # noqa: E402


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


async def measure(settings: Settings, codes: set[str]) -> dict[str, Any]:
    kc = service_account_admin(settings.keycloak)
    out: dict[str, Any] = {}
    try:
        concurrency = settings.sync.listing_concurrency
        done = await bulk.import_in_bulk(kc, unit_codes=codes, concurrency=concurrency, ids="units")
        out["federation_import_s"] = round(done.import_s, 2)
        out["ids_by_unit_s"] = round(done.lookup_s, 2)
        out["ids_by_unit_found"] = len(done.ids)
        out["ids_by_unit_load"] = round(os.getloadavg()[0], 2)
        log(f"import {done.import_s:.1f} s, ids by unit {done.lookup_s:.1f} s ({len(done.ids)})")
        for page_size, concurrency in ((1000, 1), (5000, 1), (5000, 4), (1000, 4)):
            reads = kc.calls.reads
            started = time.monotonic()
            ids = await bulk.ids_in_pages(kc, concurrency=concurrency, page_size=page_size)
            key = f"ids_pages_{page_size}_c{concurrency}"
            out[key + "_s"] = round(time.monotonic() - started, 2)
            out[key + "_found"] = len(ids)
            out[key + "_calls"] = kc.calls.reads - reads
            out[key + "_load"] = round(os.getloadavg()[0], 2)
            log(f"{key}: {out[key + '_s']} s, {len(ids)} ids, load {out[key + '_load']}")
    finally:
        await kc.aclose()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size", type=int, default=5000)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "sync-ids.json")
    args = parser.parse_args()
    day = today_vn()
    units = load_units(ROOT / "keycloak-config" / "units.yaml")
    slapd = start_slapd(units, size=args.size)
    keycloak = start_keycloak()
    workdir = Path(tempfile.mkdtemp(prefix="bhxh-bench-ids-"))
    try:
        settings = settings_for(slapd, keycloak, store_url=f"sqlite:///{workdir / 'store.sqlite3'}")
        settings.keycloak.realm = "bench-ids"
        apply_keycloak_config(settings, day=day)
        load = os.getloadavg()[0]
        result = {"users": args.size, "keycloak_version": KEYCLOAK_VERSION, "loadavg_1m_before": round(load, 2)}
        result |= asyncio.run(measure(settings, {p.unit_code for p in slapd.people}))
        result["date"] = day.isoformat()
        result["cores"] = os.cpu_count()
        args.out.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        log(json.dumps(result))
    finally:
        keycloak.close()
        slapd.close()


if __name__ == "__main__":
    main()
