"""The API's test hooks, set as FastAPI dependency overrides, never as attributes of the application.

Each override is an ``async`` function, as the dependency it replaces is, so a request takes the same path
through the event loop as in production.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

from fastapi import FastAPI
from sqlalchemy.orm import Session, sessionmaker

from bridge.interfaces.api.deps import ApiState, api_state, get_state, get_today


def fix_day(app: FastAPI, day: dt.date) -> None:
    """Decide every request of ``app`` on ``day`` instead of today."""

    async def on_day() -> dt.date:
        return day

    app.dependency_overrides[get_today] = on_day


def serve_store(app: FastAPI, factory: sessionmaker[Session]) -> None:
    """Point ``app`` at the store of ``factory``: its request sessions and its list pages."""
    state = dataclasses.replace(api_state(app), factory=factory)

    async def on_store() -> ApiState:
        return state

    app.dependency_overrides[get_state] = on_store
