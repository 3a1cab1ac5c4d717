"""The keep-alive race behind the load run's ``httpx.ReadError`` (issue 17, item 4; docs/decisions/0820).

uvicorn closes a connection idle for ``timeout_keep_alive`` (5 s by default); httpx's pool reuses an idle
connection for up to ``keepalive_expiry`` (5 s by default). A request sent on a connection idle for just under
5 s can reach the server as it closes: the client reads a reset (``ReadError``) or an empty answer
(``RemoteProtocolError``). This bench sends requests after idle gaps drawn around 5 s (4.9–5.1 s) on
``--clients`` one-connection clients, against three servers: both defaults, a server that keeps connections
75 s (the bridge's ``api.keep_alive_s``), and a client that expires them at 4 s. A minimal ASGI app, so only
the connection handling is measured. Result: ``bench/results/keep_alive.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import random
from pathlib import Path
from typing import Any

import httpx
import uvicorn

ROOT = Path(__file__).resolve().parents[1]
CASES = [("server 5 s, client 5 s (both defaults)", 5, 5.0), ("server 75 s, client 5 s (the bridge now)", 75, 5.0),
         ("server 5 s, client 4 s", 5, 4.0)]  # fmt: skip


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": b"ok"})


async def client(port: int, expiry: float, idles: list[float], out: dict[str, Any]) -> None:
    limits = httpx.Limits(max_connections=1, keepalive_expiry=expiry)
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", limits=limits) as http:
        await http.get("/")
        for idle in idles:
            await asyncio.sleep(idle)
            try:
                await http.get("/")
                out["ok"] += 1
            except httpx.HTTPError as exc:
                out["errors"][type(exc).__name__] = out["errors"].get(type(exc).__name__, 0) + 1


async def race(clients: int, rounds: int) -> dict[str, Any]:
    rng = random.Random(17)
    results: dict[str, Any] = {}
    servers, jobs = [], []
    for i, (name, keep, expiry) in enumerate(CASES):
        port = 18700 + i
        server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, timeout_keep_alive=keep,
                                               log_level="error", access_log=False))  # fmt: skip
        servers.append((server, asyncio.create_task(server.serve())))
        while not server.started:
            await asyncio.sleep(0.05)
        out = results[name] = {"server_keep_alive_s": keep, "client_keepalive_expiry_s": expiry, "ok": 0, "errors": {}}
        jobs += [client(port, expiry, [rng.uniform(4.9, 5.1) for _ in range(rounds)], out) for _ in range(clients)]
    await asyncio.gather(*jobs)
    for server, task in servers:
        server.should_exit = True
        await task
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=40)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "keep_alive.json")
    args = parser.parse_args()
    load_before = os.getloadavg()
    results = asyncio.run(race(args.clients, args.rounds))
    out = {"issue": 17, "measured_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
           "machine_load_before": load_before, "machine_load_after": os.getloadavg(),
           "requests_per_case": args.clients * args.rounds, "idle_gap_s": [4.9, 5.1], "cases": results}  # fmt: skip
    args.out.write_text(json.dumps(out, indent=2, ensure_ascii=False) + "\n")
    print(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
