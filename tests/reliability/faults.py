"""Shared tools of the crash-point and outage tests: bridge processes to kill, lock decisions in volume, counts.

The bounded variants run in ``make test``; ``make reliability`` sets ``BRIDGE_RELIABILITY_LONG=1`` for the full
counts of issue 17. With ``BRIDGE_RELIABILITY_RESULTS=<file>`` each test merges what it tried and found into
that JSON file under its own key and variant (bench/results/reliability.json is written that way).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from bridge.adapters.directory.lookup import DirectoryPerson, SnapshotDirectory
from bridge.adapters.keycloak.admin import KeycloakAdmin
from bridge.adapters.store.lock_models import LockDecision, LockJob
from bridge.adapters.store.models import LedgerEntry
from bridge.adapters.store.session import transaction
from bridge.adapters.store.sync_models import SyncOperation, SyncRun
from bridge.domain.lock_reasons import LockReason
from bridge.domain.policy import AdminRole
from bridge.domain.role_levels import load_catalogue
from bridge.services import persons
from bridge.services.context import GovContext, load_actor
from bridge.services.locks import decisions
from bridge.settings import PROJECT_ROOT
from bridge.testbed.directory_gen import Person
from bridge.testbed.ports import free_port

LONG = os.environ.get("BRIDGE_RELIABILITY_LONG") == "1"
VARIANT = "long" if LONG else "bounded"
IT_ADMIN = "qt.tincay@vss.gov.vn"


def record(key: str, data: dict[str, Any]) -> None:
    """Merge ``data`` under ``key`` → variant into the results file, when one is named."""
    target = os.environ.get("BRIDGE_RELIABILITY_RESULTS")
    if not target:
        return
    path = Path(target)
    results = json.loads(path.read_text()) if path.exists() else {}
    entry = results.setdefault(key, {})
    entry[VARIANT] = {**data, "machine_load": [round(x, 2) for x in os.getloadavg()],
                      "measured_at": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%MZ")}  # fmt: skip
    path.write_text(json.dumps(results, ensure_ascii=False, indent=2) + "\n")


def bridge_process(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """``python -m bridge <args>`` on this tree, output to ``log``."""
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "bridge", *args],
            env={**os.environ, **env, "PYTHONPATH": str(PROJECT_ROOT)},
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=PROJECT_ROOT,
        )


def kill(process: subprocess.Popen[bytes]) -> bool:
    """SIGKILL; True when the process was still running (the kill landed)."""
    landed = process.poll() is None
    if landed:
        os.kill(process.pid, signal.SIGKILL)
    process.wait(timeout=30)
    return landed


def wait_until(check: Callable[[], bool], *, timeout: float, every: float = 0.2) -> bool:
    """Poll ``check`` until it holds or ``timeout`` seconds passed."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(every)
    return check()


def worker_env(**extra: str) -> dict[str, str]:
    """Settings of a ``bridge worker`` under test: its own health port, short leases, no sync run in between."""
    return {
        "BRIDGE_WORKER__HTTP_PORT": str(free_port()),
        "BRIDGE_WORKER__LEASE_S": "6",
        "BRIDGE_WORKER__SHUTDOWN_GRACE_S": "2",
        "BRIDGE_SYNC__WATCH_INTERVAL_S": "3600",
        "BRIDGE_WORKER__INGEST_INTERVAL_S": "3600",
        **extra,
    }


# --- the sync -----------------------------------------------------------------------------------------
def newest_run(factory: sessionmaker[Session]) -> int:
    """Id of the newest sync run (0: none yet)."""
    with transaction(factory) as session:
        return int(session.scalar(select(func.max(SyncRun.id))) or 0)


def last_run_applied(factory: sessionmaker[Session], *, after: int = 0) -> int:
    """Operations recorded as applied by the newest run, counting only runs newer than run ``after``."""
    with transaction(factory) as session:
        run_id = session.scalar(select(func.max(SyncRun.id)))
        if run_id is None or run_id <= after:
            return 0
        return int(session.scalar(select(func.count()).select_from(SyncOperation).where(
            SyncOperation.run_id == run_id, SyncOperation.status == "applied")) or 0)  # fmt: skip


def group_tree(admin: KeycloakAdmin, root: str) -> dict[str, str]:
    """Path → id of every group under ``root`` (synchronous calls: the admin's async client is loop-bound)."""
    found: dict[str, str] = {}
    root = root.rstrip("/")

    def walk(groups: list[dict[str, Any]]) -> None:
        for group in groups:
            path = str(group["path"])
            if path != root and not path.startswith(root + "/"):
                continue
            found[path] = str(group["id"])
            if group.get("subGroupCount"):
                walk(admin.get(f"groups/{group['id']}/children", first="0", max="5000", briefRepresentation="true"))

    walk(admin.get("groups", first="0", max="5000", briefRepresentation="true"))
    return found


def keycloak_counts(admin: KeycloakAdmin, *, unit_root: str) -> dict[str, Any]:
    """Users by e-mail (all of the realm, paged) and unit-group memberships by user, read in bulk."""
    emails: Counter[str] = Counter()
    disabled: set[str] = set()
    first = 0
    while True:
        page = admin.get("users", first=str(first), max="1000", briefRepresentation="true")
        emails.update(str(u.get("email", "")).lower() for u in page if u.get("email"))
        disabled.update(str(u.get("email", "")).lower() for u in page if u.get("email") and not u.get("enabled", True))
        if len(page) < 1000:
            break
        first += 1000

    memberships: Counter[str] = Counter()
    for path, group_id in group_tree(admin, unit_root).items():
        if path == unit_root.rstrip("/"):
            continue
        start = 0
        while True:
            members = admin.get(f"groups/{group_id}/members", first=str(start), max="5000", briefRepresentation="true")
            memberships.update(str(m["id"]) for m in members)
            if len(members) < 5000:
                break
            start += 5000
    return {
        "users": sum(emails.values()),
        "duplicate_users": sum(n - 1 for n in emails.values() if n > 1),
        "emails": emails,
        "disabled": disabled,
        "duplicate_memberships": sum(n - 1 for n in memberships.values() if n > 1),
        "members": len(memberships),
    }


# --- lock decisions -----------------------------------------------------------------------------------
def lock_store(factory: sessionmaker[Session], people: Iterable[Person], day: dt.date) -> GovContext:
    """Appoint the IT Center administrator who records the decisions; the governance context of ``day``."""
    directory = SnapshotDirectory(
        DirectoryPerson(email=p.mail, full_name=p.full_name, unit_code=p.unit_code, title=p.title) for p in people
    )
    ctx = GovContext(load_units_once(), load_catalogue(PROJECT_ROOT / "keycloak-config" / "applications.yaml"),
                     directory, day)  # fmt: skip
    with transaction(factory) as session:
        persons.appoint_administrator(session, ctx=ctx, actor=None, email=IT_ADMIN, role=AdminRole.IT_CENTER_ADMIN,
                                      unit_code="00012")  # fmt: skip
    return ctx


def load_units_once() -> Any:
    from bridge.domain.units import load_units

    return load_units(PROJECT_ROOT / "keycloak-config" / "units.yaml")


def record_locks(factory: sessionmaker[Session], ctx: GovContext, people: Iterable[Person]) -> list[str]:
    """One violation lock (the IT Center's own initiative, effective today) per person; their e-mails."""
    emails: list[str] = []
    with transaction(factory) as session:
        actor = load_actor(session, email=IT_ADMIN)
        for person in people:
            decisions.request_lock(session, ctx=ctx, actor=actor, email=person.mail, reason=LockReason.VIOLATION,
                                   decision_number=None, decision_date=None)  # fmt: skip
            emails.append(person.mail)
    return emails


def lock_counts(factory: sessionmaker[Session], emails: Iterable[str]) -> dict[str, Any]:
    """Decisions in force and lock ledger rows per person."""
    wanted = [f"person:{e}" for e in emails]
    with factory() as session:
        rows = Counter(session.scalars(select(LedgerEntry.target).where(LedgerEntry.action == "lock",
                                                                         LedgerEntry.target.in_(wanted))))  # fmt: skip
        statuses = Counter(session.scalars(select(LockDecision.status)))
        proofs = [d.proof or {} for d in session.scalars(select(LockDecision).where(LockDecision.status == "in_force"))]
    return {
        "in_force": statuses.get("in_force", 0),
        "statuses": dict(statuses),
        "ledger_rows": sum(rows.values()),
        "people_with_one_row": sum(1 for t in wanted if rows.get(t) == 1),
        "people_with_several_rows": sum(1 for t in wanted if rows.get(t, 0) > 1),
        "verified": sum(1 for p in proofs if p.get("enabled") is False and p.get("sessions") == 0),
    }


def lock_trouble(factory: sessionmaker[Session]) -> dict[str, str | None]:
    """E-mail → last error of every decision not in force (what a failed catch-up shows)."""
    with factory() as session:
        rows = session.execute(select(LockDecision.email, LockJob.last_error).join(
            LockJob, LockJob.decision_id == LockDecision.id).where(LockDecision.status != "in_force"))  # fmt: skip
        return {email: error for email, error in rows}


def disabled_in_keycloak(admin: KeycloakAdmin, emails: Iterable[str]) -> int:
    """How many of these people Keycloak shows disabled (one exact search each)."""
    found = 0
    for email in emails:
        users = admin.get("users", email=email, exact="true")
        found += sum(1 for u in users if not u.get("enabled", True))
    return found
