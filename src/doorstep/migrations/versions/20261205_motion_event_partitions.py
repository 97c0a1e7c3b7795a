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

On a large live instance that transaction is too long (it holds the table's lock for the
whole copy): ``doorstep events prepare-partitions``, run before this revision, builds and
fills the partitioned table under another name while writes go on
(:mod:`doorstep.migrations.online_partitions`), and this revision then only swaps it in.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

from doorstep.migrations import online_partitions
from doorstep.migrations.event_partitions import (
    COLUMNS,
    KEYS_FUNCTION,
    KEYS_INDEXES,
    KEYS_TABLE,
    PARTITION_INDEXES,
    index_statements,
    keys_trigger,
    months_to_create,
    partition_statements,
    partitioned_table,
    table,
)

revision: str = "20261205_0015"
down_revision: str | None = "20261205_0014_event_alerts"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _copy_from(source: str) -> str:
    return f"INSERT INTO motion_events ({COLUMNS}) SELECT {COLUMNS} FROM {source}"  # noqa: S608


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    if online_partitions.is_prepared(bind):
        # `doorstep events prepare-partitions` built and filled the table while the app
        # kept writing: only the swap is left, a short transaction.
        online_partitions.swap(bind)
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
    op.execute(partitioned_table("motion_events"))
    oldest, newest = bind.execute(
        sa.text("SELECT min(started_at), max(started_at) FROM motion_events_unpartitioned")
    ).one()
    months = months_to_create(oldest, newest, datetime.now(UTC))
    for statement in partition_statements("motion_events", months):
        op.execute(statement)
    op.execute(_copy_from("motion_events_unpartitioned"))
    for statement in index_statements("motion_events", months):
        op.execute(statement)
    op.execute(KEYS_TABLE)
    op.execute(
        "INSERT INTO motion_event_keys (event_id, camera_id, device_ref, clip_id) "
        "SELECT id, camera_id, device_ref, clip_id FROM motion_events "
        "WHERE device_ref IS NOT NULL OR clip_id IS NOT NULL"
    )
    for statement in KEYS_INDEXES:
        op.execute(statement)
    op.execute(KEYS_FUNCTION)
    op.execute(keys_trigger("motion_events"))
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
        table(
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
