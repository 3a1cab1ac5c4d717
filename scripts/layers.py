"""Print the layers of ``bridge`` as the code has them: the picture in docs/architecture.md.

The layers are read from the import-linter ``layers`` contract in pyproject.toml (which CI enforces), the
modules and their imports from the source. ``python scripts/layers.py`` prints the block, ``--write``
puts it into the document;
``tests/unit/test_architecture_doc.py`` fails when docs/architecture.md holds another one.
"""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NAMES = {0: "interfaces", 1: "services", 2: "domain", 3: "adapters", 4: "kernel"}


def contract_layers() -> list[list[str]]:
    """The layers of the contract, top first, each a list of modules."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    for contract in config["tool"]["importlinter"]["contracts"]:
        if contract["type"] == "layers":
            return [[m.strip() for m in layer.split("|")] for layer in contract["layers"]]
    raise SystemExit("no layers contract in pyproject.toml")


def modules() -> dict[str, Path]:
    """Every module of ``bridge`` (not the test bed), by dotted name."""
    found = {}
    for path in sorted((ROOT / "bridge").rglob("*.py")):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if "testbed" in parts or "migrations" in parts:
            continue
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


def layer_of(module: str, layers: list[list[str]]) -> int | None:
    for index, layer in enumerate(layers):
        if any(module == m or module.startswith(m + ".") for m in layer):
            return index
    return None


def imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("bridge"):
            out.add(node.module)
        elif isinstance(node, ast.Import):
            out.update(a.name for a in node.names if a.name.startswith("bridge"))
    return out


def picture() -> str:
    layers = contract_layers()
    mods = modules()
    groups: dict[int, set[str]] = {i: set() for i in range(len(layers))}
    edges: set[tuple[int, int]] = set()
    for name, path in mods.items():
        index = layer_of(name, layers)
        if index is None:
            continue
        depth = 2 if index < len(layers) - 1 else 1
        group = ".".join(name.split(".")[: depth + 1])
        if group != layers[index][0] or depth == 1:
            groups[index].add(group)
        for target in imports(path):
            other = layer_of(target, layers)
            if other is not None and other != index:
                edges.add((index, other))
    lines = ["```"]
    for index, layer in enumerate(layers):
        title = f"{NAMES.get(index, str(index))}: {' | '.join(layer)}"
        lines.append(title)
        lines.extend(f"    {group}" for group in sorted(groups[index]))
        below = [NAMES.get(o, str(o)) for (i, o) in sorted(edges) if i == index]
        if below:
            lines.append(f"    imports from: {', '.join(below)}")
        if index < len(layers) - 1:
            lines.append("        │")
            lines.append("        ▼")
    lines.append("```")
    return "\n".join(lines)


def write_doc() -> None:
    """Rewrite the layers block of docs/architecture.md from the code."""
    doc = ROOT / "docs" / "architecture.md"
    block = f"<!-- layers:begin -->\n{picture()}\n<!-- layers:end -->"
    text = re.sub(
        r"<!-- layers:begin -->.*?<!-- layers:end -->", lambda _: block, doc.read_text(encoding="utf-8"), flags=re.S
    )
    doc.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    if "--write" in sys.argv:
        write_doc()
    else:
        sys.stdout.write(picture() + "\n")
