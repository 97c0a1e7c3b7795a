"""db.bulk_insert: COPY on PostgreSQL, executemany on SQLite, the same rows as the ORM."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from doorstep.db import COPY_FROM_ROWS, bulk_insert
from doorstep.notify.models import JobStatus, OutboxJob
from doorstep.runtime import Runtime


def _row(n: int, when: datetime) -> dict[str, object]:
    return {
        "kind": "test.bulk",
        # Text that COPY's format must escape: tabs, newlines, backslashes, quotes.
        "payload": {"n": n, "text": 'tab\there\nnew line \\ "quoted" \u00e9', "none": None},
        "status": JobStatus.pending,
        "run_after": when,
        "attempts": 0,
        "max_attempts": 3,
        "locked_until": None,
        "locked_by": None,
        "last_error": "x\ty" if n % 2 else None,
        "created_at": when,
        "done_at": None,
    }


@pytest.mark.parametrize("count", [COPY_FROM_ROWS, 3])  # COPY on PostgreSQL, and INSERT
def test_rows_read_back_as_the_orm_writes_them(runtime: Runtime, count: int) -> None:
    when = datetime(2026, 11, 29, 12, 0, tzinfo=UTC) + timedelta(microseconds=123_456)
    with runtime.db.transaction() as session:
        bulk_insert(session, OutboxJob, [_row(n, when) for n in range(count)])
        session.add(OutboxJob(**_row(count, when)))  # the ORM's own insert, to compare
    with runtime.db.transaction() as session:
        jobs = list(session.scalars(select(OutboxJob).order_by(OutboxJob.id)))
        statuses = session.execute(
            select(OutboxJob.__table__.c.status).order_by(OutboxJob.id)
        ).scalars()
        stored_status = set(statuses)
    assert len(jobs) == count + 1
    for n, job in enumerate(jobs):
        assert job.payload == _row(n, when)["payload"]
        assert job.run_after == when and job.created_at == when
        assert job.status == JobStatus.pending and job.last_error == _row(n, when)["last_error"]
    assert stored_status == {JobStatus.pending}


def test_rows_must_name_every_column_with_a_default(runtime: Runtime) -> None:
    row = _row(1, datetime.now(UTC))
    del row["created_at"]
    with runtime.db.transaction() as session, pytest.raises(ValueError, match="created_at"):
        bulk_insert(session, OutboxJob, [row])
    other = _row(2, datetime.now(UTC))
    other["extra"] = uuid.uuid4()
    with runtime.db.transaction() as session, pytest.raises(ValueError, match="same columns"):
        bulk_insert(session, OutboxJob, [_row(1, datetime.now(UTC)), other])


def test_a_rolled_back_transaction_keeps_nothing(runtime: Runtime) -> None:
    with pytest.raises(RuntimeError), runtime.db.transaction() as session:
        bulk_insert(session, OutboxJob, [_row(n, datetime.now(UTC)) for n in range(5)])
        raise RuntimeError("the cause failed")
    with runtime.db.transaction() as session:
        assert session.scalars(select(OutboxJob)).first() is None
