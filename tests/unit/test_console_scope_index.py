"""The console's scope index (decision 0640): kept for the directory TTL, then refreshed in the background while
the previous one still serves for half a TTL more; past that, read while the request waits, once for all.

Pure in-process behaviour of ``ui_views._directory_index``: a directory that counts its reads (and can be made
to hold a read until released), the module's clock replaced by a settable one.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Iterator, Sequence

import pytest

from bridge.adapters.directory.lookup import DirectoryPerson
from bridge.services import ui_views

TTL = 60.0
UNITS = frozenset({"01001"})


class CountingDirectory:
    """Answers ``in_units`` with the people it holds now, counting the reads; ``gate`` holds a read open."""

    def __init__(self) -> None:
        self.people = [DirectoryPerson("an.nv@hanoi.vss.gov.vn", "Nguyễn Văn An", "01001", True, "")]
        self.reads = 0
        self.gate = threading.Event()
        self.gate.set()

    def find(self, email: str) -> DirectoryPerson | None:
        return next((p for p in self.people if p.email == email), None)

    def in_units(self, unit_codes: Iterable[str]) -> Sequence[DirectoryPerson]:
        self.reads += 1
        assert self.gate.wait(10), "the test never released the read"
        codes = set(unit_codes)
        return [p for p in self.people if p.unit_code in codes]


class Ctx:
    def __init__(self, directory: CountingDirectory) -> None:
        self.directory = directory


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def monotonic(self) -> float:
        return self.now


@pytest.fixture()
def clock(monkeypatch: pytest.MonkeyPatch) -> Iterator[Clock]:
    fake = Clock()
    monkeypatch.setattr(ui_views, "time", fake)
    monkeypatch.setattr(ui_views, "_index_ttl_s", lambda: TTL)
    yield fake


def wait_for(condition: object, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, "the background refresh did not finish"
        time.sleep(0.01)


def emails(index: object) -> list[str]:
    return [p.email for p in index.people]  # type: ignore[attr-defined]


def test_an_index_serves_for_its_ttl_without_reading_the_directory(clock: Clock) -> None:
    directory = CountingDirectory()
    ctx = Ctx(directory)
    first = ui_views._directory_index(ctx, UNITS)  # type: ignore[arg-type]
    clock.now += TTL - 1
    assert ui_views._directory_index(ctx, UNITS) is first  # type: ignore[arg-type]
    assert directory.reads == 1


def test_after_the_ttl_the_old_index_serves_while_one_background_read_makes_the_new_one(clock: Clock) -> None:
    directory = CountingDirectory()
    ctx = Ctx(directory)
    old = ui_views._directory_index(ctx, UNITS)  # type: ignore[arg-type]
    directory.people.append(DirectoryPerson("binh.tt@hanoi.vss.gov.vn", "Trần Thị Bình", "01001", True, ""))
    directory.gate.clear()  # the directory is slow: the refresh stays open
    clock.now += TTL + 1
    assert ui_views._directory_index(ctx, UNITS) is old  # answered at once, from the previous index
    assert ui_views._directory_index(ctx, UNITS) is old  # and a second request starts no second read
    wait_for(lambda: directory.reads == 2)
    directory.gate.set()
    wait_for(lambda: len(emails(ui_views._directory_index(ctx, UNITS))) == 2)  # type: ignore[arg-type]
    assert directory.reads == 2


def test_past_ttl_and_grace_the_request_reads_the_directory_itself(clock: Clock) -> None:
    directory = CountingDirectory()
    ctx = Ctx(directory)
    ui_views._directory_index(ctx, UNITS)  # type: ignore[arg-type]
    directory.people = []  # everyone left
    clock.now += TTL * (1 + ui_views.INDEX_GRACE_SHARE) + 1
    assert emails(ui_views._directory_index(ctx, UNITS)) == []  # type: ignore[arg-type]
    assert directory.reads == 2


def test_a_failed_background_read_leaves_the_old_index_and_the_next_request_retries(clock: Clock) -> None:
    directory = CountingDirectory()
    ctx = Ctx(directory)
    old = ui_views._directory_index(ctx, UNITS)  # type: ignore[arg-type]

    def broken(unit_codes: Iterable[str]) -> Sequence[DirectoryPerson]:
        directory.reads += 1
        raise RuntimeError("directory down")

    directory.in_units = broken  # type: ignore[method-assign]
    clock.now += TTL + 1
    assert ui_views._directory_index(ctx, UNITS) is old
    wait_for(lambda: directory.reads == 2)
    time.sleep(0.05)  # the failed refresh releases its lock
    assert ui_views._directory_index(ctx, UNITS) is old  # still within the grace: a new background read
    wait_for(lambda: directory.reads == 3)
