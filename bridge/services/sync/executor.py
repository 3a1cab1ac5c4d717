"""Apply a plan to Keycloak: async, bounded concurrency, idempotent, retried, and recorded as it goes.

Every operation is safe to apply twice: the import lookup finds an existing user, group joins and ``enabled``
are PUTs, leaving a group one is not in is a 404 taken as done, and a 409 means "it exists: look it up". So a
run killed half-way is simply run again. Transient failures (5xx, connection) are retried with exponential
backoff; a permanent one fails that operation only. Applied operations are written to the store (and the audit
ledger) in batches from a worker thread while the next requests are in flight: a kill loses at most the
last unflushed batch of records, never a Keycloak change the rerun could not redo. A store that stops
answering (a PostgreSQL restart) pauses the run: no new person is started while the batch is retried, for up
to 31.5 s; then the run stops and fails, so it never goes on changing Keycloak unrecorded.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import random
from collections.abc import Awaitable, Callable, Sequence
from contextlib import suppress
from dataclasses import dataclass
from functools import partial
from typing import TypeVar

from bridge.adapters.directory.lookup import normalise_email
from bridge.adapters.keycloak.admin import KeycloakAdmin
from bridge.adapters.keycloak.users import afind_user_ids
from bridge.domain.sync.planner import Operation, OpKind, Reason
from bridge.errors import BridgeError, Conflict, NotFound, PermanentError, TransientError

MAX_ATTEMPTS = 5
BASE_DELAY_S = 0.5
FLUSH_EVERY_S = 0.5
FLUSH_BATCH = 500
#: Waits between attempts to record a batch the store refused with a transient error (a PostgreSQL restart):
#: meanwhile no new person's operations start; after the last the run stops (docs/decisions/0805).
RECORD_RETRY_S = (0.5, 1.0, 2.0, 4.0, 8.0, 16.0)
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class OpResult:
    """What happened to one operation."""

    op: Operation
    applied: bool
    user_id: str | None
    error: str | None
    at: dt.datetime
    writes: int


Recorder = Callable[[Sequence[OpResult]], None]


class Executor:
    """Applies operations through one :class:`KeycloakAdmin`, at most ``concurrency`` requests in flight."""

    def __init__(
        self, admin: KeycloakAdmin, *, group_ids: dict[str, str], concurrency: int, verify_leavers: bool = False
    ) -> None:
        self.admin = admin
        self.group_ids = group_ids
        #: Read a leaver's account before disabling it and refuse when its mail is not the leaver's: set when
        #: the plan came from the applied record, which must never cause a wrong disable (decision 0900).
        self.verify_leavers = verify_leavers
        self.concurrency = max(1, concurrency)
        #: Results of the last run that were applied but could not be recorded (the store went away).
        self.unrecorded: list[OpResult] = []
        self._gate = asyncio.Semaphore(self.concurrency)
        #: Operations finished (applied or failed) by the last :meth:`run`.
        self.finished = 0

    async def _retry(self, what: str, call: Callable[[], Awaitable[T]]) -> T:
        """Run one request, retrying transient failures with backoff and jitter."""
        for attempt in range(1, MAX_ATTEMPTS + 1):
            try:
                async with self._gate:
                    return await call()
            except TransientError as exc:
                if attempt == MAX_ATTEMPTS:
                    raise
                delay = max(exc.delay, BASE_DELAY_S) * 2 ** (attempt - 1)
                await asyncio.sleep(delay * (0.5 + random.random()))  # noqa: S311 - jitter, not security
        raise TransientError(f"{what}: retries exhausted")  # pragma: no cover

    def _group(self, path: str) -> str:
        group_id = self.group_ids.get(path)
        if group_id is None:
            raise PermanentError(f"group {path} does not exist in Keycloak: run `bridge keycloak apply`")
        return group_id

    async def _lookup(self, mail: str) -> str:
        """The import lookup: Keycloak finds the person locally or imports them from the directory."""
        ids = await self._retry("lookup", lambda: afind_user_ids(self.admin, mail))
        if not ids:
            raise PermanentError(f"{mail} is not found through the directory federation")
        return ids[0]

    async def apply(self, op: Operation) -> OpResult:
        """Apply one operation; never raises (the result says what happened)."""
        before = self.admin.calls.writes
        user_id = op.user_id
        try:
            if op.kind is OpKind.ENSURE:
                user_id = await self._ensure(op)
            elif op.kind is OpKind.MOVE:
                assert user_id is not None
                await self._move(op, user_id)
            else:
                assert user_id is not None
                if self.verify_leavers and op.kind is OpKind.DISABLE and op.reason is Reason.LEAVER:
                    await self._verify(op, user_id)
                body = {"enabled": op.kind is OpKind.ENABLE}
                await self._retry("enabled", lambda: self.admin.aput(f"users/{user_id}", body))
        except BridgeError as exc:
            return OpResult(
                op,
                False,
                user_id,
                f"{exc.code}: {exc.message}"[:500],
                _now(),
                self.admin.calls.writes - before,
            )
        return OpResult(op, True, user_id, None, _now(), self.admin.calls.writes - before)

    async def _verify(self, op: Operation, user_id: str) -> None:
        """Refuse to disable ``user_id`` unless Keycloak holds it under the leaver's mail."""
        user = await self._retry("verify", lambda: self.admin.aget(f"users/{user_id}", briefRepresentation="true"))
        mail = normalise_email(str((user or {}).get("email") or ""))
        if mail != op.mail:
            raise PermanentError(
                f"applied record names {user_id} for {op.mail}, Keycloak says {mail or 'no mail'}: not disabled; "
                "the next full run repairs the record / bản ghi sai, chưa khóa"
            )

    async def _ensure(self, op: Operation) -> str:
        user_id = op.user_id  # known already when a bulk import ran (bridge.services.sync.bulk)
        if user_id is None:
            try:
                user_id = await self._lookup(op.mail)
            except Conflict:
                user_id = await self._lookup(op.mail)
        if op.group_path:
            group_id = self._group(op.group_path)
            await self._retry("join", lambda: self.admin.aput(f"users/{user_id}/groups/{group_id}", {}))
        if not op.enabled:
            await self._retry("disable", lambda: self.admin.aput(f"users/{user_id}", {"enabled": False}))
        return user_id

    async def _move(self, op: Operation, user_id: str) -> None:
        if op.group_path:
            group_id = self._group(op.group_path)
            await self._retry("join", lambda: self.admin.aput(f"users/{user_id}/groups/{group_id}", {}))
        for path in op.leave_groups:
            old = self.group_ids.get(path)
            if old is None:
                continue
            leave_path = f"users/{user_id}/groups/{old}"
            with suppress(NotFound):  # already left: idempotent
                await self._retry("leave", partial(self.admin.adelete, leave_path))

    async def run(
        self,
        ops: Sequence[Operation],
        *,
        recorder: Recorder,
        progress: Callable[[OpResult], None] | None = None,
        stop: asyncio.Event | None = None,
        keep: Callable[[OpResult], bool] | None = None,
    ) -> list[OpResult]:
        """Apply every operation; results are handed to ``recorder`` in batches from a worker thread.

        When ``stop`` is set (a worker shutting down), no new person's operations start; those in flight finish
        and are recorded, so nothing applied goes unrecorded. The next run plans what is left. Only the results
        ``keep`` accepts are returned (default: all); :attr:`finished` counts every one, so a run of 100,000
        people need not hold 100,000 results once they are recorded (issue 16).
        """
        results: list[OpResult] = []
        self.finished = 0
        pending: list[OpResult] = []
        flushing: list[asyncio.Task[None]] = []
        #: Batches handed to the recorder's thread: awaited before returning even when the task that handed one
        #: over (the ticker) is cancelled mid-way, so a run never ends before its last batch is recorded.
        recording: list[asyncio.Future[None]] = []

        #: Open while batches are recorded; closed while the store does not answer (no new person's operations
        #: start), and set for good with ``unrecorded`` when it did not come back: the run then stops.
        recordable, unrecorded = asyncio.Event(), asyncio.Event()
        recordable.set()

        self.unrecorded = []

        async def record(batch: list[OpResult]) -> None:
            # once the store stayed away, the last batches get one attempt each
            for wait in (*RECORD_RETRY_S, None) if not unrecorded.is_set() else (None,):
                try:
                    await asyncio.to_thread(recorder, batch)
                    recordable.set()
                    return
                except TransientError:
                    if wait is None:
                        self.unrecorded.extend(batch)
                        unrecorded.set()
                        recordable.set()
                        raise
                    recordable.clear()
                    await asyncio.sleep(wait)

        async def flush() -> None:
            batch = pending[:]
            pending.clear()
            if batch:
                written = asyncio.ensure_future(record(batch))
                written.add_done_callback(lambda f: unrecorded.set() if f.cancelled() or f.exception() else None)
                recording.append(written)
                await asyncio.shield(written)

        async def one(op: Operation) -> None:
            result = await self.apply(op)
            self.finished += 1
            if keep is None or keep(result):
                results.append(result)
            pending.append(result)
            if progress is not None:
                progress(result)
            if len(pending) >= FLUSH_BATCH:
                flushing.append(asyncio.create_task(flush()))

        async def ticker() -> None:
            while True:
                await asyncio.sleep(FLUSH_EVERY_S)
                with suppress(TransientError):  # the failure stays in ``recording``; the run raises it at the end
                    await flush()

        tick = asyncio.create_task(ticker())
        try:
            # Operations on one user must not race each other: group them by mail, run groups concurrently.
            by_mail: dict[str, list[Operation]] = {}
            for op in ops:
                by_mail.setdefault(op.mail, []).append(op)

            # A fixed set of workers takes the chains one after another from a shared iterator: one task per
            # chain held 100,000 waiting tasks in memory at an initial load (743 MB peak; decision 0207).
            chains = iter(by_mail.values())

            async def worker() -> None:
                for chain_ops in chains:
                    await recordable.wait()
                    if (stop is not None and stop.is_set()) or unrecorded.is_set():
                        return
                    for op in chain_ops:
                        await one(op)

            await asyncio.gather(*(worker() for _ in range(self.concurrency)))
        finally:
            tick.cancel()
            await asyncio.gather(*flushing, return_exceptions=True)
            with suppress(Exception):  # its failure is in ``recording``, raised just below
                await flush()
            await asyncio.gather(*recording)  # a recording failure fails the run
        return results


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)
