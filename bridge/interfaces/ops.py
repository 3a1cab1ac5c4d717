"""``/healthz``, ``/readyz`` and ``/metrics``: the same three endpoints on the API and on the worker.

``/healthz`` answers while the process lives; ``/readyz`` is 503 with the failing checks named when the store,
Keycloak or the directory cannot be used (a load balancer stops sending work, an orchestrator waits);
``/metrics`` is Prometheus' text format. None of them needs a token, and none says more than a dependency's
name, its state and a short reason.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.responses import JSONResponse, Response

from bridge.metrics import exposition
from bridge.services.health import Probe, readiness


def ops_router(probes: Mapping[str, Probe], *, process: str) -> APIRouter:
    """The three operational endpoints of a ``process`` (``api`` or ``worker``), ready when every probe is."""
    router = APIRouter(tags=["ops"])

    @router.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        return {"status": "ok", "process": process}

    @router.get("/readyz", include_in_schema=False)
    async def readyz() -> JSONResponse:
        checks = await readiness(probes)
        ready = all(c.ok for c in checks)
        body: dict[str, Any] = {
            "status": "ready" if ready else "not ready",
            "process": process,
            "checks": {c.name: {"ok": c.ok, "detail": c.detail, "ms": c.ms} for c in checks},
        }
        return JSONResponse(body, status_code=200 if ready else 503)

    @router.get("/metrics", include_in_schema=False)
    async def metrics() -> Response:
        payload, content_type = exposition()
        return Response(payload, media_type=content_type)

    return router


def ops_app(probes: Mapping[str, Probe], *, process: str) -> FastAPI:
    """A bare application serving only the three endpoints (the worker's)."""
    app = FastAPI(title=f"bridge {process}", docs_url=None, redoc_url=None, openapi_url=None)
    app.include_router(ops_router(probes, process=process))
    return app
