"""What a job handler is and gets, and the registry of handlers the worker is given.

The worker knows no domain: the process's entry point builds a ``JobRegistry`` (see
``doorstep.jobs``) with every job kind and periodic task, and hands it to the worker.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy.orm import Session

from doorstep.config import Settings
from doorstep.media.storage import MediaStorage
from doorstep.notify.outbox import ClaimedJob
from doorstep.runtime import Runtime

__all__ = [
    "BatchContext",
    "BatchHandler",
    "JobContext",
    "JobHandler",
    "JobRegistry",
    "LongJobContext",
    "LongJobHandler",
    "PeriodicTask",
    "Services",
]


class Services(Protocol):
    """The process's pieces a handler may use besides its session (``Runtime`` is one).

    No database handle: a handler works in the transaction it is given, so its effects
    commit or roll back with the job.
    """

    @property
    def settings(self) -> Settings: ...

    @property
    def storage(self) -> MediaStorage: ...


@dataclass
class JobContext:
    """What a handler gets: its own session (one transaction per job) and the services."""

    session: Session
    job_id: int
    attempt: int
    services: Services


@dataclass
class BatchContext:
    """What a batch handler gets: one session for the whole batch, the services, and the
    monotonic time after which it must not start another delivery (the lease is running
    out; what is left goes back to the queue)."""

    session: Session
    services: Services
    deadline: float

    def out_of_time(self) -> bool:
        return time.monotonic() >= self.deadline


@dataclass
class LongJobContext:
    """What a long job's handler gets (seconds to minutes of work, such as redacting a
    clip): no transaction held while it works. It opens short ones of its own with
    ``transaction()`` (read what it needs; record the result, checking it is still
    wanted: a job may run twice), and calls ``keep_alive()`` now and then, which renews
    its lease and answers False once the lease is lost."""

    job_id: int
    attempt: int
    services: Services
    transaction: Callable[[], AbstractContextManager[Session]]
    keep_alive: Callable[[], bool]


JobHandler = Callable[[JobContext, dict[str, Any]], None]
LongJobHandler = Callable[[LongJobContext, dict[str, Any]], None]
# A batch handler gets many claimed jobs of one kind and answers, for each job it
# attempted, None (done) or the exception that failed it; a job it did not attempt (its
# time ran out) is left out of the answer and goes back to the queue untouched.
BatchHandler = Callable[[BatchContext, list[ClaimedJob]], dict[int, Exception | None]]


@dataclass
class PeriodicTask:
    """A sweep the worker runs every ``every_s`` seconds, in transactions of its own."""

    name: str
    every_s: float
    run: Callable[[Runtime], int]
    next_at: float = 0.0


class JobRegistry:
    """The job kinds a worker runs, each with its handler (and maybe a batch handler),
    and its periodic tasks. A kind is registered once: a second handler is a mistake."""

    def __init__(self) -> None:
        self._handlers: dict[str, JobHandler] = {}
        self._batch_handlers: dict[str, BatchHandler] = {}
        self._long_handlers: dict[str, LongJobHandler] = {}
        self.periodic: list[PeriodicTask] = []

    def add(self, kind: str, run: JobHandler) -> None:
        """Run jobs of ``kind`` with ``run``, one job per transaction."""
        if kind in self._handlers:
            raise ValueError(f"job kind {kind!r} already has a handler")
        self._handlers[kind] = run

    def add_batch(self, kind: str, run: BatchHandler) -> None:
        """Run many jobs of ``kind`` at once with ``run`` (one transaction, bulk reads, one
        connection to the outside). The single-job handler stays the fallback: a batch
        that raises is run again one job at a time."""
        if kind in self._batch_handlers:
            raise ValueError(f"job kind {kind!r} already has a batch handler")
        self._batch_handlers[kind] = run

    def add_long(self, kind: str, run: LongJobHandler) -> None:
        """Run jobs of ``kind`` with ``run`` outside any transaction (a long job: on
        SQLite a transaction holds the write lock, so a long one would stall every
        writer). The job is marked done after ``run`` returns, if still leased."""
        if kind in self._handlers or kind in self._long_handlers:
            raise ValueError(f"job kind {kind!r} already has a handler")
        self._long_handlers[kind] = run

    def long_handler_for(self, kind: str) -> LongJobHandler | None:
        return self._long_handlers.get(kind)

    def every(self, name: str, every_s: float, run: Callable[[Runtime], int]) -> None:
        """Run ``run`` every ``every_s`` seconds (and once at the worker's start)."""
        self.periodic.append(PeriodicTask(name, every_s, run))

    def handler_for(self, kind: str) -> JobHandler | None:
        return self._handlers.get(kind)

    def batch_handler_for(self, kind: str) -> BatchHandler | None:
        return self._batch_handlers.get(kind)
