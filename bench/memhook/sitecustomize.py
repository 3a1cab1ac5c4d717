"""Bench-only hook (``bench/load.py --memory-probe``): lets the load benchmark ask a serving process what its memory
is made of, from outside, without any code in the bridge.

``bench/load.py`` puts this directory on the ``PYTHONPATH`` of ``bridge serve``; Python imports
``sitecustomize`` at start-up in uvicorn's supervisor and in every worker process it spawns. On ``SIGUSR1`` the
process writes one JSON line to ``$BRIDGE_MEMPROBE_DIR/<pid>.jsonl``: glibc's ``mallinfo2()`` (bytes in use and
free inside malloc's arenas, and in mmap'd blocks), the number of malloc arenas (``malloc_info``), the process's
threads, and — when ``BRIDGE_MEMPROBE_TRACE`` names a number of frames — the memory Python's own allocations
hold (``tracemalloc.get_traced_memory``), and a snapshot dumped beside it. Tracing starts at the first probe,
not at start-up: tracing every import made ``bridge serve`` miss its 120 s readiness deadline here.
So RSS growth can be split between Python objects (traced), glibc holding freed memory (``fordblks``) and
arenas of new threads.
"""

from __future__ import annotations

import ctypes
import json
import os
import re
import signal
import threading
import time
import tracemalloc
from typing import Any

_DIR = os.environ.get("BRIDGE_MEMPROBE_DIR")
_TRACE = int(os.environ.get("BRIDGE_MEMPROBE_TRACE") or 0)


class _Mallinfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in
                ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks",
                 "keepcost")]  # fmt: skip


def _malloc() -> dict[str, Any]:
    libc = ctypes.CDLL("libc.so.6")
    libc.mallinfo2.restype = _Mallinfo2
    info = libc.mallinfo2()
    out: dict[str, Any] = {name: int(getattr(info, name)) for name, _ in _Mallinfo2._fields_}
    # malloc_info writes XML with one <heap nr=...> per arena to a FILE*: an in-memory stream
    buf, size = ctypes.c_char_p(), ctypes.c_size_t()
    libc.open_memstream.restype = ctypes.c_void_p
    stream = libc.open_memstream(ctypes.byref(buf), ctypes.byref(size))
    libc.malloc_info(0, ctypes.c_void_p(stream))
    libc.fclose(ctypes.c_void_p(stream))
    xml = ctypes.string_at(buf, size.value).decode()
    libc.free(buf)
    out["arenas"] = len(re.findall(r"<heap nr=", xml))
    return out


def _probe(*_: Any) -> None:
    assert _DIR is not None
    pid = os.getpid()
    line: dict[str, Any] = {"pid": pid, "wall": round(time.time(), 1), "threads": threading.active_count(),
                            "malloc": _malloc()}  # fmt: skip
    if _TRACE and not tracemalloc.is_tracing():
        tracemalloc.start(_TRACE)  # the first probe: what is allocated from now on is traced
    elif tracemalloc.is_tracing():
        current, peak = tracemalloc.get_traced_memory()
        line["traced"] = {"current": current, "peak": peak, "overhead": tracemalloc.get_tracemalloc_memory()}
        path = os.path.join(_DIR, f"{pid}-{int(time.time())}.tracemalloc")
        tracemalloc.take_snapshot().dump(path)
        line["snapshot"] = path
    with open(os.path.join(_DIR, f"{pid}.jsonl"), "a") as out:
        out.write(json.dumps(line) + "\n")


if _DIR:
    signal.signal(signal.SIGUSR1, _probe)
