"""Fewer garbage collections while a sync run builds its state (decision 0912).

A full run at 100,000 people allocates millions of small objects that live to the end of the run (entries, the
desired state, the listed members, the record). CPython's cyclic collector runs every 700 allocations and, as the
long-lived objects grow, scans all of them again: 21 full collections and about 3.5 s of the bridge's 12 s of CPU
in a no-change full run, on the same two cores as Keycloak. Almost none of these objects are in reference
cycles (they are freed by reference counting), so during a run the youngest generation is collected every
50,000 allocations instead; the collector still runs, and the usual thresholds come back when the last run in the
process ends.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

#: Allocations between two collections of the youngest generation during a run (CPython's default is 700).
RUN_THRESHOLD = 50_000

_lock = threading.Lock()
_runs = 0
_saved: tuple[int, int, int] = gc.get_threshold()


@contextmanager
def fewer_collections() -> Iterator[None]:
    """Raise the youngest generation's threshold for the duration; runs may overlap (in threads or tasks): the
    thresholds the process had before the first one are restored when the last one ends."""
    global _runs, _saved
    with _lock:
        if _runs == 0:
            _saved = gc.get_threshold()
            gc.set_threshold(max(RUN_THRESHOLD, _saved[0]), _saved[1], _saved[2])
        _runs += 1
    try:
        yield
    finally:
        with _lock:
            _runs -= 1
            if _runs == 0:
                gc.set_threshold(*_saved)
