"""The console's dependencies: who is logged in (an administrator), and the CSRF check of every form.

A request without a live console session is sent to the login page (:class:`LoginRequired`); a live session
of someone who is no longer an administrator is refused with the Vietnamese "not an administrator" page. The
actor comes from the store on every request (:func:`load_actor`), as the API's does.
"""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, Request
from starlette.concurrency import run_in_threadpool

from bridge.domain.policy import Actor
from bridge.errors import BridgeError
from bridge.interfaces.api.deps import SessionDep
from bridge.interfaces.web.sessions import ConsoleSession, SessionStore
from bridge.services.context import load_actor


class LoginRequired(Exception):
    """No live console session: the answer is the login page."""


class NotAdministrator(BridgeError):
    """A person without an Administrator row (403, the Vietnamese page says why)."""

    status = 403
    code = "not-administrator"


class CsrfRefused(BridgeError):
    """A form without the session's CSRF token (403)."""

    status = 403
    code = "csrf"


def sessions_of(request: Request) -> SessionStore:
    """The console's session store (kept on the console application)."""
    store = request.app.state.console_sessions
    assert isinstance(store, SessionStore)
    return store


async def get_console(request: Request) -> ConsoleSession:
    """The live console session of this browser, else :class:`LoginRequired`."""
    session_id = request.session.get("sid")
    store = sessions_of(request)
    found = await run_in_threadpool(store.touch, session_id) if isinstance(session_id, str) else None
    if found is None:
        request.session.pop("sid", None)
        raise LoginRequired
    request.state.console = found
    request.state.actor = found.email
    return found


ConsoleDep = Annotated[ConsoleSession, Depends(get_console)]


def get_admin(session: SessionDep, console: ConsoleDep) -> Actor:
    """The logged-in administrator as the policy sees them."""
    actor = load_actor(session, email=console.email)
    if actor.role is None:
        raise NotAdministrator(f"{console.email} is not an administrator")
    return actor


AdminDep = Annotated[Actor, Depends(get_admin)]


async def check_csrf(request: Request, console: ConsoleDep) -> None:
    """Refuse a form whose ``csrf_token`` is not this session's."""
    form = await request.form()
    sent = form.get("csrf_token")
    # compared as bytes: a str holding a non-ASCII character makes compare_digest raise (a 500, issue 17)
    if not isinstance(sent, str) or not hmac.compare_digest(sent.encode(), console.csrf.encode()):
        raise CsrfRefused(
            "mã CSRF của biểu mẫu thiếu hoặc sai / the form's CSRF token is missing or wrong", field="csrf_token"
        )


CsrfDep = Annotated[None, Depends(check_csrf)]
