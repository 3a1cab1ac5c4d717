"""The lookup's cache without a server: answers die at the TTL, the bound holds, older reads never win."""

from __future__ import annotations

import threading
import time
import unicodedata

import pytest

from bridge.adapters.directory.cache import LookupCache
from bridge.adapters.directory.ldap import (
    DirectoryEntry,
    DirectoryRead,
    RejectedEntry,
    _FairSlots,
    answers_of,
    parse_entry,
)
from bridge.adapters.directory.lookup import DirectoryPerson


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def person(n: int, unit: str = "01001") -> DirectoryPerson:
    return DirectoryPerson(f"p{n}@hanoi.vss.gov.vn", f"Nguyễn Văn {n}", unit, title="Chuyên viên")


def entry(mail: str, unit: str = "01001", dn: str = "") -> DirectoryEntry:
    return DirectoryEntry(dn or f"uid={mail}", mail, mail, "Trần Thị Hà", unit, "Chuyên viên", "BH1")


@pytest.fixture()
def clock() -> Clock:
    return Clock()


@pytest.fixture()
def cache(clock: Clock) -> LookupCache:
    return LookupCache(max_entries=5, ttl_s=60, clock=clock)


def test_an_answer_serves_until_the_ttl_and_never_at_or_after_it(cache: LookupCache, clock: Clock) -> None:
    a = person(1)
    assert cache.get(a.email) is None
    cache.put(a.email, a, read_at=clock.now)
    clock.now += 59.999
    hit = cache.get(a.email)
    assert hit is not None and hit.person == a
    clock.now += 0.001
    assert cache.get(a.email) is None
    assert len(cache) == 0  # the dead answer is gone, not kept for an outage


def test_age_counts_from_before_the_read(cache: LookupCache, clock: Clock) -> None:
    a = person(1)
    cache.put(a.email, a, read_at=clock.now - 59.5)  # a read that took 59.5 s
    assert cache.get(a.email) is not None
    clock.now += 0.5
    assert cache.get(a.email) is None


def test_nobody_is_an_answer_too(cache: LookupCache, clock: Clock) -> None:
    cache.put("ghost@vss.gov.vn", None, read_at=clock.now)
    hit = cache.get("ghost@vss.gov.vn")
    assert hit is not None and hit.person is None
    clock.now += 60
    assert cache.get("ghost@vss.gov.vn") is None


def test_an_older_read_never_overwrites_a_younger_answer(cache: LookupCache, clock: Clock) -> None:
    moved = person(1, unit="79001")
    cache.put(moved.email, moved, read_at=clock.now)
    cache.put(moved.email, person(1), read_at=clock.now - 5)  # a sync read that started before
    cache.prime([person(1)], read_at=clock.now - 5, complete=True)
    hit = cache.get(moved.email)
    assert hit is not None and hit.person == moved


def test_the_bound_drops_the_least_recently_used(cache: LookupCache, clock: Clock) -> None:
    people = [person(n) for n in range(8)]
    for p in people[:5]:
        cache.put(p.email, p, read_at=clock.now)
    assert cache.get(people[0].email) is not None  # used: now the most recent
    for p in people[5:]:
        cache.put(p.email, p, read_at=clock.now)
    assert len(cache) == 5
    kept = {p.email for p in people if cache.get(p.email) is not None}
    assert kept == {people[0].email, *(p.email for p in people[5:]), people[4].email}


def test_units_are_served_while_every_member_is_fresh(cache: LookupCache, clock: Clock) -> None:
    a, b, c = person(1), person(2), person(3, unit="79001")
    cache.put_units(["01001", "79001", "00012"], [a, b, c], read_at=clock.now)
    found, missing = cache.members(["01001", "00012", "01002"])
    assert sorted(p.email for p in found) == [a.email, b.email]
    assert missing == {"01002"}  # never asked; 00012 is known to be empty
    clock.now += 30
    cache.put(b.email, person(2, unit="79001"), read_at=clock.now)  # b moved: 01001's list is out of date
    found, missing = cache.members(["01001", "79001"])
    assert missing == {"01001"} and [p.email for p in found] == [c.email]
    clock.now += 30
    assert cache.members(["79001"]) == ([], {"79001"})


def test_a_unit_whose_member_was_dropped_is_read_again(clock: Clock) -> None:
    cache = LookupCache(max_entries=3, ttl_s=60, clock=clock)
    cache.put_units(["01001"], [person(n) for n in range(3)], read_at=clock.now)
    assert cache.members(["01001"])[1] == set()
    cache.put("x@vss.gov.vn", None, read_at=clock.now)  # the bound drops a member's answer
    assert cache.members(["01001"])[1] == {"01001"}


def test_unit_lists_are_bounded_too(clock: Clock) -> None:
    cache = LookupCache(max_entries=4, ttl_s=60, clock=clock)
    cache.put_units(["01001"], [person(n) for n in range(3)], read_at=clock.now)
    cache.put_units(["79001"], [person(n, unit="79001") for n in range(3, 6)], read_at=clock.now)
    assert len(cache) == 4
    assert cache.members(["01001"])[1] == {"01001"}


def test_a_complete_read_tells_who_left_and_empties_units(cache: LookupCache, clock: Clock) -> None:
    a, b = person(1), person(2)
    cache.put_units(["01001"], [a, b], read_at=clock.now)
    clock.now += 1
    cache.prime([a], unusable={"bad@vss.gov.vn"}, read_at=clock.now, complete=False)
    assert cache.get(b.email) is not None  # a partial read says nothing about who is missing from it
    cache.prime([person(1, unit="79001")], unusable={"bad@vss.gov.vn"}, read_at=clock.now, complete=True)
    left = cache.get(b.email)
    assert left is not None and left.person is None
    bad = cache.get("bad@vss.gov.vn")
    assert bad is not None and bad.person is None
    assert cache.members(["01001"]) == ([], set())
    found, _ = cache.members(["79001"])
    assert [p.email for p in found] == [a.email]


def test_forget_and_clear(cache: LookupCache, clock: Clock) -> None:
    cache.put_units(["01001"], [person(1), person(2)], read_at=clock.now)
    cache.forget(person(1).email)
    assert cache.get(person(1).email) is None and cache.members(["01001"])[1] == {"01001"}
    cache.clear()
    assert len(cache) == 0


def test_threads_share_one_bounded_cache(clock: Clock) -> None:
    cache = LookupCache(max_entries=100, ttl_s=60, clock=clock)
    errors: list[BaseException] = []

    def work(offset: int) -> None:
        try:
            for n in range(offset, offset + 2000):
                p = person(n, unit=f"{n % 7:05d}")
                cache.put(p.email, p, read_at=clock.now)
                cache.get(person(n - 1).email)
                if n % 50 == 0:
                    cache.put_units([p.unit_code], [p], read_at=clock.now)
                    cache.members([p.unit_code])
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(k * 10_000,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and len(cache) == 100


def test_bad_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="max_entries"):
        LookupCache(max_entries=0, ttl_s=60)
    with pytest.raises(ValueError, match="ttl_s"):
        LookupCache(max_entries=10, ttl_s=0)


def test_answers_follow_the_sync_rules() -> None:
    read = DirectoryRead(
        entries=[entry("a@vss.gov.vn"), entry("dup@vss.gov.vn", dn="uid=1"), entry("dup@vss.gov.vn", dn="uid=2")],
        rejected=[RejectedEntry("uid=3", "no departmentNumber (unit code)", "nounit@vss.gov.vn")],
    )
    people, unusable = answers_of(read)
    assert [(p.email, p.full_name, p.unit_code, p.active, p.title) for p in people] == [
        ("a@vss.gov.vn", "Trần Thị Hà", "01001", True, "Chuyên viên")
    ]
    assert unusable == {"dup@vss.gov.vn", "nounit@vss.gov.vn"}


def test_entries_are_read_as_the_sync_reads_them() -> None:
    nfd = unicodedata.normalize("NFD", "Trần Thị Hà")
    assert nfd != "Trần Thị Hà"
    parsed = parse_entry(
        "uid=x",
        {"mail": [b"Ha.TT@HaNoi.vss.gov.vn"], "displayName": [nfd.encode()], "departmentNumber": [b"01001"]},
    )
    assert isinstance(parsed, DirectoryEntry)
    assert parsed.mail == "ha.tt@hanoi.vss.gov.vn" and parsed.display_name == "Trần Thị Hà"


def test_connection_slots_go_to_waiters_in_arrival_order() -> None:
    slots = _FairSlots(1)
    assert slots.acquire(timeout=1)
    assert not slots.acquire(timeout=0.01)  # none free: the wait ends without a slot
    order: list[str] = []

    def wait(name: str) -> None:
        assert slots.acquire(timeout=5)
        order.append(name)
        slots.release()

    waiters = []
    for name in ("first", "second", "third"):
        waiters.append(threading.Thread(target=wait, args=(name,)))
        waiters[-1].start()
        while len(slots._waiters) < len(waiters):
            time.sleep(0.001)
    slots.release()
    for t in waiters:
        t.join()
    assert order == ["first", "second", "third"]
    assert slots.acquire(timeout=0)  # every slot came back
