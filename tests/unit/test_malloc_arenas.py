"""The serving processes' malloc arenas are bounded as deployed (issue 17, item 4; docs/decisions/0830).

``bridge serve`` answers from a thread pool, and glibc's malloc gives threads arenas of their own, up to 8 per
core, each keeping freed memory; ``MALLOC_ARENA_MAX=2`` bounds them. These tests check that the bound is in the
image and in every long-running service of docker-compose.yml, that the load benchmark measures with it, and
that this machine's glibc obeys it: a process whose threads allocate at once gets more than 2 arenas without
it and at most 2 with it.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from bridge.settings import PROJECT_ROOT
from tests.compose_file import service_env

DEPLOYED = "2"

#: 16 threads allocate together, then the process counts its arenas (``malloc_info`` writes one <heap> each).
THREADS_ALLOCATE = r"""
import ctypes, re, threading
barrier = threading.Barrier(16)
def work():
    barrier.wait()
    kept = [bytearray(4096) for _ in range(2000)]
    barrier.wait()
threads = [threading.Thread(target=work) for _ in range(16)]
for t in threads: t.start()
for t in threads: t.join()
libc = ctypes.CDLL("libc.so.6")
buf, size = ctypes.c_char_p(), ctypes.c_size_t()
libc.open_memstream.restype = ctypes.c_void_p
stream = libc.open_memstream(ctypes.byref(buf), ctypes.byref(size))
libc.malloc_info(0, ctypes.c_void_p(stream))
libc.fclose(ctypes.c_void_p(stream))
print(len(re.findall(r"<heap nr=", ctypes.string_at(buf, size.value).decode())))
"""


def _arenas(arena_max: str | None) -> int:
    env = {k: v for k, v in os.environ.items() if k != "MALLOC_ARENA_MAX"}
    if arena_max is not None:
        env["MALLOC_ARENA_MAX"] = arena_max
    done = subprocess.run([sys.executable, "-c", THREADS_ALLOCATE], env=env, capture_output=True, text=True,
                          check=True, timeout=60)  # fmt: skip
    return int(done.stdout.strip())


def test_the_image_sets_malloc_arena_max() -> None:
    dockerfile = (PROJECT_ROOT / "Dockerfile").read_text(encoding="utf-8")
    assert re.search(rf"\bMALLOC_ARENA_MAX={DEPLOYED}\b", dockerfile), "Dockerfile: ENV MALLOC_ARENA_MAX=2"


def test_the_api_and_the_worker_run_with_malloc_arena_max() -> None:
    for service in ("bridge-api", "bridge-worker"):
        assert service_env(service).get("MALLOC_ARENA_MAX") == DEPLOYED, service


def test_the_load_benchmark_measures_as_deployed() -> None:
    load = (PROJECT_ROOT / "bench" / "load.py").read_text(encoding="utf-8")
    assert re.search(rf"^DEPLOYED_ARENA_MAX = {DEPLOYED}$", load, re.MULTILINE), "bench/load.py's default"
    assert Path(PROJECT_ROOT / "bench" / "memhook" / "sitecustomize.py").is_file()


def test_this_glibc_bounds_the_arenas_of_allocating_threads() -> None:
    unbounded = _arenas(None)
    bounded = _arenas(DEPLOYED)
    assert unbounded > int(DEPLOYED), f"16 allocating threads got only {unbounded} arenas without the bound"
    assert 1 <= bounded <= int(DEPLOYED), f"MALLOC_ARENA_MAX=2 gave {bounded} arenas"
