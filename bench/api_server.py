"""The API as the benchmark serves it: the real application, plus a bare baseline route for comparison.

``/baseline/grants`` returns the same rows as a province administrator's ``GET /grants`` — same query, same
serialisation — without token validation, the administrator lookup or the scope policy, so the benchmark can
say what governance costs. Started by ``bench/api.py`` with ``uvicorn --factory api_server:create``.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import FastAPI
from sqlalchemy import select

from bridge.adapters.store.models import Grant
from bridge.interfaces.api.app import create_app
from bridge.interfaces.api.deps import api_state
from bridge.interfaces.api.rows import json_rows
from bridge.interfaces.api.schemas import GrantPublic


def create() -> FastAPI:
    """The governance API with the baseline route added."""
    app = create_app()
    state = api_state(app)
    tree = state.units
    today = dt.date.today()

    def codes_under(province: str) -> list[str]:
        return sorted(c for c in tree.on(today) if tree.is_under(c, province, today))

    cache: dict[str, list[str]] = {}

    @app.get("/baseline/grants", response_model=list[GrantPublic], include_in_schema=False)
    async def baseline_grants(province: str, limit: int = 100) -> Any:
        codes = cache.get(province)
        if codes is None:
            codes = cache[province] = codes_under(province)
        with state.pages() as session:  # on the event loop, as the governed list pages are (0107)
            query = select(*Grant.__table__.c).where(Grant.unit_code.in_(codes), Grant.revoked_at.is_(None))
            return json_rows(GrantPublic, session.execute(query.order_by(Grant.id.desc()).limit(limit)).all())

    @app.get("/baseline/ping", include_in_schema=False)
    async def ping() -> dict[str, str]:
        return {"ok": "yes"}

    return app
