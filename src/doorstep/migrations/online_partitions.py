"""Move ``motion_events`` into monthly partitions while the app keeps writing (issue 17).

Revision 20261205_0015 moves the events in one transaction that holds the table's lock for
the whole copy (336 s for 5M events; hours at 100M). ``doorstep events prepare-partitions``,
run at revision 20261205_0014_event_alerts, does the long part beforehand:

1. builds the partitioned table as the revision would, named ``motion_events_next``
   (its months, default, indexes, ``motion_event_keys`` and its trigger), and a progress
   table with one row per stretch of ``started_at`` to copy;
2. puts a trigger on ``motion_events`` that repeats every insert, update and delete on
   ``motion_events_next``, in the writer's own transaction;
3. copies each month in batches, each its own short transaction, in the order of an
   index on ``(started_at, id)`` built concurrently for it; the progress table keeps each
   stretch's position, so a run that stops is continued by the next;
4. counts each month in both tables in one snapshot, and marks the stretch verified.

The revision then finds the table complete and only swaps the names, in a short
transaction. A batch reads its rows ``FOR SHARE``: an update or delete of one of them waits
for the batch's commit and is then repeated by the trigger, and one committed before the
batch is what the batch reads (a deleted row is not copied). A row the trigger already put
there is skipped (``ON CONFLICT DO NOTHING``). The trigger makes an update a delete and an
insert, so an update that moves an event into a month already copied still lands there.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import DBAPIError

from doorstep.cameras import partitions
from doorstep.migrations.event_partitions import (
    COLUMNS,
    KEYS_FUNCTION,
    KEYS_INDEXES,
    KEYS_TABLE,
    PARENT,
    PARTITION_INDEXES,
    index_statements,
    keys_trigger,
    months_to_create,
    parent_index,
    partition_statements,
    partitioned_table,
)

# The revision this runs at: the one before 20261205_0015.
BEFORE = "20261205_0014_event_alerts"
NEXT = "motion_events_next"
PROGRESS = "motion_events_next_progress"
MIRROR = "motion_events_mirror"
COPY_INDEX = "ix_motion_events_started_at_id_copy"
DEFAULT = f"{PARENT}_default"
# The server's code for a deadlock: a batch chosen as its victim is run again.
_DEADLOCK = "40P01"
_DEADLOCK_RETRIES = 5
# Any number will do, as long as nothing else in doorstep takes the same advisory lock.
_RUN_LOCK = 0x6D6F76655F6E6578  # "move_nex"


class OnlineMoveError(Exception):
    """The move cannot go on (wrong revision, half prepared, counts that differ)."""


@dataclass(frozen=True)
class Stretch:
    """A range of ``started_at`` copied into one partition; None is open-ended."""

    name: str
    partition: str
    lower: datetime | None
    upper: datetime | None

    def condition(self, tag: str = "") -> str:
        """SQL for ``started_at`` in the stretch, its bounds named ``:lower<tag>`` and
        ``:upper<tag>`` (:meth:`bounds`)."""
        bounds = []
        if self.lower is not None:
            bounds.append(f"started_at >= :lower{tag}")
        if self.upper is not None:
            bounds.append(f"started_at < :upper{tag}")
        return " AND ".join(bounds) or "TRUE"

    def bounds(self, tag: str = "") -> dict[str, datetime | None]:
        return {f"lower{tag}": self.lower, f"upper{tag}": self.upper}


@dataclass(frozen=True)
class Progress:
    """Where a stretch's copy stands, after each batch."""

    stretch: str
    partition: str
    copied: int
    done: bool
    seconds: float


@dataclass(frozen=True)
class Count:
    """A partition's rows against the old table's rows of the same months."""

    partition: str
    old: int
    new: int


Cursor = tuple[datetime, Any] | None

_MIRROR_FUNCTION = f"""
    CREATE OR REPLACE FUNCTION {MIRROR}() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP IN ('UPDATE', 'DELETE') THEN
            DELETE FROM {NEXT} WHERE id = OLD.id AND started_at = OLD.started_at;
        END IF;
        IF TG_OP IN ('INSERT', 'UPDATE') THEN
            INSERT INTO {NEXT} ({COLUMNS}) VALUES (NEW.id, NEW.camera_id, NEW.owner_id,
                NEW.kind, NEW.started_at, NEW.ended_at, NEW.on_device, NEW.device_ref,
                NEW.clip_id, NEW.created_at);
        END IF;
        RETURN NULL;
    END
    $$
"""  # noqa: S608 (our names)


def _exists(connection: Connection, name: str) -> bool:
    return connection.scalar(text("SELECT to_regclass(:name)"), {"name": name}) is not None


def _has_mirror(connection: Connection) -> bool:
    return bool(
        connection.scalar(
            text(
                "SELECT EXISTS (SELECT 1 FROM pg_trigger WHERE tgname = :name "
                "AND tgrelid = to_regclass(:parent) AND tgenabled <> 'D')"
            ),
            {"name": MIRROR, "parent": PARENT},
        )
    )


def _create_next(connection: Connection) -> None:
    """The partitioned table, its keys table, and the stretches to copy, in one transaction."""
    oldest, newest = connection.execute(
        text(f"SELECT min(started_at), max(started_at) FROM {PARENT}")  # noqa: S608
    ).one()
    months = months_to_create(oldest, newest, datetime.now(UTC))
    statements = [partitioned_table(NEXT), *partition_statements(NEXT, months)]
    statements += index_statements(NEXT, months)
    statements += [KEYS_TABLE, *KEYS_INDEXES, KEYS_FUNCTION, keys_trigger(NEXT)]
    statements.append(
        f"CREATE TABLE {PROGRESS} (stretch VARCHAR(63) PRIMARY KEY, "
        "partition VARCHAR(63) NOT NULL, lower TIMESTAMPTZ, upper TIMESTAMPTZ, "
        "cursor_started_at TIMESTAMPTZ, cursor_id UUID, copied BIGINT NOT NULL DEFAULT 0, "
        "copied_at TIMESTAMPTZ, verified_at TIMESTAMPTZ)"
    )
    for statement in statements:
        connection.exec_driver_sql(statement)
    # Events written between this transaction and the mirror's, dated outside the months,
    # are in the default's two stretches.
    stretches = [Stretch("before", DEFAULT, None, months[0])]
    stretches += [
        Stretch(
            partitions.partition_name(m), partitions.partition_name(m), m, partitions.next_month(m)
        )
        for m in months
    ]
    stretches.append(Stretch("after", DEFAULT, partitions.next_month(months[-1]), None))
    for stretch in stretches:
        connection.execute(
            text(
                f"INSERT INTO {PROGRESS} (stretch, partition, lower, upper) "  # noqa: S608
                "VALUES (:name, :partition, :lower, :upper)"
            ),
            vars(stretch),
        )


def _install_mirror(connection: Connection) -> None:
    connection.exec_driver_sql(_MIRROR_FUNCTION)
    if not _has_mirror(connection):
        connection.exec_driver_sql(f"DROP TRIGGER IF EXISTS {MIRROR} ON {PARENT}")
        connection.exec_driver_sql(
            f"CREATE TRIGGER {MIRROR} AFTER INSERT OR UPDATE OR DELETE ON {PARENT} "
            f"FOR EACH ROW EXECUTE FUNCTION {MIRROR}()"
        )


def _build_copy_index(engine: Engine) -> None:
    """The copy reads each month in ``(started_at, id)`` order; the old table has no such
    index, and building one concurrently lets writes go on. An interrupted build leaves an
    invalid index, built again here."""
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        valid = connection.scalar(
            text("SELECT indisvalid FROM pg_index WHERE indexrelid = to_regclass(:name)"),
            {"name": COPY_INDEX},
        )
        if valid:
            return
        if valid is not None:
            connection.exec_driver_sql(f"DROP INDEX CONCURRENTLY {COPY_INDEX}")
        connection.exec_driver_sql(
            f"CREATE INDEX CONCURRENTLY {COPY_INDEX} ON {PARENT} (started_at, id)"
        )


def stretches(connection: Connection, *, copied: bool | None = None) -> list[Stretch]:
    """The stretches in ``started_at`` order: all, or those copied (or not) yet."""
    where = "" if copied is None else f"WHERE copied_at IS {'NOT ' if copied else ''}NULL"
    rows = connection.execute(
        text(
            f"SELECT stretch, partition, lower, upper FROM {PROGRESS} {where} "  # noqa: S608
            "ORDER BY lower NULLS FIRST"
        )
    ).all()
    return [Stretch(*row) for row in rows]


def copy_batch(
    connection: Connection, stretch: Stretch, cursor: Cursor, batch_rows: int
) -> tuple[int, Cursor, bool]:
    """Copy the next ``batch_rows`` rows of ``stretch`` past ``cursor``, in the caller's
    transaction; returns the rows written, the new cursor and whether the stretch is done.
    The rows stay locked ``FOR SHARE`` until the caller commits."""
    params: dict[str, Any] = dict(stretch.bounds())
    where = stretch.condition()
    if cursor is not None:
        where += " AND (started_at, id) > (:cursor_at, :cursor_id)"
        params |= {"cursor_at": cursor[0], "cursor_id": cursor[1]}
    last = connection.execute(
        text(
            f"SELECT started_at, id FROM {PARENT} WHERE {where} "  # noqa: S608
            "ORDER BY started_at, id OFFSET :skip LIMIT 1"
        ),
        params | {"skip": batch_rows - 1},
    ).first()
    if last is not None:
        where += " AND (started_at, id) <= (:last_at, :last_id)"
        params |= {"last_at": last[0], "last_id": last[1]}
    written = connection.execute(
        text(
            f"INSERT INTO {NEXT} ({COLUMNS}) SELECT {COLUMNS} FROM {PARENT} "  # noqa: S608
            f"WHERE {where} FOR SHARE ON CONFLICT DO NOTHING"
        ),
        params,
    ).rowcount
    done = last is None
    cursor = None if last is None else (last[0], last[1])
    connection.execute(
        text(
            f"UPDATE {PROGRESS} SET cursor_started_at = :at, cursor_id = :id, "  # noqa: S608
            "copied = copied + :written, copied_at = CASE WHEN :done THEN now() END "
            "WHERE stretch = :name"
        ),
        {
            "at": cursor[0] if cursor else None,
            "id": cursor[1] if cursor else None,
            "written": written,
            "done": done,
            "name": stretch.name,
        },
    )
    return written, cursor, done


def _copy_stretch(
    engine: Engine, stretch: Stretch, batch_rows: int, report: Callable[[Progress], None]
) -> None:
    started = time.monotonic()
    with engine.connect() as connection:
        at, event_id, copied = connection.execute(
            text(
                f"SELECT cursor_started_at, cursor_id, copied FROM {PROGRESS} "  # noqa: S608
                "WHERE stretch = :name"
            ),
            {"name": stretch.name},
        ).one()
    cursor: Cursor = None if at is None else (at, event_id)
    done = False
    while not done:
        for attempt in range(_DEADLOCK_RETRIES):
            try:
                with engine.begin() as connection:
                    written, cursor, done = copy_batch(connection, stretch, cursor, batch_rows)
                break
            except DBAPIError as exc:
                deadlock = getattr(exc.orig, "sqlstate", None) == _DEADLOCK
                if not deadlock or attempt == _DEADLOCK_RETRIES - 1:
                    raise
        copied += written
        report(Progress(stretch.name, stretch.partition, copied, done, time.monotonic() - started))


def verify(engine: Engine) -> list[Count]:
    """Count each partition's rows against the old table's rows of its months, both in one
    snapshot (the mirror writes in the writer's transaction); mark the stretches of the
    partitions that agree verified. Returns the counts, in order."""
    with engine.connect() as connection:
        every = stretches(connection)
    counts = []
    for partition in dict.fromkeys(s.partition for s in every):
        mine = [s for s in every if s.partition == partition]
        conditions = " OR ".join(f"({s.condition(str(i))})" for i, s in enumerate(mine))
        params: dict[str, Any] = {}
        for i, s in enumerate(mine):
            params |= s.bounds(str(i))
        snapshot = engine.connect().execution_options(isolation_level="REPEATABLE READ")
        with snapshot as connection, connection.begin():
            old = connection.scalar(
                text(f"SELECT count(*) FROM {PARENT} WHERE {conditions}"),  # noqa: S608
                params,
            )
            new = connection.scalar(text(f"SELECT count(*) FROM ONLY {partition}"))  # noqa: S608
            if old == new:
                connection.execute(
                    text(
                        f"UPDATE {PROGRESS} SET verified_at = now() "  # noqa: S608
                        "WHERE partition = :partition"
                    ),
                    {"partition": partition},
                )
        counts.append(Count(partition, int(old or 0), int(new or 0)))
    return counts


def prepare(
    engine: Engine,
    *,
    batch_rows: int = 50_000,
    month_pause_s: float = 0.0,
    report: Callable[[Progress], None] = lambda _: None,
) -> list[Count] | None:
    """Build, fill and verify ``motion_events_next`` while the app keeps writing; continue
    where an earlier run stopped. None when there is nothing to do: SQLite, or events
    already partitioned. Raises OnlineMoveError at another revision, or when a month's
    counts differ (the month is then not verified, and the revision will not swap)."""
    if engine.dialect.name != "postgresql":
        return None
    with _one_at_a_time(engine):
        return _prepare(engine, batch_rows=batch_rows, month_pause_s=month_pause_s, report=report)


@contextmanager
def _one_at_a_time(engine: Engine) -> Iterator[None]:
    """Hold the move's advisory lock (on a connection of its own) while a run prepares or
    abandons; a second run refuses rather than copy beside the first."""
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as holder:
        if not holder.scalar(text("SELECT pg_try_advisory_lock(:key)"), {"key": _RUN_LOCK}):
            raise OnlineMoveError("another `doorstep events prepare-partitions` is running")
        try:
            yield
        finally:
            holder.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": _RUN_LOCK})


def _prepare(
    engine: Engine,
    *,
    batch_rows: int,
    month_pause_s: float,
    report: Callable[[Progress], None],
) -> list[Count] | None:
    with engine.begin() as connection:
        if partitions.is_partitioned(connection):
            return None
        revision = connection.scalar(text("SELECT version_num FROM alembic_version"))
        if revision != BEFORE:
            raise OnlineMoveError(
                f"the database is at {revision}; run `doorstep migrate --revision {BEFORE}` first"
            )
        if not _exists(connection, NEXT):
            _create_next(connection)
    with engine.begin() as connection:
        _install_mirror(connection)
    _build_copy_index(engine)
    with engine.connect() as connection:
        pending = stretches(connection, copied=False)
    for i, stretch in enumerate(pending):
        if i and month_pause_s:
            time.sleep(month_pause_s)
        _copy_stretch(engine, stretch, batch_rows, report)
    counts = verify(engine)
    wrong = [c for c in counts if c.old != c.new]
    if wrong:
        raise OnlineMoveError(
            "counts differ: "
            + ", ".join(f"{c.partition} {c.old} in {PARENT}, {c.new} copied" for c in wrong)
        )
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.exec_driver_sql(f"ANALYZE {NEXT}")
    return counts


def is_prepared(connection: Connection) -> bool:
    """Whether ``motion_events_next`` is there, copied and verified, with its mirror on:
    revision 20261205_0015 then only swaps. Raises OnlineMoveError if it is there but not
    complete (the revision must not start the long copy behind the operator's back)."""
    if not _exists(connection, NEXT):
        return False
    unfinished = connection.scalar(
        text(f"SELECT count(*) FROM {PROGRESS} WHERE verified_at IS NULL")  # noqa: S608
    )
    if unfinished or not _has_mirror(connection):
        raise OnlineMoveError(
            f"{NEXT} is only partly prepared: finish it with `doorstep events "
            "prepare-partitions`, or remove it with `doorstep events prepare-partitions "
            "--abandon` to move the events in this revision's one transaction"
        )
    return True


def swap(connection: Connection) -> None:
    """Put the prepared table in ``motion_events``'s place, with the revision's names; the
    old table and everything the move added to it go. Short: nothing is copied."""
    connection.exec_driver_sql(f"LOCK TABLE {PARENT}, {NEXT} IN ACCESS EXCLUSIVE MODE")
    connection.exec_driver_sql(f"DROP TABLE {PARENT}")  # with its mirror and copy index
    connection.exec_driver_sql(f"DROP FUNCTION {MIRROR}()")
    connection.exec_driver_sql(f"ALTER TABLE {NEXT} RENAME TO {PARENT}")
    connection.exec_driver_sql(f"ALTER TABLE {PARENT} RENAME CONSTRAINT pk_{NEXT} TO pk_{PARENT}")
    for index in PARTITION_INDEXES:
        connection.exec_driver_sql(f"ALTER INDEX {parent_index(NEXT, index)} RENAME TO {index}")
    connection.exec_driver_sql(f"DROP TABLE {PROGRESS}")


_ABANDON = (
    f"DROP TRIGGER IF EXISTS {MIRROR} ON {PARENT}",
    f"DROP FUNCTION IF EXISTS {MIRROR}()",
    f"DROP TABLE IF EXISTS {NEXT}, {PROGRESS}, motion_event_keys",
    "DROP FUNCTION IF EXISTS motion_event_keys_sync()",
)


def abandon(engine: Engine) -> bool:
    """Remove what ``prepare`` built (before the swap); False if there was nothing."""
    if engine.dialect.name != "postgresql":
        return False
    with _one_at_a_time(engine):
        with engine.begin() as connection:
            if partitions.is_partitioned(connection):
                return False
            found = _exists(connection, NEXT) or _has_mirror(connection)
            for statement in _ABANDON:
                connection.exec_driver_sql(statement)
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            found = found or _exists(connection, COPY_INDEX)
            connection.exec_driver_sql(f"DROP INDEX CONCURRENTLY IF EXISTS {COPY_INDEX}")
    return found
