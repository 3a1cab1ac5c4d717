"""``bridge serve`` and ``bridge worker``: the two long-running processes of the bridge."""

from __future__ import annotations

from typing import Annotated

import typer
import uvicorn

from bridge.settings import get_settings


def serve(
    host: Annotated[str | None, typer.Option(help="Listen address (default: BRIDGE_API__HOST).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default: BRIDGE_API__PORT).")] = None,
    workers: Annotated[int | None, typer.Option(help="Processes (default: BRIDGE_API__WORKERS).")] = None,
) -> None:
    """Serve the API (and its /healthz, /readyz, /metrics) with uvicorn."""
    settings = get_settings()
    uvicorn.run(
        "bridge.interfaces.api.serving:served_app",
        factory=True,
        host=host or settings.api.host,
        port=port or settings.api.port,
        workers=workers or settings.api.workers,
        log_config=None,
        proxy_headers=True,
        timeout_keep_alive=settings.api.keep_alive_s,
    )


def worker() -> None:
    """Run the sync, the lock and grant scheduler, the console watcher and login ingestion until SIGTERM."""
    from bridge.interfaces.worker.main import main

    main(get_settings())
