"""Area alerts: the chosen categories in the resident's radius, through the outbox and his
channels; a burst of posts sends one alert now and one digest later, not a burst of emails."""

from __future__ import annotations

import email
import email.policy
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update

from doorstep.accounts.models import Role
from doorstep.config import Settings
from doorstep.db import utcnow
from doorstep.feed import alerts
from doorstep.feed.models import Category, Home
from doorstep.jobs import job_registry
from doorstep.notify.models import OutboxJob
from doorstep.notify.worker import Worker
from doorstep.runtime import Runtime
from tests.conftest import make_settings
from tests.factories import HOME_LAT, HOME_LNG, make_person, make_post, notifications, set_home
from tests.servers import HoldingMailbox


@pytest.fixture
def settings(tmp_path: Path, database_url: str, mailbox: tuple[HoldingMailbox, int]) -> Settings:
    return make_settings(tmp_path, database_url, smtp_host="127.0.0.1", smtp_port=mailbox[1])


def _subjects(box: HoldingMailbox, to: str) -> list[str]:
    found = []
    for raw in box.messages:
        message = email.message_from_bytes(raw, policy=email.policy.default)
        if message["To"] == to:
            found.append(str(message["Subject"]))
    return found


def _release_digests(runtime: Runtime) -> None:
    """Make the queued digests due now, as if the interval had passed."""
    with runtime.db.transaction() as session:
        session.execute(
            update(OutboxJob)
            .where(OutboxJob.kind == alerts.DIGEST_JOB)
            .values(run_after=utcnow() - timedelta(seconds=1))
        )


def test_a_burst_sends_one_alert_and_one_digest(
    runtime: Runtime, mailbox: tuple[HoldingMailbox, int]
) -> None:
    box, _port = mailbox
    worker = Worker(runtime, job_registry(runtime.settings, periodic=False))
    author = make_person(runtime)
    set_home(runtime, author, alerts=list(Category))
    resident = make_person(runtime)
    set_home(runtime, resident, alerts=[Category.crime, Category.safety])
    far = make_person(runtime)
    set_home(runtime, far, lat=HOME_LAT + 0.2, lng=HOME_LNG, alerts=list(Category))
    quiet = make_person(runtime)
    set_home(runtime, quiet)  # no categories chosen

    burst = [
        make_post(
            runtime,
            author,
            title=f"Break-in {i}",
            category=Category.crime,
            body="Cars on our block were broken into.",
        )
        for i in range(5)
    ]
    make_post(runtime, author, title="Street fair Sunday", category=Category.community)
    worker.drain()

    got = notifications(runtime, resident)
    assert [n.topic for n in got] == ["feed_post"]
    assert got[0].title == "Crime near you: Break-in 0" and got[0].link == f"/posts/{burst[0].id}"
    assert notifications(runtime, far) == [] and notifications(runtime, quiet) == []
    assert [n.topic for n in notifications(runtime, author)] == []  # not about his own posts
    assert _subjects(box, resident.user.email) == ["[doorstep] Crime near you: Break-in 0"]

    # One of the collected posts is hidden before the digest goes out: it is left out.
    moderator = make_person(runtime, role=Role.moderator)
    from doorstep.feed import moderation

    with runtime.db.transaction() as session:
        moderation.hide_post(
            session=session,
            actor=session.merge(moderator.user),
            post_id=burst[4].id,
            reason="Duplicate post.",
        )
    worker.drain()
    assert len(notifications(runtime, resident)) == 1  # the digest is not due yet
    _release_digests(runtime)
    worker.drain()

    got = notifications(runtime, resident)
    assert [n.topic for n in got] == ["feed_post", "feed_digest"]
    digest = got[1]
    assert digest.title == "3 new posts near you" and digest.link == "/feed"
    assert [line for line in digest.body.splitlines() if line.startswith("- ")] == [
        "- Crime: Break-in 3",
        "- Crime: Break-in 2",
        "- Crime: Break-in 1",
    ]
    assert _subjects(box, resident.user.email) == [
        "[doorstep] Crime near you: Break-in 0",
        "[doorstep] 3 new posts near you",
    ]

    # Right after the digest, the next post waits for the next one.
    make_post(runtime, author, title="Loose wires", category=Category.safety)
    worker.drain()
    assert len(notifications(runtime, resident)) == 2
    with runtime.db.transaction() as session:
        home = session.get(Home, resident.user.id)
        assert home is not None and home.digest_due_at is not None
        jobs = session.scalars(
            select(OutboxJob).where(
                OutboxJob.kind == alerts.DIGEST_JOB,
                OutboxJob.payload["user_id"].as_string() == str(resident.user.id),
            )
        ).all()
        assert len(jobs) == 2  # one digest job per interval, not one per post
    _release_digests(runtime)
    worker.drain()
    assert [n.title for n in notifications(runtime, resident)][-1] == "1 new post near you"


def test_an_alert_after_a_quiet_interval_goes_out_at_once(runtime: Runtime) -> None:
    worker = Worker(runtime, job_registry(runtime.settings, periodic=False))
    author = make_person(runtime)
    set_home(runtime, author)
    resident = make_person(runtime)
    set_home(runtime, resident, alerts=[Category.lost_found_pet])
    make_post(runtime, author, title="Grey cat found", category=Category.lost_found_pet)
    worker.drain()
    with runtime.db.transaction() as session:
        session.execute(
            update(Home)
            .where(Home.user_id == resident.user.id)
            .values(last_alert_at=utcnow() - alerts.ALERT_INTERVAL - timedelta(seconds=1))
        )
    make_post(runtime, author, title="Dog found", category=Category.lost_found_pet)
    worker.drain()
    assert [n.title for n in notifications(runtime, resident)] == [
        "Lost or found pet near you: Grey cat found",
        "Lost or found pet near you: Dog found",
    ]


def test_a_lost_digest_is_queued_again(runtime: Runtime) -> None:
    worker = Worker(runtime, job_registry(runtime.settings, periodic=False))
    author = make_person(runtime)
    set_home(runtime, author)
    resident = make_person(runtime)
    set_home(runtime, resident, alerts=[Category.safety])
    long_ago = utcnow() - 3 * alerts.ALERT_INTERVAL
    with runtime.db.transaction() as session:
        # As if a digest had been queued and its job had failed for good.
        session.execute(
            update(Home)
            .where(Home.user_id == resident.user.id)
            .values(last_alert_at=long_ago, digest_due_at=long_ago)
        )
    make_post(runtime, author, title="Downed wire", category=Category.safety)
    worker.drain()
    assert [n.title for n in notifications(runtime, resident)] == ["1 new post near you"]


def test_two_workers_send_one_alert_and_one_digest_between_them(
    runtime: Runtime, settings: Settings, tmp_path: Path, mailbox: tuple[HoldingMailbox, int]
) -> None:
    """Two worker processes (each its runtime and data dir, one database) taking turns at
    a burst's fan-outs: the resident still gets one alert now and one digest later, since
    when he was last alerted and whether a digest waits are kept with his home."""
    box, _port = mailbox
    other = Runtime(
        make_settings(
            tmp_path / "second",
            settings.resolved_database_url(),
            smtp_host="127.0.0.1",
            smtp_port=mailbox[1],
        )
    )
    workers = [
        Worker(rt, job_registry(rt.settings, periodic=False), worker_id=name)
        for rt, name in ((runtime, "first"), (other, "second"))
    ]
    for worker in workers:
        worker.settings.worker_batch = 1  # one job a turn, so the turns interleave

    def take_turns() -> None:
        while sum(worker.run_once() for worker in workers):
            pass

    try:
        author = make_person(runtime)
        set_home(runtime, author)
        resident = make_person(runtime)
        set_home(runtime, resident, alerts=[Category.crime])
        for i in range(4):
            make_post(runtime, author, title=f"Break-in {i}", category=Category.crime)
        take_turns()
        _release_digests(runtime)
        take_turns()
    finally:
        other.close()
    assert [n.topic for n in notifications(runtime, resident)] == ["feed_post", "feed_digest"]
    assert _subjects(box, resident.user.email) == [
        "[doorstep] Crime near you: Break-in 0",
        "[doorstep] 3 new posts near you",
    ]
    with runtime.db.transaction() as session:
        digests = session.scalars(select(OutboxJob).where(OutboxJob.kind == alerts.DIGEST_JOB))
        assert len(list(digests)) == 1
