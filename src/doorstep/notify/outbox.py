"""The transactional outbox: jobs written with their cause, claimed and retried by workers."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import Integer, Select, String, cast, func, insert, literal, or_, select, update
from sqlalchemy.orm import Session

from doorstep import logs
from doorstep.db import UTCDateTime, bulk_insert, utcnow
from doorstep.notify.models import JobStatus, OutboxJob

log = structlog.get_logger(__name__)

# The longest a receiver's Retry-After may delay a retry: a day. Beyond that the hint is
# more likely a mistake (or a date far off) than a plan, and a date past year 9999 would
# not even be stored.
RETRY_AFTER_CAP_S = 86_400.0


class PermanentJobError(Exception):
    """Raised by a handler when retrying cannot help; the job is marked failed at once."""


@dataclass(frozen=True)
class ClaimedJob:
    """A job leased to this worker, as claimed."""

    id: int
    kind: str
    payload: dict[str, Any]
    attempts: int
    request_id: str | None = None


def enqueue(
    *,
    session: Session,
    kind: str,
    payload: dict[str, Any],
    delay_s: float = 0.0,
    max_attempts: int = 8,
) -> OutboxJob:
    """Add a job in the caller's transaction: it exists if and only if the cause commits.

    Payloads carry IDs, not objects.
    """
    job = OutboxJob(
        kind=kind,
        payload=payload,
        run_after=utcnow() + timedelta(seconds=delay_s),
        max_attempts=max_attempts,
        request_id=logs.current_request_id(),
    )
    session.add(job)
    session.flush()
    return job


def enqueue_many(
    *, session: Session, kind: str, payloads: list[dict[str, Any]], max_attempts: int = 8
) -> None:
    """Add many jobs of one kind in one statement (a request's fan-out to thousands)."""
    if not payloads:
        return
    now = utcnow()
    request_id = logs.current_request_id()
    bulk_insert(
        session,
        OutboxJob,
        [
            {
                "kind": kind,
                "payload": payload,
                "status": JobStatus.pending,
                "run_after": now,
                "attempts": 0,
                "max_attempts": max_attempts,
                "created_at": now,
                "request_id": request_id,
            }
            for payload in payloads
        ],
    )


def enqueue_each(
    *, session: Session, kind: str, key: str, ids: Select[Any], max_attempts: int = 8
) -> None:
    """One job of ``kind`` per row of ``ids`` (a one-column select of ids), with the payload
    ``{key: id}``, in one ``INSERT ... SELECT``: the rows never pass through Python (a
    request's notices to 10,000 owners cost one statement). Handlers read the id with
    ``uuid.UUID(payload[key])``, which takes SQLite's 32-digit form as well."""
    column = ids.subquery().c[0]
    if session.get_bind().dialect.name == "postgresql":
        payload = func.jsonb_build_object(key, cast(column, String))
    else:
        payload = func.json_object(key, column)
    now = utcnow()
    table = OutboxJob.__table__
    rows = select(
        literal(kind, String),
        payload,
        literal(JobStatus.pending, table.c.status.type),
        literal(now, UTCDateTime),
        literal(0, Integer),
        literal(max_attempts, Integer),
        literal(now, UTCDateTime),
        literal(logs.current_request_id(), String),
    ).select_from(column.table)
    columns = ["kind", "payload", "status", "run_after", "attempts", "max_attempts", "created_at"]
    session.execute(insert(OutboxJob).from_select([*columns, "request_id"], rows))


def claim_jobs(*, session: Session, worker_id: str, limit: int, lease_s: int) -> list[ClaimedJob]:
    """Lease up to ``limit`` due jobs to this worker.

    PostgreSQL uses ``FOR UPDATE SKIP LOCKED`` so concurrent workers never take the
    same job; SQLite serializes writers. A leased job whose worker dies becomes due
    again when the lease runs out: delivery is at least once.
    """
    now = utcnow()
    stmt = (
        select(
            OutboxJob.id,
            OutboxJob.kind,
            OutboxJob.payload,
            OutboxJob.attempts,
            OutboxJob.request_id,
        )
        .where(
            OutboxJob.status == JobStatus.pending,
            OutboxJob.run_after <= now,
            or_(OutboxJob.locked_until.is_(None), OutboxJob.locked_until < now),
        )
        .order_by(OutboxJob.run_after, OutboxJob.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    jobs = [
        ClaimedJob(id, kind, dict(payload), attempts, request_id)
        for id, kind, payload, attempts, request_id in session.execute(stmt)
    ]
    if jobs:
        session.execute(
            update(OutboxJob)
            .where(OutboxJob.id.in_([job.id for job in jobs]))
            .values(locked_until=now + timedelta(seconds=lease_s), locked_by=worker_id)
        )
    return jobs


def still_leased(*, session: Session, job_ids: list[int], worker_id: str) -> set[int]:
    """Of ``job_ids``, those still pending and leased to this worker, locked for this
    transaction (another worker's claim skips them)."""
    if not job_ids:
        return set()
    return set(
        session.scalars(
            select(OutboxJob.id)
            .where(
                OutboxJob.id.in_(job_ids),
                OutboxJob.locked_by == worker_id,
                OutboxJob.status == JobStatus.pending,
            )
            .with_for_update()
        )
    )


def renew_lease(*, session: Session, job_id: int, worker_id: str, lease_s: int) -> bool:
    """Extend a running job's lease; False when it is no longer this worker's."""
    result = session.execute(
        update(OutboxJob)
        .where(
            OutboxJob.id == job_id,
            OutboxJob.locked_by == worker_id,
            OutboxJob.status == JobStatus.pending,
        )
        .values(locked_until=utcnow() + timedelta(seconds=lease_s))
    )
    return bool(getattr(result, "rowcount", 0))


def release(*, session: Session, job_ids: list[int], worker_id: str) -> None:
    """Give jobs this worker did not start back to the queue, with no attempt counted."""
    if job_ids:
        session.execute(
            update(OutboxJob)
            .where(OutboxJob.id.in_(job_ids), OutboxJob.locked_by == worker_id)
            .values(locked_until=None, locked_by=None)
        )


def backoff_s(attempt: int, *, base_s: float, max_s: float) -> float:
    """Exponential backoff with jitter: base * 2^(attempt-1), capped."""
    delay: float = min(max_s, base_s * (2 ** max(0, attempt - 1)))
    return delay * random.uniform(0.8, 1.2)


def mark_done(*, session: Session, job_id: int) -> None:
    mark_many_done(session=session, job_ids=[job_id])


def mark_many_done(*, session: Session, job_ids: list[int]) -> None:
    if job_ids:
        session.execute(
            update(OutboxJob)
            .where(OutboxJob.id.in_(job_ids))
            .values(status=JobStatus.done, done_at=utcnow(), locked_until=None, locked_by=None)
        )


def mark_failed_attempt(
    *,
    session: Session,
    job_id: int,
    error: str,
    permanent: bool,
    base_s: float,
    max_s: float,
    retry_after_s: float | None = None,
) -> JobStatus:
    """Record a failed attempt; schedule a retry with backoff, or give up.

    ``retry_after_s`` is the receiver's own hint (an HTTP ``Retry-After``): the retry
    is then not due before it, even where the backoff is shorter. The hint is capped at
    ``RETRY_AFTER_CAP_S``, so a receiver cannot park a job for years.
    """
    job = session.get(OutboxJob, job_id)
    if job is None:
        return JobStatus.failed
    job.attempts += 1
    job.last_error = error[:2000]
    job.locked_until = None
    job.locked_by = None
    if permanent or job.attempts >= job.max_attempts:
        job.status = JobStatus.failed
        log.warning("outbox.job_failed", job_id=job_id, kind=job.kind, error=error[:200])
    else:
        delay_s = backoff_s(job.attempts, base_s=base_s, max_s=max_s)
        if retry_after_s is not None:
            delay_s = max(delay_s, min(retry_after_s, RETRY_AFTER_CAP_S))
        job.run_after = utcnow() + timedelta(seconds=delay_s)
    session.flush()
    return job.status


def pending_count(*, session: Session) -> int:
    return (
        session.scalar(
            select(func.count()).select_from(OutboxJob).where(OutboxJob.status == JobStatus.pending)
        )
        or 0
    )


@dataclass(frozen=True)
class QueueFigures:
    """Where the outbox stands for one job kind (for ``/metrics``)."""

    kind: str
    pending: int
    oldest_pending_at: datetime | None
    failed: int


def queue_figures(*, session: Session) -> list[QueueFigures]:
    """Per job kind: the jobs waiting, when the oldest of them was queued, and the jobs
    that failed for good. Done jobs are not read (the status index skips them)."""
    rows = session.execute(
        select(OutboxJob.kind, OutboxJob.status, func.count(), func.min(OutboxJob.created_at))
        .where(OutboxJob.status.in_([JobStatus.pending, JobStatus.failed]))
        .group_by(OutboxJob.kind, OutboxJob.status)
    ).all()
    figures: dict[str, QueueFigures] = {}
    for kind, status, count, oldest in rows:
        known = figures.get(kind, QueueFigures(kind, 0, None, 0))
        if status == JobStatus.pending:
            figures[kind] = QueueFigures(kind, count, oldest, known.failed)
        else:
            figures[kind] = QueueFigures(kind, known.pending, known.oldest_pending_at, count)
    return sorted(figures.values(), key=lambda figure: figure.kind)
