"""The application's database role on PostgreSQL, as decision 0101 wants it (``bridge init``).

Two roles own the store: the owner runs the migrations, the application role (the API, the worker, the
commands) gets DML on the tables and on the audit ledger INSERT and SELECT only. The migrations grant those
privileges; this module creates the application role when it is missing (with the owner's connection, so the
owner needs ``CREATEROLE``), lets it connect, and checks afterwards that it holds exactly what 0101 allows.

The password never reaches the server in clear: the role gets a SCRAM-SHA-256 verifier computed here (what
``psql``'s ``\\password`` does), so neither the server log nor ``pg_stat_activity`` can show it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass

from sqlalchemy import Connection, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from bridge.adapters.store.session import make_engine
from bridge.errors import InvalidInput, PermanentError

#: Table privileges the application role holds (decision 0101); every other table gets :data:`DML`.
DML = frozenset({"SELECT", "INSERT", "UPDATE", "DELETE"})
EXPECTED: dict[str, frozenset[str]] = {
    "audit_ledger": frozenset({"SELECT", "INSERT"}),
    "alembic_version": frozenset({"SELECT"}),
}
#: The privileges :func:`privilege_problems` reads, in its query's order.
CHECKED = ("SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE", "REFERENCES", "TRIGGER")
SCRAM_ITERATIONS = 4096


@dataclass(frozen=True)
class RoleOutcome:
    """What :func:`ensure_app_role` found or did."""

    role: str
    created: bool
    database: str


def is_postgresql(url: str) -> bool:
    """Whether ``url`` names a PostgreSQL store (roles exist only there)."""
    return make_url(url).get_backend_name() == "postgresql"


def url_user(url: str) -> str | None:
    """The user name of a store URL."""
    return make_url(url).username


def same_database(a: str, b: str) -> bool:
    """Whether two store URLs name the same database (host, port, database), whoever connects."""
    ua, ub = make_url(a), make_url(b)
    return (ua.host, ua.port or 5432, ua.database) == (ub.host, ub.port or 5432, ub.database)


def scram_verifier(password: str, *, salt: bytes | None = None, iterations: int = SCRAM_ITERATIONS) -> str:
    """The SCRAM-SHA-256 verifier PostgreSQL stores for ``password`` (RFC 5802 / 7677)."""
    if not password.isascii() or not password.isprintable():
        # PostgreSQL's clients SASLprep non-ASCII passwords; ASCII needs no preparation, so the verifier matches.
        raise InvalidInput("the application role's password must be printable ASCII", field="app_role_password")
    salt = salt or secrets.token_bytes(16)
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations)
    client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
    stored_key = hashlib.sha256(client_key).digest()
    server_key = hmac.new(salted, b"Server Key", hashlib.sha256).digest()

    def b64(raw: bytes) -> str:
        return base64.b64encode(raw).decode()

    return f"SCRAM-SHA-256${iterations}:{b64(salt)}${b64(stored_key)}:{b64(server_key)}"


def _quote(conn: Connection, name: str) -> str:
    return conn.dialect.identifier_preparer.quote(name)


def _database_error(what: str, exc: DBAPIError) -> PermanentError:
    # Only the server's own message: SQLAlchemy's text would repeat the statement (and its parameters).
    first = str(exc.orig).strip().splitlines()[0] if exc.orig is not None else type(exc).__name__
    return PermanentError(f"{what}: {first}")


def ensure_app_role(owner_url: str, role: str, password: str | None) -> RoleOutcome:
    """Create the application role (LOGIN, nothing else) if missing, and let it connect to the store's database
    and use its ``public`` schema; refuse a role that is the owner itself or more than a plain login."""
    engine = make_engine(owner_url, pool_size=1, max_overflow=0)
    try:
        with engine.begin() as conn:
            owner, database = conn.execute(text("SELECT current_user, current_database()")).one()
            if owner == role:
                raise InvalidInput(
                    f"the application role {role} is the owner role: decision 0101 needs two roles",
                    field="db_app_role",
                )
            found = conn.execute(
                text(
                    "SELECT rolsuper, rolcreaterole, rolcreatedb, rolbypassrls, rolcanlogin "
                    "FROM pg_roles WHERE rolname = :role"
                ),
                {"role": role},
            ).first()
            created = found is None
            if found is None:
                if not password:
                    raise InvalidInput(
                        f"the application role {role} does not exist: set BRIDGE_INIT__APP_ROLE_PASSWORD",
                        field="app_role_password",
                    )
                verifier = scram_verifier(password)
                conn.exec_driver_sql(
                    f"CREATE ROLE {_quote(conn, role)} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD '{verifier}'"
                )
            else:
                superuser, createrole, createdb, bypassrls, login = found
                extra = [
                    name
                    for name, held in (
                        ("SUPERUSER", superuser),
                        ("CREATEROLE", createrole),
                        ("CREATEDB", createdb),
                        ("BYPASSRLS", bypassrls),
                    )
                    if held
                ]
                if extra or not login:
                    what = f"holds {', '.join(extra)}" if extra else "cannot log in"
                    raise InvalidInput(
                        f"the application role {role} {what}: it must be a plain LOGIN role (decision 0101)",
                        field="db_app_role",
                    )
            conn.exec_driver_sql(f"GRANT CONNECT ON DATABASE {_quote(conn, database)} TO {_quote(conn, role)}")
            conn.exec_driver_sql(f"GRANT USAGE ON SCHEMA public TO {_quote(conn, role)}")
    except DBAPIError as exc:
        raise _database_error(f"cannot prepare the application role {role}", exc) from None
    finally:
        engine.dispose()
    return RoleOutcome(role=role, created=created, database=str(database))


def privilege_problems(owner_url: str, role: str) -> tuple[int, list[str]]:
    """Tables of the ``public`` schema checked, and every way the role's privileges differ from decision 0101
    (a table it owns, a privilege it lacks, one it must not have); no problems means least privilege holds."""
    query = text(
        "SELECT c.relname, pg_get_userbyid(c.relowner), "
        "has_table_privilege(:role, c.oid, 'SELECT'), has_table_privilege(:role, c.oid, 'INSERT'), "
        "has_table_privilege(:role, c.oid, 'UPDATE'), has_table_privilege(:role, c.oid, 'DELETE'), "
        "has_table_privilege(:role, c.oid, 'TRUNCATE'), has_table_privilege(:role, c.oid, 'REFERENCES'), "
        "has_table_privilege(:role, c.oid, 'TRIGGER') "
        "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') ORDER BY c.relname"
    )
    engine = make_engine(owner_url, pool_size=1, max_overflow=0)
    try:
        with engine.connect() as conn:
            rows = conn.execute(query, {"role": role}).all()
    except DBAPIError as exc:
        raise _database_error(f"cannot read the privileges of {role}", exc) from None
    finally:
        engine.dispose()
    problems: list[str] = []
    for name, table_owner, *held in rows:
        if table_owner == role:
            problems.append(f"{name}: owned by the application role")
        has = {p for p, granted in zip(CHECKED, held, strict=True) if granted}
        expected = EXPECTED.get(name, DML)
        if missing := sorted(expected - has):
            problems.append(f"{name}: lacks {', '.join(missing)}")
        if excess := sorted(has - expected):
            problems.append(f"{name}: must not have {', '.join(excess)}")
    return len(rows), problems
