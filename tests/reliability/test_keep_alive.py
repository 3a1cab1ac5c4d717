"""``bridge serve`` keeps an idle connection longer than its clients do (issue 17, item 4; docs/decisions/0820).

The 30-minute load ended with 38 ``httpx.ReadError``: uvicorn closes an idle keep-alive connection after its
``timeout_keep_alive`` (5 s by default) and httpx's pool reuses one for up to its ``keepalive_expiry`` (5 s by
default), so a request sent on a connection about 5 s idle could meet the server's close and get a reset. The
server's side is the bridge's (``api.keep_alive_s``, 75 s): a connection left idle past 5 s must be reused, not
reopened.
"""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest

from bridge.testbed.processes import bridge_process

pytestmark = pytest.mark.integration
IDLE_S = 7.0  # beyond uvicorn's default 5 s and httpx's default expiry


def _client_port(response: httpx.Response) -> int:
    return int(response.extensions["network_stream"].get_extra_info("client_addr")[1])


def test_an_idle_connection_outlives_the_clients_expiry(tmp_path: Path) -> None:
    env = {"BRIDGE_STORE__URL": f"sqlite:///{tmp_path / 'store.db'}", "BRIDGE_LOG_LEVEL": "WARNING"}
    with bridge_process("serve", env, log=tmp_path / "serve.log") as (_, base):
        limits = httpx.Limits(max_connections=1, keepalive_expiry=IDLE_S * 4)
        with httpx.Client(base_url=base, limits=limits, timeout=10) as client:
            first = client.get("/healthz")
            time.sleep(IDLE_S)
            second = client.get("/healthz")
            closed_by_server = _client_port(second) != _client_port(first)
    assert first.status_code == second.status_code == 200
    assert not closed_by_server, f"the server closed a connection idle {IDLE_S} s (its keep-alive is shorter)"
