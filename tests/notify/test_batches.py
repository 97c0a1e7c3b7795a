"""Batched delivery: many jobs of a kind in one transaction, one SMTP session, one
keep-alive HTTP client; each job still succeeds or fails on its own."""

from __future__ import annotations

import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from email import message_from_bytes
from typing import Any

import pytest
from sqlalchemy import delete, select
from tests.factories import make_person
from tests.servers import HoldingMailbox, LocalHTTPReceiver

from doorstep.accounts import service as account_service
from doorstep.accounts.models import User
from doorstep.jobs import job_registry
from doorstep.notify import outbox
from doorstep.notify import service as notify_service
from doorstep.notify.channels import PermanentDeliveryError, deliver_in_lanes, no_lane_to_open
from doorstep.notify.channels.email import EMAIL_JOB, close_kept_sessions, kept_session
from doorstep.notify.channels.webhook import WEBHOOK_JOB
from doorstep.notify.handlers import BatchContext, JobContext
from doorstep.notify.models import JobStatus, Notification, OutboxJob, Webhook
from doorstep.notify.worker import Worker
from doorstep.runtime import Runtime


def _jobs(runtime: Runtime, kind: str) -> list[OutboxJob]:
    with runtime.db.transaction() as session:
        return list(
            session.scalars(select(OutboxJob).where(OutboxJob.kind == kind).order_by(OutboxJob.id))
        )


def _alert_everyone(runtime: Runtime, user_ids: list[uuid.UUID]) -> None:
    with runtime.db.transaction() as session:
        for n, user_id in enumerate(user_ids):
            notify_service.alert_user(
                session=session, user_id=user_id, topic="test", title=f"Alert {n}", body="Body"
            )


@pytest.fixture
def mail_runtime(runtime: Runtime, mailbox: tuple[HoldingMailbox, int]) -> Runtime:
    runtime.settings.smtp_host = "127.0.0.1"
    runtime.settings.smtp_port = mailbox[1]
    return runtime


@pytest.mark.parametrize("lanes", [1, 3])
def test_a_batch_of_emails_shares_one_smtp_session_a_lane(
    mail_runtime: Runtime, mailbox: tuple[HoldingMailbox, int], lanes: int
) -> None:
    box, _port = mailbox
    mail_runtime.settings.worker_send_lanes = lanes
    people = [make_person(mail_runtime) for _ in range(8)]
    _alert_everyone(mail_runtime, [p.user.id for p in people])
    Worker(mail_runtime, job_registry(mail_runtime.settings, periodic=False)).drain()

    assert len(box.messages) == 8, "each message once"
    assert len(set(box.peers)) == lanes, "one connection a lane for the whole batch"
    sent_to = sorted(message_from_bytes(m)["To"] for m in box.messages)
    assert sent_to == sorted(p.user.email for p in people)
    assert {j.status for j in _jobs(mail_runtime, EMAIL_JOB)} == {JobStatus.done}


def test_the_next_batch_uses_the_kept_session_and_a_dead_one_is_replaced(
    mail_runtime: Runtime, mailbox: tuple[HoldingMailbox, int]
) -> None:
    box, _port = mailbox
    mail_runtime.settings.worker_send_lanes = 1
    worker = Worker(mail_runtime, job_registry(mail_runtime.settings, periodic=False))
    for _ in range(2):
        _alert_everyone(mail_runtime, [make_person(mail_runtime).user.id for _ in range(2)])
        worker.drain()
    assert len(box.messages) == 4 and len(set(box.peers)) == 1, "kept for the next batch"

    # The server dropped the kept session: its NOOP check fails and a new one is opened.
    with kept_session(mail_runtime.settings) as connection:
        assert connection._client is not None
        connection._client.sock.shutdown(socket.SHUT_RDWR)  # type: ignore[union-attr]
    _alert_everyone(mail_runtime, [make_person(mail_runtime).user.id for _ in range(2)])
    worker.drain()

    assert len(box.messages) == 6 and len(set(box.peers)) == 2
    assert {j.status for j in _jobs(mail_runtime, EMAIL_JOB)} == {JobStatus.done}
    close_kept_sessions()


def test_a_refused_recipient_fails_only_his_own_job(
    mail_runtime: Runtime, mailbox: tuple[HoldingMailbox, int]
) -> None:
    box, _port = mailbox
    mail_runtime.settings.worker_send_lanes = 2
    people = [make_person(mail_runtime) for _ in range(5)]
    box.refuse = {people[2].user.email}
    _alert_everyone(mail_runtime, [p.user.id for p in people])
    Worker(mail_runtime, job_registry(mail_runtime.settings, periodic=False)).drain()

    # the refusal leaves its lane's session open for the next message of that lane
    assert len(box.messages) == 4 and len(set(box.peers)) == 2
    with mail_runtime.db.transaction() as session:
        outcome = {
            account_service.get_user(
                session=session,
                user_id=session.get(
                    Notification, uuid.UUID(job.payload["notification_id"])
                ).user_id,  # type: ignore[union-attr]
            ).email: (job.status, job.attempts, job.last_error)
            for job in session.scalars(select(OutboxJob).where(OutboxJob.kind == EMAIL_JOB))
        }
    refused = outcome.pop(people[2].user.email)
    assert refused[0] == JobStatus.failed and refused[1] == 1  # 5xx: permanent, at once
    assert "550" in (refused[2] or "")
    assert {status for status, _a, _e in outcome.values()} == {JobStatus.done}


def test_webhooks_in_a_batch_each_get_their_own_outcome(
    local_webhooks: Runtime, push_service: LocalHTTPReceiver
) -> None:
    runtime = local_webhooks
    people = [make_person(runtime) for _ in range(4)]
    with runtime.db.transaction() as session:
        for p in people:
            account_service.update_preferences(
                session=session, user=session.merge(p.user), email=False
            )
            notify_service.add_webhook(
                session=session,
                settings=runtime.settings,
                user_id=p.user.id,
                url=push_service.url,
            )
    _alert_everyone(runtime, [p.user.id for p in people])
    with runtime.db.transaction() as session:
        # One owner removed his webhook before delivery, another's notification is gone.
        session.execute(delete(Webhook).where(Webhook.user_id == people[0].user.id))
        session.execute(delete(Notification).where(Notification.user_id == people[1].user.id))
    Worker(runtime, job_registry(runtime.settings, periodic=False)).drain()

    assert len(push_service.received) == 2
    titles = sorted(r.body.decode() for r in push_service.received)
    assert all('"title":"Alert' in t for t in titles)
    statuses = sorted((j.status.value, j.attempts) for j in _jobs(runtime, WEBHOOK_JOB))
    # removed webhook: nothing to deliver (done); missing notification: failed for good.
    assert statuses == [("done", 0), ("done", 0), ("done", 0), ("failed", 1)]


def test_alert_users_matches_alert_user_one_by_one(local_webhooks: Runtime) -> None:
    runtime = local_webhooks
    people = [make_person(runtime) for _ in range(4)]
    with runtime.db.transaction() as session:
        account_service.update_preferences(
            session=session, user=session.merge(people[0].user), email=False
        )
        account_service.update_preferences(
            session=session, user=session.merge(people[1].user), event_kinds=["person"]
        )
        account_service.update_preferences(
            session=session, user=session.merge(people[2].user), in_app=False
        )
        notify_service.add_webhook(
            session=session,
            settings=runtime.settings,
            user_id=people[3].user.id,
            url="https://127.0.0.1/x",
        )
        notify_service.add_webhook(
            session=session,
            settings=runtime.settings,
            user_id=people[3].user.id,
            url="https://127.0.0.1/y",
        )

    def outcome(bulk: bool) -> list[Any]:
        alerts = [
            notify_service.Alert(p.user.id, "motion", "Motion", "At the door", "/x", "vehicle")
            for p in people
        ]
        with runtime.db.transaction() as session:
            if bulk:
                notes = notify_service.alert_users(session=session, alerts=alerts)
            else:
                notes = [
                    notify_service.alert_user(
                        session=session,
                        user_id=a.user_id,
                        topic=a.topic,
                        title=a.title,
                        body=a.body,
                        link=a.link,
                        event_kind=a.event_kind,
                    )
                    for a in alerts
                ]
            shape = [None if n is None else (n.user_id, n.in_inbox) for n in notes]
            jobs = session.scalars(select(OutboxJob).where(OutboxJob.status == JobStatus.pending))
            kinds = sorted(
                (j.kind, session.get(Notification, uuid.UUID(j.payload["notification_id"])).user_id)  # type: ignore[union-attr]
                for j in jobs
            )
            session.execute(delete(OutboxJob))
        return [shape, kinds]

    one_by_one, bulk = outcome(bulk=False), outcome(bulk=True)
    assert one_by_one == bulk
    shape, kinds = bulk
    assert shape[1] is None  # muted "vehicle" alerts
    assert shape[2] == (people[2].user.id, False)  # not in his inbox, still emailed
    assert (EMAIL_JOB, people[0].user.id) not in kinds
    assert kinds.count((WEBHOOK_JOB, people[3].user.id)) == 2


SLOW = "test.slow"
Outcomes = dict[int, Exception | None]


def test_a_batch_stops_before_its_lease_runs_out(runtime: Runtime) -> None:
    runtime.settings.worker_lease_s = 1  # work stops starting after half of it
    handled: list[int] = []

    def slow(ctx: BatchContext, jobs: list[outbox.ClaimedJob]) -> dict[int, Exception | None]:
        outcomes: Outcomes = {}
        for job in jobs:
            if ctx.out_of_time():
                break
            time.sleep(0.1)
            handled.append(job.id)
            outcomes[job.id] = None
        return outcomes

    with runtime.db.transaction() as session:
        outbox.enqueue_many(session=session, kind=SLOW, payloads=[{}] * 12)
    registry = job_registry(runtime.settings, periodic=False)
    registry.add_batch(SLOW, slow)
    assert Worker(runtime, registry).run_once() == 12

    jobs = _jobs(runtime, SLOW)
    done = [j for j in jobs if j.status == JobStatus.done]
    waiting = [j for j in jobs if j.status == JobStatus.pending]
    assert 2 <= len(done) < 12 and sorted(j.id for j in done) == sorted(handled)
    # The rest went back to the queue at once, with no attempt counted.
    assert all(j.attempts == 0 and j.locked_by is None for j in waiting)
    assert len(done) + len(waiting) == 12


BROKEN = "test.broken_batch"


def test_a_failing_batch_runs_its_jobs_one_by_one(runtime: Runtime) -> None:
    singles: list[dict[str, Any]] = []

    def broken(ctx: BatchContext, jobs: list[outbox.ClaimedJob]) -> dict[int, Exception | None]:
        raise RuntimeError("bug in the batch path")

    def single(ctx: JobContext, payload: dict[str, Any]) -> None:
        if payload["n"] == 2:
            raise RuntimeError("this one fails")
        singles.append(payload)

    with runtime.db.transaction() as session:
        outbox.enqueue_many(session=session, kind=BROKEN, payloads=[{"n": n} for n in range(4)])
    registry = job_registry(runtime.settings, periodic=False)
    registry.add_batch(BROKEN, broken)
    registry.add(BROKEN, single)
    Worker(runtime, registry).run_once()

    assert sorted(p["n"] for p in singles) == [0, 1, 3]
    statuses = {j.payload["n"]: (j.status, j.attempts) for j in _jobs(runtime, BROKEN)}
    assert statuses[2] == (JobStatus.pending, 1)  # retried later, with backoff
    assert all(statuses[n] == (JobStatus.done, 0) for n in (0, 1, 3))


def test_enqueue_each_writes_one_job_per_row_in_one_statement(runtime: Runtime) -> None:
    people = [make_person(runtime) for _ in range(3)]
    with runtime.db.transaction() as session:
        outbox.enqueue_each(
            session=session,
            kind="test.each",
            key="user_id",
            ids=select(User.id).where(User.id.in_([p.user.id for p in people[:2]])),
        )
    jobs = _jobs(runtime, "test.each")
    assert sorted(uuid.UUID(j.payload["user_id"]) for j in jobs) == sorted(
        p.user.id for p in people[:2]
    )
    assert all(
        j.status == JobStatus.pending and j.attempts == 0 and j.run_after.tzinfo is not None
        for j in jobs
    )
    # They are due now: a worker claims them.
    with runtime.db.transaction() as session:
        claimed = outbox.claim_jobs(session=session, worker_id="w", limit=10, lease_s=60)
    assert sorted(c.id for c in claimed) == sorted(j.id for j in jobs)


def test_deliveries_in_lanes_are_in_flight_together_each_with_its_outcome(
    runtime: Runtime,
) -> None:
    runtime.settings.worker_send_lanes = 3
    # Every lane must reach the barrier before any goes on: the three sends are in flight
    # at once (one lane at a time would wait here until the barrier's timeout breaks it).
    together = threading.Barrier(3, timeout=10)
    opened: list[str] = []

    @contextmanager
    def lane() -> Iterator[Callable[[int], None]]:
        opened.append(threading.current_thread().name)

        def send(n: int) -> None:
            if n < 3:
                together.wait()
            if n == 4:
                raise PermanentDeliveryError("refused")

        yield send

    with runtime.db.transaction() as session:
        ctx = BatchContext(session=session, services=runtime, deadline=time.monotonic() + 60)
        outcomes = deliver_in_lanes(ctx, [(100 + n, n) for n in range(7)], lane=lane)

    assert len(set(opened)) == 3, "one lane opened per thread"
    assert sorted(outcomes) == [100 + n for n in range(7)]
    assert isinstance(outcomes[104], PermanentDeliveryError)
    assert all(outcomes[100 + n] is None for n in range(7) if n != 4)


def test_lanes_start_nothing_once_the_batch_is_out_of_time(runtime: Runtime) -> None:
    sent: list[int] = []
    with runtime.db.transaction() as session:
        ctx = BatchContext(session=session, services=runtime, deadline=time.monotonic() - 1)
        outcomes = deliver_in_lanes(
            ctx, [(n, n) for n in range(5)], lane=no_lane_to_open(sent.append)
        )

    assert outcomes == {} and sent == []
