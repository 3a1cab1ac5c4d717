"""The console watcher's cursor: a window of judged event ids, so late commits and shared milliseconds count."""

from __future__ import annotations

from bridge.services.console_cursor import Cursor


def test_an_event_is_new_until_advanced_past() -> None:
    cursor = Cursor("bhxh", event_time=10_000, grace_ms=1_000)
    assert cursor.read_from == 9_000
    assert cursor.is_new("a", 10_500)
    cursor.advance("a", 10_500)
    assert not cursor.is_new("a", 10_500)
    assert cursor.event_time == 10_500


def test_events_sharing_a_millisecond_are_told_apart_by_id() -> None:
    cursor = Cursor("bhxh", event_time=0, grace_ms=1_000)
    cursor.advance("a", 5_000)
    assert cursor.is_new("b", 5_000)
    cursor.advance("b", 5_000)
    assert not cursor.is_new("a", 5_000) and not cursor.is_new("b", 5_000)


def test_an_event_committed_late_inside_the_window_is_still_new() -> None:
    cursor = Cursor("bhxh", event_time=0, grace_ms=2_000)
    cursor.advance("later", 10_000)
    assert cursor.is_new("earlier-but-committed-late", 9_000)
    assert not cursor.is_new("older-than-the-window", 7_999)


def test_the_window_forgets_ids_older_than_the_grace_and_the_state_is_stable() -> None:
    cursor = Cursor("bhxh", event_time=0, grace_ms=1_000)
    for key, at in (("a", 1_000), ("b", 1_500), ("c", 2_200), ("d", 2_100)):
        cursor.advance(key, at)
    assert cursor.event_time == 2_200
    assert cursor.state() == (2_200, [["b", 1_500], ["c", 2_200], ["d", 2_100]])
    copy = cursor.copy()
    copy.advance("e", 5_000)
    assert cursor.state() == (2_200, [["b", 1_500], ["c", 2_200], ["d", 2_100]])
