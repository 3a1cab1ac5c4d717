"""``bridge serve`` and ``bridge worker`` as real processes, and what ``/proc`` says about them (issue 17).

The reliability tests and the load benchmark judge the bridge as deployed: the command line started with the
environment compose gives it, measured from outside (resident memory now and at its peak, open file
descriptors), so nothing the test process itself holds is counted.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from bridge.settings import PROJECT_ROOT


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _status_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    raise LookupError(f"{field} not in /proc/{pid}/status")


def rss_kib(pid: int) -> int:
    """Resident memory of ``pid`` now (KiB)."""
    return _status_kib(pid, "VmRSS")


def peak_rss_kib(pid: int) -> int:
    """The largest resident memory ``pid`` ever had (KiB, the kernel's high-water mark)."""
    return _status_kib(pid, "VmHWM")


def open_fds(pid: int) -> int:
    """File descriptors ``pid`` holds open."""
    return len(os.listdir(f"/proc/{pid}/fd"))


def process_tree(pid: int) -> list[int]:
    """``pid`` and its descendants now (uvicorn's supervisor and the worker processes it started)."""
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        try:
            for task in os.listdir(f"/proc/{current}/task"):
                todo += [int(c) for c in Path(f"/proc/{current}/task/{task}/children").read_text().split()]
        except FileNotFoundError:
            continue
    return found


def _wait_ready(url: str, process: subprocess.Popen[bytes], timeout_s: float, log: Path) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(
                f"{url}: the process exited ({process.returncode}); log {log}:\n{log.read_text()[-3000:]}"
            )
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise TimeoutError(f"{url} not ready in {timeout_s} s; log {log}")


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


@contextmanager
def bridge_process(
    command: str, env: dict[str, str], *, log: Path, health_path: str = "/healthz", timeout_s: float = 120,
    workers: int = 1,
) -> Iterator[tuple[subprocess.Popen[bytes], str]]:  # fmt: skip
    """``python -m bridge serve`` (``workers`` processes; with one, the process measured is the server) or
    ``… worker``, with ``env`` over this process's environment; yields the process and its HTTP base URL once
    healthy (with several workers, the process is uvicorn's supervisor: see :func:`process_tree`)."""
    port = free_port()
    # the project first; a directory ``env`` names (bench/load.py's memory probe) after it
    full = {
        **os.environ,
        **env,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(PROJECT_ROOT), env.get("PYTHONPATH")])),
    }
    if command == "serve":
        args = ["serve", "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)]
    else:
        args = [command]
        full |= {"BRIDGE_WORKER__HTTP_HOST": "127.0.0.1", "BRIDGE_WORKER__HTTP_PORT": str(port)}
    process = subprocess.Popen(
        [sys.executable, "-m", "bridge", *args], env=full, stdout=log.open("ab"), stderr=subprocess.STDOUT,
        cwd=PROJECT_ROOT, start_new_session=True,
    )  # fmt: skip
    try:
        base = f"http://127.0.0.1:{port}"
        _wait_ready(base + health_path, process, timeout_s, log)
        yield process, base
    finally:
        _stop(process)
