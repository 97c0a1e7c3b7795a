"""What this process counts for an operator: the metrics ``/metrics`` reports.

The figures a process measures as it works (request latency, job durations and
failures, the retention sweep) live here, in one registry of the process, so that any
layer may count without importing the web app. The figures read from the database at
scrape time (the outbox's depth, the pool in use) are collected by ``doorstep.operations``.
Each process reports its own; Prometheus scrapes every web process, and a worker started
with ``doorstep worker --metrics-port`` serves its own registry the same way.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

__all__ = [
    "HTTP_SECONDS",
    "JOBS_DONE",
    "JOB_BATCH_SECONDS",
    "JOB_FAILURES",
    "JOB_SECONDS",
    "READS_SERVED",
    "REGISTRY",
    "REPLICA_SKIPS",
    "SWEEP_CLIPS_DELETED",
    "SWEEP_LAST_FINISHED",
    "SWEEP_RUNNING",
]

REGISTRY = CollectorRegistry()

# From a static file (a millisecond) to a slow export (tens of seconds).
_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

HTTP_SECONDS = Histogram(
    "doorstep_http_request_duration_seconds",
    "Time from a request's arrival to the start of its answer, by route template.",
    ["method", "route", "status"],
    buckets=_LATENCY_BUCKETS,
    registry=REGISTRY,
)
JOB_SECONDS = Histogram(
    "doorstep_job_duration_seconds",
    "Time to run one outbox job on its own, by job kind (failed runs included).",
    ["kind"],
    buckets=_LATENCY_BUCKETS,
    registry=REGISTRY,
)
JOB_BATCH_SECONDS = Histogram(
    "doorstep_job_batch_duration_seconds",
    "Time to run one batch of outbox jobs of a kind that is delivered in batches.",
    ["kind"],
    buckets=_LATENCY_BUCKETS,
    registry=REGISTRY,
)
JOBS_DONE = Counter(
    "doorstep_jobs_done", "Outbox jobs this process finished.", ["kind"], registry=REGISTRY
)
JOB_FAILURES = Counter(
    "doorstep_job_failures",
    "Failed attempts at outbox jobs; permanent ones are not retried.",
    ["kind", "permanent"],
    registry=REGISTRY,
)
SWEEP_CLIPS_DELETED = Counter(
    "doorstep_retention_clips_deleted",
    "Clips the retention sweep deleted because their camera's retention had passed.",
    registry=REGISTRY,
)
SWEEP_RUNNING = Gauge(
    "doorstep_retention_sweep_running",
    "1 while this process runs the retention sweep, else 0.",
    registry=REGISTRY,
)
SWEEP_LAST_FINISHED = Gauge(
    "doorstep_retention_sweep_last_finished_timestamp_seconds",
    "When this process last finished a retention sweep (Unix time; 0: never).",
    registry=REGISTRY,
)
READS_SERVED = Counter(
    "doorstep_read_sessions",
    "Read-only request transactions, by where they ran: a replica or the primary.",
    ["target"],
    registry=REGISTRY,
)
REPLICA_SKIPS = Counter(
    "doorstep_replica_skips",
    "Reads that passed a replica over, by replica and reason: down, lagging, not_standby,"
    " or behind_own_write (the caller's last write not yet replayed there).",
    ["replica", "reason"],
    registry=REGISTRY,
)
