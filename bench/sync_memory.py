"""Memory of the sync's per-person data at national scale, without servers (issue 16, decision 0901).

``python bench/sync_memory.py --size 100000`` builds what a full run holds for each person — the directory
read, the desired state, a plan that imports everyone (an initial load), a member listing's actual state of
everyone (a no-change reconcile) — and reports the traced bytes per person and the process's peak RSS.
Run it against another tree (``PYTHONPATH=<tree> python bench/sync_memory.py``) for a before/after comparison;
the numbers are the Python objects only (no HTTP, no database). Writes ``bench/results/sync-memory.json`` when
``--out`` is given.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import resource
import sys
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path and not os.environ.get("PYTHONPATH"):
    sys.path.insert(0, str(ROOT))

from bridge.adapters.directory.ldap import DirectoryEntry, DirectoryRead  # noqa: E402
from bridge.adapters.keycloak.actual import ActualState, ActualUser  # noqa: E402
from bridge.domain.sync.desired import desired_state  # noqa: E402
from bridge.domain.sync.planner import plan  # noqa: E402
from bridge.domain.units import load_units  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size", type=int, default=100000)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    units = load_units(ROOT / "keycloak-config" / "units.yaml")
    day = dt.date(2026, 11, 26)
    codes = sorted(c for c, u in units.on(day).items() if u.type.value in ("branch", "province"))
    tracemalloc.start()
    started = time.monotonic()
    entries = [
        DirectoryEntry(
            dn=f"uid=bh{n:07d},ou=people,dc=vss,dc=gov,dc=vn",
            mail=f"nguoi.{n}@hanoi.vss.gov.vn",
            uid=f"bh{n:07d}",
            display_name=f"Nguyễn Văn Người {n}",
            unit_code=codes[n % len(codes)],
            title="Chuyên viên",
            employee_number=f"BH{n:07d}",
            modified="20261126000000Z",
        )
        for n in range(args.size)
    ]
    read = DirectoryRead(entries=entries)
    del entries
    after_read = tracemalloc.get_traced_memory()[0]
    desired = desired_state(read, units, day=day)
    read.entries = []
    after_desired = tracemalloc.get_traced_memory()[0]
    ops = plan(desired, ActualState(), (), day)
    after_plan = tracemalloc.get_traced_memory()[0]
    actual = ActualState(
        users={
            mail: ActualUser(id=f"{n:08d}-0000-0000-0000-000000000000", mail=mail, enabled=True,
                             unit_groups=frozenset({p.group_path}))
            for n, (mail, p) in enumerate(desired.people.items())
        }
    )  # fmt: skip
    after_actual = tracemalloc.get_traced_memory()[0]
    peak = tracemalloc.get_traced_memory()[1]
    per = args.size
    result = {
        "people": args.size,
        "ops": len(ops),
        "actual_users": len(actual.users),
        "read_bytes_per_person": round(after_read / per),
        "desired_bytes_per_person": round((after_desired - after_read) / per),
        "plan_bytes_per_person": round((after_plan - after_desired) / per),
        "actual_bytes_per_person": round((after_actual - after_plan) / per),
        "traced_peak_mb": round(peak / 2**20, 1),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "seconds": round(time.monotonic() - started, 1),
        "loadavg_1m": round(os.getloadavg()[0], 2),
        "tree": os.environ.get("PYTHONPATH") or str(ROOT),
    }
    print(json.dumps(result))
    if args.out:
        args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
