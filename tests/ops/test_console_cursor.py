"""The console watcher's cursor in a real store (SQLite and PostgreSQL): created once, read back exactly."""

from __future__ import annotations

from sqlalchemy.orm import Session, sessionmaker

from bridge.adapters.store.session import transaction
from bridge.services.console_cursor import lock_cursor, open_cursor, save_cursor
from tests.ops.test_leases import factory  # noqa: F401  (the SQLite / PostgreSQL store fixture)


def test_a_cursor_is_created_once_and_its_window_read_back_exactly(factory: sessionmaker[Session]) -> None:  # noqa: F811
    cursor = open_cursor(factory, realm="bhxh", start_ms=1_795_000_000_000, grace_ms=5_000)
    assert cursor.read_from == 1_795_000_000_000, "nothing before the start is new"
    assert not cursor.is_new("before", 1_794_999_999_999) and cursor.is_new("at-start", 1_795_000_000_000)
    cursor.advance("e1", 1_795_000_000_100)
    cursor.advance("e2", 1_795_000_000_100)
    cursor.advance("e3", 1_795_000_009_000)
    with transaction(factory) as session:
        assert lock_cursor(session, realm="bhxh", grace_ms=5_000) is not None
        save_cursor(session, cursor)
    again = open_cursor(factory, realm="bhxh", start_ms=0, grace_ms=5_000)
    assert again.state() == cursor.state() == (1_795_000_009_000, [["e3", 1_795_000_009_000]])
    with transaction(factory) as session:
        assert lock_cursor(session, realm="other") is None
