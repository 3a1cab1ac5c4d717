"""The application as ``bridge serve`` starts it in each uvicorn process: JSON logs first, then the app."""

from __future__ import annotations

from fastapi import FastAPI

from bridge.interfaces.api.app import create_app
from bridge.logs import configure_logging
from bridge.settings import get_settings


def served_app() -> FastAPI:
    """uvicorn's factory (``bridge.interfaces.api.serving:served_app``)."""
    configure_logging(get_settings().log_level)
    return create_app()
