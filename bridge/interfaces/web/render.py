"""Rendering: one Jinja2 environment, the page's language, and the navigation every page shows.

:data:`NAV` lists every page of the console in order; a page not built yet carries ``built=False`` and its
route renders ``placeholder.html`` saying so (docs/console.md). Pages are never cached by the browser, so the
back button after logout asks the server again and lands on the login page.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape

from bridge.domain.lock_reasons import LABELS_VI, LockReason
from bridge.interfaces.web.i18n import fmt_date, fmt_number, pick_locale, translations

TEMPLATES = Path(__file__).parent / "templates"
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


@dataclass(frozen=True)
class NavItem:
    """A page in the navigation: its route name, its label (a message id) and whether it is built yet."""

    name: str
    label: str
    path: str
    built: bool


def _(message: str) -> str:
    """Marks a message id for extraction; translated when rendered."""
    return message


NAV = (
    NavItem("overview", _("Overview"), "/ui/", True),
    NavItem("people", _("People"), "/ui/people", True),
    NavItem("grants", _("Grants"), "/ui/grants", True),
    NavItem("locks", _("Account locks"), "/ui/locks", True),
    NavItem("lock_lists", _("Appendix 01"), "/ui/lock-lists", True),
    NavItem("approvals", _("Approvals"), "/ui/approvals", True),
    NavItem("reports", _("Reports"), "/ui/reports", True),
    NavItem("review", _("Review"), "/ui/review", True),
    NavItem("ledger", _("Ledger"), "/ui/ledger", True),
)

#: A lock decision's status as staff read it (message ids).
LOCK_STATUS = {
    "scheduled": _("pending"),
    "in_force": _("in force"),
    "ended": _("ended"),
    "cancelled": _("cancelled"),
    "done": _("done"),
}

_env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html"]), auto_reload=False)
_env.filters["date"] = fmt_date
#: A date kept as ISO text (an approval's subject: JSON) shown as dd/mm/yyyy.
_env.filters["isodate"] = lambda text: fmt_date(dt.date.fromisoformat(str(text)))


def reason_label(code: str, locale: str) -> str:
    """A lock reason as the regulation names it (Vietnamese), or its code in English."""
    try:
        reason = LockReason(code)
    except ValueError:
        return code
    return LABELS_VI[reason] if locale == "vi" else reason.value.replace("_", " ")


def locale_of(request: Request) -> str:
    """The language chosen in this browser's session (Vietnamese unless English was chosen)."""
    return pick_locale(request.session.get("lang"))


def render(request: Request, template: str, *, status_code: int = 200, active: str = "", **values: Any) -> HTMLResponse:
    """``template`` in the request's language, with the navigation and the session's CSRF token."""
    locale = locale_of(request)
    gettext = translations(locale).gettext
    console = getattr(request.state, "console", None)
    context = {
        "_": gettext,
        "lang": locale,
        "nav": NAV,
        "active": active,
        "me": console.email if console else None,
        "csrf": console.csrf if console else "",
        "number": lambda n: fmt_number(n, locale),
        "lock_status": lambda status: gettext(LOCK_STATUS.get(status) or status),
        "reason_label": lambda code: reason_label(code, locale),
        **values,
    }
    html = _env.get_template(template).render(context)
    return HTMLResponse(html, status_code=status_code, headers=NO_STORE)
