"""Periodic tasks run once per interval for the whole instance, however many workers."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

import pytest
from tests.conftest import make_settings

from doorstep.config import Settings
from doorstep.db import utcnow
from doorstep.notify import schedule
from doorstep.notify.handlers import JobRegistry
from doorstep.notify.worker import Worker
from doorstep.runtime import Runtime


@pytest.fixture
def second_runtime(tmp_path: Path, settings: Settings) -> Iterator[Runtime]:
    """Another process's runtime on the same database, with a data dir of its own."""
    rt = Runtime(make_settings(tmp_path / "second", settings.resolved_database_url()))
    yield rt
    rt.close()


def _counting_worker(runtime: Runtime, ran: list[str], name: str) -> Worker:
    jobs = JobRegistry()
    jobs.every("sweep", 3600, lambda _rt: ran.append(name) or 1)
    return Worker(runtime, jobs, worker_id=name)


def test_two_workers_run_a_periodic_task_once_per_interval(
    runtime: Runtime, second_runtime: Runtime
) -> None:
    ran: list[str] = []
    first = _counting_worker(runtime, ran, "first")
    second = _counting_worker(second_runtime, ran, "second")
    first.run_periodic()
    second.run_periodic()
    assert ran == ["first"]
    # Both clocks say it is due again (as after a restart): still the instance's interval.
    for worker in (first, second):
        worker.periodic[0].next_at = 0.0
    second.run_periodic()
    first.run_periodic()
    assert ran == ["first"]
    # A forced run (``doorstep worker --once``) runs it whatever the schedule.
    second.run_periodic(force=True)
    assert ran == ["first", "second"]


def test_the_task_is_due_again_after_its_interval_for_whichever_worker_comes(
    runtime: Runtime,
) -> None:
    now = utcnow()

    def claim(worker_id: str, at: timedelta) -> bool:
        with runtime.db.transaction() as session:
            return schedule.claim_periodic_run(
                session=session, name="sweep", every_s=600, worker_id=worker_id, now=now + at
            )

    assert claim("a", timedelta(0))
    assert not claim("b", timedelta(seconds=599))
    assert claim("b", timedelta(seconds=600))
    assert not claim("a", timedelta(seconds=601))
    assert claim("a", timedelta(seconds=1300))


def test_workers_claiming_at_the_same_moment_get_one_run(
    runtime: Runtime, second_runtime: Runtime
) -> None:
    now = utcnow()
    with runtime.db.transaction() as session:  # the row exists: they race on the update
        assert schedule.claim_periodic_run(
            session=session, name="sweep", every_s=60, worker_id="seed", now=now
        )

    def claim(n: int) -> bool:
        rt = (runtime, second_runtime)[n % 2]
        with rt.db.transaction() as session:
            return schedule.claim_periodic_run(
                session=session,
                name="sweep",
                every_s=60,
                worker_id=f"w{n}",
                now=now + timedelta(seconds=61),
            )

    with ThreadPoolExecutor(max_workers=6) as pool:
        won = list(pool.map(claim, range(6)))
    assert won.count(True) == 1
