"""Engine, sessions and the declarative base shared by every domain."""

from __future__ import annotations

import enum
import select
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import structlog
from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    Enum,
    Integer,
    MetaData,
    Table,
    Uuid,
    create_engine,
    event,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker
from sqlalchemy.pool import NullPool, QueuePool
from sqlalchemy.types import TypeDecorator

log = structlog.get_logger(__name__)

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_id() -> uuid.UUID:
    return uuid.uuid4()


class UTCDateTime(TypeDecorator[datetime]):
    """Stores UTC, always returns aware datetimes, refuses naive input.

    SQLite has no time zones, so values are kept naive-UTC there and made
    aware again on the way out; PostgreSQL keeps ``timestamptz``.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; doorstep stores aware UTC times only")
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


JSONType = JSON().with_variant(JSONB(), "postgresql")


def str_enum(cls: type[enum.StrEnum], length: int = 20) -> Enum:
    """A string enum stored as VARCHAR with a CHECK, the same on SQLite and PostgreSQL."""
    return Enum(cls, native_enum=False, length=length, validate_strings=True)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class UuidKey:
    """Mixin for a table keyed by a random UUID ``id``, its first column."""

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id, sort_order=-1)


class SerialKey:
    """Mixin for a table keyed by a database-assigned 64-bit ``id``, its first column.

    SQLite gets INTEGER: only an INTEGER PRIMARY KEY is its rowid, numbered by the database.
    """

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"),
        primary_key=True,
        autoincrement=True,
        sort_order=-1,
    )


# Below this many rows a plain INSERT is cheaper than setting up a COPY (a motion event's
# alert queues one or two jobs; the ingest profile showed the COPY set-up at 0.3 ms each).
COPY_FROM_ROWS = 50

# A table's ``info`` key naming the data views that read it, and the session's record of
# the views its transaction wrote to (``versions`` raises their counters at the commit).
VIEWS_INFO_KEY = "doorstep.data_versions"
WRITTEN_VIEWS_KEY = "doorstep.written_views"


def mark_written(session: Session, table: Table) -> None:
    """Record that this transaction wrote to ``table`` (for the views that read it)."""
    views = table.info.get(VIEWS_INFO_KEY)
    if views:
        session.info.setdefault(WRITTEN_VIEWS_KEY, set()).update(views)


def bulk_insert(session: Session, model: type[Base], rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert many rows in the session's transaction by the database's fastest path.

    PostgreSQL gets one ``COPY`` (thousands of rows in tens of milliseconds, against
    hundreds for a multi-row ``INSERT`` built in Python) from ``COPY_FROM_ROWS`` rows up;
    fewer rows, and other databases, an ``executemany``. Values go through each column
    type's own bind processing, so they land exactly as an ORM insert would write them.
    No Python-side default is applied: every row must name the same columns, including
    each column whose default is not None (``ValueError`` otherwise).
    """
    if not rows:
        return
    table = model.__table__
    assert isinstance(table, Table)
    mark_written(session, table)
    names = list(rows[0])
    if any(len(row) != len(names) or any(n not in row for n in names) for row in rows):
        raise ValueError("bulk_insert: every row must name the same columns")
    for column in table.columns:
        default = column.default
        if column.name in names or default is None:
            continue
        if not (getattr(default, "is_scalar", False) and getattr(default, "arg", 0) is None):
            raise ValueError(f"bulk_insert: {table.name}.{column.name} has a default; give it")
    dialect = session.get_bind().dialect
    if dialect.name != "postgresql" or len(rows) < COPY_FROM_ROWS:
        session.execute(table.insert(), [dict(row) for row in rows])
        return
    processors = [
        table.c[name].type.dialect_impl(dialect).bind_processor(dialect) for name in names
    ]
    driver = session.connection().connection.driver_connection
    assert driver is not None
    columns = ", ".join(f'"{name}"' for name in names)
    with (
        driver.cursor() as cursor,
        cursor.copy(f'COPY "{table.name}" ({columns}) FROM STDIN') as copy,
    ):
        for row in rows:
            copy.write_row(
                [
                    value if process is None else process(value)
                    for process, value in zip(processors, (row[n] for n in names), strict=True)
                ]
            )


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=15000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def make_engine(url: str, **kwargs: Any) -> Engine:
    """Create an engine; SQLite gets WAL, foreign keys and a busy timeout."""
    if url.startswith("sqlite"):
        kwargs.setdefault("connect_args", {"check_same_thread": False, "timeout": 15})
        kwargs.setdefault("poolclass", NullPool)
        engine = create_engine(url, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)

        # pysqlite's own transaction handling defers BEGIN; we issue it ourselves (below).
        @event.listens_for(engine, "connect")
        def _no_autobegin(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.isolation_level = None

        @event.listens_for(engine, "begin")
        def _begin(conn: Any) -> None:
            # A unit of work takes the write lock up front (BEGIN IMMEDIATE): the app's
            # check-then-write rules (a device_ref not yet seen, a share still pending) rely
            # on SQLite running such units one at a time, and a deferred transaction that
            # read first cannot take the lock later once another writer has committed (it
            # fails at once, without waiting). Work known to only read opens
            # ``Database.read_only()`` instead: a deferred BEGIN reads a WAL snapshot and
            # never takes the write lock, so it neither waits for writers nor holds them up;
            # query_only makes a write attempted there fail loudly rather than race.
            # A request is a unit of work even when it is a GET (it may record a token's
            # last use, log a view): it holds the lock for its own few milliseconds only,
            # because no transaction holds it across slow work (decoding a clip, storage,
            # the network), and nothing waits for it on the event loop.
            # query_only is set on every BEGIN, so a pooled connection never carries a
            # read-only flag into a unit of work.
            read_only = bool(conn.get_execution_options().get(READ_ONLY_OPTION))
            conn.exec_driver_sql(f"PRAGMA query_only={'ON' if read_only else 'OFF'}")
            conn.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")

        return engine
    # No pre-ping (a round trip on every checkout): a connection older than the recycle
    # age is replaced, and one the server closed while it sat in the pool is refused at
    # checkout (below), which makes the pool retry with a fresh connection.
    kwargs.setdefault("pool_recycle", POOL_RECYCLE_S)
    if "poolclass" not in kwargs:
        kwargs.setdefault("pool_size", POOL_SIZE)
        kwargs.setdefault("max_overflow", POOL_OVERFLOW)
    engine = create_engine(url, **kwargs)
    event.listen(engine, "checkout", _refuse_closed_connection)
    return engine


# Seconds after which a pooled connection is replaced rather than reused: below the idle
# timeouts of the firewalls and proxies that drop a quiet connection without a word.
POOL_RECYCLE_S = 1800


def _refuse_closed_connection(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
    """Refuse a pooled connection the server has closed, without a round trip: an idle
    connection has nothing to read, so a readable socket means the server ended it (a
    restart, ``pg_terminate_backend``, an idle timeout) and sent its farewell or EOF.
    ``DisconnectionError`` makes the pool drop it and check out another (SQLAlchemy
    retries a few times, then connects anew). A connection lost without a word (a
    network cut) is the recycle age's to replace."""
    if getattr(dbapi_connection, "closed", False):
        raise DisconnectionError("the connection was closed")
    try:
        descriptor = dbapi_connection.fileno()
    except Exception as exc:  # the driver says the connection is unusable
        raise DisconnectionError("the connection has no socket") from exc
    readable, _, _ = select.select([descriptor], [], [], 0)
    if readable:
        raise DisconnectionError("the server closed this connection while it was pooled")


# Execution option naming a read-only transaction (see ``Database.read_only``).
READ_ONLY_OPTION = "doorstep_read_only"


# Connections one process may hold (PostgreSQL): SQLAlchemy's defaults, named here because
# the web app admits no more requests at a time than this (see ``app.ConnectionGate``).
POOL_SIZE = 5
POOL_OVERFLOW = 10


_UNDO_KEY = "doorstep.undo_on_rollback"


def undo_on_rollback(session: Session, undo: Callable[[], None]) -> None:
    """Register work outside the database (a stored file) to undo if this transaction
    rolls back, so a failed commit leaves nothing behind.

    Registered inside a savepoint, the undo runs as soon as that savepoint rolls back
    (a refused form, say), even when the transaction around it then commits.
    """
    session.info.setdefault(_UNDO_KEY, []).append((session.get_nested_transaction(), undo))


_AFTER_COMMIT_KEY = "doorstep.after_commit"


def after_commit(session: Session, action: Callable[[], None]) -> None:
    """Run ``action`` (deleting a stored file) once this transaction has committed.

    A file removed before the commit would be lost if the transaction then rolled
    back, leaving a row that points at nothing. Registered inside a savepoint that
    rolls back, the action is dropped with the savepoint's other work. A failing
    action is logged, not raised: the change it follows is already committed.
    """
    session.info.setdefault(_AFTER_COMMIT_KEY, []).append(
        (session.get_nested_transaction(), action)
    )


def _within(savepoint: Any, rolled_back: Any) -> bool:
    """Whether work registered in ``savepoint`` was inside the ``rolled_back`` one."""
    while savepoint is not None:
        if savepoint is rolled_back:
            return True
        savepoint = savepoint.parent
    return False


@event.listens_for(Session, "after_soft_rollback")
def _settle_rolled_back_work(session: Session, previous_transaction: Any) -> None:
    """A savepoint that rolls back takes its after-commit actions with it and undoes its
    files at once; a rollback of the whole transaction drops every after-commit action
    (``Database.transaction`` runs the undo steps)."""
    if not previous_transaction.nested:
        session.info.pop(_AFTER_COMMIT_KEY, None)
        return
    inside = [
        step for step in session.info.get(_UNDO_KEY, []) if _within(step[0], previous_transaction)
    ]
    for key in (_AFTER_COMMIT_KEY, _UNDO_KEY):
        if key in session.info:
            session.info[key] = [
                step for step in session.info[key] if not _within(step[0], previous_transaction)
            ]
    _undo(inside)


def _run_after_commit(session: Session) -> None:
    for _savepoint, action in session.info.pop(_AFTER_COMMIT_KEY, []):
        try:
            action()
        except Exception as exc:  # the change is committed; a leftover file is logged
            log.warning("db.after_commit_failed", error=repr(exc))


def _run_undo(session: Session) -> None:
    _undo(session.info.pop(_UNDO_KEY, []))


def _undo(steps: list[tuple[Any, Callable[[], None]]]) -> None:
    for _savepoint, undo in reversed(steps):
        try:
            undo()
        except Exception as exc:  # one failed cleanup must not hide the original error
            log.warning("db.undo_failed", error=repr(exc))


class Database:
    """An engine and its session factory; one per process."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        self.sessionmaker = sessionmaker(self.engine, expire_on_commit=False)
        # The same pool; its transactions begin read-only (see ``read_only``).
        options: dict[str, Any] = {READ_ONLY_OPTION: True}
        if self.engine.dialect.name == "postgresql":
            options["postgresql_readonly"] = True
        self.read_engine = self.engine.execution_options(**options)
        # The same pool again; its statements run in autocommit (see ``standalone_reads``).
        self.autocommit_engine = self.engine.execution_options(isolation_level="AUTOCOMMIT")

    @property
    def max_connections(self) -> int | None:
        """How many connections this process's pool can hand out; None when unbounded
        (SQLite opens one per session)."""
        pool = self.engine.pool
        if isinstance(pool, QueuePool):
            return pool.size() + pool._max_overflow
        return None

    @property
    def is_postgres(self) -> bool:
        return self.engine.dialect.name == "postgresql"

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """One unit of work: commits on success, rolls back on any error.

        On rollback (the commit itself failing included), the undo steps registered
        with :func:`undo_on_rollback` run, so files written for the work go too. After
        the commit, the actions registered with :func:`after_commit` run.
        """
        session = self.sessionmaker()
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            _run_undo(session)
            raise
        else:
            session.info.pop(_UNDO_KEY, None)
            _run_after_commit(session)
        finally:
            session.info.pop(_UNDO_KEY, None)
            session.info.pop(_AFTER_COMMIT_KEY, None)
            session.close()

    @contextmanager
    def read_only(self) -> Iterator[Session]:
        """A transaction that only reads: on SQLite it takes no write lock (a consistent
        WAL snapshot; writers neither wait for it nor hold it up), on PostgreSQL it is a
        READ ONLY transaction. A write attempted in it fails.

        For short reads ahead of slow work (a device's token check before its upload is
        read, the checks before a clip is probed), so that the write transaction that
        follows holds the lock only for its inserts.
        """
        session = Session(self.read_engine, expire_on_commit=False)
        try:
            yield session
            # Nothing was written; ending it by a commit keeps what was read usable after.
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    @contextmanager
    def standalone_reads(self) -> Iterator[Connection]:
        """A connection for reads that need no transaction around them: each statement
        sees what was committed when it began. On PostgreSQL it runs in autocommit, so it
        costs no BEGIN and COMMIT round trips; on SQLite (where a round trip costs
        nothing) it is a read-only transaction, as in :meth:`read_only`. Not for writes:
        on SQLite they fail, on PostgreSQL nothing would tie them together."""
        engine = self.autocommit_engine if self.is_postgres else self.read_engine
        with engine.connect() as connection:
            yield connection

    def dispose(self) -> None:
        self.engine.dispose()
