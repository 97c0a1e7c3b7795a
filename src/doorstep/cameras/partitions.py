"""Monthly partitions of motion events on PostgreSQL.

``motion_events`` is partitioned by range of ``started_at`` (revision 20261205_0015): one
partition a month, ``motion_events_YYYY_MM`` covering ``[first of the month, first of the
next)`` in UTC, and ``motion_events_default`` for any event outside them. The worker keeps
the coming months created ahead of time (:func:`ensure_months_ahead`), so events land in
their month's partition and a query bounded on ``started_at`` reads only the months it
overlaps.

Why a default partition rather than creating a month when an insert needs it: an insert
outside every partition fails, and a partition cannot be created from inside the insert
that needs it. With the default, nothing a device sends is ever refused for its time; the
default stays empty while the worker runs: devices may not date events in the future, the
months ahead are there long before, and the worker creates the month of any event found in
the default (a backlog dated before the first month made), which takes its rows out of the
default in the same transaction. An empty default is pruned from every window inside the
months.

Creating a month takes the lock ``ATTACH PARTITION`` needs (SHARE UPDATE EXCLUSIVE on the
parent: reads and writes go on), not the ACCESS EXCLUSIVE of ``CREATE TABLE ... PARTITION
OF``; an advisory lock keeps two workers from creating the same month at once.

SQLite keeps one table; everything here does nothing there.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import structlog
from sqlalchemy import Connection, text
from sqlalchemy.orm import Session
from sqlalchemy.schema import SchemaItem

from doorstep.db import utcnow

log = structlog.get_logger(__name__)

PARENT = "motion_events"
DEFAULT_PARTITION = "motion_events_default"
# The side table that holds the uniqueness rules a partitioned table cannot (see the
# revision): one row per event with a device reference or a clip.
KEYS_TABLE = "motion_event_keys"
# What the models declare on motion_events that the partitioned table cannot hold (a unique
# index must contain the partition key) and motion_event_keys holds instead.
KEPT_IN_KEYS_TABLE = frozenset(
    {"uq_motion_events_camera_id_device_ref", "uq_motion_events_clip_id"}
)
# Any number will do, as long as nothing else in doorstep takes the same advisory lock.
_ADVISORY_LOCK = 0x6D6F74696F6E  # "motion"


def month_start(at: datetime) -> datetime:
    """The first instant (UTC) of the month ``at`` falls in."""
    return at.astimezone(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def next_month(month: datetime) -> datetime:
    """The first instant of the month after ``month`` (itself a month's first instant)."""
    if month.month == 12:
        return month.replace(year=month.year + 1, month=1)
    return month.replace(month=month.month + 1)


def partition_name(month: datetime) -> str:
    return f"{PARENT}_{month_start(month):%Y_%m}"


def is_partitioned(connection: Connection) -> bool:
    """Whether ``motion_events`` is a partitioned table here (PostgreSQL after 20261205_0015)."""
    if connection.dialect.name != "postgresql":
        return False
    return bool(
        connection.scalar(
            text(
                "SELECT EXISTS (SELECT 1 FROM pg_partitioned_table "
                "WHERE partrelid = to_regclass(:parent))"
            ),
            {"parent": PARENT},
        )
    )


def partitions(connection: Connection) -> list[str]:
    """The names of ``motion_events``'s partitions, sorted (the default among them)."""
    if not is_partitioned(connection):
        return []
    return sorted(
        connection.scalars(
            text(
                "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
                "WHERE i.inhparent = to_regclass(:parent)"
            ),
            {"parent": PARENT},
        )
    )


def create_month(connection: Connection, month: datetime) -> bool:
    """Make sure the partition of ``month`` exists; True if it was created now.

    Events of that month already in the default partition move into it, in this
    transaction; their rows in ``motion_event_keys`` stay as they are (same events)."""
    start = month_start(month)
    name = partition_name(start)
    connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _ADVISORY_LOCK})
    if connection.scalar(text("SELECT to_regclass(:name)"), {"name": name}) is not None:
        return False
    bounds = {"start": start, "end": next_month(start)}
    connection.exec_driver_sql(
        f"CREATE TABLE {name} (LIKE {PARENT} INCLUDING DEFAULTS INCLUDING CONSTRAINTS)"
    )
    # No insert may reach the default between the move and the attach (which would then
    # find a row of the new month there and fail).
    connection.exec_driver_sql(f"LOCK TABLE {DEFAULT_PARTITION} IN ACCESS EXCLUSIVE MODE")
    # The trigger that keeps motion_event_keys would delete the moved events' keys.
    connection.exec_driver_sql("SET LOCAL doorstep.moving_events = 'on'")
    moved = connection.execute(
        text(
            f"WITH moved AS (DELETE FROM {DEFAULT_PARTITION} "  # noqa: S608 (our names)
            "WHERE started_at >= :start AND started_at < :end RETURNING *) "
            f"INSERT INTO {name} SELECT * FROM moved"
        ),
        bounds,
    ).rowcount
    connection.exec_driver_sql("SET LOCAL doorstep.moving_events = 'off'")
    # Bounds as literals: DDL takes no parameters. They are datetimes this function made.
    connection.exec_driver_sql(
        f"ALTER TABLE {PARENT} ATTACH PARTITION {name} FOR VALUES "
        f"FROM ('{bounds['start'].isoformat()}') TO ('{bounds['end'].isoformat()}')"
    )
    name_partition_indexes(connection)
    log.info("event_partition_created", partition=name, moved_from_default=moved)
    return True


def name_partition_indexes(connection: Connection) -> None:
    """Name each partition's index after the parent's, with the partition's suffix
    (``ix_motion_events_camera_id_started_at_2026_12``), as the migration does: a plan then
    says which index it reads. The server's own would be ``<partition>_<columns>_idx``."""
    rows = connection.execute(
        text(
            "SELECT child.relname, parent.relname, tbl.relname FROM pg_inherits i "
            "JOIN pg_class child ON child.oid = i.inhrelid "
            "JOIN pg_class parent ON parent.oid = i.inhparent "
            "JOIN pg_index x ON x.indexrelid = child.oid "
            "JOIN pg_class tbl ON tbl.oid = x.indrelid "
            "WHERE i.inhparent IN (SELECT indexrelid FROM pg_index "
            "WHERE indrelid = to_regclass(:parent) AND NOT indisprimary)"
        ),
        {"parent": PARENT},
    ).all()
    for child, parent, table in rows:
        wanted = f"{parent}_{table.removeprefix(PARENT + '_')}"
        if child != wanted:
            connection.exec_driver_sql(f'ALTER INDEX "{child}" RENAME TO "{wanted}"')


def ensure_months(*, session: Session, first: datetime, last: datetime) -> list[str]:
    """Make sure the partitions of every month from ``first``'s to ``last``'s exist;
    returns the names of those created now (none on SQLite, or when all exist)."""
    connection = session.connection()
    if not is_partitioned(connection):
        return []
    created = []
    month = month_start(first)
    while month <= month_start(last):
        if create_month(connection, month):
            created.append(partition_name(month))
        month = next_month(month)
    return created


def ensure_months_ahead(
    *, session: Session, months_ahead: int, now: datetime | None = None
) -> list[str]:
    """Make sure the partitions of this month and the ``months_ahead`` after it exist;
    returns the names of those created now (none on SQLite, or when all exist)."""
    first = last = month_start(now or utcnow())
    for _ in range(months_ahead):
        last = next_month(last)
    return ensure_months(session=session, first=first, last=last)


def empty_default(*, session: Session) -> list[str]:
    """Create the month of every event in the default partition (an event dated before the
    first month made, e.g. a device's backlog on a new instance), which moves it there;
    returns the months created. The default stays empty, so it is pruned from any window
    inside the months."""
    connection = session.connection()
    if not is_partitioned(connection):
        return []
    months = connection.scalars(
        text(
            f"SELECT DISTINCT date_trunc('month', started_at AT TIME ZONE 'UTC') "  # noqa: S608
            f"FROM {DEFAULT_PARTITION}"
        )
    ).all()
    created = []
    for month in sorted(months):
        if create_month(connection, month.replace(tzinfo=UTC)):
            created.append(partition_name(month.replace(tzinfo=UTC)))
    return created


def is_partition_table(name: str | None) -> bool:
    """Whether a table of this name is one of the schema's partition pieces: a month, the
    default, or the keys table; none is in the models, and autogenerate must leave them."""
    if name is None:
        return False
    return name in (DEFAULT_PARTITION, KEYS_TABLE) or (
        name.startswith(f"{PARENT}_") and name[len(PARENT) + 1 :].replace("_", "").isdigit()
    )


def autogenerate_filter(
    connection: Connection,
) -> Callable[[SchemaItem, str | None, str, bool, SchemaItem | None], bool]:
    """Alembic's ``include_object`` for comparing the models with this database: the
    partition pieces are not in the models, and on a partitioned database the two unique
    rules of the models live in ``motion_event_keys``. The database is asked only when
    autogenerate compares, not whenever a migration runs."""
    partitioned: list[bool] = []

    def include_object(
        item: SchemaItem,
        name: str | None,
        type_: str,
        reflected: bool,
        compare_to: SchemaItem | None,
    ) -> bool:
        if type_ == "table" and reflected and is_partition_table(name):
            return False
        if name not in KEPT_IN_KEYS_TABLE:
            return True
        if not partitioned:
            partitioned.append(is_partitioned(connection))
        return not partitioned[0]

    return include_object
