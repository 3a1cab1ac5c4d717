"""Console sessions, kept on the server so they can be ended: by logout, by the idle timeout, or by Keycloak's
back-channel logout (docs/decisions/0610).

The browser holds only a random session id inside Starlette's signed session cookie; everything else (who, the
CSRF token, Keycloak's session id, the ID token for RP-initiated logout) stays here. The store lives in the
``bridge serve`` process: ending a session is immediate and needs no database round trip per page.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field


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
