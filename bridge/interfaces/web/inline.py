"""Refusals shown on the form that caused them, not on a page of their own.

A form page catches the service's :class:`BridgeError`, and re-renders itself with the message beside the field
the error names. The request's transaction is rolled back first (nothing the service began is kept) and the
refusal's ledger row is written in a transaction of its own, exactly as when the error leaves the route
(:func:`bridge.interfaces.api.deps.request_session`).
"""

from __future__ import annotations

import re
from typing import Any

from fastapi import Request
from sqlalchemy.orm import Session

from bridge.errors import BridgeError
from bridge.interfaces.api.deps import _record_refusal, api_state
from bridge.interfaces.web.render import locale_of


def in_language(message: str, locale: str) -> str:
    """The half of a bilingual service message (``"Vietnamese / English: 'value' (rule)"``) in ``locale``; the
    value the English half quotes at its end and the rule id are kept in Vietnamese too."""
    if " / " not in message:
        return message
    vietnamese, english = message.split(" / ", 1)
    if locale != "vi":
        return english
    tail = _TAIL.search(english)
    return vietnamese + (tail.group(0) if tail else "")


#: What follows the English words and belongs to both languages: a quoted value, then a rule id.
_TAIL = re.compile(r"(?:: '[^']*'|: \"[^\"]*\")?(?: \([A-Z]\d+[\w-]*\))?$")


def roll_back_refusal(session: Session, request: Request, exc: BridgeError) -> dict[str, Any]:
    """Undo the request's writes, record the refusal, and give the form what to show (message, field, status)."""
    session.rollback()
    _record_refusal(api_state(request.app).factory, request, exc)
    return {"error": in_language(exc.message, locale_of(request)), "error_field": exc.field, "status": exc.status}
