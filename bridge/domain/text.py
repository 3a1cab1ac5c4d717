"""Text rules: folding for search (staff type names without diacritics: "nguyen van an" finds "Nguyễn Văn
An"), and the one rule for text taken from outside (NFC, no control characters) that the API and the console
share. Pure.

Vietnamese letters decompose under NFD into a base letter and combining marks, except đ/Đ, which is a
letter of its own and is folded to d by hand.
"""

from __future__ import annotations

import unicodedata


def fold(text: str) -> str:
    """``text`` lower-cased, without diacritics, with runs of white space made one space."""
    decomposed = unicodedata.normalize("NFD", text.casefold().replace("đ", "d"))
    bare = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(bare.split())


#: The control characters a free text (a reason, a note) may hold: tab and line breaks. A one-line field (an
#: e-mail, a code, a date, a decision number) holds none.
FREE_TEXT_CONTROLS = frozenset("\t\n\r")


#: Unicode categories refused in outside text: controls and lone surrogates.
REFUSED = frozenset({"Cc", "Cs"})


def first_control(text: str, *, multiline: bool = True) -> str | None:
    """The first control character of ``text`` (Unicode Cc: C0, DEL, C1; NUL above all, which PostgreSQL
    refuses in text) or lone surrogate (Cs: a JSON ``"\\ud800"`` decodes to one; it cannot be stored as UTF-8),
    or None. Tab and line breaks are allowed when ``multiline``."""
    allowed = FREE_TEXT_CONTROLS if multiline else frozenset()
    return next((c for c in text if unicodedata.category(c) in REFUSED and c not in allowed), None)


def control_characters(text: str, *, multiline: bool = True) -> bool:
    """True when ``text`` holds a control character it may not hold (:func:`first_control`)."""
    return first_control(text, multiline=multiline) is not None


def control_message(char: str, field: str | None = None) -> str:
    """The refusal of a control character, bilingual (Vietnamese / English), naming its code point and, when
    given, the field that holds it."""
    code = f"U+{ord(char):04X}"
    vi, en = (f"trường «{field}» ", f"field «{field}» ") if field else ("", "")
    if unicodedata.category(char) == "Cs":
        return f"{vi}có ký tự {code} đơn lẻ, không phải văn bản hợp lệ / {en}contains a lone surrogate {code}, not text"
    return f"{vi}có ký tự điều khiển {code}, không được phép / {en}contains control character {code}, not allowed"


def clean_text(text: str, *, multiline: bool = True, field: str | None = None) -> str:
    """``text`` as the bridge keeps it: NFC (a "tổ hợp" keyboard sends NFD); a control character it may not
    hold (:func:`first_control`) raises ``ValueError`` with :func:`control_message` (naming ``field`` when
    given). The one rule of the API's request bodies, the SCIM bodies and the console's forms and queries
    (issue 17)."""
    char = first_control(text, multiline=multiline)
    if char is not None:
        raise ValueError(control_message(char, field))
    return unicodedata.normalize("NFC", text)
