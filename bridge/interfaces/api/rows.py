"""Scoped list pages answered as JSON without re-validating every row through the response model.

A 100-row page validated through ``list[GrantPublic]`` cost about 1 ms of CPU per request — a quarter of the
request — and one more worker-thread hop, only to re-check rows the store and the service already typed. The
list routes keep ``response_model=`` (it documents the schema in OpenAPI) and return this module's ready
:class:`~starlette.responses.Response`, which FastAPI passes through untouched. The body is the model's fields,
in the model's order, serialised by pydantic-core — the serialiser the response model would have used — so
dates keep pydantic's ISO 8601 form and the bytes match the validated path (docs/decisions/0106).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pydantic import BaseModel
from pydantic_core import to_json
from starlette.responses import Response


def json_rows(model: type[BaseModel], rows: Iterable[Any]) -> Response:
    """A JSON array of ``rows`` (store rows or dataclasses) projected onto ``model``'s fields."""
    names = tuple(model.model_fields)
    body = to_json([{name: getattr(row, name) for name in names} for row in rows])
    return Response(body, media_type="application/json")
