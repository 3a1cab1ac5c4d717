"""Structured logs: one JSON object per line, with the context, and never a secret."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from bridge.logs import REDACTED, configure_logging, log_context

TOKEN = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhbi5udiJ9.c2lnbmF0dXJl"


@pytest.fixture(autouse=True)
def _restore_root_logger() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:], root.level = handlers, level


def _lines(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_each_record_is_one_json_object_with_its_context() -> None:
    stream = io.StringIO()
    configure_logging("INFO", stream)
    log = logging.getLogger("bridge.test")
    with log_context(request_id="r-1", actor="an.nv@hanoi.vss.gov.vn", action="grant.request"):
        log.info("grant requested", extra={"grant_id": 7})
    log.info("outside")
    inside, outside = _lines(stream)
    assert inside["event"] == "grant requested"
    assert inside["request_id"] == "r-1" and inside["actor"] == "an.nv@hanoi.vss.gov.vn"
    assert inside["action"] == "grant.request" and inside["grant_id"] == 7 and inside["level"] == "info"
    assert "request_id" not in outside


def test_secrets_and_tokens_never_reach_a_line() -> None:
    stream = io.StringIO()
    configure_logging("INFO", stream)
    log = logging.getLogger("bridge.test")
    log.info("token refused: %s", TOKEN, extra={"client_secret": "s3cr3t", "detail": {"password": "pw", "x": TOKEN}})
    try:
        raise ValueError(f"bad bearer {TOKEN}")
    except ValueError:
        log.exception("failed")
    text = stream.getvalue()
    assert TOKEN not in text and "s3cr3t" not in text and '"pw"' not in text
    first, second = _lines(stream)
    assert first["client_secret"] == REDACTED and first["event"] == f"token refused: {REDACTED}"
    assert first["detail"] == {"password": REDACTED, "x": REDACTED}
    assert "ValueError" in str(second["error"])
