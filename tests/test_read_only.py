"""``Database.read_only``: reads that neither wait for a writer nor hold one up, and that
cannot write."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from doorstep.accounts import service as account_service
from doorstep.accounts.models import User
from doorstep.runtime import Runtime


def _add_person(session: Session, email: str) -> None:
    account_service.create_user(
        session=session, actor=None, email=email, display_name="Someone", password="x" * 12
    )


def test_read_only_reads_while_a_writer_holds_the_lock(runtime: Runtime) -> None:
    """On SQLite a unit of work takes the write lock at BEGIN; a read-only transaction
    reads its snapshot beside it instead of waiting (for the busy timeout, then failing
    with "database is locked")."""
    with runtime.db.transaction() as session:
        _add_person(session, "first@example.org")
    with runtime.db.transaction() as writer:
        _add_person(writer, "second@example.org")
        writer.flush()
        with runtime.db.read_only() as reader:
            # The writer's uncommitted row is not seen; the committed one is.
            assert list(reader.scalars(select(User.email))) == ["first@example.org"]
    with runtime.db.read_only() as reader:
        assert reader.scalar(select(func.count()).select_from(User)) == 2


def test_read_only_refuses_writes_and_leaves_the_next_unit_of_work_writable(
    runtime: Runtime,
) -> None:
    with pytest.raises(DBAPIError), runtime.db.read_only() as reader:
        _add_person(reader, "sneaky@example.org")
        reader.flush()
    with runtime.db.transaction() as writer:
        _add_person(writer, "fine@example.org")
    with runtime.db.read_only() as reader:
        emails = list(reader.scalars(select(User.email)))
    assert emails == ["fine@example.org"]
