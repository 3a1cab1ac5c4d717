"""Prometheus metrics of the bridge: what an operations team watches on the API and on the worker.

One module defines every metric (prometheus-client's default registry), so names and labels are written once
and every layer can count what it does. The API and the worker each serve them at ``/metrics``. Under several
uvicorn workers, set ``PROMETHEUS_MULTIPROC_DIR`` to aggregate them (prometheus-client's multiprocess mode).
"""

from __future__ import annotations

import os

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

SYNC_RUNS = Counter(
    "bridge_sync_runs_total", "Sync runs finished, by mode (full, incremental) and status.", ["mode", "status"]
)
SYNC_OPERATIONS = Counter("bridge_sync_operations_total", "Operations applied by sync runs, by kind.", ["kind"])
SYNC_DURATION = Histogram(
    "bridge_sync_duration_seconds",
    "Wall time of a sync run, by mode.",
    ["mode"],
    buckets=(1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600),
)
VALVE_HELD_LEAVERS = Gauge("bridge_sync_valve_held_leavers", "Leavers held back by the safety valve in the last run.")
LOCK_DECISIONS = Counter(
    "bridge_lock_jobs_total", "Lock-scheduler job outcomes, by kind and status.", ["kind", "status"]
)
LOCK_VERIFY_SECONDS = Histogram(
    "bridge_lock_applied_to_verified_seconds",
    "From a lock's first Keycloak call to its verified state.",
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30),
)
QUEUE_DEPTH = Gauge("bridge_job_queue_depth", "Pending jobs due now, by queue (lock, grant).", ["queue"])
QUEUE_AGE = Gauge("bridge_job_queue_oldest_age_seconds", "Age of the oldest due pending job, by queue.", ["queue"])
WATCHER_LAG = Gauge("bridge_console_watcher_lag_seconds", "Now minus the time of the last admin event judged.")
WATCHER_EVENTS = Counter("bridge_console_events_total", "Keycloak admin events judged, by verdict.", ["verdict"])
DIRECTORY_ERRORS = Counter("bridge_directory_read_errors_total", "Failed reads of the official mail directory.")
TASK_UP = Gauge("bridge_worker_task_up", "1 while a worker task runs, 0 while it waits to restart.", ["task"])
TASK_ERRORS = Counter("bridge_worker_task_errors_total", "Errors that stopped a worker task, by task.", ["task"])
TASK_RESTARTS = Counter("bridge_worker_task_restarts_total", "Restarts of a worker task after an error.", ["task"])
HTTP_REQUESTS = Counter(
    "bridge_http_requests_total", "HTTP requests answered, by method, route and status.", ["method", "route", "status"]
)
HTTP_SECONDS = Histogram("bridge_http_request_seconds", "HTTP request duration, by route.", ["route"])


def exposition() -> tuple[bytes, str]:
    """The metrics in Prometheus' text format, and its content type (all processes in multiprocess mode)."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(), CONTENT_TYPE_LATEST
