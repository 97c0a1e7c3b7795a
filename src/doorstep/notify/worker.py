"""The worker: drains the outbox and runs periodic sweeps.

Runs as ``doorstep worker`` (production, any number of processes) or as a thread
inside ``doorstep demo``/``serve --with-worker`` (embedded default). Jobs are claimed
with ``SKIP LOCKED``; each periodic task runs once per interval for the whole instance,
in whichever worker claims it (``notify.schedule``). It knows no domain:
it runs the job kinds and periodic tasks of the ``JobRegistry`` it is given
(``doorstep.jobs.job_registry`` builds the product's).
"""

from __future__ import annotations

import os
import socket
import threading
import time

import structlog
from sqlalchemy.orm import Session

from doorstep import logs
from doorstep.notify import outbox, schedule
from doorstep.notify.channels import DeliveryError, PermanentDeliveryError
from doorstep.notify.handlers import (
    BatchContext,
    BatchHandler,
    JobContext,
    JobRegistry,
    LongJobContext,
    LongJobHandler,
)
from doorstep.notify.models import OutboxJob
from doorstep.runtime import Runtime
from doorstep.telemetry import JOB_BATCH_SECONDS, JOB_FAILURES, JOB_SECONDS, JOBS_DONE

log = structlog.get_logger(__name__)


class Worker:
    def __init__(
        self, runtime: Runtime, jobs: JobRegistry, *, worker_id: str | None = None
    ) -> None:
        self.runtime = runtime
        self.settings = runtime.settings
        self.jobs = jobs
        self.worker_id = worker_id or f"{socket.gethostname()}:{os.getpid()}:{id(self):x}"
        self.periodic = jobs.periodic

    def run_once(self) -> int:
        """Claim one batch and run it; returns how many jobs were claimed.

        Jobs of a kind with a batch handler run together (one transaction, bulk reads, one
        connection to the outside); the rest one by one, each in its own transaction. Work
        stops starting once half the lease has passed: what is left goes back to the queue
        untouched, so a slow receiver never lets a lease run out under a running job.
        """
        lease_s = self.settings.worker_lease_s
        with self.runtime.db.transaction() as session:
            jobs = outbox.claim_jobs(
                session=session,
                worker_id=self.worker_id,
                limit=self.settings.worker_batch,
                lease_s=lease_s,
            )
        deadline = time.monotonic() + lease_s / 2
        by_kind: dict[str, list[outbox.ClaimedJob]] = {}
        for job in jobs:
            by_kind.setdefault(job.kind, []).append(job)
        for kind, group in by_kind.items():
            batch = self.jobs.batch_handler_for(kind)
            if batch is not None and len(group) > 1:
                self._run_batch(batch, group, deadline)
            else:
                self._run_one_by_one(group, deadline)
        return len(jobs)

    def _run_one_by_one(self, jobs: list[outbox.ClaimedJob], deadline: float) -> None:
        """Each job in its own transaction, until half the lease is gone; the rest go back."""
        for i, job in enumerate(jobs):
            if time.monotonic() >= deadline:
                self._release(jobs[i:])
                return
            long_run = self.jobs.long_handler_for(job.kind)
            with logs.bound(job_id=job.id, job_kind=job.kind, request_id=job.request_id):
                if long_run is not None:
                    self._run_long_job(long_run, job)
                else:
                    self._run_job(job.id)

    def _release(self, jobs: list[outbox.ClaimedJob]) -> None:
        with self.runtime.db.transaction() as session:
            outbox.release(
                session=session, job_ids=[job.id for job in jobs], worker_id=self.worker_id
            )

    def _run_batch(self, run: BatchHandler, jobs: list[outbox.ClaimedJob], deadline: float) -> None:
        if time.monotonic() >= deadline:
            self._release(jobs)
            return
        started = time.monotonic()
        try:
            with self.runtime.db.transaction() as session:
                held = outbox.still_leased(
                    session=session, job_ids=[job.id for job in jobs], worker_id=self.worker_id
                )
                jobs = [job for job in jobs if job.id in held]  # others: lease lost
                ctx = BatchContext(session=session, services=self.runtime, deadline=deadline)
                outcomes = run(ctx, jobs) if jobs else {}
                done = [job_id for job_id, error in outcomes.items() if error is None]
                outbox.mark_many_done(session=session, job_ids=done)
                for job_id, error in outcomes.items():
                    if error is not None:
                        self._record_failure(session, job_id, error, kind=jobs[0].kind)
                outbox.release(
                    session=session,
                    job_ids=[job.id for job in jobs if job.id not in outcomes],
                    worker_id=self.worker_id,
                )
            log.info(
                "outbox.batch_done",
                kind=jobs[0].kind if jobs else None,
                done=len(done),
                failed=len(outcomes) - len(done),
                request_ids=sorted({j.request_id for j in jobs if j.request_id})[:20],
            )
            if jobs:
                JOB_BATCH_SECONDS.labels(jobs[0].kind).observe(time.monotonic() - started)
                JOBS_DONE.labels(jobs[0].kind).inc(len(done))
        except Exception as exc:
            # The batch as a whole failed (a database error, a bug): run its jobs one by
            # one, so each failure is recorded against its own job. Deliveries the batch
            # made before failing may be made again: delivery is at least once.
            kind = jobs[0].kind if jobs else None
            log.warning("outbox.batch_error", kind=kind, jobs=len(jobs), error=repr(exc))
            self._run_one_by_one(jobs, deadline)

    def _record_failure(
        self, session: Session, job_id: int, exc: Exception, *, kind: str | None
    ) -> None:
        """Count the failed attempt: give up at once when retrying cannot help, else retry
        after the backoff, and never before the receiver's ``Retry-After``."""
        permanent = isinstance(exc, outbox.PermanentJobError | PermanentDeliveryError)
        retry_after_s = exc.retry_after_s if isinstance(exc, DeliveryError) else None
        JOB_FAILURES.labels(kind or "unknown", "yes" if permanent else "no").inc()
        log.warning(
            "outbox.job_error",
            job_id=job_id,
            error=repr(exc),
            permanent=permanent,
            retry_after_s=retry_after_s,
        )
        outbox.mark_failed_attempt(
            session=session,
            job_id=job_id,
            error=f"{type(exc).__name__}: {exc}",
            permanent=permanent,
            base_s=self.settings.worker_backoff_base_s,
            max_s=self.settings.worker_backoff_max_s,
            retry_after_s=retry_after_s,
        )

    def _run_job(self, job_id: int) -> None:
        db = self.runtime.db
        started = time.monotonic()
        kind: str | None = None
        try:
            with db.transaction() as session:
                job = session.get(OutboxJob, job_id)
                if job is None or job.locked_by != self.worker_id:
                    return  # lease lost to another worker
                kind = job.kind
                run = self.jobs.handler_for(job.kind)
                if run is None:
                    raise outbox.PermanentJobError(f"no handler for job kind {job.kind!r}")
                ctx = JobContext(
                    session=session, job_id=job_id, attempt=job.attempts + 1, services=self.runtime
                )
                run(ctx, dict(job.payload))
                outbox.mark_done(session=session, job_id=job_id)
            log.info("outbox.job_done", job_id=job_id)
            JOBS_DONE.labels(kind).inc()
        except Exception as exc:  # every failure is recorded and retried, never lost
            with db.transaction() as session:
                self._record_failure(session, job_id, exc, kind=kind)
        finally:
            if kind is not None:
                JOB_SECONDS.labels(kind).observe(time.monotonic() - started)

    def _keep_alive(self, job_id: int) -> bool:
        with self.runtime.db.transaction() as session:
            return outbox.renew_lease(
                session=session,
                job_id=job_id,
                worker_id=self.worker_id,
                lease_s=self.settings.worker_lease_s,
            )

    def _run_long_job(self, run: LongJobHandler, job: outbox.ClaimedJob) -> None:
        """A long job: its handler opens its own short transactions; the job is marked
        done afterwards if this worker still holds it (else another worker ran it)."""
        started = time.monotonic()
        try:
            if not self._keep_alive(job.id):
                return  # lease lost to another worker
            ctx = LongJobContext(
                job_id=job.id,
                attempt=job.attempts + 1,
                services=self.runtime,
                transaction=self.runtime.db.transaction,
                keep_alive=lambda: self._keep_alive(job.id),
            )
            run(ctx, dict(job.payload))
            with self.runtime.db.transaction() as session:
                if outbox.still_leased(session=session, job_ids=[job.id], worker_id=self.worker_id):
                    outbox.mark_done(session=session, job_id=job.id)
            log.info("outbox.job_done", job_id=job.id)
            JOBS_DONE.labels(job.kind).inc()
        except Exception as exc:  # recorded and retried like any job's failure
            with self.runtime.db.transaction() as session:
                self._record_failure(session, job.id, exc, kind=job.kind)
        finally:
            JOB_SECONDS.labels(job.kind).observe(time.monotonic() - started)

    def run_periodic(self, *, force: bool = False) -> None:
        """Run the periodic tasks due by this worker's clock that no other worker of the
        instance ran in their interval (``force``: every task, now)."""
        now = time.monotonic()
        for task in self.periodic:
            if force or now >= task.next_at:
                task.next_at = now + task.every_s
                try:
                    if not force and not self._claim(task.name, task.every_s):
                        continue
                    done = task.run(self.runtime)
                    if done:
                        log.info("worker.periodic", task=task.name, count=done)
                except Exception as exc:
                    log.warning("worker.periodic_error", task=task.name, error=repr(exc))

    def _claim(self, name: str, every_s: float) -> bool:
        with self.runtime.db.transaction() as session:
            return schedule.claim_periodic_run(
                session=session, name=name, every_s=every_s, worker_id=self.worker_id
            )

    def drain(self, *, max_rounds: int = 100) -> int:
        """Run until no job is due (tests and one-shot runs)."""
        total = 0
        for _ in range(max_rounds):
            n = self.run_once()
            total += n
            if n == 0:
                break
        return total

    def run_forever(self, stop: threading.Event) -> None:
        log.info("worker.started", worker_id=self.worker_id)
        while not stop.is_set():
            try:
                self.run_periodic()
                n = self.run_once()
            except Exception as exc:  # a database hiccup must not kill the worker
                log.warning("worker.loop_error", error=repr(exc))
                n = 0
            if n == 0:
                stop.wait(self.settings.worker_poll_s)
        log.info("worker.stopped", worker_id=self.worker_id)


def start_in_thread(
    runtime: Runtime, jobs: JobRegistry
) -> tuple[threading.Thread, threading.Event]:
    """The embedded default: a worker thread inside the web process."""
    stop = threading.Event()
    worker = Worker(runtime, jobs)
    thread = threading.Thread(
        target=worker.run_forever, args=(stop,), name="doorstep-worker", daemon=True
    )
    thread.start()
    return thread, stop
