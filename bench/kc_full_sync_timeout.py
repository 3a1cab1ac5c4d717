"""Why Keycloak's own LDAP full sync answered HTTP 400 after about nine minutes (issue 16, decision 0908).

Hypothesis: the admin request runs the whole sync inside one JTA transaction, which the transaction manager's
reaper aborts after its default timeout (300 s); the sync goes on importing, and the request then fails with 400
("Could not sync users"). ``python bench/kc_full_sync_timeout.py --size 3000`` starts slapd and two fresh
Keycloaks, creates the realm on each, restarts one with a transaction timeout far below the sync's duration
(``--short``, default 10 s) and one with a long one (``--long``, 7200 s), and triggers the full sync on both, one
after the other, recording status, seconds, Keycloak's answer and the machine's load. Results:
``bench/results/kc-full-sync-timeout.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from sync import master_token, post_full_sync, realm_settings  # noqa: E402

from bridge.clock import today_vn  # noqa: E402
from bridge.domain.units import load_units  # noqa: E402
from bridge.errors import BridgeError  # noqa: E402
from bridge.services.keycloak_config import apply_keycloak_config, bootstrap_admin  # noqa: E402
from bridge.testbed.keycloak_server import KEYCLOAK_VERSION, start_keycloak  # noqa: E402
from bridge.testbed.slapd_server import start_slapd  # noqa: E402
from bridge.testbed.stack import settings_for  # noqa: E402

#: The Quarkus property of the transaction manager's default timeout (read from a JVM system property).
TIMEOUT_PROPERTY = "quarkus.transaction-manager.default-transaction-timeout"


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def full_sync(size: int, timeout_s: int, slapd: Any, day: Any) -> dict[str, Any]:
    # The realm is created under the default timeout (a 2 s one refuses even the realm's creation: "Database
    # operation failed", 400), then Keycloak restarts on the same database with the timeout measured.
    keycloak = start_keycloak()
    workdir = Path(tempfile.mkdtemp(prefix="bhxh-bench-kcsync-"))
    try:
        settings = realm_settings(
            settings_for(slapd, keycloak, store_url=f"sqlite:///{workdir / 'store.sqlite3'}"), "bench-kcsync"
        )
        apply_keycloak_config(settings, day=day)
        keycloak.java_opts = f"-D{TIMEOUT_PROPERTY}={timeout_s}s"
        keycloak.restart()
        component: dict[str, Any] = {}
        for attempt in range(5):  # a cold server's first requests may themselves outlast a short timeout
            try:
                admin = bootstrap_admin(settings, settings.keycloak.realm)
                component = admin.get("components", type="org.keycloak.storage.UserStorageProvider")[0]
                break
            except BridgeError:
                if attempt == 4:
                    raise
                time.sleep(3)
        kc = settings.keycloak
        token = master_token(kc)
        load_before = os.getloadavg()[0]
        started = time.monotonic()
        response = post_full_sync(kc, component["id"], token)
        seconds = time.monotonic() - started
        count = httpx.get(
            f"{kc.url}/admin/realms/{kc.realm}/users/count",
            headers={"Authorization": f"Bearer {token}"},
            timeout=600,
        )
        reaper = [
            line.strip()[:300]
            for line in keycloak.log_path.read_text(errors="replace").splitlines()
            if "ARJUNA" in line or "Reaper" in line or "sync" in line.lower()
        ]
        result = {
            "transaction_timeout_s": timeout_s,
            "status": response.status_code,
            "answer": response.text[:300],
            "seconds": round(seconds, 2),
            "users_in_keycloak_after": count.text[:20],
            "keycloak_log_lines": reaper[:12],
            "loadavg_1m_before": round(load_before, 2),
            "loadavg_1m_after": round(os.getloadavg()[0], 2),
        }
        log(json.dumps(result, ensure_ascii=False)[:1500])
        return result
    finally:
        keycloak.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size", type=int, default=3000)
    parser.add_argument("--short", type=int, default=10)
    parser.add_argument("--long", type=int, default=7200)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "kc-full-sync-timeout.json")
    args = parser.parse_args()
    day = today_vn()
    units = load_units(ROOT / "keycloak-config" / "units.yaml")
    slapd = start_slapd(units, size=args.size)
    try:
        runs = [full_sync(args.size, timeout, slapd, day) for timeout in (args.short, args.long)]
    finally:
        slapd.close()
    out = {
        "command": "python bench/kc_full_sync_timeout.py " + " ".join(sys.argv[1:]),
        "users": args.size,
        "keycloak_version": KEYCLOAK_VERSION,
        "cores": os.cpu_count(),
        "date": day.isoformat(),
        "runs": runs,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
