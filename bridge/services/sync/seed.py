"""The initial load of an empty realm: seed Keycloak's users with the bridge's ids and unit groups.

Keycloak's federation import gives users random ids, so the old initial load had to find every id again (one
search per unit that Keycloak checks user by user against the directory) and join each person to their unit
group one request at a time: 9.9 × Keycloak's own full sync at 100,000 people (issue 16). The seed plans the
realm as a full run would (the planner's joiners: unit group, ``enabled`` under holds), writes each person as
Keycloak's LDAP import would, with an id the bridge picks and the unit group in the same representation, through
``partialImport`` in batches, and records what it applied so the next run plans nothing (docs/decisions/0910).

``partialImport`` needs ``manage-realm``, which the bridge's daily service account never holds: the seed uses
the configuration credential of ``bridge keycloak apply``. Its existence check asks the enabled user-storage
providers, which would import the person from the directory with a random id, so the realm's LDAP federation is
disabled while seeding and enabled again whatever happens. Seeding a realm that has accounts is refused:
it must never overwrite or duplicate one.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import yaml
from sqlalchemy.orm import Session, sessionmaker

from bridge.adapters.directory.ldap import now_generalized, read_people
from bridge.adapters.keycloak.actual import ActualState, read_group_tree
from bridge.adapters.keycloak.admin import KeycloakAdmin
from bridge.adapters.store import ledger
from bridge.adapters.store.session import session_factory, transaction
from bridge.adapters.store.sync_models import SyncRun, SyncState
from bridge.domain.reports.changes import sync_change
from bridge.domain.sync import realms
from bridge.domain.sync import seed as seeding
from bridge.domain.sync.desired import desired_state
from bridge.domain.sync.planner import Operation, OpKind, plan
from bridge.domain.sync.record import Recorded, entry_hash
from bridge.domain.units import UnitTree
from bridge.errors import Conflict, PermanentError
from bridge.services import exception_accounts
from bridge.services.holds import StoreHolds
from bridge.services.keycloak_config import bootstrap_admin
from bridge.services.sync import bulk, valve
from bridge.services.sync import record as applied_record
from bridge.services.sync.run import PRESENCE_AT
from bridge.settings import Settings

#: Who the seed's ledger rows name when the caller does not.
SEED_ACTOR = "bridge-seed"
#: Users per ``partialImport`` request (one Keycloak transaction each; decision 0910).
BATCH_SIZE = 20
#: Requests in flight at once (the machine measured has 2 cores; Keycloak's import is CPU-bound).
CONCURRENCY = 2
#: Longest one batch may take (Keycloak commits a batch in one transaction; its timeout is Keycloak's own).
BATCH_TIMEOUT_S = 1800.0


class RealmNotEmpty(Conflict):
    """The realm already holds accounts: the seed would overwrite or duplicate them."""


@dataclass
class SeedReport:
    """What a seed did or would do."""

    realm: str
    dry_run: bool
    status: str = "running"
    people: int = 0
    disabled: int = 0
    batches: int = 0
    batch_size: int = BATCH_SIZE
    rejected: int = 0
    calls: int = 0
    seconds: float = 0.0
    timings: dict[str, float] = field(default_factory=dict)
    error: str | None = None

    def summary(self) -> dict[str, Any]:
        """For the ledger and the CLI."""
        return {
            "realm": self.realm,
            "status": self.status,
            "people": self.people,
            "disabled": self.disabled,
            "batches": self.batches,
            "batch_size": self.batch_size,
            "rejected": self.rejected,
            "calls": self.calls,
            "seconds": round(self.seconds, 2),
            "timings": {k: round(v, 2) for k, v in self.timings.items()},
            "error": self.error,
        }


def not_empty_message(realm: str, accounts: int) -> str:
    """Why a seed is refused: the realm already has accounts."""
    return (
        f"realm {realm} đã có {accounts} tài khoản — không nạp ban đầu, không ghi gì / realm {realm} already has "
        f"accounts ({accounts}): the seed is for an empty realm only; nothing was written. Run `bridge sync --full`."
    )


def managed_attributes(settings: Settings) -> tuple[seeding.MapperAttribute, ...]:
    """The read-only LDAP mappers' custom attributes, from keycloak-config/realm.yaml."""
    spec = yaml.safe_load((settings.keycloak.config_dir / "realm.yaml").read_text(encoding="utf-8"))
    return seeding.mapper_attributes(spec["managed_attributes"])


async def _set_federation(admin: KeycloakAdmin, component_id: str, *, enabled: bool) -> None:
    """Turn the realm's LDAP federation component on or off (its config ``enabled``)."""
    component = await admin.aget(f"components/{component_id}")
    component.setdefault("config", {})["enabled"] = ["true" if enabled else "false"]
    await admin.aput(f"components/{component_id}", component)


async def _accounts(admin: KeycloakAdmin) -> int:
    """The realm's accounts in Keycloak's own database (``users/count`` leaves service accounts out and asks no
    user-storage provider, so it neither reads nor imports from the directory)."""
    return int(await admin.aget("users/count") or 0)


def _audit(factory: sessionmaker[Session], *, actor: str, outcome: str, report: SeedReport) -> None:
    with transaction(factory) as session:
        ledger.append(
            session,
            actor=actor,
            action="sync.seed",
            target=f"realm:{report.realm}",
            outcome="allowed" if outcome == "allowed" else "refused",
            rule="sync-initial-seed",
            detail=report.summary(),
        )


def _record(
    factory: sessionmaker[Session],
    *,
    realm: str,
    day: dt.date,
    ops: list[Operation],
    records: list[Recorded],
    group_ids: dict[str, str],
    report: SeedReport,
    started_at: dt.datetime,
    high_water: str,
    keep_record: bool,
) -> None:
    """What a full run's initial load leaves in the store, in one transaction: a ``sync_runs`` row (mode
    ``seed``), one ``sync.ensure`` ledger row per person (the quarterly report's "accounts added" is read from
    them) and, with ``keep_record`` (the default realm, 0702), the applied record, the managed groups' ids and
    the sync state — so the next run plans nothing."""
    with transaction(factory) as session:
        run = SyncRun(
            started_at=started_at,
            finished_at=dt.datetime.now(dt.UTC),
            mode="seed",
            dry_run=False,
            status="applied",
            day=day,
            realm=realm,
            planned=report.people,
            applied=report.people,
            failed=0,
            writes=report.calls,
            reads=0,
            report={"seed": report.summary()},
        )
        session.add(run)
        session.flush()
        at = dt.datetime.now(dt.UTC)

        # built a chunk at a time: 100,000 ledger entries held at once weighed on the seed's peak RSS (0911)
        def entry(op: Operation) -> ledger.NewEntry:
            return ledger.NewEntry(
                actor=valve.SYNC_ACTOR,
                action=f"sync.{op.kind.value}",
                target=f"user:{op.mail}",
                outcome="allowed",
                rule=f"sync-{op.reason.value}",
                at=at,
                detail={"run": run.id, "unit": op.unit_code, "group": op.group_path, "leave": [],
                        "change": sync_change(op.kind.value, op.reason.value), "reason": op.reason.value,
                        "seed": True},
            )  # fmt: skip

        for chunk in seeding.batched(ops, applied_record.CHUNK):
            ledger.append_many(session, [entry(op) for op in chunk])
        if not keep_record:
            return
        applied_record.replace_all(session, {r.mail: r for r in records})
        applied_record.save_group_ids(session, group_ids)
        mark = max(high_water, now_generalized(started_at))
        for key, value in {
            "high_water": mark,
            "runs_since_full": "0",
            "last_full_day": day.isoformat(),
            PRESENCE_AT: started_at.isoformat(),
        }.items():
            session.merge(SyncState(key=key, value=value))


async def seed_realm(
    *,
    settings: Settings,
    units: UnitTree,
    day: dt.date,
    dry_run: bool = False,
    batch_size: int = BATCH_SIZE,
    concurrency: int = CONCURRENCY,
    actor: str = SEED_ACTOR,
    admin: KeycloakAdmin | None = None,
    progress: Callable[[int, int], None] | None = None,
    realm: str | None = None,
) -> SeedReport:
    """Seed an empty realm (default: the deployment's; else one units.yaml assigns units to, decision 0702) with
    every person of the directory whose unit lies in it; ``progress(done, total)`` after each batch. Raises
    :class:`RealmNotEmpty` (nothing written, the refusal audited) when it has accounts.

    As in a sync run, only the default realm keeps the applied record and the incremental state (0702).
    """
    started, started_at = time.monotonic(), dt.datetime.now(dt.UTC)
    units = units.deployed_as(settings.keycloak.realm)
    realm = realm or units.realm
    if realm not in units.realm_names():
        raise PermanentError(f"realm {realm} is not a realm of units.yaml: {', '.join(units.realm_names())}")
    report = SeedReport(realm=realm, dry_run=dry_run, batch_size=batch_size)
    factory = session_factory(settings.store.url)
    own_admin = admin is None
    kc = admin or bootstrap_admin(settings, realm)
    calls_before = kc.calls.reads + kc.calls.writes
    tasks: list[asyncio.Task[Any]] = []
    disabled_federation = False
    try:
        component = await bulk.federation_component(kc)
        mark = time.monotonic()
        read_task = asyncio.create_task(asyncio.to_thread(read_people, settings.directory))
        groups_task = asyncio.create_task(read_group_tree(kc, roots=[units.group_root]))
        tasks = [read_task, groups_task]
        existing = await _accounts(kc)
        if existing:
            report.status, report.error = "refused", not_empty_message(realm, existing)
            raise RealmNotEmpty(report.error)
        if not dry_run:
            await _set_federation(kc, component, enabled=False)
            disabled_federation = True
        read = await read_task
        group_ids = await groups_task
        report.timings["read_s"] = time.monotonic() - mark
        if not read.complete:
            raise PermanentError(
                f"đọc thư mục chưa hết ({read.problem}) — không nạp / the directory read is incomplete "
                f"({read.problem}): nothing seeded"
            )
        desired, _others = realms.for_realm(desired_state(read, units, day=day), units, realm)
        with transaction(factory) as session:
            holds = StoreHolds(session).held_on(day)
            elsewhere = exception_accounts.managed_emails(session)
        ops = plan(desired, ActualState(group_ids=group_ids), holds, day, elsewhere=elsewhere)
        entries = {e.mail: e for e in read.entries}
        hashes = {mail: entry_hash(e) for mail, e in entries.items()}
        report.people, report.rejected = len(ops), len(desired.rejected)
        report.disabled = sum(1 for op in ops if not op.enabled)
        missing = sorted({op.group_path or "" for op in ops} - set(group_ids))
        if missing:
            raise PermanentError(f"unit groups missing in realm {realm} (run `bridge keycloak apply`): {missing[:5]}")
        attributes = managed_attributes(settings)
        # Each batch's representations are built when it is sent, not all at once: 100,000 of them held together
        # took the seed's peak RSS over 512 MB (decision 0911).
        batches = list(seeding.batched(ops, batch_size))
        for op in ops:  # every operation is a joiner's (an empty realm), refused before anything is written
            seeding.require_joiner(op)
        report.batches = len(batches)
        if dry_run:
            report.status = "planned"
            return report

        def representations(batch: list[Operation]) -> list[dict[str, Any]]:
            return list(
                seeding.seed_representations(batch, entries, realm=realm, component_id=component, attributes=attributes)
            )

        mark = time.monotonic()
        await _import(kc, batches, representations, concurrency=concurrency, progress=progress, total=len(ops))
        report.timings["import_s"] = time.monotonic() - mark
        report.calls = kc.calls.reads + kc.calls.writes - calls_before
        report.seconds = time.monotonic() - started
        _record(
            factory,
            realm=realm,
            day=day,
            ops=ops,
            records=[_recorded(op, seeding.seeded_user_id(realm, entries[op.mail].uid), hashes) for op in ops],
            group_ids=group_ids,
            report=report,
            started_at=started_at,
            high_water=read.high_water,
            keep_record=realm == units.realm,
        )
        report.status = "applied"
        return report
    except RealmNotEmpty:
        raise
    except Exception as exc:
        report.status = "failed"
        report.error = report.error or f"{type(exc).__name__}: {exc}"
        raise
    finally:
        for task in tasks:
            if not task.done():
                task.cancel()
        try:
            if disabled_federation:
                await _set_federation(kc, component, enabled=True)
        finally:
            report.calls = kc.calls.reads + kc.calls.writes - calls_before
            report.seconds = time.monotonic() - started
            if own_admin:
                await kc.aclose()
            if not dry_run or report.status == "refused":
                _audit(factory, actor=actor, outcome="allowed" if report.status == "applied" else "refused",
                       report=report)  # fmt: skip


def _recorded(op: Operation, user_id: str, hashes: dict[str, str]) -> Recorded:
    assert op.kind is OpKind.ENSURE and op.group_path is not None
    return Recorded(
        mail=op.mail,
        user_id=user_id,
        unit_group=op.group_path,
        enabled=op.enabled,
        entry_hash=hashes.get(op.mail, ""),
    )


async def _import(
    kc: KeycloakAdmin,
    batches: list[list[Operation]],
    representations: Callable[[list[Operation]], list[dict[str, Any]]],
    *,
    concurrency: int,
    progress: Callable[[int, int], None] | None,
    total: int,
) -> None:
    """``partialImport`` every batch, ``concurrency`` requests in flight. After a failure no batch starts, and the
    requests already sent are waited for (never abandoned: Keycloak would go on writing after the federation is
    enabled again); then the first failure is raised."""
    gate = asyncio.Semaphore(max(1, concurrency))
    done = 0
    failed: list[BaseException] = []

    async def one(batch: list[Operation]) -> None:
        nonlocal done
        async with gate:
            if failed:
                return
            try:
                answer = await kc.apost_slow(
                    "partialImport", seeding.partial_import_body(representations(batch)), timeout_s=BATCH_TIMEOUT_S
                )
                added = int((answer or {}).get("added", 0))
                if added != len(batch):
                    raise PermanentError(f"partialImport added {added} of {len(batch)} users: {str(answer)[:300]}")
            except Exception as exc:
                failed.append(exc)
                return
        done += len(batch)
        if progress is not None:
            progress(done, total)

    await asyncio.gather(*(one(b) for b in batches))
    if failed:
        raise failed[0]
