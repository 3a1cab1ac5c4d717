"""The job tables' models, which share their claim columns (``bridge.adapters.store.job_columns``), match the
schema the Alembic migrations create, column for column and index for index, on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy.orm import Session, sessionmaker

from bridge.adapters.store import sync_models  # noqa: F401  (person_holds, which lock_decisions refers to)
from bridge.adapters.store.lock_models import LockJob
from bridge.adapters.store.models import Base, GrantJob

JOB_TABLES = {LockJob.__tablename__, GrantJob.__tablename__}


def _job_tables_only(obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
    table = name if type_ == "table" else getattr(getattr(obj, "table", None), "name", None)
    return table in JOB_TABLES


def test_job_models_match_the_migrated_schema(any_factory: sessionmaker[Session]) -> None:
    engine = any_factory.kw["bind"]
    with engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"compare_type": True, "include_object": _job_tables_only}
        )
        assert compare_metadata(context, Base.metadata) == []
