"""``db.after_commit``: file deletes wait for the commit, and vanish with a rollback."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from doorstep.accounts import service as account_service
from doorstep.accounts.models import User
from doorstep.db import after_commit
from doorstep.runtime import Runtime


def _add_person(session, email: str) -> None:
    account_service.create_user(
        session=session, actor=None, email=email, display_name="Someone", password="x" * 12
    )


def test_actions_run_after_the_commit_in_order(runtime: Runtime) -> None:
    seen: list[str] = []
    with runtime.db.transaction() as session:
        _add_person(session, "a@example.org")

        def check_committed(label: str) -> None:
            # Another connection sees the row: the action runs after the commit.
            with runtime.db.read_only() as other:
                assert other.scalar(select(func.count()).select_from(User)) == 1
            seen.append(label)

        after_commit(session, lambda: check_committed("first"))
        after_commit(session, lambda: check_committed("second"))
        assert seen == []
    assert seen == ["first", "second"]


def test_a_rolled_back_transaction_runs_none(runtime: Runtime) -> None:
    seen: list[str] = []
    with pytest.raises(RuntimeError), runtime.db.transaction() as session:
        after_commit(session, lambda: seen.append("ran"))
        raise RuntimeError("the work failed")
    assert seen == []


def test_a_failed_commit_runs_none(runtime: Runtime) -> None:
    seen: list[str] = []
    with runtime.db.transaction() as session:
        _add_person(session, "taken@example.org")
    with pytest.raises(IntegrityError), runtime.db.transaction() as session:
        session.add(User(email="taken@example.org", display_name="Again", password_hash="x"))
        after_commit(session, lambda: seen.append("ran"))
    assert seen == []


def test_a_rolled_back_savepoint_drops_only_its_own_actions(runtime: Runtime) -> None:
    seen: list[str] = []
    with runtime.db.transaction() as session:
        after_commit(session, lambda: seen.append("outer"))
        with session.begin_nested():
            after_commit(session, lambda: seen.append("kept savepoint"))
        savepoint = session.begin_nested()
        after_commit(session, lambda: seen.append("rolled back"))
        with session.begin_nested():
            after_commit(session, lambda: seen.append("inside rolled back"))
        savepoint.rollback()
    assert seen == ["outer", "kept savepoint"]


def test_a_failing_action_does_not_stop_the_others(runtime: Runtime) -> None:
    seen: list[str] = []

    def fail() -> None:
        raise OSError("disk gone")

    with runtime.db.transaction() as session:
        after_commit(session, fail)
        after_commit(session, lambda: seen.append("next"))
    assert seen == ["next"]
