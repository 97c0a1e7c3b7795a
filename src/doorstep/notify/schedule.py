"""Periodic tasks across workers: each runs once per interval for the whole instance.

Every worker process keeps its own clock of when a task is next due, but only the one
that moves the task's row in ``periodic_runs`` past the due time runs it. The move is
one conditional ``UPDATE``: on PostgreSQL a second worker's update waits on the row lock
and then finds it no longer due; SQLite serializes writers.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from doorstep.db import utcnow
from doorstep.notify.models import PeriodicRun

__all__ = ["claim_periodic_run"]


def claim_periodic_run(
    *, session: Session, name: str, every_s: float, worker_id: str, now: datetime | None = None
) -> bool:
    """Whether this worker runs the task ``name`` now: True for exactly one caller per
    interval (the first to come once it is due; a task never seen before is due), after
    which the task is due again ``every_s`` seconds later."""
    now = now or utcnow()
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    session.execute(
        dialect.insert(PeriodicRun)
        .values(name=name, due_at=now)
        .on_conflict_do_nothing(index_elements=["name"])
    )
    moved = session.execute(
        update(PeriodicRun)
        .where(PeriodicRun.name == name, PeriodicRun.due_at <= now)
        .values(due_at=now + timedelta(seconds=every_s), last_started_at=now, last_run_by=worker_id)
        .execution_options(synchronize_session=False)
    )
    return bool(moved.rowcount == 1)  # type: ignore[attr-defined]
