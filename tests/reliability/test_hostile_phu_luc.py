"""Malformed Phụ lục 01 files in volume against a running ``bridge serve`` (issue 17, item 3 "Phụ lục 01 files").

The server is the real command (one uvicorn process, the store on PostgreSQL, the directory on slapd, tokens
checked against the real realm). Hà Nội's administrator posts generated files (``phu_luc_files``: truncated
zips, zip bombs, 100,000 rows, formulas, wrong encodings, BOMs, semicolon CSVs, broken structure and rows,
duplicates) to ``POST /locks/import``. Each must be refused (422) naming its problem, and the row and column
where the problem is in one row; no table of the store gains a row but the ledger's ``refused`` rows; and the
server's peak resident memory (the kernel's VmHWM of its process) stays under 300 MB. A sound file whose text
is all in NFD is accepted, and what the bridge stores from it is NFC.

Bounded (``make test``): 40 files; long (``reliability_long``, ``make reliability``): 200.
"""

from __future__ import annotations

import unicodedata
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import sessionmaker

from bridge.adapters.directory.ldap import LdapDirectory
from bridge.adapters.keycloak.admin import KeycloakAdmin
from bridge.adapters.store.lock_models import LockDecision
from bridge.adapters.store.migrate import upgrade
from bridge.adapters.store.session import make_engine
from bridge.testbed.postgres_server import APP_ROLE, PostgresServer
from bridge.testbed.processes import bridge_process, peak_rss_kib, rss_kib
from bridge.testbed.stack import Stack
from tests.integration.test_foundation import person_in
from tests.reliability.api_bed import (
    RealmKey,
    appoint,
    import_realm_key,
    record_result,
    row_counts,
    store_tables,
    user_id,
)
from tests.reliability.phu_luc_files import Person, malformed, nfd_file

pytestmark = pytest.mark.integration
RSS_LIMIT_KIB = 300 * 1024


@dataclass
class Server:
    base: str
    pid: int
    engine: Engine
    tables: list[str]
    token: str
    people: list[Person]


@pytest.fixture(scope="module")
def server(stack: Stack, admin: KeycloakAdmin, postgres: PostgresServer, tmp_path_factory: pytest.TempPathFactory
           ) -> Iterator[Server]:  # fmt: skip
    realm_key: RealmKey = import_realm_key(stack, admin, "i17b-phu-luc-key")
    database = "i17b_phu_luc"
    postgres.create_database(database)
    upgrade(url=postgres.owner_url(database), app_role=APP_ROLE)
    engine = make_engine(postgres.app_url(database))
    directory = LdapDirectory(stack.settings.directory)
    cast = {"it": person_in(stack, "00012", 10), "province": person_in(stack, "01", 112)}
    appoint(stack, sessionmaker(engine, expire_on_commit=False), directory, cast)
    directory.close()
    hanoi = [person_in(stack, "01", 113), person_in(stack, "01", 114), person_in(stack, "01", 115)]
    people = [Person(p.mail, p.full_name, p.unit_code) for p in hanoi]
    token = realm_key.token(cast["province"], user_id(admin, cast["province"]))
    env = stack.env() | {"BRIDGE_STORE__URL": postgres.app_url(database), "BRIDGE_LOG_LEVEL": "WARNING"}
    log = tmp_path_factory.mktemp("i17b-phu-luc") / "serve.log"
    try:
        with bridge_process("serve", env, log=log) as (process, base):
            yield Server(base, process.pid, engine, store_tables(engine), token, people)
    finally:
        engine.dispose()
        postgres.drop_database(database)
        admin.delete(f"components/{realm_key.component}")


def _post(server: Server, filename: str, data: bytes) -> httpx.Response:
    return httpx.post(f"{server.base}/locks/import", params={"filename": filename}, content=data,
                      headers={"Authorization": f"Bearer {server.token}"}, timeout=300)  # fmt: skip


def _named(body: dict[str, Any], words: str, where: tuple[int, str] | None) -> bool:
    """The refusal says ``words`` (in its detail or one of its row problems) and names the row and column."""
    problems = body.get("problems") or []
    texts = [str(body.get("detail", ""))] + [p["problem"] for p in problems]
    if where is not None and not any((p["row"], p["column"]) == where for p in problems):
        return False
    return any(words in t for t in texts) and all(t.strip() for t in texts[:1])


def run_files(server: Server, count: int) -> dict[str, Any]:
    tried: Counter[str] = Counter()
    failed: list[str] = []
    lost: list[str] = []
    peak_before = peak_rss_kib(server.pid)
    for number in range(count):
        case = malformed(number, server.people)
        tried[case.kind] += 1
        before = row_counts(server.engine, server.tables)
        response = _post(server, case.filename, case.data)
        after = row_counts(server.engine, server.tables)
        written = {k for k in after if k != "ledger.refused" and after[k] != before[k]}
        body = response.json() if response.headers.get("content-type", "").endswith("json") else {}
        if written:
            lost.append(f"{case.filename}: {response.status_code}, rows written in {sorted(written)}")
        if response.status_code != 422 or not _named(body, case.words, case.where):
            failed.append(f"{case.filename} ({case.kind}): {response.status_code} {response.text[:400]} "
                          f"— wanted {case.words!r} at {case.where}")  # fmt: skip
    return {"tried": sum(tried.values()), "by_kind": dict(tried), "failed": len(failed), "lost": len(lost),
            "failures": failed + lost, "peak_rss_mb": round(peak_rss_kib(server.pid) / 1024, 1),
            "peak_rss_mb_before": round(peak_before / 1024, 1),
            "rss_mb_after": round(rss_kib(server.pid) / 1024, 1)}  # fmt: skip


def _check(result: dict[str, Any]) -> None:
    assert result["failures"] == [], "\n".join(result["failures"])
    assert result["peak_rss_mb"] * 1024 < RSS_LIMIT_KIB, result


def test_forty_malformed_files_are_refused_by_name_with_nothing_applied(server: Server) -> None:
    result = run_files(server, 40)
    record_result("hostile_input.phu_luc_files.bounded", result)
    _check(result)
    assert len(result["by_kind"]) == 10


@pytest.mark.reliability_long
def test_two_hundred_malformed_files_are_refused_by_name_with_nothing_applied(server: Server) -> None:
    result = run_files(server, 200)
    record_result("hostile_input.phu_luc_files", result)
    _check(result)


@pytest.mark.parametrize("xlsx", [False, True], ids=["csv", "xlsx"])
def test_a_file_only_in_nfd_is_accepted_and_stored_in_nfc(server: Server, xlsx: bool) -> None:
    number = f"{'9' if xlsx else '8'}/QĐ-BHXH về nghỉ thai sản"
    filename, data = nfd_file(server.people[:2], xlsx=xlsx, number=number)
    assert unicodedata.normalize("NFD", number).encode() in data or xlsx
    response = _post(server, filename, data)
    assert response.status_code == 201, response.text
    ids = response.json()["decision_ids"]
    assert len(ids) == 2
    with server.engine.connect() as conn:
        rows = conn.execute(select(LockDecision).where(LockDecision.id.in_(ids))).mappings().all()
    for row in rows:
        assert row["decision_number"] == unicodedata.normalize("NFC", number)
        assert row["reason_code"] == "maternity"
        assert row["email"] in {p.mail for p in server.people}
    # the same decisions read back through the API are NFC too
    listed = httpx.get(f"{server.base}/locks", params={"email": server.people[0].mail},
                       headers={"Authorization": f"Bearer {server.token}"}, timeout=30).json()  # fmt: skip
    assert {d["decision_number"] for d in listed} >= {unicodedata.normalize("NFC", number)}
    # accepted once: the same file again is a duplicate of open decisions, refused, nothing more written
    before = row_counts(server.engine, server.tables)
    again = _post(server, filename, data)
    assert again.status_code in (409, 422), again.text
    after = row_counts(server.engine, server.tables)
    assert {k for k in after if k != "ledger.refused" and after[k] != before[k]} == set()
