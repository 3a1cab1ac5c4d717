"""Free loopback ports and readiness waits shared by the test-bed servers."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable

from bridge.errors import SetupError


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until(check: Callable[[], bool], *, timeout: float, what: str, alive: Callable[[], bool]) -> None:
    """Poll ``check`` until it holds; fail fast if the process died, with ``what`` in the message."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not alive():
            raise SetupError(f"{what} exited before it was ready")
        try:
            if check():
                return
        except OSError:
            pass
        time.sleep(0.3)
    raise SetupError(f"{what} was not ready after {timeout:.0f} s")


def stop_group(process: subprocess.Popen[bytes], *, timeout: float) -> None:
    """Stop a server started with ``start_new_session=True`` and every process it spawned (kc.sh → java)."""
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
    except ProcessLookupError:
        pass
