"""The partitioned ``motion_events`` as revision 20261205_0015 builds it, in one place.

The revision builds it in one transaction; ``doorstep events prepare-partitions``
(:mod:`doorstep.migrations.online_partitions`) builds the same table under another name
while the app keeps writing, and the revision then only swaps it in. Both take their
statements from here, so the two paths give the same tables, keys, indexes and triggers.
The revision has run on deployments: what these build for ``motion_events`` must stay as
it is, to the byte.
"""

from __future__ import annotations

from datetime import datetime

from doorstep.cameras.partitions import month_start, next_month

PARENT = "motion_events"

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


def table(name: str, key: str, tail: str) -> str:
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


def partitioned_table(name: str) -> str:
    """The partitioned events table, named ``name``; its key is named after it."""
    return table(
        name,
        f"CONSTRAINT pk_{name} PRIMARY KEY (id, started_at)",
        "PARTITION BY RANGE (started_at)",
    )


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


def keys_trigger(table_name: str) -> str:
    """The trigger that keeps ``motion_event_keys`` for the events table ``table_name``."""
    return f"""
    CREATE TRIGGER motion_event_keys_sync
    AFTER INSERT OR DELETE OR UPDATE OF id, camera_id, device_ref, clip_id ON {table_name}
    FOR EACH ROW EXECUTE FUNCTION motion_event_keys_sync()
"""


def months_to_create(
    oldest: datetime | None, newest: datetime | None, now: datetime
) -> list[datetime]:
    """The months to partition: from the oldest event's (or this one) to ``MONTHS_AHEAD``
    past the newest event's (or this one, if later)."""
    last = max(now, newest) if newest is not None else now
    for _ in range(MONTHS_AHEAD):
        last = next_month(month_start(last))
    months = [month_start(oldest if oldest is not None else now)]
    while months[-1] < month_start(last):
        months.append(next_month(months[-1]))
    return months


def partition_statements(parent: str, months: list[datetime]) -> list[str]:
    """Create ``parent``'s partition of each month (named ``motion_events_YYYY_MM``, whatever
    the parent is called) and its default partition, ``motion_events_default``."""
    statements = [
        f"CREATE TABLE {PARENT}_{month:%Y_%m} PARTITION OF {parent} "
        f"FOR VALUES FROM ('{month.isoformat()}') TO ('{next_month(month).isoformat()}')"
        for month in months
    ]
    statements.append(f"CREATE TABLE {PARENT}_default PARTITION OF {parent} DEFAULT")
    return statements


def suffixes(months: list[datetime]) -> list[str]:
    return [f"{month:%Y_%m}" for month in months] + ["default"]


def parent_index(parent: str, index: str) -> str:
    """The name of ``parent``'s index ``index`` (an index name of ``motion_events``)."""
    return index.replace(PARENT, parent, 1)


def index_statements(parent: str, months: list[datetime]) -> list[str]:
    """Build the events' indexes on ``parent`` and on each of its partitions, each named as
    revision 20261205_0015 names it (the parent's own after the parent)."""
    statements = []
    for index, columns in PARTITION_INDEXES.items():
        on_parent = parent_index(parent, index)
        statements.append(f"CREATE INDEX {on_parent} ON ONLY {parent} {columns}")
        for suffix in suffixes(months):
            statements.append(f"CREATE INDEX {index}_{suffix} ON {PARENT}_{suffix} {columns}")
            statements.append(f"ALTER INDEX {on_parent} ATTACH PARTITION {index}_{suffix}")
    return statements
