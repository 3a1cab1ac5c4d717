"""Domain errors that carry their HTTP status and a stable code, mapped by one handler in the API and CLI.

Adapters translate library errors into :class:`TransientError` (retry) or :class:`PermanentError` (stop),
so the engine decides what to do without knowing which library failed.
"""

from __future__ import annotations


class BridgeError(Exception):
    """Base of every error the bridge raises on purpose."""

    status: int = 500
    code: str = "internal"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class InvalidInput(BridgeError):
    """Input that breaks a rule: a malformed file, an unknown unit, a wrong date."""

    status = 422
    code = "invalid-input"


class ConfigError(InvalidInput):
    """Configuration data (units.yaml, applications.yaml, realm.yaml) that cannot be applied."""

    code = "invalid-config"


class NotFound(BridgeError):
    """Something that does not exist, or that the caller may not see (both answer alike)."""

    status = 404
    code = "not-found"


class Forbidden(BridgeError):
    """A request outside the caller's scope."""

    status = 403
    code = "forbidden"


class Conflict(BridgeError):
    """A request that conflicts with the current state."""

    status = 409
    code = "conflict"


class TransientError(BridgeError):
    """A failure worth retrying later (timeouts, 5xx, connection refused)."""

    status = 503
    code = "transient"

    def __init__(self, message: str, *, delay: float = 1.0) -> None:
        super().__init__(message)
        self.delay = delay


class DirectoryUnavailable(TransientError):
    """The official mail directory cannot answer now; no decision is taken on an older answer instead."""

    status = 503
    code = "directory-unavailable"


class StoreUnavailable(TransientError):
    """The bridge's own store (PostgreSQL) cannot be written now: a run stops rather than act unrecorded."""

    status = 503
    code = "store-unavailable"


class PermanentError(BridgeError):
    """A failure that retrying cannot fix."""

    status = 502
    code = "permanent"


class SetupError(BridgeError):
    """The machine lacks something the bridge or its test bed needs (Java, a download, slapd)."""

    code = "setup"
