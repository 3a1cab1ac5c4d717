"""The ORM model of ``extraction_requests`` matches what the Alembic revision ``extraction_0001`` creates on the
real PostgreSQL, (the other tests write it as the application role, not the owner)."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy.orm import Session, sessionmaker

from bridge.adapters.store.extraction_models import ExtractionRequest
from bridge.adapters.store.models import Base


def _extraction_only(obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
    table = name if type_ == "table" else getattr(getattr(obj, "table", None), "name", None)
    return table == ExtractionRequest.__tablename__


def test_the_model_matches_the_migrated_schema(factory: sessionmaker[Session]) -> None:
    engine = factory.kw["bind"]
    with engine.connect() as connection:
        opts = {"compare_type": True, "include_object": _extraction_only}
        context = MigrationContext.configure(connection, opts=opts)
        assert compare_metadata(context, Base.metadata) == []
