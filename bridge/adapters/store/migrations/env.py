"""Alembic environment: the URL comes from the caller (``bridge db upgrade --url``) or the bridge settings.

Online mode only; the bridge never generates SQL scripts for someone else to run.
"""

from __future__ import annotations

from alembic import context

from bridge.adapters.store.models import Base
from bridge.adapters.store.session import make_engine
from bridge.settings import get_settings

config = context.config
url = config.attributes.get("url") or get_settings().store.url
engine = make_engine(url)
with engine.connect() as connection:
    context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()
engine.dispose()
