"""The outbox: alerts survive a crash between commit and send, retry with backoff, never vanish."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from email import message_from_bytes
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from tests.factories import make_camera, make_person, sample_clip, upload_clip
from tests.servers import HoldingMailbox

from doorstep.config import Settings
from doorstep.jobs import job_registry
from doorstep.notify import outbox
from doorstep.notify.handlers import JobContext
from doorstep.notify.models import JobStatus, OutboxJob
from doorstep.notify.worker import Worker
from doorstep.runtime import Runtime


@pytest.fixture
def mail_runtime(runtime: Runtime, mailbox: tuple[HoldingMailbox, int]) -> Runtime:
    runtime.settings.smtp_host = "127.0.0.1"
    runtime.settings.smtp_port = mailbox[1]
    return runtime


def _worker_env(settings: Settings, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "DOORSTEP_DATABASE_URL": settings.resolved_database_url(),
            "DOORSTEP_MEDIA_URL": settings.resolved_media_url(),
            "DOORSTEP_DATA_DIR": str(settings.data_dir),
            "DOORSTEP_SMTP_HOST": str(settings.smtp_host),
            "DOORSTEP_SMTP_PORT": str(settings.smtp_port),
            "DOORSTEP_WORKER_POLL_S": "0.1",
            "DOORSTEP_RETENTION_SWEEP_S": "3600",
        }
    )
    env.update(extra)
    return env


def _jobs(runtime: Runtime) -> list[OutboxJob]:
    with runtime.db.transaction() as session:
        return list(session.scalars(select(OutboxJob).order_by(OutboxJob.id)))


def _wait(predicate, timeout_s: float = 20.0) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def test_worker_killed_mid_send_loses_no_alert(
    client: TestClient, mail_runtime: Runtime, mailbox: tuple[HoldingMailbox, int], tmp_path: Path
) -> None:
    """The clip commits with its email job; a worker dies while sending; the next one delivers."""
    box, _port = mailbox
    owner = make_person(mail_runtime)
    cam = make_camera(mail_runtime, owner.user, name="Porch")
    assert upload_clip(client, cam, sample_clip(tmp_path), kind="package").status_code == 201
    # The request process could die right here: the alert is already durable.
    [job] = _jobs(mail_runtime)
    assert job.kind == "notify.email" and job.status == JobStatus.pending

    box.release.clear()  # the first worker's send hangs in DATA
    first = subprocess.Popen(
        [sys.executable, "-m", "doorstep", "worker"],
        env=_worker_env(mail_runtime.settings, DOORSTEP_WORKER_LEASE_S="2"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        assert box.data_started.wait(30), "the worker never started sending"
        first.send_signal(signal.SIGKILL)
        first.wait(10)
    finally:
        if first.poll() is None:
            first.kill()
    assert box.messages == []
    [job] = _jobs(mail_runtime)
    assert job.status == JobStatus.pending and job.locked_by is not None

    box.release.set()
    second = subprocess.Popen(
        [sys.executable, "-m", "doorstep", "worker"],
        env=_worker_env(mail_runtime.settings, DOORSTEP_WORKER_LEASE_S="2"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        assert _wait(lambda: _jobs(mail_runtime)[0].status == JobStatus.done, 30)
    finally:
        second.send_signal(signal.SIGTERM)
        second.wait(10)
    assert len(box.messages) >= 1
    message = message_from_bytes(box.messages[-1])
    assert message["To"] == owner.user.email
    assert "Package at Porch" in message["Subject"]


def test_rolled_back_cause_sends_nothing(runtime: Runtime) -> None:
    owner = make_person(runtime)
    with pytest.raises(RuntimeError), runtime.db.transaction() as session:
        outbox.enqueue(session=session, kind="notify.email", payload={"notification_id": "x"})
        raise RuntimeError("the cause failed")
    assert _jobs(runtime) == []
    assert owner.user.id is not None


def test_failures_retry_with_backoff_then_give_up(runtime: Runtime) -> None:
    calls: list[int] = []

    def flaky(ctx: JobContext, payload: dict[str, object]) -> None:
        calls.append(ctx.attempt)
        if ctx.attempt < 3:
            raise ConnectionError("receiver down")

    def broken(ctx: JobContext, payload: dict[str, object]) -> None:
        raise ConnectionError("always down")

    jobs = job_registry(runtime.settings, periodic=False)
    jobs.add("test.flaky", flaky)
    jobs.add("test.broken", broken)
    with runtime.db.transaction() as session:
        outbox.enqueue(session=session, kind="test.flaky", payload={})
        outbox.enqueue(session=session, kind="test.broken", payload={}, max_attempts=3)
    worker = Worker(runtime, jobs)
    worker.drain()
    flaky_job, broken_job = _jobs(runtime)
    assert calls == [1, 2, 3]
    assert flaky_job.status == JobStatus.done and flaky_job.attempts == 2
    assert broken_job.status == JobStatus.failed and broken_job.attempts == 3
    assert "always down" in (broken_job.last_error or "")


def test_backoff_grows_and_is_capped() -> None:
    delays = [outbox.backoff_s(a, base_s=5, max_s=600) for a in range(1, 12)]
    assert 4 <= delays[0] <= 6 and 8 <= delays[1] <= 12 and 16 <= delays[2] <= 24
    assert max(delays) <= 600 * 1.2


def test_retry_waits_for_backoff(runtime: Runtime) -> None:
    runtime.settings.worker_backoff_base_s = 60.0
    runtime.settings.worker_backoff_max_s = 600.0

    def down(ctx: JobContext, payload: dict[str, object]) -> None:
        raise ConnectionError("down")

    jobs = job_registry(runtime.settings, periodic=False)
    jobs.add("test.down", down)
    with runtime.db.transaction() as session:
        outbox.enqueue(session=session, kind="test.down", payload={})
    worker = Worker(runtime, jobs)
    assert worker.run_once() == 1
    assert worker.run_once() == 0, "a failed job is not due again before its backoff"
    [job] = _jobs(runtime)
    assert job.run_after - job.created_at >= timedelta(seconds=40)


def test_unknown_kind_fails_permanently(runtime: Runtime) -> None:
    with runtime.db.transaction() as session:
        outbox.enqueue(session=session, kind="test.nobody", payload={})
    Worker(runtime, job_registry(runtime.settings, periodic=False)).drain()
    [job] = _jobs(runtime)
    assert job.status == JobStatus.failed and job.attempts == 1


def test_two_workers_never_take_the_same_job(runtime: Runtime) -> None:
    with runtime.db.transaction() as session:
        for _ in range(30):
            outbox.enqueue(session=session, kind="test.noop", payload={})
    a, b = (
        Worker(runtime, job_registry(runtime.settings, periodic=False)),
        Worker(runtime, job_registry(runtime.settings, periodic=False)),
    )
    with runtime.db.transaction() as session:
        first = outbox.claim_jobs(session=session, worker_id=a.worker_id, limit=20, lease_s=60)
    with runtime.db.transaction() as session:
        second = outbox.claim_jobs(session=session, worker_id=b.worker_id, limit=20, lease_s=60)
    assert len(first) == 20 and len(second) == 10
    assert not {job.id for job in first} & {job.id for job in second}


def test_a_kind_has_one_handler(runtime: Runtime) -> None:
    jobs = job_registry(runtime.settings, periodic=False)

    def noop(ctx: JobContext, payload: dict[str, object]) -> None:
        pass

    jobs.add("test.once", noop)
    with pytest.raises(ValueError, match="already has a handler"):
        jobs.add("test.once", noop)
    assert jobs.handler_for("test.once") is noop and jobs.periodic == []
    assert len(job_registry(runtime.settings).periodic) == 7


def test_the_worker_imports_no_domain() -> None:
    # The registry is passed in; importing the worker must not load a domain's handlers.
    code = (
        "import sys, doorstep.notify.worker; "
        "print(' '.join(sorted(m for m in sys.modules if m.startswith('doorstep.'))))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.split()
    domains = ("accounts", "agencies", "cameras", "feed", "footage", "transparency", "jobs")
    assert not [m for m in loaded if m.split(".")[1] in domains]
    assert "doorstep.notify.worker" in loaded
