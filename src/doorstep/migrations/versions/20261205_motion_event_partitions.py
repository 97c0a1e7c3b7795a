"""motion events partitioned by month on PostgreSQL

Revision ID: 20261205_0015
Revises: 20261205_0014_event_alerts
Create Date: 2026-12-05 09:00:00

On PostgreSQL ``motion_events`` becomes a table partitioned by range of ``started_at``, one
partition a month (``motion_events_YYYY_MM``) from the oldest event's month to three months
past the newest event (or this month), and a default partition for anything outside them.
The worker keeps months ahead of time (``doorstep.cameras.partitions``). SQLite keeps its one
table: this revision does nothing there.

A partitioned table's key and unique indexes must hold its partition key, so the key becomes
``(id, started_at)`` and the two uniqueness rules that did not hold it move to a small table,
``motion_event_keys``, kept by a trigger: one row per event that has a device reference or a
clip, unique on ``(camera_id, device_ref)`` and on ``clip_id``. A duplicate fails the insert
or update that made it, as the unique indexes did. Moving rows out of the default partition
into a new month sets ``doorstep.moving_events`` for its transaction, so the trigger leaves
their keys alone.

The rows are moved in the same transaction: the old table is renamed, its indexes dropped
(their names are the new ones'), the rows copied, the indexes built on the full partitions,
the old table dropped. The downgrade does the reverse.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision: str = "20261205_0015"
down_revision: str | None = "20261205_0014_event_alerts"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Months created past the newest event (or the current month) at migration time; the
# worker's periodic task keeps the same horizon from then on.
MONTHS_AHEAD = 3

COLUMNS = (
    "id, camera_id, owner_id, kind, started_at, ended_at, on_device, device_ref, clip_id,"
    " created_at"
)

# The events' indexes. Each partition's own is named after the parent's, with the
# partition's suffix, so a plan shows which index it reads (the server's own names would be
# "<partition>_<columns>_idx").
PARTITION_INDEXES = {
    "ix_motion_events_camera_id_started_at": "(camera_id, started_at)",
    "ix_motion_events_owner_id_started_at": "(owner_id, started_at)",
}

FOREIGN_KEYS = (
    "CONSTRAINT fk_motion_events_camera_id_cameras FOREIGN KEY (camera_id) "
    "REFERENCES cameras (id) ON DELETE CASCADE",
    "CONSTRAINT fk_motion_events_clip_id_clips FOREIGN KEY (clip_id) "
    "REFERENCES clips (id) ON DELETE SET NULL",
    "CONSTRAINT fk_motion_events_owner_id_users FOREIGN KEY (owner_id) "
    "REFERENCES users (id) ON DELETE CASCADE",
)


def _table(name: str, key: str, tail: str) -> str:
    return f"""
        CREATE TABLE {name} (
            id UUID NOT NULL,
            camera_id UUID NOT NULL,
            owner_id UUID NOT NULL,
            kind VARCHAR(20) NOT NULL,
            started_at TIMESTAMP WITH TIME ZONE NOT NULL,
            ended_at TIMESTAMP WITH TIME ZONE NOT NULL,
            on_device BOOLEAN NOT NULL,
            device_ref VARCHAR(200),
            clip_id UUID,
            created_at TIMESTAMP WITH TIME ZONE NOT NULL,
            {", ".join(FOREIGN_KEYS)},
            {key}
        ) {tail}
    """


KEYS_TABLE = """
    CREATE TABLE motion_event_keys (
        event_id UUID NOT NULL,
        camera_id UUID NOT NULL,
        device_ref VARCHAR(200),
        clip_id UUID,
        CONSTRAINT pk_motion_event_keys PRIMARY KEY (event_id)
    )
"""

KEYS_INDEXES = (
    "CREATE UNIQUE INDEX uq_motion_event_keys_camera_id_device_ref ON motion_event_keys "
    "(camera_id, device_ref) WHERE device_ref IS NOT NULL",
    "CREATE UNIQUE INDEX uq_motion_event_keys_clip_id ON motion_event_keys (clip_id)",
)

KEYS_FUNCTION = """
    CREATE FUNCTION motion_event_keys_sync() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF current_setting('doorstep.moving_events', true) = 'on' THEN
            RETURN NULL;
        END IF;
        IF TG_OP IN ('UPDATE', 'DELETE') THEN
            DELETE FROM motion_event_keys WHERE event_id = OLD.id;
        END IF;
        IF TG_OP IN ('INSERT', 'UPDATE')
                AND (NEW.device_ref IS NOT NULL OR NEW.clip_id IS NOT NULL) THEN
            INSERT INTO motion_event_keys (event_id, camera_id, device_ref, clip_id)
            VALUES (NEW.id, NEW.camera_id, NEW.device_ref, NEW.clip_id);
        END IF;
        RETURN NULL;
    END
    $$
"""

KEYS_TRIGGER = """
    CREATE TRIGGER motion_event_keys_sync
    AFTER INSERT OR DELETE OR UPDATE OF id, camera_id, device_ref, clip_id ON motion_events
    FOR EACH ROW EXECUTE FUNCTION motion_event_keys_sync()
"""


def _copy_from(source: str) -> str:
    return f"INSERT INTO motion_events ({COLUMNS}) SELECT {COLUMNS} FROM {source}"  # noqa: S608


def _month(at: datetime) -> datetime:
    return at.astimezone(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def _next_month(month: datetime) -> datetime:
    return (
        month.replace(year=month.year + 1, month=1)
        if month.month == 12
        else (month.replace(month=month.month + 1))
    )


def _months(first: datetime, last: datetime) -> list[datetime]:
    months = [_month(first)]
    while months[-1] < _month(last):
        months.append(_next_month(months[-1]))
    return months


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    op.execute("ALTER TABLE motion_events RENAME TO motion_events_unpartitioned")
    for index in (
        "ix_motion_events_camera_id_started_at",
        "ix_motion_events_owner_id_started_at",
        "uq_motion_events_camera_id_device_ref",
    ):
        op.execute(f"DROP INDEX {index}")
    op.execute(
        "ALTER TABLE motion_events_unpartitioned DROP CONSTRAINT pk_motion_events, "
        "DROP CONSTRAINT uq_motion_events_clip_id"
    )
    op.execute(
        _table(
            "motion_events",
            "CONSTRAINT pk_motion_events PRIMARY KEY (id, started_at)",
            "PARTITION BY RANGE (started_at)",
        )
    )
    oldest, newest = bind.execute(
        sa.text("SELECT min(started_at), max(started_at) FROM motion_events_unpartitioned")
    ).one()
    now = datetime.now(UTC)
    last = max(now, newest) if newest is not None else now
    for _ in range(MONTHS_AHEAD):
        last = _next_month(_month(last))
    suffixes = []
    for month in _months(oldest if oldest is not None else now, last):
        suffixes.append(f"{month:%Y_%m}")
        op.execute(
            f"CREATE TABLE motion_events_{suffixes[-1]} PARTITION OF motion_events "
            f"FOR VALUES FROM ('{month.isoformat()}') TO ('{_next_month(month).isoformat()}')"
        )
    suffixes.append("default")
    op.execute("CREATE TABLE motion_events_default PARTITION OF motion_events DEFAULT")
    op.execute(_copy_from("motion_events_unpartitioned"))
    for index, columns in PARTITION_INDEXES.items():
        op.execute(f"CREATE INDEX {index} ON ONLY motion_events {columns}")
        for suffix in suffixes:
            op.execute(f"CREATE INDEX {index}_{suffix} ON motion_events_{suffix} {columns}")
            op.execute(f"ALTER INDEX {index} ATTACH PARTITION {index}_{suffix}")
    op.execute(KEYS_TABLE)
    op.execute(
        "INSERT INTO motion_event_keys (event_id, camera_id, device_ref, clip_id) "
        "SELECT id, camera_id, device_ref, clip_id FROM motion_events "
        "WHERE device_ref IS NOT NULL OR clip_id IS NOT NULL"
    )
    for statement in KEYS_INDEXES:
        op.execute(statement)
    op.execute(KEYS_FUNCTION)
    op.execute(KEYS_TRIGGER)
    op.execute("DROP TABLE motion_events_unpartitioned")
    op.execute("ANALYZE motion_events")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP TRIGGER motion_event_keys_sync ON motion_events")
    op.execute("DROP FUNCTION motion_event_keys_sync()")
    op.execute("DROP TABLE motion_event_keys")
    op.execute("ALTER TABLE motion_events RENAME TO motion_events_partitioned")
    op.execute(
        "DROP INDEX ix_motion_events_camera_id_started_at, ix_motion_events_owner_id_started_at"
    )
    op.execute("ALTER TABLE motion_events_partitioned DROP CONSTRAINT pk_motion_events")
    op.execute(
        _table(
            "motion_events",
            "CONSTRAINT pk_motion_events PRIMARY KEY (id), "
            "CONSTRAINT uq_motion_events_clip_id UNIQUE (clip_id)",
            "",
        )
    )
    op.execute(_copy_from("motion_events_partitioned"))
    for index, columns in PARTITION_INDEXES.items():
        op.execute(f"CREATE INDEX {index} ON motion_events {columns}")
    op.execute(
        "CREATE UNIQUE INDEX uq_motion_events_camera_id_device_ref ON motion_events "
        "(camera_id, device_ref) WHERE device_ref IS NOT NULL"
    )
    # Dropping the partitioned table drops every partition with it.
    op.execute("DROP TABLE motion_events_partitioned")
