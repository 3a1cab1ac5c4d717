"""Sync runs: read the directory and Keycloak, plan, judge with the safety valve, apply, record.

A **full** run reads the whole directory and is the only kind that may find leavers; an **incremental** run
reads only entries whose modifyTimestamp is at or after the stored high-water mark (so it is cheap to run
every minute with ``--watch``) and never disables anyone. Every ``full_every_n_runs``-th run, the first run of
a new calendar day (units open and close on dates) and the first run ever are full. The high-water mark only
moves when every operation of a run succeeded, so a failed change is retried by the next run.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from sqlalchemy import delete, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from bridge.adapters.directory.ldap import (
    DirectoryRead,
    LdapDirectory,
    PresentMails,
    RejectedEntry,
    now_generalized,
    read_mails,
    read_people,
)
from bridge.adapters.keycloak.actual import ActualState, read_actual
from bridge.adapters.keycloak.admin import KeycloakAdmin, service_account_admin
from bridge.adapters.store import ledger, spool
from bridge.adapters.store.session import session_factory, transaction
from bridge.adapters.store.sync_models import SyncLeaver, SyncOperation, SyncRun, SyncState
from bridge.clock import today_vn
from bridge.domain.reports.changes import sync_change
from bridge.domain.sync import realms
from bridge.domain.sync.desired import DesiredState, desired_state
from bridge.domain.sync.planner import Operation, OpKind, Reason, plan
from bridge.domain.sync.record import actual_of_record, entry_hash, repaired
from bridge.domain.units import UnitTree
from bridge.errors import BridgeError, StoreUnavailable
from bridge.services import exception_accounts, leases
from bridge.services.holds import StoreHolds
from bridge.services.sync import bulk, valve
from bridge.services.sync import record as applied_record
from bridge.services.sync.collection import fewer_collections
from bridge.services.sync.executor import Executor, OpResult, Recorder
from bridge.services.sync.full_request import FULL_REQUESTED
from bridge.settings import Settings


class SyncObserver(Protocol):
    """Progress of a run, for the CLI's progress bars (the service itself prints nothing)."""

    def phase(self, name: str, total: int | None = None) -> None:
        """A new phase starts (``total`` steps, when known)."""

    def step(self, result: OpResult) -> None:
        """One operation finished."""


class QuietObserver:
    """An observer that ignores everything."""

    def phase(self, name: str, total: int | None = None) -> None:
        """Ignore."""

    def step(self, result: OpResult) -> None:
        """Ignore."""


@dataclass
class RunReport:
    """Everything a run did or would do."""

    run_id: int
    realm: str
    day: dt.date
    mode: str
    status: str
    dry_run: bool
    plan_hash: str = ""
    ops: list[Operation] = field(default_factory=list)
    verdict: valve.Verdict = field(default_factory=lambda: valve.Verdict(False))
    rejected: list[RejectedEntry] = field(default_factory=list)
    #: Directory data-quality findings for the IT Center (usable entries held in decomposed Unicode, NFD):
    #: ``{"dn", "attributes", "problem"}``; the bridge itself uses the NFC form.
    findings: list[dict[str, str]] = field(default_factory=list)
    #: The operations that failed (applied ones are recorded in the store as they go, and only counted here:
    #: holding 100,000 results pushed an initial load past 512 MB, issue 16).
    results: list[OpResult] = field(default_factory=list)
    #: Applied operations by kind.
    applied_by_kind: Counter[str] = field(default_factory=Counter)
    directory_size: int = 0
    reads: int = 0
    writes: int = 0
    seconds: float = 0.0
    approval_id: int | None = None
    error: str | None = None
    #: What Keycloak's federation import did, when the joiners came in through it (bridge.services.sync.bulk).
    bulk: dict[str, Any] | None = None
    #: Rows of the applied record written (and deleted) by this run, and the record's size.
    record: dict[str, int] | None = None
    #: An incremental run that read the directory's mails (so it could find leavers).
    presence_checked: bool = False

    @property
    def applied(self) -> int:
        """Operations applied."""
        return sum(self.applied_by_kind.values())

    @property
    def failed(self) -> list[OpResult]:
        """Operations that failed."""
        return [r for r in self.results if not r.applied]

    def counts(self) -> dict[str, int]:
        """Planned operations by reason."""
        return dict(Counter(op.reason.value for op in self.ops))


#: The finding of an entry held in decomposed Unicode, as the IT Center reads it.
NFD_FINDING = "decomposed Unicode (NFD) — convert to NFC at the source / chữ tổ hợp, cần chuyển sang dựng sẵn (NFC)"


def data_quality_findings(read: DirectoryRead) -> list[dict[str, str]]:
    """Each usable entry whose values the directory holds in NFD, with its DN, for the IT Center to fix."""
    return [
        {"dn": entry.dn, "attributes": ", ".join(entry.decomposed), "problem": NFD_FINDING}
        for entry in read.entries
        if entry.decomposed
    ]


def empty_directory_message(people_base: str, *, managed: int) -> str:
    """Why a full run that found nobody in the directory stops (a wrong base DN, an emptied tree)."""
    return (
        f"thư mục không trả về ai dưới {people_base} trong khi Keycloak có {managed} tài khoản được quản lý; "
        "kiểm tra people_base (DN gốc) — không khóa ai / the directory returned no people under "
        f"{people_base} while Keycloak has {managed} managed accounts: check the base DN (directory.people_base); "
        "nobody was disabled, nothing was changed"
    )


def partial_read_message(problem: str) -> str:
    """Why a run applied no leaver: the directory read stopped before its end."""
    return (
        f"đọc thư mục chưa hết ({problem}) — không khóa ai / the directory read is incomplete ({problem}): "
        "no leaver was disabled; the next full run reads the directory again"
    )


def _state(session: Session) -> dict[str, str]:
    return {row.key: row.value for row in session.scalars(select(SyncState))}


def _set_state(session: Session, **values: str) -> None:
    for key, value in values.items():
        session.merge(SyncState(key=key, value=value))


def choose_mode(state: dict[str, str], *, day: dt.date, full: bool, every: int) -> str:
    """``full`` or ``incremental`` for the next run. Pure."""
    if full or state.get(FULL_REQUESTED) or not state.get("high_water"):
        return "full"
    if state.get("last_full_day") != day.isoformat():
        return "full"
    return "full" if int(state.get("runs_since_full", "0")) + 1 >= every else "incremental"


def store_unavailable(exc: OperationalError) -> StoreUnavailable:
    """The bridge's error for a store that does not answer (the driver's message, never the URL)."""
    cause = exc.orig if exc.orig is not None else exc
    text = " ".join(str(cause).split())[:200]
    return StoreUnavailable(f"kho dữ liệu không trả lời / the store is unavailable: {type(cause).__name__}: {text}")


def spool_prefix(settings: Settings) -> str:
    """Spool files of this realm on this store (another store's file is never replayed here)."""
    return f"{settings.keycloak.realm}-{ledger.sha256_hex(settings.store.url)[:12]}-"


def _spooled(run_id: int, results: Sequence[OpResult]) -> list[dict[str, Any]]:
    return [
        {"run_id": run_id, "op": {**dataclasses.asdict(r.op), "kind": r.op.kind.value, "reason": r.op.reason.value},
         "applied": r.applied, "user_id": r.user_id, "error": r.error, "at": r.at.isoformat(), "writes": r.writes}
        for r in results
    ]  # fmt: skip


def _unspooled(row: dict[str, Any]) -> OpResult:
    op = {**row["op"], "kind": OpKind(row["op"]["kind"]), "reason": Reason(row["op"]["reason"]),
          "leave_groups": tuple(row["op"]["leave_groups"])}  # fmt: skip
    return OpResult(Operation(**op), row["applied"], row["user_id"], row["error"],
                    dt.datetime.fromisoformat(row["at"]), row["writes"])  # fmt: skip


def replay_spool(factory: sessionmaker[Session], settings: Settings) -> int:
    """Record what earlier runs applied but could not record (the store was away); the rows recorded."""
    done = 0
    for path, rows in spool.pending(settings.sync.spool_dir, spool_prefix(settings)):
        by_run: dict[int, list[OpResult]] = {}
        for row in rows:
            by_run.setdefault(int(row["run_id"]), []).append(_unspooled(row))
        for run_id, results in by_run.items():
            _recorder(factory, run_id, None)(results)  # the record: re-read changes (the mark did not move)
            done += len(results)
        spool.remove(path)
    return done


def _recorder(factory: sessionmaker[Session], run_id: int, hashes: Mapping[str, str] | None) -> Recorder:
    """Records each applied batch; ``hashes`` None: this realm keeps no applied record (docs/decisions/0702)."""

    def record(batch: Sequence[OpResult]) -> None:
        try:
            write(batch)
        except OperationalError as exc:  # transient: the executor retries the batch, then stops the run
            raise store_unavailable(exc) from None

    def write(batch: Sequence[OpResult]) -> None:
        entries: list[ledger.NewEntry] = []
        with transaction(factory) as session:
            if hashes is not None:
                applied_record.record_applied(session, [(r.op, r.user_id) for r in batch if r.applied], hashes)
            for result in batch:
                op = result.op
                session.add(
                    SyncOperation(
                        run_id=run_id,
                        kind=op.kind.value,
                        reason=op.reason.value,
                        email=op.mail,
                        unit_code=op.unit_code,
                        user_id=result.user_id,
                        status="applied" if result.applied else "failed",
                        error=result.error,
                        at=result.at,
                    )
                )
                if not result.applied:
                    continue
                entries.append(
                    ledger.NewEntry(
                        actor=valve.SYNC_ACTOR,
                        action=f"sync.{op.kind.value}",
                        target=f"user:{op.mail}",
                        outcome="allowed",
                        rule=f"sync-{op.reason.value}",
                        at=result.at,
                        detail={
                            "run": run_id,
                            "unit": op.unit_code,
                            "group": op.group_path,
                            "leave": list(op.leave_groups),
                            # the report's vocabulary (None: a disable under a hold; the lock is the change)
                            "change": sync_change(op.kind.value, op.reason.value),
                            "reason": op.reason.value,
                        },
                    )
                )
                if op.kind is OpKind.DISABLE and op.reason in (Reason.LEAVER, Reason.REALM_MOVE):
                    session.merge(
                        SyncLeaver(
                            email=op.mail,
                            user_id=result.user_id or "",
                            unit_code=op.unit_code,
                            run_id=run_id,
                            disabled_at=result.at,
                        )
                    )
                elif op.kind is OpKind.ENABLE and op.reason is Reason.RETURNER:
                    session.execute(delete(SyncLeaver).where(SyncLeaver.email == op.mail))
            ledger.append_many(session, entries)

    return record


async def run_sync(
    *,
    settings: Settings,
    units: UnitTree,
    day: dt.date,
    full: bool = False,
    dry_run: bool = False,
    admin: KeycloakAdmin | None = None,
    observer: SyncObserver | None = None,
    lookup: LdapDirectory | None = None,
    stop: asyncio.Event | None = None,
    realm: str | None = None,
) -> RunReport:
    """One run of one realm (default: the deployment's). Never raises for a directory or Keycloak outage: the
    report says ``failed`` and why.

    The run places only the people whose unit lies in its realm (units.yaml ``realm``, docs/decisions/0702);
    an account here of a person now in another realm is disabled as a realm move (valve-counted), and that
    realm's run imports them. A realm other than the default is always synced in full and leaves the
    incremental high-water mark to the default realm's runs.

    With ``lookup`` (the process's directory lookup, as in ``bridge worker``) the run reads through it, so its
    read refreshes the cache the decisions of the same process answer from. With ``stop`` set while it applies,
    it starts no new person's operations and ends ``stopped``, every applied operation recorded.
    """
    observer = observer or QuietObserver()
    started = time.monotonic()
    factory = session_factory(settings.store.url)
    units = units.deployed_as(settings.keycloak.realm)
    try:
        if not dry_run:
            replay_spool(factory, settings)
        with fewer_collections():
            return await _run(settings=settings, units=units, day=day, full=full, dry_run=dry_run, admin=admin,
                              observer=observer, lookup=lookup, stop=stop, factory=factory, started=started,
                              realm=realm or units.realm)  # fmt: skip
    except OperationalError as exc:  # the store went away before the run was recorded as started
        raise store_unavailable(exc) from None


async def _run(
    *,
    settings: Settings,
    units: UnitTree,
    day: dt.date,
    full: bool,
    dry_run: bool,
    admin: KeycloakAdmin | None,
    observer: SyncObserver,
    lookup: LdapDirectory | None,
    stop: asyncio.Event | None,
    factory: sessionmaker[Session],
    started: float,
    realm: str,
) -> RunReport:
    main_realm = realm == units.realm
    with transaction(factory) as session:
        state = _state(session)
        mode = choose_mode(state, day=day, full=full or not main_realm, every=settings.sync.full_every_n_runs)
        # The applied record is the default realm's (another realm is always synced in full, decision 0702).
        recorded_groups = applied_record.group_ids(session) if main_realm else {}
        if main_realm and (not recorded_groups or _last_run_unfinished(session, realm)):
            # No full run has written the record yet, or the last run ended before its operations all came back
            # (stopped, failed, partial): an operation Keycloak applied while its answer was lost is in neither the
            # record nor the ledger, so Keycloak is listed again (decision 0900).
            mode = "full"
        run = SyncRun(
            started_at=dt.datetime.now(dt.UTC),
            mode=mode,
            dry_run=dry_run,
            status="running",
            day=day,
            realm=realm,
            report={},
        )
        session.add(run)
        session.flush()
        run_id = run.id
        # this realm's: a realm move leaves its record under the old realm's unit (0702)
        leavers = realms.realm_leavers(session.execute(select(SyncLeaver.email, SyncLeaver.unit_code)).tuples(),
                                       units, realm, day)  # fmt: skip
        holds = StoreHolds(session).held_on(day)
        elsewhere = exception_accounts.managed_emails(session)
    report = RunReport(run_id=run_id, realm=realm, day=day, mode=mode, status="running", dry_run=dry_run)
    own_admin = admin is None
    kc = admin or service_account_admin(settings.keycloak, realm=realm)
    reads_before, writes_before = kc.calls.reads, kc.calls.writes
    executors: list[Executor] = []
    #: A full run's applied operations and the ids they used, for the record's repair.
    applied: list[tuple[Operation, str | None]] = []
    try:
        read: DirectoryRead
        actual: ActualState
        # When the reads start, by the bridge's clock: the next incremental run reads from here (minus the overlap),
        # not from the newest modifyTimestamp seen — otherwise every entry written within the overlap before the
        # directory's last change (a bulk load, a seeding) is read again by every run until something changes.
        started_at = dt.datetime.now(dt.UTC)
        read_started = now_generalized(started_at)
        if mode == "incremental":
            # Keycloak is not read: the directory's changes are compared with the bridge's own record, and the
            # directory's mails (one attribute of every entry) tell who left (docs/decisions/0900).
            observer.phase("Đọc thay đổi của thư mục / Reading the directory's changes")
            since = overlap(state["high_water"], settings.sync.incremental_overlap_s)
            # Leavers have no modifyTimestamp to find: the directory's mails are read every ``presence_every_s``
            # (the one read of an incremental run that grows with the directory; decision 0903).
            report.presence_checked = presence_due(
                state.get(PRESENCE_AT, ""), now=dt.datetime.now(dt.UTC), every_s=settings.sync.presence_every_s
            )
            read_changes = (
                asyncio.to_thread(lookup.read_people, since=since)
                if lookup is not None
                else asyncio.to_thread(read_people, settings.directory, since=since)
            )
            present: PresentMails | None = None
            if report.presence_checked:
                read, present = await asyncio.gather(read_changes, asyncio.to_thread(read_mails, settings.directory))
            else:
                read = await read_changes
            desired = desired_state(read, units, day=day)
            if present is not None:
                desired.present = present.mails
                desired.complete = desired.complete and present.complete
            if read.entries or present is not None:
                # With the directory's mails (the leaver check), the whole record: leavers are the recorded people
                # missing from them, and the valve's population and unit sizes come from it. Without, no leaver
                # can be planned, so only the changed people's rows are compared: the run's cost follows the
                # changes, not the directory (decision 0904); realm moves are counted per unit, needing no population.
                with transaction(factory) as session:
                    recorded = applied_record.load(session, None if present is not None else desired.people)
                    actual = actual_of_record(recorded.values(), group_ids=recorded_groups, leavers=leavers)
            else:  # nothing changed and no leaver check due: nothing to compare, so the record is not read
                actual = ActualState(group_ids=recorded_groups, leavers=leavers)
            hashes = entry_hashes(read)
        else:
            observer.phase("Đọc thư mục và Keycloak / Reading the directory and Keycloak")

            def directory() -> tuple[DirectoryRead, DesiredState, dict[str, str]]:
                # What the directory alone decides is worked out in the reading thread while Keycloak is still
                # listing its groups (its listings take longer), not after both reads (decision 0912).
                read = lookup.read_people() if lookup is not None else read_people(settings.directory)
                return read, desired_state(read, units, day=day), entry_hashes(read)

            # The two reads load different servers (slapd + this process; Keycloak): run them side by side.
            (read, desired, hashes), actual = await asyncio.gather(
                asyncio.to_thread(directory),
                read_actual(
                    kc,
                    unit_root=units.group_root,
                    leavers=leavers,
                    concurrency=settings.sync.member_listing_concurrency,
                ),
            )
        desired, other_realms = realms.for_realm(desired, units, realm)
        report.rejected, report.directory_size = desired.rejected, len(read.entries)
        report.findings = data_quality_findings(read)
        read.entries = []  # used: the desired state holds what the rest of the run needs
        report.ops = realms.mark_realm_moves(plan(desired, actual, holds, day, elsewhere=elsewhere), other_realms)
        report.plan_hash = valve.plan_hash(report.ops)
        report.verdict = valve.check(report.ops, actual, settings.sync)
        empty = mode == "full" and read.complete and not report.directory_size and bool(actual.users)
        if empty:
            report.error = empty_directory_message(settings.directory.people_base, managed=len(actual.users))
        elif not read.complete:
            report.error = partial_read_message(read.problem)
        if dry_run:
            report.status = "planned"
        elif empty:
            report.status = "halted"
            with transaction(factory) as session:
                ledger.append(
                    session,
                    actor=valve.SYNC_ACTOR,
                    action="sync.halted",
                    target=f"realm:{realm}",
                    outcome="refused",
                    rule="sync-directory-empty",
                    detail={"run": run_id, "people_base": settings.directory.people_base,
                            "managed_users": len(actual.users)},
                )  # fmt: skip
        elif report.verdict.halted and not _released(factory, report.plan_hash, realm):
            report.status = "halted"
            with transaction(factory) as session:
                report.approval_id = valve.request_release(
                    session,
                    digest=report.plan_hash,
                    realm=realm,
                    verdict=report.verdict,
                    it_center_unit=settings.governance.it_center_unit,
                ).id
        elif report.ops:
            ops = report.ops
            joiners = [op for op in ops if op.kind is OpKind.ENSURE]
            if bulk.wants_bulk(
                len(joiners),
                directory_size=report.directory_size,
                minimum=settings.sync.bulk_import_min,
                share=settings.sync.bulk_import_share,
            ):
                observer.phase("Nhập hàng loạt từ thư mục / Bulk import from the directory")
                ops, report.bulk = await _bulk_import(factory, kc, settings, run_id, desired, ops)
            observer.phase("Áp dụng / Applying", len(ops))
            executor = Executor(
                kc,
                group_ids=actual.group_ids,
                concurrency=settings.keycloak.concurrency,
                verify_leavers=mode == "incremental",
            )
            executors.append(executor)

            def step(result: OpResult) -> None:
                if result.applied:
                    report.applied_by_kind[result.op.kind.value] += 1
                    if mode == "full":
                        applied.append((result.op, result.user_id))
                observer.step(result)

            report.results = await executor.run(
                ops,
                recorder=_recorder(factory, run_id, hashes if main_realm else None),
                progress=step,
                stop=stop,
                keep=lambda result: not result.applied,
            )
            if executor.finished < len(ops):
                report.status = "stopped"
            else:
                report.status = "partial" if report.failed or not read.complete else "applied"
        else:
            report.status = "applied" if read.complete else "partial"
        if not dry_run and mode == "full" and main_realm:
            # Keycloak (as listed) and the run's own writes are the truth: the record is rewritten from them.
            with transaction(factory) as session:
                report.record = _repair(session, actual, applied, hashes)
        elif not dry_run and report.status == "applied" and main_realm:
            with transaction(factory) as session:
                report.record = _refresh_hashes(session, desired.people, hashes)
        if not dry_run and report.status == "applied" and main_realm:
            with transaction(factory) as session:
                _advance_state(session, state, mode=mode, day=day, read=read, started=read_started)
                if mode == "full" or report.presence_checked:
                    _set_state(session, **{PRESENCE_AT: started_at.isoformat()})
    except BridgeError as exc:
        report.status, report.error = "failed", f"{exc.code}: {exc.message}"
        unrecorded = [r for e in executors for r in e.unrecorded]
        if unrecorded:  # applied in Keycloak, refused by the store: kept for the next run to record
            spool.write(settings.sync.spool_dir, f"{spool_prefix(settings)}run{run_id}", _spooled(run_id, unrecorded))
            kept = f"{len(unrecorded)} applied operations kept in {settings.sync.spool_dir} for the next run"
            report.error += f" — {kept}"
    finally:
        report.reads, report.writes = kc.calls.reads - reads_before, kc.calls.writes - writes_before
        report.seconds = time.monotonic() - started
        if own_admin:
            await kc.aclose()
        try:
            _finish(factory, report)
        except OperationalError as exc:  # the store is still away: the run row stays "running", as after a kill
            report.status, report.error = "failed", report.error or str(store_unavailable(exc))
    return report


async def _bulk_import(
    factory: sessionmaker[Session],
    kc: KeycloakAdmin,
    settings: Settings,
    run_id: int,
    desired: DesiredState,
    ops: list[Operation],
) -> tuple[list[Operation], dict[str, Any]]:
    """Import the joiners through Keycloak's federation import; their operations then carry the user id."""
    directory_unit = {mail: person.source_unit for mail, person in desired.people.items()}
    codes = {directory_unit[op.mail] for op in ops if op.kind is OpKind.ENSURE and op.mail in directory_unit}
    done = await bulk.import_in_bulk(
        kc, unit_codes=codes, concurrency=settings.sync.listing_concurrency, ids=settings.sync.bulk_ids
    )
    with transaction(factory) as session:
        ledger.append(
            session,
            actor=valve.SYNC_ACTOR,
            action="sync.federation_import",
            target=f"realm:{kc.realm}",
            outcome="allowed",
            rule="sync-bulk-import",
            detail={"run": run_id, **done.summary()},
        )
    return [
        dataclasses.replace(op, user_id=done.ids[op.mail])
        if op.kind is OpKind.ENSURE and op.user_id is None and op.mail in done.ids
        else op
        for op in ops
    ], done.summary()


#: ``sync_state`` key: when the directory's mails were last read (a full read counts), UTC ISO time.
PRESENCE_AT = "presence_at"


def entry_hashes(read: DirectoryRead) -> dict[str, str]:
    """Mail → hash of each usable entry the read found: what the applied record compares changes with."""
    return {entry.mail: entry_hash(entry) for entry in read.entries}


def presence_due(last: str, *, now: dt.datetime, every_s: float) -> bool:
    """Whether an incremental run reads the directory's mails to find leavers. Pure."""
    if every_s <= 0 or not last:
        return True
    try:
        at = dt.datetime.fromisoformat(last)
    except ValueError:
        return True
    return (now - at).total_seconds() >= every_s


def overlap(high_water: str, seconds: int) -> str:
    """The mark an incremental run reads from: ``high_water`` (generalized time) minus ``seconds``. Pure."""
    try:
        moment = dt.datetime.strptime(high_water, "%Y%m%d%H%M%SZ").replace(tzinfo=dt.UTC)
    except ValueError:
        return high_water
    return now_generalized(moment - dt.timedelta(seconds=seconds))


def _repair(
    session: Session, actual: ActualState, applied: Sequence[tuple[Operation, str | None]], hashes: Mapping[str, str]
) -> dict[str, int]:
    """Rewrite the applied record from a full run's read of Keycloak and its applied operations."""
    record = repaired(
        actual,
        applied,
        hashes=hashes,
        role_groups=applied_record.role_groups(session),
    )
    written, deleted = applied_record.replace_all(session, record)
    applied_record.save_group_ids(session, actual.group_ids)
    return {"written": written, "deleted": deleted, "size": len(record)}


def _refresh_hashes(session: Session, changed: Iterable[str], hashes: Mapping[str, str]) -> dict[str, int]:
    """After a successful incremental run, the record holds the hash of each changed entry it now reflects."""
    known = applied_record.load(session, changed)
    fresh = [
        dataclasses.replace(r, entry_hash=hashes[mail])
        for mail, r in known.items()
        if mail in hashes and r.entry_hash != hashes[mail]
    ]
    return {"written": applied_record.write(session, fresh, known=known), "deleted": 0, "size": len(known)}


def _last_run_unfinished(session: Session, realm: str) -> bool:
    """Whether the realm's last run that applied anything ended without every operation answered."""
    last = session.scalar(
        select(SyncRun.status)
        .where(SyncRun.realm == realm, SyncRun.dry_run.is_(False), SyncRun.status.not_in(("planned", "halted")))
        .order_by(SyncRun.id.desc())
        .limit(1)
    )
    return last in ("stopped", "failed", "partial", "running")


def _released(factory: sessionmaker[Session], digest: str, realm: str) -> bool:
    with transaction(factory) as session:
        return valve.is_released(session, digest=digest, realm=realm)


def _advance_state(
    session: Session, state: dict[str, str], *, mode: str, day: dt.date, read: DirectoryRead, started: str = ""
) -> None:
    """Move the high-water mark to the later of the newest modifyTimestamp read and the time the read started
    (generalized time compares as text); the overlap (``incremental_overlap_s``) covers the two clocks' skew."""
    high_water = max(state.get("high_water", ""), read.high_water, started)
    if mode == "full" and read.complete:
        # a full run answers every request for one made before it started (decision 0900)
        requested = {FULL_REQUESTED: ""} if state.get(FULL_REQUESTED) else {}
        _set_state(session, high_water=high_water, runs_since_full="0", last_full_day=day.isoformat(), **requested)
    else:
        _set_state(session, high_water=high_water, runs_since_full=str(int(state.get("runs_since_full", "0")) + 1))


#: Leavers of a halted plan kept in its run's report (the valve halts on hundreds, not tens of thousands).
LEAVERS_KEPT = 20_000


def _leavers(ops: list[Operation]) -> list[dict[str, str]]:
    """The leaver disables of a plan, by unit then e-mail: who a valve release would lock out."""
    found = [op for op in ops if op.kind is OpKind.DISABLE and op.reason is Reason.LEAVER]
    return [{"email": op.mail, "unit": op.unit_code} for op in sorted(found, key=lambda o: (o.unit_code, o.mail))]


def _finish(factory: sessionmaker[Session], report: RunReport) -> None:
    with transaction(factory) as session:
        run = session.get(SyncRun, report.run_id)
        assert run is not None
        run.status, run.finished_at, run.plan_hash = report.status, dt.datetime.now(dt.UTC), report.plan_hash
        run.planned, run.applied, run.failed = len(report.ops), report.applied, len(report.failed)
        run.reads, run.writes = report.reads, report.writes
        run.report = {
            "counts": report.counts(),
            "rejected": [{"dn": r.dn, "reason": r.reason} for r in report.rejected[:1000]],
            "rejected_total": len(report.rejected),
            "data_quality": report.findings[:1000],
            "data_quality_total": len(report.findings),
            "valve": list(report.verdict.reasons),
            # what two IT Center administrators approve when they release a halted plan (the console shows it)
            "leavers_by_unit": dict(sorted(report.verdict.by_unit.items())) if report.status == "halted" else {},
            "leavers": _leavers(report.ops)[:LEAVERS_KEPT] if report.status == "halted" else [],
            "bulk_import": report.bulk,
            "applied_record": report.record,
            "presence_checked": report.presence_checked,
            "error": report.error,
        }


def sync_lease(realm: str) -> str:
    """The lease a repeating sync of ``realm`` holds while it runs: one run at a time across processes."""
    return f"sync:{realm}"


async def run_sync_single_flight(
    *,
    settings: Settings,
    units: UnitTree,
    holder: str,
    observer: SyncObserver | None = None,
    lookup: LdapDirectory | None = None,
    stop: asyncio.Event | None = None,
    realm: str | None = None,
) -> RunReport | None:
    """One run of today, under the realm's sync lease; None when another process holds it (it is syncing).

    Repeating runs (``bridge worker``, ``bridge sync --watch``) go through here, so two of them never overlap.
    """
    factory = session_factory(settings.store.url)
    name, seconds = sync_lease(realm or settings.keycloak.realm), settings.worker.lease_s
    async with leases.holding(factory, name=name, holder=holder, seconds=seconds) as held:
        if not held:
            return None
        return await run_sync(
            settings=settings, units=units, day=today_vn(), observer=observer, lookup=lookup, stop=stop, realm=realm
        )


def sync_realms(settings: Settings, units: UnitTree) -> tuple[str, ...]:
    """The realms a deployment syncs, the default first (units.yaml ``realm`` assignments; 0702)."""
    return units.deployed_as(settings.keycloak.realm).realm_names()


async def watch(
    *,
    settings: Settings,
    units: UnitTree,
    runs: int | None = None,
    observer: SyncObserver | None = None,
    on_report: Callable[[RunReport], None] | None = None,
) -> int:
    """Poll: run, sleep ``watch_interval_s``, run again (``runs`` times, or until cancelled), never at the same
    time as another process's repeating sync of the realm.

    Returns the number of runs made.
    """
    done, holder = 0, leases.worker_name()
    while runs is None or done < runs:
        ran = False
        for realm in sync_realms(settings, units):  # the default realm, then the others (0702)
            report = await run_sync_single_flight(
                settings=settings, units=units, holder=holder, observer=observer, realm=realm
            )
            if report is not None:
                ran = True
                if on_report is not None:
                    on_report(report)
        done += ran
        if runs is None or done < runs:
            await asyncio.sleep(settings.sync.watch_interval_s)
    return done
