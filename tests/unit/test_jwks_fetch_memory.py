"""JWKS fetches reuse one HTTP client, so each refresh leaves no memory behind (issue 17, item 4; decision 0830).

``bridge serve`` reads the realm's keys again every ``governance.jwks_cache_s`` (300 s). With a new httpx client
per fetch, every fetch built a TLS context from the whole CA bundle, and the serving processes' RSS rose by
about a megabyte at each one: the steps of the 30-minute load run's creep, 300 s apart. The key server here is
the test bed's stand-in issuer, real HTTP on loopback.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time

import httpx
import pytest

from bridge.interfaces.api.auth import TokenValidator
from bridge.settings import PROJECT_ROOT
from bridge.testbed.local_issuer import LocalIssuer

FETCHES = 40


def _fetch_from_a_new_thread(validator: TokenValidator) -> None:
    """One JWKS fetch, from a thread of its own as the API's thread pool makes them."""
    validator._fetched_at = 0.0  # stale: the next call reads the JWKS again
    thread = threading.Thread(target=validator.refresh)
    thread.start()
    thread.join()


def test_every_jwks_fetch_goes_through_one_client(monkeypatch: pytest.MonkeyPatch) -> None:
    made: list[httpx.Client] = []
    original = httpx.Client.__init__

    def counting(self: httpx.Client, *args: object, **kwargs: object) -> None:
        made.append(self)
        original(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(httpx.Client, "__init__", counting)
    issuer = LocalIssuer().start()
    try:
        validator = issuer.validator()
        fetched = []
        for _ in range(FETCHES):
            _fetch_from_a_new_thread(validator)
            fetched.append(validator._fetched_at)
        assert len(set(fetched)) == FETCHES, "every call read the JWKS again"
        assert validator.key_set().keys, "the realm's key was read"
        assert len(made) == 1, f"{len(made)} HTTP clients for {FETCHES} JWKS fetches"
    finally:
        issuer.stop()


#: In a process of its own: RSS (MiB) after one JWKS fetch, then after FETCHES more, each from a new thread.
RSS_AFTER_FETCHES = f"""
import threading
from bridge.testbed.local_issuer import LocalIssuer
from tests.unit.test_jwks_fetch_memory import _fetch_from_a_new_thread

def rss():
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024

issuer = LocalIssuer().start()
validator = issuer.validator()
_fetch_from_a_new_thread(validator)
before = rss()
for _ in range({FETCHES}):
    _fetch_from_a_new_thread(validator)
print(round(rss() - before, 2))
issuer.stop()
"""


def test_jwks_fetches_leave_no_memory_behind() -> None:
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-c", RSS_AFTER_FETCHES], cwd=PROJECT_ROOT, capture_output=True,
                          text=True, check=True, timeout=120)  # fmt: skip
    grown_mib = float(done.stdout.strip().splitlines()[-1])
    # a client per fetch grew RSS by 8-13 MiB over 40 fetches on this machine; one client, by about 1 MiB
    assert grown_mib < 4.0, f"RSS grew {grown_mib} MiB over {FETCHES} JWKS fetches"
    assert time.monotonic() - started < 120
