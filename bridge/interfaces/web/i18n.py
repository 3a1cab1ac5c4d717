"""Translations and formats of the console: gettext catalogues read with Babel, Vietnamese by default.

Message ids are English; ``locale/vi/LC_MESSAGES/messages.po`` is the Vietnamese catalogue, compiled in memory
when the console starts (no ``.mo`` in the repository, no build step). English is the ids themselves. Dates are
dd/mm/yyyy in Asia/Ho_Chi_Minh and numbers use the locale's digit grouping (vi: 20.000).
"""

from __future__ import annotations

import datetime as dt
import gettext
import io
from functools import cache
from pathlib import Path
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_datetime
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal
from babel.support import Translations

LOCALES = ("vi", "en")
DEFAULT = "vi"
VN = ZoneInfo("Asia/Ho_Chi_Minh")
CATALOGUES = Path(__file__).parent / "locale"


@cache
def translations(locale: str) -> gettext.NullTranslations:
    """The compiled catalogue of ``locale`` (English: the message ids)."""
    po = CATALOGUES / locale / "LC_MESSAGES" / "messages.po"
    if locale == "en" or not po.exists():
        return gettext.NullTranslations()
    with po.open("rb") as source:
        catalog = read_po(source, locale=locale)
    compiled = io.BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    return Translations(compiled)


def pick_locale(chosen: str | None) -> str:
    """The console's language: the one chosen, when known, else Vietnamese."""
    return chosen if chosen in LOCALES else DEFAULT


def fmt_date(value: dt.date | dt.datetime | None) -> str:
    """dd/mm/yyyy (a moment: its Vietnamese calendar day and time)."""
    if value is None:
        return "—"
    if isinstance(value, dt.datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=dt.UTC)
        return format_datetime(moment, "dd/MM/yyyy HH:mm", tzinfo=VN)
    return format_date(value, "dd/MM/yyyy")


def fmt_number(value: int, locale: str) -> str:
    """``value`` with the locale's digit grouping (vi: 20.000, en: 20,000)."""
    return format_decimal(value, locale=locale)
