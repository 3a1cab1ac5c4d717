"""Structured logs: one JSON object per line, carrying the request id, the actor and the action in hand.

Operations teams read the bridge's logs with a log shipper, not by eye: every line is a JSON object with a
time, a level, the logger, the event and whatever context the code in hand set (:func:`log_context`). Secrets
never reach a line: fields named like a secret are replaced, and anything shaped like a JWT is cut out of
every value, so a token pasted into an error message is not logged either.
"""

from __future__ import annotations

import contextlib
import contextvars
import datetime as dt
import json
import logging
import re
import sys
from collections.abc import Iterator
from typing import Any, TextIO

_CONTEXT: contextvars.ContextVar[dict[str, str]] = contextvars.ContextVar("bridge_log_context", default={})  # noqa: B039

#: Field names whose values are never written.
SECRET_FIELDS = re.compile(r"pass(word)?|secret|token|authori[sz]ation|cookie|credential", re.I)
#: A compact JWS/JWT (header.payload.signature, base64url), wherever it appears in a value.
JWT = re.compile(r"eyJ[\w-]{4,}\.[\w-]{4,}\.[\w-]*")
REDACTED = "[redacted]"

_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName", "color_message"}


def redact(value: Any) -> Any:
    """The value with every JWT-shaped part replaced, recursively through dicts and lists."""
    if isinstance(value, str):
        return JWT.sub(REDACTED, value)
    if isinstance(value, dict):
        return {k: REDACTED if SECRET_FIELDS.search(str(k)) else redact(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact(v) for v in value]
    return value


class JsonFormatter(logging.Formatter):
    """One JSON object per record: ts, level, logger, event, the context, the record's extra fields."""

    def format(self, record: logging.LogRecord) -> str:
        doc: dict[str, Any] = {
            "ts": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "event": record.getMessage(),
        }
        doc.update(_CONTEXT.get())
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                doc[key] = REDACTED if SECRET_FIELDS.search(key) else value
        if record.exc_info:
            doc["error"] = self.formatException(record.exc_info)
        return json.dumps(redact(doc), ensure_ascii=False, default=str)


def configure_logging(level: str = "INFO", stream: TextIO | None = None) -> None:
    """Send every logger (uvicorn's included) through one JSON handler on ``stream`` (default: stderr)."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        logger.handlers[:] = []
        logger.propagate = True
    for noisy in ("httpx", "httpcore", "urllib3"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


@contextlib.contextmanager
def log_context(**values: str | None) -> Iterator[None]:
    """Add ``values`` (request_id, actor, action, task …) to every line logged inside the block."""
    merged = {**_CONTEXT.get(), **{k: v for k, v in values.items() if v is not None}}
    token = _CONTEXT.set(merged)
    try:
        yield
    finally:
        _CONTEXT.reset(token)


def bind(**values: str | None) -> None:
    """Add ``values`` to the current context for the rest of the task (a request, a worker iteration)."""
    _CONTEXT.set({**_CONTEXT.get(), **{k: v for k, v in values.items() if v is not None}})
