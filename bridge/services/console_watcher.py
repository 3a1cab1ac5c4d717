"""Watcher of Keycloak admin events: the console stays inside the regulation even where FGAP v2 cannot.

Fine-grained admin permissions v2 do not cover every path for federated users (decision 0003), and an
administrator holding a legacy realm-management role bypasses them entirely. So every account creation,
enabled/disabled change and group membership made in the console is read back from Keycloak's admin events,
judged with the bridge's own rules (:mod:`bridge.services.console_judge`), written to the audit ledger, and —
when refused — reverted at once, with the ledger row saying so.

It loses nothing and judges nothing twice (docs/decisions/0501): it reads every event since its cursor, oldest
first, page by page (Keycloak's ``dateFrom``, ``direction=asc``, ``first``/``max``); it writes an event's
ledger rows and the advanced cursor (:mod:`bridge.services.console_cursor`) in one store transaction; and one
worker at a time watches a realm, under the lease ``console-watcher:<realm>``. A refused change is reverted
inside that transaction, before it commits: a crash in between repeats the (idempotent) revert, never the row.

A burst is judged in small batches: the events judged within ``batch_s`` (at most ``batch_size``) share one
transaction, each in a savepoint of its own, so the cursor is locked, checked and written once per batch rather
than once per event (at 2,000 console changes that was half the watcher's time, bench/worker.py), and the
accounts a page names are read from Keycloak several at once while it is judged. While events keep coming, a
poll reads again after a short pause instead of ending (``follow_pause_s``, up to ``follow_s``).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from bridge.adapters.keycloak.admin import KeycloakAdmin
from bridge.adapters.store.session import transaction
from bridge.clock import today_vn
from bridge.domain.policy import Action, Decision
from bridge.domain.rules import RULES
from bridge.errors import BridgeError, NotFound, TransientError
from bridge.metrics import WATCHER_EVENTS, WATCHER_LAG
from bridge.services import leases
from bridge.services.console_cursor import GRACE_MS, Cursor, lock_cursor, open_cursor, save_cursor
from bridge.services.console_judge import UNJUDGEABLE, ConsoleChange, ConsoleJudge, Judged
from bridge.services.context import GovContext
from bridge.services.sync import record as applied_record

__all__ = ["ConsoleChange", "ConsoleWatcher", "Verdict", "lease_name", "parse_event"]

log = logging.getLogger(__name__)

WATCHED = frozenset(
    {("USER", "CREATE"), ("USER", "UPDATE"), ("GROUP_MEMBERSHIP", "CREATE"), ("GROUP_MEMBERSHIP", "DELETE")}
)
#: The resource types asked of Keycloak (the rest of the realm's admin events never concern an account).
RESOURCE_TYPES = ("USER", "GROUP_MEMBERSHIP")


@dataclass(frozen=True)
class Verdict:
    """What the watcher did with one change."""

    change: ConsoleChange
    actor: str
    target: str
    decision: Decision
    reverted: bool
    seconds_to_revert: float | None


def event_id(event: dict[str, Any]) -> str:
    """The admin event's id (Keycloak ≥ 24), or a stand-in made of its time, path and operation. Pure."""
    if event.get("id"):
        return str(event["id"])
    return f"{event.get('time')}:{event.get('operationType')}:{event.get('resourcePath')}"


def parse_event(event: dict[str, Any]) -> ConsoleChange | None:
    """The console change an admin event describes, or None when the bridge does not watch it. Pure."""
    kind = (event.get("resourceType"), event.get("operationType"))
    if kind not in WATCHED:
        return None
    parts = str(event.get("resourcePath", "")).split("/")
    if len(parts) < 2 or parts[0] != "users":
        return None
    rep: dict[str, Any] = {}
    if event.get("representation"):
        try:
            loaded = json.loads(event["representation"])
        except ValueError:
            loaded = {}
        rep = loaded if isinstance(loaded, dict) else {}
    auth = event.get("authDetails", {})
    created = kind == ("USER", "CREATE")
    if created:
        action, group_path, group_id = Action.GRANT, None, None
    elif kind == ("USER", "UPDATE"):
        if "enabled" not in rep:
            return None
        action = Action.UNLOCK if rep["enabled"] else Action.LOCK
        group_path = group_id = None
    else:
        if len(parts) < 4:
            return None
        action = Action.GRANT if kind[1] == "CREATE" else Action.REVOKE
        group_id, group_path = parts[3], rep.get("path")
    return ConsoleChange(
        event_time_ms=int(event.get("time", 0)),
        actor_user_id=str(auth.get("userId", "")),
        actor_realm=str(auth.get("realmId", "")),
        action=action,
        user_id=parts[1],
        group_path=group_path,
        group_id=group_id,
        enabled=rep.get("enabled") if kind == ("USER", "UPDATE") else None,
        event_id=event_id(event),
        created=created,
    )


def lease_name(realm: str) -> str:
    """The lease one worker holds while it watches ``realm``."""
    return f"console-watcher:{realm}"


class CursorMoved(Exception):
    """Another watcher advanced the cursor: this one stops its poll and reads the cursor again."""


class _Unclean(Exception):
    """A permanent error in a batch judged without savepoints: the batch is made again, carefully."""


@dataclass
class ConsoleWatcher:
    """Polls admin events with the bridge's own service account and enforces the bridge's rules on them."""

    admin: KeycloakAdmin
    sessions: sessionmaker[Session]
    #: The decision context (unit tree, catalogue, the official directory); its date is the poll's day.
    ctx: GovContext
    #: Where a realm watched for the first time starts (ms); earlier events are history. Default: now.
    since_ms: int = field(default_factory=lambda: int(time.time() * 1000))
    ignore_user_ids: frozenset[str] = frozenset()
    page_size: int = 200
    grace_ms: int = GRACE_MS
    #: Seconds the realm's lease lasts unless renewed (each poll and page renews it): how long a watcher that
    #: died holds up the next one.
    lease_s: float = 10.0
    #: Events judged in one store transaction at most, and the seconds a batch may take before it commits (what
    #: batching can add to an event's lag; it also bounds how long the ledger's lock is held).
    batch_size: int = 200
    batch_s: float = 0.3
    #: A poll whose last page brought new events reads again after this pause rather than waiting for the next
    #: poll (a burst is followed without the worker's interval), for at most ``follow_s`` seconds per poll (the
    #: accounts read in a poll are kept that long; a caller that stops passes ``keep``, asked after each page).
    follow_pause_s: float = 0.2
    follow_s: float = 15.0
    holder: str = field(default_factory=leases.worker_name)
    _cursor: Cursor | None = field(default=None, init=False, repr=False)
    _stored: Cursor | None = field(default=None, init=False, repr=False)
    #: When the lease was last renewed in the store (monotonic seconds), None when not held.
    _renewed_at: float | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        self.judge = ConsoleJudge(self.admin)

    @property
    def realm(self) -> str:
        """The realm watched: the one the service account reads (the configured realm)."""
        return self.admin.realm

    def context(self, day: dt.date) -> GovContext:
        """The decision context of ``day``."""
        return dataclasses.replace(self.ctx, on_date=day)

    # --- one poll -------------------------------------------------------------------------------------------
    def poll(
        self,
        *,
        day: dt.date | None = None,
        on_verdict: Callable[[Verdict], None] | None = None,
        keep: Callable[[], bool] | None = None,
    ) -> list[Verdict]:
        """Judge every admin event since the cursor, oldest first, and return the verdicts.

        The caller holds the realm's lease (:func:`lease_name`; :meth:`watch` and the worker do). ``keep`` is
        asked between pages (renew the lease, check for a stop); False ends the poll there. Even without the
        lease an event is never recorded twice: the cursor is checked under a row lock before each record.
        """
        if self._cursor is None:
            self._cursor = open_cursor(self.sessions, realm=self.realm, start_ms=self.since_ms, grace_ms=self.grace_ms)
            self._stored = self._cursor.copy()
        ctx = self.context(day or today_vn())
        self.judge.forget()
        verdicts: list[Verdict] = []
        try:
            for page in self._pages():
                cursor = self._cursor
                assert cursor is not None
                fresh = [e for e in page if cursor.is_new(event_id(e), int(e.get("time", 0)))]
                self._prefetch(fresh, ctx)
                start = 0
                while start < len(fresh):
                    try:
                        start, batch = self._batch(fresh, start, ctx)
                    except _Unclean:  # a permanent error: the batch again, each event in a savepoint
                        assert self._stored is not None
                        self._cursor = self._stored.copy()
                        start, batch = self._batch(fresh, start, ctx, careful=True)
                    verdicts += batch
                    if on_verdict is not None:
                        for verdict in batch:
                            on_verdict(verdict)
                if keep is not None and not keep():
                    return verdicts
        except CursorMoved:
            log.warning("console cursor moved by another watcher; reading it again", extra={"realm": self.realm})
            self._cursor = self._stored = None
            return verdicts
        except BaseException:
            # back to what the store holds: an event whose transaction did not commit is judged again
            self._cursor = self._stored.copy() if self._stored is not None else None
            raise
        WATCHER_LAG.set(0)
        return verdicts

    poll_once = poll

    def _pages(self) -> Iterator[list[dict[str, Any]]]:
        """Pages of admin events from the cursor's window on, oldest first, until a short page; when that page
        brought new events (a burst under way), again from the window after ``follow_pause_s``, for at most
        ``follow_s`` seconds of the poll."""
        assert self._cursor is not None
        started = time.monotonic()
        lower, first = self._cursor.read_from, 0
        while True:
            page: list[dict[str, Any]] = self.admin.get(
                "admin-events", dateFrom=str(lower), direction="asc", first=first, max=self.page_size,
                resourceTypes=list(RESOURCE_TYPES),
            ) or []  # fmt: skip
            page.sort(key=lambda e: int(e.get("time", 0)))
            news = any(self._cursor.is_new(event_id(e), int(e.get("time", 0))) for e in page)
            yield page
            if len(page) < self.page_size:
                if not news or time.monotonic() - started + self.follow_pause_s > self.follow_s:
                    return
                time.sleep(self.follow_pause_s)
                lower, first = self._cursor.read_from, 0
                continue
            newest = int(page[-1].get("time", 0))
            # Next page from the newest time seen (its events come again and are known); offsets only while a
            # whole page shares one millisecond.
            lower, first = (lower, first + len(page)) if newest == lower else (newest, 0)

    def _prefetch(self, events: list[dict[str, Any]], ctx: GovContext) -> None:
        """Start reading the accounts the judged events of a page name (targets and actors of this realm), and the
        targets' directory entries, several at once while the page is judged."""
        changes = [c for c in map(parse_event, events) if c is not None and c.actor_user_id not in self.ignore_user_ids]
        if not changes:
            return
        actors = sorted({c.actor_user_id for c in changes if self.judge.own_realm(c.actor_realm)})
        self.judge.prefetch([c.user_id for c in changes], actors, ctx.directory)

    def _batch(
        self, events: list[dict[str, Any]], start: int, ctx: GovContext, *, careful: bool = False
    ) -> tuple[int, list[Verdict]]:
        """Judge ``events[start:]`` in one store transaction until the batch is full or ``batch_s`` has passed;
        returns where the next batch starts and the verdicts, once committed. Events the bridge does not judge
        (its own service account, other operations) only move the cursor, written with the batch.

        A permanent error in a batch raises :class:`_Unclean` (nothing committed); the caller makes the batch
        again ``careful``ly: each event in a savepoint, so the one that failed is ledgered as such and passed."""
        assert self._cursor is not None
        judged: list[tuple[ConsoleChange, Judged, int, bool]] = []
        began, index = time.monotonic(), start
        with transaction(self.sessions) as session:
            self._check_cursor(session)
            while index < len(events) and len(judged) < self.batch_size:
                if index > start and time.monotonic() - began >= self.batch_s:
                    break
                event = events[index]
                index += 1
                key, at = event_id(event), int(event.get("time", 0))
                if not self._cursor.is_new(key, at):
                    continue
                change = parse_event(event)
                if change is None or change.actor_user_id in self.ignore_user_ids:
                    self._cursor.advance(key, at)
                    WATCHER_EVENTS.labels(verdict="skipped").inc()
                    continue
                outcome, failed = self._judge(session, change, ctx, careful=careful)
                judged.append((change, outcome, at, failed))
                self._cursor.advance(key, at)
            save_cursor(session, self._cursor)
        self._stored = self._cursor.copy()
        now = time.time()
        verdicts = []
        for change, outcome, at, failed in judged:
            verdicts.append(_verdict(change, outcome, now))
            WATCHER_LAG.set(max(0.0, now - at / 1000))
            if failed:
                WATCHER_EVENTS.labels(verdict="failed").inc()
                continue
            result = "allowed" if outcome.decision.allowed else "refused"
            WATCHER_EVENTS.labels(verdict=result).inc()
            log.info(
                "console change judged",
                extra={"actor": outcome.actor, "action": change.ledger_action, "target": outcome.target,
                       "outcome": result, "rule": outcome.decision.rule, "reverted": outcome.revert,
                       "event_id": change.event_id},
            )  # fmt: skip
        return index, verdicts

    def _judge(self, session: Session, change: ConsoleChange, ctx: GovContext, *, careful: bool) -> tuple[Judged, bool]:
        """Judge one change in the batch's transaction, reverting a refused one. A transient error (Keycloak, the
        directory or the store away) ends the batch uncommitted: the same events come again at the next poll. A
        permanent error ends it too (:class:`_Unclean`) unless ``careful``: then the change was judged in a
        savepoint, and an event that can never be judged is ledgered as such and passed, so it cannot stop the
        watcher. Returns the judgement and whether it failed."""
        if not careful:
            try:
                judged = self.judge.judge(session, change, ctx=ctx)
                if judged.revert:
                    self._revert(change)
                self._remember(session, change, judged, ctx)
            except TransientError:
                raise
            except BridgeError as exc:
                raise _Unclean from exc
            return judged, False
        try:
            with session.begin_nested():
                judged = self.judge.judge(session, change, ctx=ctx)
                if judged.revert:
                    self._revert(change)
                self._remember(session, change, judged, ctx)
            return judged, False
        except TransientError:
            raise
        except BridgeError as exc:
            log.error("console change could not be judged", extra={"event_id": change.event_id, "error": exc.message})
            failed = Judged(
                f"user:{change.actor_user_id}",
                f"user:{change.user_id}",
                Decision(False, UNJUDGEABLE.value, RULES[UNJUDGEABLE]),
                False,
            )
            self.judge.record(session, change, failed, error=f"{type(exc).__name__}: {exc.message}"[:500])
            return failed, True

    def _remember(self, session: Session, change: ConsoleChange, judged: Judged, ctx: GovContext) -> None:
        """Carry an accepted console change into the sync's applied record, in the batch's transaction, so the
        next incremental run plans against it rather than against what the bridge last wrote (decision 0900)."""
        if judged.revert or not judged.decision.allowed or change.created:
            return
        joined = None if change.group_id is None else change.action is Action.GRANT
        applied_record.accept_console_change(
            session,
            user_id=change.user_id,
            group_path=change.group_path,
            joined=joined,
            enabled=change.enabled,
            unit_root=ctx.units.group_root,
        )

    def _check_cursor(self, session: Session) -> None:
        """Lock the stored cursor and refuse to go on if someone else moved it since this watcher wrote it."""
        stored = lock_cursor(session, realm=self.realm, grace_ms=self.grace_ms)
        if self._stored is None or stored is None or stored.state() != self._stored.state():
            raise CursorMoved

    def _revert(self, change: ConsoleChange) -> None:
        """Put Keycloak back as it was before ``change`` (idempotent; an account gone needs nothing)."""
        try:
            if change.created:
                self.admin.put(f"users/{change.user_id}", {"enabled": False})
                self.admin.post(f"users/{change.user_id}/logout", {})
            elif change.action in (Action.LOCK, Action.UNLOCK):
                self.admin.put(f"users/{change.user_id}", {"enabled": change.action is Action.LOCK})
            elif change.action is Action.GRANT:
                self.admin.delete(f"users/{change.user_id}/groups/{change.group_id}")
            else:
                self.admin.put(f"users/{change.user_id}/groups/{change.group_id}", {})
        except NotFound:
            log.info("console change not reverted: the account or group is gone", extra={"user_id": change.user_id})

    def _renew(self) -> bool:
        """Hold the realm's lease: renewed in the store once a third of it has passed (asked after every page, a
        store transaction each time was a third of a following poll's time in bench/worker.py's profile)."""
        if self._renewed_at is not None and time.monotonic() - self._renewed_at < self.lease_s / 3:
            return True
        started = time.monotonic()
        held = leases.acquire(self.sessions, name=lease_name(self.realm), holder=self.holder, seconds=self.lease_s,
                              now=dt.datetime.now(dt.UTC))  # fmt: skip
        self._renewed_at = started if held else None
        return held

    def release(self) -> None:
        """Give the realm's lease back (another worker may take over at once)."""
        self._renewed_at = None
        leases.release(self.sessions, name=lease_name(self.realm), holder=self.holder)

    # --- the loop -------------------------------------------------------------------------------------------
    def watch(
        self, *, day: Callable[[], dt.date] = today_vn, interval_s: float = 1.0, stop: Callable[[], bool]
    ) -> None:
        """Poll under the realm's lease until ``stop()`` says so (a worker without the lease waits); Keycloak or
        the directory being away only delays the next poll."""

        def keep() -> bool:
            return not stop() and self._renew()

        try:
            while not stop():
                try:
                    if self._renew():
                        self.poll(day=day(), keep=keep)
                except TransientError as exc:
                    log.warning("console watcher poll failed; retrying", extra={"error": exc.message})
                deadline = time.monotonic() + interval_s
                while not stop() and time.monotonic() < deadline:
                    time.sleep(min(0.05, interval_s))
        finally:
            self.release()


def _verdict(change: ConsoleChange, judged: Judged, now: float) -> Verdict:
    lag = now - change.event_time_ms / 1000 if judged.revert else None
    return Verdict(change, judged.actor, judged.target, judged.decision, judged.revert, lag)
