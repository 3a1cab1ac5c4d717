"""The store's migrations and the PostgreSQL protection of the ledger."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from bridge.adapters.store import ledger
from bridge.adapters.store.migrate import alembic_config, current_revision, head_revision
from bridge.adapters.store.session import make_engine, transaction
from bridge.testbed.postgres_server import PostgresServer

if TYPE_CHECKING:
    from conftest import Store


def test_migrations_reach_head_through_the_governance_revision(store: Store) -> None:
    history = [rev.revision for rev in ScriptDirectory.from_config(alembic_config()).walk_revisions()]
    assert current_revision(url=store.url) == head_revision()
    assert history[-1] == "gov_0001"


@pytest.mark.parametrize("store", ["postgresql"], indirect=True)
def test_app_role_cannot_update_or_delete_ledger_rows(store: Store) -> None:
    with transaction(store.factory) as session:
        ledger.append(session, actor="a@vss.gov.vn", action="t", target="x", outcome="allowed", rule="r")
    for statement in (
        "UPDATE audit_ledger SET actor = 'b'",
        "DELETE FROM audit_ledger",
        "TRUNCATE audit_ledger",
    ):
        with pytest.raises(DBAPIError, match="permission denied"), store.engine.begin() as conn:
            conn.execute(text(statement))


@pytest.mark.parametrize("store", ["postgresql"], indirect=True)
def test_owner_is_stopped_by_the_append_only_trigger(store: Store, postgres: PostgresServer) -> None:
    with transaction(store.factory) as session:
        ledger.append(session, actor="a@vss.gov.vn", action="t", target="x", outcome="allowed", rule="r")
    dbname = store.url.rsplit("/", 1)[1]
    owner = make_engine(postgres.owner_url(dbname))
    try:
        for statement in ("UPDATE audit_ledger SET actor = 'b'", "DELETE FROM audit_ledger"):
            with pytest.raises(DBAPIError, match="append-only"), owner.begin() as conn:
                conn.execute(text(statement))
    finally:
        owner.dispose()
    with store.engine.connect() as conn:
        assert conn.execute(text("SELECT actor FROM audit_ledger")).scalar_one() == "a@vss.gov.vn"
