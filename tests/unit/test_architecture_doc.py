"""docs/architecture.md shows the layers the code has: its picture is what ``scripts/layers.py`` prints."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _picture() -> str:
    spec = importlib.util.spec_from_file_location("layers", ROOT / "scripts" / "layers.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return str(module.picture())


def test_the_architecture_picture_is_the_one_the_code_draws() -> None:
    doc = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    block = re.search(r"<!-- layers:begin -->\n(.*?)\n<!-- layers:end -->", doc, re.S)
    assert block is not None, "docs/architecture.md lost its layers block"
    assert block.group(1) == _picture(), "regenerate it: python scripts/layers.py"


def test_every_module_belongs_to_a_layer() -> None:
    spec = importlib.util.spec_from_file_location("layers", ROOT / "scripts" / "layers.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    layers = module.contract_layers()
    outside = [
        m for m in module.modules() if m not in ("bridge", "bridge.__main__") and module.layer_of(m, layers) is None
    ]
    assert outside == []


def test_every_module_named_in_the_rule_map_exists() -> None:
    doc = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    paths = set(re.findall(r"`((?:bridge|tests)/[\w/]+\.py)`", doc))
    assert paths, "the rule map names no module"
    missing = sorted(p for p in paths if not (ROOT / p).exists())
    assert missing == []
