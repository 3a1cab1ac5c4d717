"""The worker's tasks: the sync, the lock and grant scheduler, the console watcher, login ingestion, gauges.

Each is a loop over one service call; the loops add only what a long-running process needs: metrics, log
context and the stop signal. Work that must run in one worker at a time takes its lease in its service.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import threading
from functools import partial

from bridge.adapters.directory.ldap import LdapDirectory
from bridge.adapters.directory.lookup import DirectoryLookup
from bridge.adapters.keycloak.admin import service_account_admin
from bridge.adapters.store.session import session_factory, transaction
from bridge.clock import today_vn
from bridge.domain.units import load_units
from bridge.interfaces.worker.supervisor import Task, every
from bridge.logs import log_context
from bridge.metrics import SYNC_DURATION, SYNC_OPERATIONS, SYNC_RUNS, VALVE_HELD_LEAVERS
from bridge.services.admin_second_factor import sync_administrator_group
from bridge.services.console import build_watcher
from bridge.services.locks.scheduler import build_scheduler
from bridge.services.queue_gauges import refresh_queue_gauges
from bridge.services.reports.keycloak_reader import ingest_logins
from bridge.services.sync.run import RunReport, run_sync_single_flight, sync_realms
from bridge.settings import Settings

log = logging.getLogger(__name__)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _count_run(report: RunReport) -> None:
    SYNC_RUNS.labels(report.mode, report.status).inc()
    SYNC_DURATION.labels(report.mode).observe(report.seconds)
    VALVE_HELD_LEAVERS.set(report.verdict.disables if report.status == "halted" else 0)
    for kind, count in report.applied_by_kind.items():
        SYNC_OPERATIONS.labels(kind).inc(count)


def sync_task(settings: Settings, *, holder: str, directory: DirectoryLookup) -> Task:
    """Incremental runs every ``sync.watch_interval_s`` (the first of each Vietnamese day is a full one), one
    process at a time (the service's sync lease)."""
    lookup = directory if isinstance(directory, LdapDirectory) else None

    async def once(stop: asyncio.Event) -> None:
        units = load_units(settings.keycloak.config_dir / "units.yaml")
        for realm in sync_realms(settings, units):  # the default realm, then those units.yaml assigns (0702)
            with log_context(action="sync.run"):
                report = await run_sync_single_flight(
                    settings=settings, units=units, holder=holder, lookup=lookup, stop=stop, realm=realm
                )
                if report is None:
                    log.debug("another worker is syncing %s", realm)
                    continue
                _count_run(report)
                log.info(
                    "sync run %s (%s): %s",
                    report.run_id,
                    report.realm,
                    report.status,
                    extra={"mode": report.mode, "applied": report.applied, "seconds": round(report.seconds, 1)},
                )

    async def run(stop: asyncio.Event) -> None:
        await every(settings.sync.watch_interval_s, partial(once, stop))(stop)

    return Task("sync", run)


def scheduler_task(settings: Settings, *, directory: DirectoryLookup) -> Task:
    """Lock decisions on their day and grant memberships, claimed job by job (several workers share them)."""

    async def run(stop: asyncio.Event) -> None:
        # a job claimed by a worker that died is free again once this lease lapses (the same lease as the sync's)
        scheduler = await asyncio.to_thread(
            build_scheduler, settings, directory=directory, lease_s=settings.worker.lease_s
        )
        halt = threading.Event()

        async def relay() -> None:
            await stop.wait()
            halt.set()

        relaying = asyncio.create_task(relay())
        try:
            await scheduler.run(stop=halt, interval_s=settings.worker.scheduler_interval_s)
        finally:
            relaying.cancel()
            await scheduler.locks.admin.aclose()

    return Task("scheduler", run)


def watcher_task(settings: Settings, *, directory: DirectoryLookup) -> Task:
    """Keycloak admin events judged by the scope policy on the process's directory, one worker per realm at a
    time (the watcher's own realm lease, taken and renewed by its loop)."""

    async def watch_realm(realm: str, stop: asyncio.Event) -> None:
        watcher = await asyncio.to_thread(build_watcher, settings, directory=directory, realm=realm)
        await asyncio.to_thread(
            watcher.watch, day=today_vn, interval_s=settings.worker.watcher_interval_s, stop=stop.is_set
        )

    async def run(stop: asyncio.Event) -> None:
        # every realm's admin events: the default realm's and those units.yaml assigns units to (0702)
        realms = sync_realms(settings, load_units(settings.keycloak.config_dir / "units.yaml"))
        await asyncio.gather(*(watch_realm(realm, stop) for realm in realms))

    return Task("console-watcher", run)


def ingest_task(settings: Settings) -> Task:
    """Keycloak's LOGIN events copied into the store, so the review's "unused" and "sharing" checks stay fresh."""
    factory = session_factory(settings.store.url)

    def body() -> int:
        added = 0
        # every realm's logins (service providers sign in to their own realm; docs/decisions/0702)
        for realm in sync_realms(settings, load_units(settings.keycloak.config_dir / "units.yaml")):
            admin = service_account_admin(settings.keycloak, realm=realm)
            with transaction(factory) as session:
                added += ingest_logins(session, actor=None, admin=admin)
        return added

    async def once() -> None:
        with log_context(action="review.ingest-logins"):
            added = await asyncio.to_thread(body)
            log.info("login events ingested", extra={"added": added})

    return Task("login-ingestion", every(settings.worker.ingest_interval_s, once))


def admin_group_task(settings: Settings) -> Task:
    """Keycloak's administrator group kept equal to the administrators table (their second factor, decision 0600)."""

    async def once() -> None:
        with log_context(action="admin.second-factor"):
            result = await asyncio.to_thread(sync_administrator_group, settings)
            if result is not None and (result.added or result.removed):
                log.info("administrator group: %s", result.describe())

    return Task("admin-second-factor", every(settings.worker.admin_group_interval_s, once))


def gauges_task(settings: Settings) -> Task:
    """Queue depth and age, refreshed for ``/metrics``."""
    factory = session_factory(settings.store.url)

    async def once() -> None:
        await asyncio.to_thread(refresh_queue_gauges, factory, now=_now())

    return Task("queue-gauges", every(settings.worker.metrics_interval_s, once))
