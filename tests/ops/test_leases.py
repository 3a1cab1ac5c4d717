"""Named leases on a real store (SQLite and PostgreSQL): one holder at a time, taken over after it lapses."""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bridge.adapters.store.migrate import upgrade
from bridge.adapters.store.ops_models import Lease
from bridge.adapters.store.session import make_engine
from bridge.services.leases import acquire, release, worker_name
from bridge.testbed.postgres_server import APP_ROLE, PostgresServer

T0 = dt.datetime(2026, 11, 25, 1, 0, tzinfo=dt.UTC)
_numbers = itertools.count(1)


@pytest.fixture(params=["sqlite", "postgresql"])
def factory(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[sessionmaker[Session]]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'ops.sqlite3'}"
        upgrade(url=url)
        engine = make_engine(url)
        yield sessionmaker(engine, expire_on_commit=False)
        engine.dispose()
        return
    server: PostgresServer = request.getfixturevalue("postgres")
    name = f"ops{next(_numbers)}"
    server.create_database(name)
    upgrade(url=server.owner_url(name), app_role=APP_ROLE)
    engine = make_engine(server.app_url(name))
    yield sessionmaker(engine, expire_on_commit=False)
    engine.dispose()
    server.drop_database(name)


def test_one_holder_at_a_time_until_the_lease_lapses(factory: sessionmaker[Session]) -> None:
    a, b = worker_name(), worker_name()
    assert a != b
    assert acquire(factory, name="sync", holder=a, seconds=60, now=T0)
    assert not acquire(factory, name="sync", holder=b, seconds=60, now=T0 + dt.timedelta(seconds=30))
    assert acquire(factory, name="sync", holder=a, seconds=60, now=T0 + dt.timedelta(seconds=30)), "renewal"
    assert not acquire(factory, name="sync", holder=b, seconds=60, now=T0 + dt.timedelta(seconds=89))
    assert acquire(factory, name="sync", holder=b, seconds=60, now=T0 + dt.timedelta(seconds=91)), "lapsed"
    with factory() as session:
        assert session.scalar(select(Lease.holder).where(Lease.name == "sync")) == b


def test_release_lets_the_next_worker_in_at_once_and_only_the_holder_releases(
    factory: sessionmaker[Session],
) -> None:
    a, b = worker_name(), worker_name()
    assert acquire(factory, name="console-watcher:bhxh", holder=a, seconds=60, now=T0)
    release(factory, name="console-watcher:bhxh", holder=b)
    assert not acquire(factory, name="console-watcher:bhxh", holder=b, seconds=60, now=T0)
    release(factory, name="console-watcher:bhxh", holder=a)
    assert acquire(factory, name="console-watcher:bhxh", holder=b, seconds=60, now=T0)
    assert acquire(factory, name="sync", holder=a, seconds=60, now=T0), "leases are independent by name"
