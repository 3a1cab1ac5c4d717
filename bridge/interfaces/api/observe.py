"""Every API request observed: a request id, one JSON log line, and the request metrics.

A pure ASGI middleware (no per-request task or body copy, unlike Starlette's ``BaseHTTPMiddleware``), so the
list endpoints keep their latency. The request id comes from ``X-Request-ID`` when a proxy set one (kept only
if it looks like an id) and is returned in the response; every log line written while the request runs
carries it. The route label is the route's template (``/grants/{grant_id}``), never the raw path, so the
metrics cannot grow without bound.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bridge.logs import log_context
from bridge.metrics import HTTP_REQUESTS, HTTP_SECONDS

log = logging.getLogger("bridge.api.access")
_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
QUIET = frozenset({"/healthz", "/readyz", "/metrics"})


class ObserveRequests:
    """Request id, access log and metrics around the application."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        given = headers.get(b"x-request-id", b"").decode("latin-1")
        request_id = given if _ID.match(given) else uuid.uuid4().hex
        status = 500
        started = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-request-id", request_id.encode())]
            await send(message)

        with log_context(request_id=request_id):
            try:
                await self.app(scope, receive, send_with_id)
            finally:
                self._record(scope, status, time.perf_counter() - started)

    @staticmethod
    def _record(scope: Scope, status: int, seconds: float) -> None:
        route: Any = scope.get("route")
        template = getattr(route, "path", None) or "unmatched"
        HTTP_REQUESTS.labels(scope["method"], template, str(status)).inc()
        HTTP_SECONDS.labels(template).observe(seconds)
        if template in QUIET:
            return
        actor = (scope.get("state") or {}).get("actor")
        log.info(
            "%s %s %s",
            scope["method"],
            template,
            status,
            extra={
                "status": status,
                "ms": round(seconds * 1000, 1),
                "actor": actor,
                "action": f"{scope['method']} {template}",
            },
        )
