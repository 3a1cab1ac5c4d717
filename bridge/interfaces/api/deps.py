"""Typed dependencies of the routes: the application's state, one store session per request, the decision
context, the caller, the scheduler's wake-up call.

What the application was built with is one frozen :class:`ApiState`, reached through :data:`StateDep`; tests and
benchmarks point it elsewhere, fix the day or hand in a wake-up call with ``app.dependency_overrides``
(:func:`get_state`, :func:`get_today`, :func:`get_scheduler_wake`), never by setting attributes on the app.

The session dependency owns the request's transaction and its refusal trace: on success it commits (the change
and its ledger row together); on any refusal it rolls the change back and then appends one ``refused`` ledger
row naming the rule, so every refusal is recorded and none changes state.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cached_property
from typing import Annotated

from anyio import CancelScope, CapacityLimiter, to_thread
from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session, sessionmaker

from bridge.adapters.directory.lookup import DirectoryLookup
from bridge.adapters.store import ledger
from bridge.adapters.store.session import SQLITE_BEGIN, page_factory
from bridge.clock import today_vn
from bridge.domain.policy import Actor
from bridge.domain.role_levels import Catalogue
from bridge.domain.text import control_message, first_control
from bridge.domain.units import UnitTree
from bridge.errors import BridgeError, InvalidInput
from bridge.interfaces.api.auth import TokenValidator, Unauthenticated
from bridge.services.context import GovContext, load_actor


@dataclass(frozen=True)
class ApiState:
    """What the application was built with (see :func:`bridge.interfaces.api.app.create_app`)."""

    factory: sessionmaker[Session]
    units: UnitTree
    catalogue: Catalogue
    directory: DirectoryLookup
    validator: TokenValidator
    it_center_unit: str

    @cached_property
    def pages(self) -> sessionmaker[Session]:
        """Sessions for list pages read on the event loop (:func:`get_page_session`): the same database as
        :attr:`factory`, from a pool of their own (made at the first page)."""
        return page_factory(self.factory)


def attach_state(app: FastAPI, state: ApiState) -> None:
    """Keep ``state`` as the application's one :class:`ApiState`."""
    app.state.gov = state


def api_state(app: FastAPI) -> ApiState:
    """The :class:`ApiState` the application was built with."""
    state = app.state.gov
    if not isinstance(state, ApiState):
        raise TypeError(f"the application holds no ApiState but {type(state).__name__}")
    return state


async def get_state(request: Request) -> ApiState:
    """The application's :class:`ApiState`, on the event loop (tests override it to point at their store)."""
    return api_state(request.app)


StateDep = Annotated[ApiState, Depends(get_state)]


def _refusal_row(session: Session, request: Request, exc: Exception) -> None:
    """One ``refused`` ledger row for ``exc`` (its rule, status and field), in ``session``."""
    status = getattr(exc, "status", None) or getattr(exc, "status_code", 422)
    route = request.scope.get("route")
    ledger.append(
        session,
        actor=getattr(request.state, "actor", "anonymous"),
        action=f"{request.method} {getattr(route, 'path', request.url.path)}"[:80],
        target=str(getattr(exc, "target", request.url.path))[:300],
        outcome="refused",
        rule=getattr(exc, "rule", None) or f"E-{getattr(exc, 'code', 'invalid-request')}",
        detail={"status": status, "field": getattr(exc, "field", None), "path": request.url.path}
        | ({"reason": exc.reason} if isinstance(exc, Unauthenticated) else {}),
    )


#: Exceptions that answer a request with a refusal (4xx) and leave a ``refused`` ledger row.
REFUSALS = (BridgeError, HTTPException, RequestValidationError)


def _record_refusal(factory: sessionmaker[Session], request: Request, exc: Exception) -> None:
    """Append the refusal's ledger row in a writing transaction of its own."""
    with factory() as writer, writer.begin():
        _refusal_row(writer, request, exc)


@contextmanager
def request_session(request: Request, factory: sessionmaker[Session]) -> Iterator[Session]:
    """A session in one transaction; refusals are rolled back and recorded.

    Entering takes no connection: the first query of the route takes it, in the route's worker thread, so a
    request waiting for a thread never holds a connection (docs/decisions/0105). GET requests get a read-only
    bind (SQLite: ``BEGIN DEFERRED``, no write lock).
    """
    read = request.method in ("GET", "HEAD")
    session = factory(bind=factory.kw["bind"].execution_options(**{SQLITE_BEGIN: "DEFERRED"})) if read else factory()
    with session:
        session.begin()
        try:
            yield session
        except REFUSALS as exc:
            session.rollback()
            _record_refusal(factory, request, exc)
            raise
        except BaseException:
            session.rollback()
            raise
        else:
            session.commit()


async def get_session(request: Request, state: StateDep) -> AsyncIterator[Session]:
    """The request's session (:func:`request_session`), entered on the event loop and left in a worker thread.

    Entering does no I/O, so it costs no thread hop; leaving commits or rolls back (and may write a refusal
    row), so it runs in a thread of its own limiter, never queued behind requests that wait for a connection
    (docs/decisions/0106). The exit is shielded: a cancelled request still returns its connection.
    """
    scope = request_session(request, state.factory)
    session = scope.__enter__()
    exit_limiter = CapacityLimiter(1)
    try:
        yield session
    except BaseException as exc:
        with CancelScope(shield=True):
            suppressed = await to_thread.run_sync(
                scope.__exit__, type(exc), exc, exc.__traceback__, limiter=exit_limiter
            )
        if not suppressed:
            raise
    else:
        with CancelScope(shield=True):
            await to_thread.run_sync(scope.__exit__, None, None, None, limiter=exit_limiter)


SessionDep = Annotated[Session, Depends(get_session)]


async def get_page_session(request: Request, state: StateDep) -> AsyncIterator[Session]:
    """A read-only session for one list page, used on the event loop (docs/decisions/0107).

    A list page is a short indexed read and its serialisation: CPU of this process, which a worker thread only
    delays (a hop, then the GIL handed back and forth with the loop, which under load made the thread pool's
    queue grow until every request waited). The route using it is ``async`` and does its reads without
    ``await``. The pages have a pool of their own that never makes the loop wait (no worker thread uses it, and
    a connection beyond those kept is opened for the moment). A refusal — the caller's token included, since
    this dependency comes first — is rolled back and its ledger row written in a worker thread, as in
    :func:`request_session`.
    """
    try:
        with state.pages() as session, session.begin():
            yield session
    except REFUSALS as exc:
        await run_in_threadpool(_record_refusal, state.factory, request, exc)
        raise


#: Left as soon as the route returns, before the response is sent: the connection is back in the pages' pool
#: before the loop can start another request's reads.
PageSessionDep = Annotated[Session, Depends(get_page_session, scope="function")]
_bearer = HTTPBearer(auto_error=False)


async def get_caller(
    request: Request, state: StateDep, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> str:
    """The authenticated caller's official e-mail (401 without a valid token).

    A token already validated (and not expired) is answered on the event loop; a new one is checked in a worker
    thread, since the check may fetch the realm's JWKS (docs/decisions/0106).
    """
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Unauthenticated("a Bearer access token from the realm is required")
    validator = state.validator
    email = validator.remembered(credentials.credentials)
    if email is None:
        email = await run_in_threadpool(validator.email, credentials.credentials)
    request.state.actor = email
    return email


CallerDep = Annotated[str, Depends(get_caller)]


def get_actor(session: SessionDep, email: CallerDep) -> Actor:
    """The authenticated caller with their administrative role and scope, read from the store."""
    return load_actor(session, email=email)


async def get_today() -> dt.date:
    """The day decisions are taken on: today in Asia/Ho_Chi_Minh (tests override it to fix the day)."""
    return today_vn()


TodayDep = Annotated[dt.date, Depends(get_today)]


async def get_context(state: StateDep, on_date: TodayDep) -> GovContext:
    """The decision context of this request (the tree on :func:`get_today`)."""
    return GovContext(state.units, state.catalogue, state.directory, on_date, state.it_center_unit)


#: Wakes the in-process scheduler (the worker that applies locks and role-group memberships).
Wake = Callable[[], None]


async def get_scheduler_wake() -> Wake | None:
    """The in-process scheduler's wake-up call: none, unless a process that runs the scheduler beside the API
    provides one (``app.dependency_overrides[get_scheduler_wake]``, as the lock benchmark does)."""
    return None


WakeDep = Annotated[Wake | None, Depends(get_scheduler_wake)]


ActorDep = Annotated[Actor, Depends(get_actor)]
ContextDep = Annotated[GovContext, Depends(get_context)]


async def refuse_control_characters(request: Request) -> None:
    """A path or query value holding a control character (NUL above all) is refused before any route reads it:
    it names nothing, and PostgreSQL refuses NUL in text (a server error before issue 17's schemathesis run).
    The API and the console both depend on it; the message names the parameter (``path``, ``query`` for a
    parameter's name, else the parameter)."""
    named = [("path", request.url.path)]
    for key, value in request.query_params.multi_items():
        named += [("query", key), (key, value)]
    for field, text in named:
        char = first_control(text)
        if char is not None:
            shown = field if first_control(field) is None else "query"
            raise InvalidInput(control_message(char, shown), field=shown)
