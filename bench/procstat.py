"""CPU time of whole process groups, read from ``/proc`` (Linux): what a server spent while a phase ran.

The benchmarks start each server in a session of its own (``start_new_session=True``), so its process group is
the server with its workers; the difference of two readings is its CPU time in between.
"""

from __future__ import annotations

import os
from pathlib import Path


def cpu_seconds(group: int) -> float:
    """User + system CPU time of every live process in process group ``group``."""
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == group:
            total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")
