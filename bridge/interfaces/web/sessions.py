"""Console sessions, kept on the server so they can be ended: by logout, by the idle timeout, or by Keycloak's
back-channel logout (docs/decisions/0610, 0612).

The browser holds only a random session id inside Starlette's signed session cookie; everything else (who, the
CSRF token, Keycloak's session id, the ID token for RP-initiated logout) stays on the server. Two stores share one
interface (``open``, ``touch``, ``end``, ``end_keycloak_session``): :class:`SessionStore` in the serving process
(one process: tests, a single worker) and :class:`StoreSessions` in the bridge's database, which ``bridge serve``
uses, so a back-channel logout handled by one uvicorn worker ends the session for all of them.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import delete, select
from sqlalchemy.orm import Session, sessionmaker

from bridge.adapters.store.console_models import ConsoleSessionRow
from bridge.adapters.store.session import transaction


@dataclass
class ConsoleSession:
    """One administrator logged in to the console."""

    id: str
    email: str
    #: Keycloak's session (``sid`` of the ID token): a back-channel logout names it.
    keycloak_sid: str | None
    id_token: str
    csrf: str
    last_seen: float


@dataclass
class SessionStore:
    """Sessions by id; one unused for ``idle_s`` seconds is gone."""

    idle_s: float = 900.0
    clock: Callable[[], float] = time.monotonic
    _sessions: dict[str, ConsoleSession] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def open(self, *, email: str, keycloak_sid: str | None, id_token: str) -> ConsoleSession:
        """A new session with its own CSRF token."""
        made = ConsoleSession(secrets.token_urlsafe(32), email, keycloak_sid, id_token, secrets.token_urlsafe(32),
                              self.clock())  # fmt: skip
        with self._lock:
            self._sessions[made.id] = made
        return made

    def touch(self, session_id: str) -> ConsoleSession | None:
        """The live session ``session_id``, its idle clock restarted; None when unknown, ended or idle too long."""
        now = self.clock()
        with self._lock:
            found = self._sessions.get(session_id)
            if found is None:
                return None
            if now - found.last_seen > self.idle_s:
                del self._sessions[session_id]
                return None
            found.last_seen = now
            return found

    def end(self, session_id: str) -> ConsoleSession | None:
        """End one session (logout); the ended session, if it was live."""
        with self._lock:
            return self._sessions.pop(session_id, None)

    def end_keycloak_session(self, *, keycloak_sid: str | None, email: str | None) -> int:
        """End the sessions of one Keycloak session (or, when Keycloak names none, of one person)."""
        with self._lock:
            gone = [
                s.id
                for s in self._sessions.values()
                if (keycloak_sid is not None and s.keycloak_sid == keycloak_sid)
                or (keycloak_sid is None and email is not None and s.email == email)
            ]
            for session_id in gone:
                del self._sessions[session_id]
        return len(gone)


def _hash(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


#: A page refreshes the row's idle clock at most this often (seconds): most clicks are one read, no write.
TOUCH_EVERY_S = 30.0


@dataclass
class StoreSessions(SessionStore):
    """Sessions in the store's ``console_sessions`` table (keyed by the id's sha256), shared by every worker."""

    factory: sessionmaker[Session] | None = None
    clock: Callable[[], float] = time.time

    def _factory(self) -> sessionmaker[Session]:
        assert self.factory is not None, "StoreSessions needs the store's session factory"
        return self.factory

    def open(self, *, email: str, keycloak_sid: str | None, id_token: str) -> ConsoleSession:
        made = ConsoleSession(secrets.token_urlsafe(32), email, keycloak_sid, id_token, secrets.token_urlsafe(32),
                              self.clock())  # fmt: skip
        with transaction(self._factory()) as session:
            session.execute(delete(ConsoleSessionRow).where(ConsoleSessionRow.last_seen < made.last_seen - self.idle_s))
            session.add(ConsoleSessionRow(id_hash=_hash(made.id), email=email, keycloak_sid=keycloak_sid,
                                          id_token=id_token, csrf=made.csrf, last_seen=made.last_seen))  # fmt: skip
        return made

    def touch(self, session_id: str) -> ConsoleSession | None:
        now = self.clock()
        with transaction(self._factory()) as session:
            row = session.get(ConsoleSessionRow, _hash(session_id))
            if row is None:
                return None
            if now - row.last_seen > self.idle_s:
                session.delete(row)
                return None
            if now - row.last_seen >= TOUCH_EVERY_S:
                row.last_seen = now
            return ConsoleSession(session_id, row.email, row.keycloak_sid, row.id_token, row.csrf, row.last_seen)

    def end(self, session_id: str) -> ConsoleSession | None:
        with transaction(self._factory()) as session:
            row = session.get(ConsoleSessionRow, _hash(session_id))
            if row is None:
                return None
            session.delete(row)
            return ConsoleSession(session_id, row.email, row.keycloak_sid, row.id_token, row.csrf, row.last_seen)

    def end_keycloak_session(self, *, keycloak_sid: str | None, email: str | None) -> int:
        if keycloak_sid is not None:
            where = ConsoleSessionRow.keycloak_sid == keycloak_sid
        elif email is not None:
            where = ConsoleSessionRow.email == email
        else:
            return 0
        with transaction(self._factory()) as session:
            gone = session.scalars(select(ConsoleSessionRow.id_hash).where(where)).all()
            session.execute(delete(ConsoleSessionRow).where(ConsoleSessionRow.id_hash.in_(gone)))
        return len(gone)
