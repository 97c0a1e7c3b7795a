"""Data versions: a counter per named view of the data, bumped in the same transaction as
every write to the tables that view reads, so that a reader can tell with one tiny query
whether what it computed earlier is still what the database holds.

A table joins a view by its ``info`` (:func:`tracked`). Every ORM flush, every
``insert``/``update``/``delete`` run through a session and every :func:`db.bulk_insert`
(its ``COPY`` included) on such a table marks the view; a delete also marks the views of
the tables whose rows the database removes or changes with it (``ON DELETE CASCADE`` or
``SET NULL``). When the transaction commits, each marked view's counter is raised by one,
as the transaction's last statement (so its row lock is held for the commit only, and a
transaction holding it never waits on another). A rollback raises nothing.

What is not seen: SQL written as text, and writes made outside the application (a
``psql`` session). Those must raise the counter themselves (:func:`bump`).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import BigInteger, Connection, String, Table, event, select, text
from sqlalchemy.orm import Mapped, Session, mapped_column

from doorstep import db
from doorstep.db import Base

INFO_KEY = db.VIEWS_INFO_KEY

# The public request log: requests, their recipients' answers, evidence sent unredacted,
# agencies' names and the policies that set the public resolution.
REQUEST_LOG = "request_log"


class DataVersion(Base):
    """One counter per view; a missing row reads as version 0."""

    __tablename__ = "data_versions"

    name: Mapped[str] = mapped_column(String(60), primary_key=True)
    version: Mapped[int] = mapped_column(BigInteger)


def tracked(*views: str) -> dict[str, Any]:
    """The ``info`` that makes a table's writes raise ``views``' counters."""
    return {INFO_KEY: frozenset(views)}


def current(session: Session | Connection, view: str) -> int:
    """The view's counter as this session's transaction (or this connection) sees it."""
    found = session.scalar(select(DataVersion.version).where(DataVersion.name == view))
    return int(found or 0)


_BUMP = text(
    "INSERT INTO data_versions (name, version) VALUES (:name, 1) "
    "ON CONFLICT (name) DO UPDATE SET version = data_versions.version + 1"
)


def bump(session: Session, views: Iterable[str]) -> None:
    """Raise each view's counter by one in the session's transaction."""
    for view in sorted(set(views)):
        session.execute(_BUMP, {"name": view})


# (tables known when it was made, table name -> views): made again when more models were
# imported since (a process that wrote before importing them all).
_cascades: tuple[int, dict[str, frozenset[str]]] = (0, {})


def _cascaded_views() -> dict[str, frozenset[str]]:
    """Table name -> the views of the tracked tables its deletes change in the database."""
    global _cascades
    known = len(Base.metadata.tables)
    if _cascades[0] != known:
        found: dict[str, set[str]] = {}
        for table in Base.metadata.tables.values():
            views = table.info.get(INFO_KEY)
            if not views:
                continue
            for fk in table.foreign_keys:
                if (fk.ondelete or "").upper() in ("CASCADE", "SET NULL"):
                    found.setdefault(fk.column.table.name, set()).update(views)
        _cascades = (known, {name: frozenset(views) for name, views in found.items()})
    return _cascades[1]


def _views_of(table: Any, *, deleting: bool) -> set[str]:
    if not isinstance(table, Table):
        return set()
    views = set(table.info.get(INFO_KEY, ()))
    if deleting:
        views |= _cascaded_views().get(table.name, frozenset())
    return views


def _mark(session: Session, views: set[str]) -> None:
    if views:
        session.info.setdefault(db.WRITTEN_VIEWS_KEY, set()).update(views)


@event.listens_for(Session, "before_flush")
def _note_flush(session: Session, _context: Any, _instances: Any) -> None:
    views: set[str] = set()
    for deleting, objects in (
        (False, session.new),
        (False, session.dirty),
        (True, session.deleted),
    ):
        for obj in objects:
            views |= _views_of(getattr(obj, "__table__", None), deleting=deleting)
    _mark(session, views)


@event.listens_for(Session, "do_orm_execute")
def _note_statement(state: Any) -> None:
    if not (state.is_insert or state.is_update or state.is_delete):
        return
    _mark(
        state.session, _views_of(getattr(state.statement, "table", None), deleting=state.is_delete)
    )


@event.listens_for(Session, "before_commit")
def _raise_counters(session: Session) -> None:
    # Also at a savepoint's release (the event cannot tell it from the commit of the
    # transaction with a savepoint open): the raise then rolls back with the transaction.
    # The commit flushes after this event: flush first, so the last changes are marked.
    session.flush()
    views = session.info.pop(db.WRITTEN_VIEWS_KEY, None)
    if views:
        bump(session, views)


@event.listens_for(Session, "after_soft_rollback")
def _forget(session: Session, previous_transaction: Any) -> None:
    # A savepoint's rollback keeps the marks: raising a counter too often is harmless.
    if not previous_transaction.nested:
        session.info.pop(db.WRITTEN_VIEWS_KEY, None)
