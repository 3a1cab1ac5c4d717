"""Every text the console takes (form field, query or path value) goes through the API's one rule for outside
text (issue 17): NFC, control characters refused. Checked on the routes themselves, so a new form field that
forgets it fails here; the behaviour on the real servers is tests/reliability/test_hostile_console.py."""

from __future__ import annotations

import types
import unicodedata
from typing import Any, Union, get_args, get_origin

import pytest
from fastapi.routing import APIRoute
from pydantic import AfterValidator

from bridge.domain.text import clean_text, control_characters, first_control
from bridge.interfaces.web.app import ROUTE_MODULES as MODULES
from bridge.interfaces.web.forms import free_text, one_line

#: Free-text fields (tab and line breaks allowed); every other text is one line.
FREE_TEXT = {("/grants/exception", "reason")}


def _is_text(annotation: Any) -> bool:
    if annotation is str:
        return True
    if get_origin(annotation) in (Union, types.UnionType):
        return str in get_args(annotation)
    return False


def _params() -> list[tuple[str, str, str, list[Any], Any]]:
    found = []
    for module in MODULES:
        for route in module.router.routes:
            assert isinstance(route, APIRoute)
            dependant = route.dependant
            for kind, params in (("query", dependant.query_params), ("path", dependant.path_params),
                                 ("form", dependant.body_params)):  # fmt: skip
                for param in params:
                    found.append((route.path, param.name, kind, list(param.field_info.metadata),
                                  param.field_info.annotation))  # fmt: skip
    return found


def test_the_routes_have_text_parameters_to_check() -> None:
    texts = [p for p in _params() if _is_text(p[4])]
    forms = [p for p in texts if p[2] == "form"]
    assert len(texts) >= 30 and len(forms) >= 15, (len(texts), len(forms))


@pytest.mark.parametrize("path,name,kind,metadata,annotation", [p for p in _params() if _is_text(p[4])],
                         ids=lambda v: v if isinstance(v, str) else "")  # fmt: skip
def test_every_text_parameter_is_cleaned_by_the_shared_rule(
    path: str, name: str, kind: str, metadata: list[Any], annotation: Any
) -> None:
    validators = [m.func for m in metadata if isinstance(m, AfterValidator)]
    expected = free_text if (path, name) in FREE_TEXT else one_line
    assert validators == [expected], f"{kind} {name} of {path}: {validators}"


def test_the_rule_refuses_c0_c1_and_nul_and_makes_nfc() -> None:
    for char in ("\x00", "\x01", "\x1b", "\x7f", "\x85", "\x9f"):
        assert first_control(f"a{char}b") == char
        with pytest.raises(ValueError, match=f"U\\+{ord(char):04X}"):
            clean_text(f"a{char}b")
    assert clean_text("dòng 1\n\tdòng 2") == "dòng 1\n\tdòng 2"
    assert control_characters("a\tb", multiline=False) and not control_characters("a\tb")
    with pytest.raises(ValueError, match="U\\+000A"):
        one_line("a\nb")
    decomposed = unicodedata.normalize("NFD", "Quyết định")
    assert one_line(decomposed) == "Quyết định" != decomposed
