"""Apply the store's Alembic migrations from code, so ``bridge db upgrade`` and the tests share one path.

On PostgreSQL the migrations run as the owner role and grant the application role (``db_app_role``) only
what it needs: DML on the tables, and on the audit ledger INSERT and SELECT only.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

from bridge.adapters.store.session import make_engine
from bridge.settings import get_settings

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def alembic_config(*, url: str | None = None, app_role: str | None = None) -> Config:
    """An Alembic configuration pointing at this package's migrations."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["url"] = url or get_settings().store.url
    cfg.attributes["app_role"] = app_role or get_settings().governance.db_app_role
    return cfg


def upgrade(*, url: str | None = None, app_role: str | None = None, revision: str = "head") -> None:
    """Bring the store at ``url`` up to ``revision``."""
    command.upgrade(alembic_config(url=url, app_role=app_role), revision)


def revision_of(engine: Engine) -> str | None:
    """The revision the store behind ``engine`` is at, or None when it was never migrated."""
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def current_revision(*, url: str | None = None) -> str | None:
    """The revision the store at ``url`` is at, or None when it was never migrated."""
    engine = make_engine(url or get_settings().store.url)
    try:
        return revision_of(engine)
    finally:
        engine.dispose()


def head_revision() -> str | None:
    """The newest revision shipped with the code."""
    return ScriptDirectory.from_config(alembic_config()).get_current_head()
