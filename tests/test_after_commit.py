"""``db.after_commit``: file deletes wait for the commit, and vanish with a rollback."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from doorstep.accounts import service as account_service
from doorstep.accounts.models import User
from doorstep.db import after_commit, undo_on_rollback
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


def test_a_rolled_back_savepoint_drops_its_actions_and_undoes_its_files(
    runtime: Runtime,
) -> None:
    seen: list[str] = []
    undone: list[str] = []

    def both(label: str) -> None:
        after_commit(session, lambda: seen.append(label))
        undo_on_rollback(session, lambda: undone.append(label))

    with runtime.db.transaction() as session:
        both("outer")
        with session.begin_nested():
            both("kept savepoint")
        savepoint = session.begin_nested()
        both("rolled back")
        with session.begin_nested():
            both("inside rolled back")
        savepoint.rollback()
        # The rolled-back savepoint's files are undone at once, last first.
        assert undone == ["inside rolled back", "rolled back"]
    assert seen == ["outer", "kept savepoint"]
    # The transaction committed: its other files stay, and nothing is undone twice.
    assert undone == ["inside rolled back", "rolled back"]


def test_a_failing_action_does_not_stop_the_others(runtime: Runtime) -> None:
    seen: list[str] = []

    def fail() -> None:
        raise OSError("disk gone")

    with runtime.db.transaction() as session:
        after_commit(session, fail)
        after_commit(session, lambda: seen.append("next"))
    assert seen == ["next"]


def test_a_rolled_back_transaction_undoes_what_its_savepoints_kept(runtime: Runtime) -> None:
    undone: list[str] = []
    with pytest.raises(RuntimeError), runtime.db.transaction() as session:
        undo_on_rollback(session, lambda: undone.append("outer"))
        with session.begin_nested():
            undo_on_rollback(session, lambda: undone.append("kept savepoint"))
        raise RuntimeError("the work failed")
    assert undone == ["kept savepoint", "outer"]
