"""A local spool for records the store could not take: written when the store went away mid-run, replayed into
the store by the next run.

A sync run changes Keycloak first and records the change (sync_operations + the audit ledger) right after; when
PostgreSQL stops answering in between, the changes already made cannot be recorded, and the next run plans
nothing for them (Keycloak already matches the directory), so without a spool they would never reach the
ledger (docs/decisions/0805). The spool is a directory of small JSON files, one per failed run, written
atomically (temporary file, fsync, rename); a file is removed only after its rows were committed.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any


def write(directory: Path, name: str, rows: list[dict[str, Any]]) -> Path:
    """Write ``rows`` as ``<directory>/<name>.json`` (atomically); the path."""
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / f"{name}.json"
    handle, temporary = tempfile.mkstemp(dir=directory, prefix=".spool-")
    with os.fdopen(handle, "w", encoding="utf-8") as out:
        json.dump(rows, out, ensure_ascii=False)
        out.flush()
        os.fsync(out.fileno())
    os.chmod(temporary, 0o600)
    os.replace(temporary, target)
    return target


def pending(directory: Path, prefix: str) -> list[tuple[Path, list[dict[str, Any]]]]:
    """Spooled files whose name starts with ``prefix``, oldest first, with their rows."""
    if not directory.is_dir():
        return []
    files = sorted(directory.glob(f"{prefix}*.json"), key=lambda p: p.stat().st_mtime)
    return [(path, json.loads(path.read_text(encoding="utf-8"))) for path in files]


def remove(path: Path) -> None:
    """Forget a spooled file once its rows are in the store."""
    path.unlink(missing_ok=True)
