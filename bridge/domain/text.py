"""Text folding for search: staff type names without diacritics ("nguyen van an" finds "Nguyễn Văn An").

Pure. Vietnamese letters decompose under NFD into a base letter and combining marks, except đ/Đ, which is a
letter of its own and is folded to d by hand.
"""

from __future__ import annotations

import unicodedata


def fold(text: str) -> str:
    """``text`` lower-cased, without diacritics, with runs of white space made one space."""
    decomposed = unicodedata.normalize("NFD", text.casefold().replace("đ", "d"))
    bare = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(bare.split())
