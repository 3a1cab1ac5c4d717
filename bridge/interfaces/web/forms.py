"""The console's text inputs (form fields, query and path values) under the API's one rule for outside text.

A "tổ hợp" keyboard sends NFD, and a pasted value may carry control characters (NUL, which PostgreSQL refuses
in text; C1 controls, which openpyxl refuses in the quarterly reports). The API's request bodies are made NFC and
refused on a control character by :func:`bridge.domain.text.clean_text`; the console's fields go through the
same function, as pydantic validators of their types, so a refusal happens before the route runs (nothing is
written) and the console's 422 page names the field (issue 17). A one-line field (e-mail, code, date, decision
number, search) holds no control character at all; a free text (a reason) may hold tab and line breaks.
Every ``str`` form, query and path parameter of the console is one of these types
(tests/unit/test_console_inputs.py walks the routes to keep it so).
"""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator

from bridge.domain.text import clean_text
from bridge.errors import InvalidInput


def one_line(text: str) -> str:
    """NFC, without any control character."""
    return clean_text(text, multiline=False)


def free_text(text: str) -> str:
    """NFC, without control characters other than tab and line breaks."""
    return clean_text(text, multiline=True)


#: A one-line text field (e-mail, code, date, decision number, search words).
Line = Annotated[str, AfterValidator(one_line)]
#: A free text that may hold tab and line breaks (a reason).
FreeText = Annotated[str, AfterValidator(free_text)]


def checked(text: str, *, field: str, multiline: bool = False) -> str:
    """``text`` made NFC, or :class:`InvalidInput` naming ``field`` (for a value no parameter type carries, such
    as an uploaded file's name, which the store keeps)."""
    try:
        return clean_text(text, multiline=multiline, field=field)
    except ValueError as exc:
        raise InvalidInput(str(exc), field=field) from None
