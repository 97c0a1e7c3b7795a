"""Motion events partitioned by month on PostgreSQL (issue 17), one table on SQLite.

The migration keeps every row both ways on a filled database; the worker creates the months
ahead; an event outside every month lands in the default partition and moves into its month
when that is created; a device reference names one event per camera and a clip one event,
across months as before; targeting reads only the months its window overlaps."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection, create_engine, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from tests.conftest import make_settings
from tests.factories import CameraWithToken, make_camera, make_person
from tests.partitions_support import clip as _clip
from tests.partitions_support import event as _event
from tests.partitions_support import event_rows as _rows

from doorstep.cameras import partitions
from doorstep.cameras.device_input import RecordedEvent
from doorstep.cameras.events import report_device_event
from doorstep.cameras.models import Clip, MotionEvent
from doorstep.config import Settings
from doorstep.db import utcnow
from doorstep.footage.targeting import cameras_with_footage
from doorstep.jobs import job_registry
from doorstep.media.kinds import EventKind
from doorstep.migrate import downgrade, upgrade
from doorstep.runtime import Runtime

BEFORE = "20261205_0014_event_alerts"
MAX_EVENT_S = 600.0


def _on(url: str, sql: str) -> list[tuple[Any, ...]]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return [tuple(row) for row in conn.execute(text(sql))]
    finally:
        engine.dispose()


def _where(session: Session, event_id: uuid.UUID) -> str:
    """The partition holding an event."""
    return str(
        session.scalar(
            text("SELECT tableoid::regclass::text FROM motion_events WHERE id = :id"),
            {"id": event_id},
        )
    )


# ---------------------------------------------------------------- the migration


def test_migration_keeps_every_event_down_and_up(
    fresh_url: str, db_backend: str, tmp_path: Path
) -> None:
    upgrade(fresh_url)
    runtime = Runtime(make_settings(tmp_path, fresh_url))
    try:
        owner = make_person(runtime)
        camera = make_camera(runtime, owner.user)
        now = utcnow()
        # Months back, this month, one inside the months ahead, one far past them.
        times = [now - timedelta(days=400), now - timedelta(days=65), now]
        times += [now + timedelta(days=40), now + timedelta(days=900)]
        with runtime.db.transaction() as session:
            clip = _clip(camera, times[1])
            session.add(clip)
            session.flush()
            for i, at in enumerate(times):
                session.add(_event(camera, at, device_ref=f"ref-{i}"))
            session.add(_event(camera, times[1], clip_id=clip.id, on_device=False))
            session.add(_event(camera, times[2]))
    finally:
        runtime.close()
    before = _rows(fresh_url)
    assert len(before) == 7

    downgrade(fresh_url, BEFORE)
    assert _rows(fresh_url) == before
    upgrade(fresh_url)
    assert _rows(fresh_url) == before
    if db_backend != "postgres":
        return
    engine = create_engine(fresh_url)
    try:
        with engine.connect() as conn:
            names = partitions.partitions(conn)
            placed = dict(
                conn.execute(text("SELECT id, tableoid::regclass::text FROM motion_events")).all()
            )
            keys = conn.execute(text("SELECT count(*) FROM motion_event_keys")).scalar()
    finally:
        engine.dispose()
    # Every month from the oldest event's to three past the newest one, and the default.
    month = partitions.month_start(times[0])
    expected = set()
    while month <= partitions.month_start(times[-1] + timedelta(days=100)):
        expected.add(partitions.partition_name(month))
        month = partitions.next_month(month)
    assert set(names) == expected | {partitions.DEFAULT_PARTITION}
    for event_id, _camera, _owner, _kind, started_at, *_ in before:
        assert placed[event_id] == partitions.partition_name(started_at)
    # Five device references and one clip: six events have a row of keys.
    assert keys == 6


def test_migration_up_and_down_on_an_empty_database(fresh_url: str, db_backend: str) -> None:
    upgrade(fresh_url)
    downgrade(fresh_url, BEFORE)
    kind = "SELECT relkind::text FROM pg_class WHERE relname = 'motion_events'"
    if db_backend == "postgres":
        assert _on(fresh_url, kind) == [("r",)]
        assert _on(fresh_url, "SELECT to_regclass('motion_event_keys')") == [(None,)]
    upgrade(fresh_url)
    if db_backend == "postgres":
        assert _on(fresh_url, kind) == [("p",)]
    assert _rows(fresh_url) == set()


# ---------------------------------------------------------------- months ahead


def test_the_worker_keeps_months_ahead(runtime: Runtime, db_backend: str) -> None:
    task = next(t for t in job_registry(runtime.settings).periodic if t.name == "event_partitions")
    assert task.run(runtime) == 0  # the migration made this month and three ahead
    later = datetime(2031, 5, 17, 8, tzinfo=UTC)
    with runtime.db.transaction() as session:
        created = partitions.ensure_months_ahead(session=session, months_ahead=2, now=later)
        again = partitions.ensure_months_ahead(session=session, months_ahead=2, now=later)
        names = partitions.partitions(session.connection())
    if db_backend == "sqlite":
        assert created == again == names == []
        return
    months = ["motion_events_2031_05", "motion_events_2031_06", "motion_events_2031_07"]
    assert created == months
    assert again == []
    assert set(months) <= set(names)
    # Each month's indexes carry the parent's name, so a plan says which index it reads.
    with runtime.db.transaction() as session:
        indexes = set(
            session.scalars(
                text("SELECT indexname FROM pg_indexes WHERE tablename = 'motion_events_2031_05'")
            )
        )
    assert {
        "ix_motion_events_camera_id_started_at_2031_05",
        "ix_motion_events_owner_id_started_at_2031_05",
    } <= indexes
    this_month = partitions.partition_name(utcnow())
    assert this_month in names
    ahead = partitions.month_start(utcnow())
    for _ in range(runtime.settings.event_partitions_ahead_months):
        ahead = partitions.next_month(ahead)
        assert partitions.partition_name(ahead) in names


def test_an_event_in_a_month_not_made_yet_is_kept_then_moves_into_it(
    runtime: Runtime, db_backend: str
) -> None:
    camera = make_camera(runtime, make_person(runtime).user)
    at = datetime(2034, 3, 9, 12, tzinfo=UTC)
    with runtime.db.transaction() as session:
        event = _event(camera, at, device_ref="far-ahead")
        session.add(event)
        session.flush()
        if db_backend == "postgres":
            assert _where(session, event.id) == partitions.DEFAULT_PARTITION
    with runtime.db.transaction() as session:
        created = partitions.empty_default(session=session)
        if db_backend == "postgres":
            assert created == ["motion_events_2034_03"]
            assert _where(session, event.id) == "motion_events_2034_03"
        stored = session.get(MotionEvent, event.id)
        assert stored is not None and stored.device_ref == "far-ahead"
        assert partitions.empty_default(session=session) == []
    # Its reference still names it: the keys stayed with the moved row.
    with pytest.raises(IntegrityError), runtime.db.transaction() as session:
        session.add(_event(camera, at - timedelta(days=1000), device_ref="far-ahead"))


# ---------------------------------------------------------------- uniqueness across months


def _report(
    runtime: Runtime, camera: CameraWithToken, started_at: datetime, device_ref: str
) -> RecordedEvent:
    with runtime.db.transaction() as session:
        return report_device_event(
            session=session,
            camera=camera.camera,
            kind=EventKind.motion,
            started_at=started_at,
            ended_at=None,
            device_ref=device_ref,
            max_duration_s=MAX_EVENT_S,
            alert_window_s=30,
        )


def test_a_device_ref_names_one_event_per_camera_across_months(
    runtime: Runtime, db_backend: str
) -> None:
    owner = make_person(runtime)
    camera, other = make_camera(runtime, owner.user), make_camera(runtime, owner.user)
    now = utcnow()
    first = _report(runtime, camera, now - timedelta(minutes=5), "door-1")
    # A retry finds it, even dated in another month.
    retry = _report(runtime, camera, now - timedelta(days=40), "door-1")
    assert (retry.created, retry.event.id) == (False, first.event.id)
    # Inserted behind the service's back, the database itself refuses the second event.
    with pytest.raises(IntegrityError), runtime.db.transaction() as session:
        session.add(_event(camera, now - timedelta(days=70), device_ref="door-1"))
    # Another camera may use the same reference; the first event's reference, once gone, too.
    with runtime.db.transaction() as session:
        session.add(_event(other, now - timedelta(days=70), device_ref="door-1"))
        stored = session.get(MotionEvent, first.event.id)
        assert stored is not None
        stored.device_ref = "door-1-renamed"
    with runtime.db.transaction() as session:
        session.add(_event(camera, now - timedelta(days=70), device_ref="door-1"))
    with runtime.db.transaction() as session:
        refs = session.scalars(
            select(MotionEvent.device_ref).where(MotionEvent.camera_id == camera.camera.id)
        ).all()
    assert sorted(r or "" for r in refs) == ["door-1", "door-1-renamed"]
    if db_backend == "postgres":
        with runtime.db.transaction() as session:
            keys = session.execute(
                text("SELECT count(*) FROM motion_event_keys WHERE camera_id = :c"),
                {"c": camera.camera.id},
            ).scalar()
        assert keys == 2


def test_a_clip_belongs_to_one_event_across_months(runtime: Runtime, db_backend: str) -> None:
    camera = make_camera(runtime, make_person(runtime).user)
    now = utcnow()
    with runtime.db.transaction() as session:
        clip = _clip(camera, now)
        session.add(clip)
        session.flush()
        session.add(_event(camera, now, clip_id=clip.id, on_device=False))
    with pytest.raises(IntegrityError), runtime.db.transaction() as session:
        session.add(_event(camera, now - timedelta(days=45), clip_id=clip.id, on_device=False))
    # The clip's row gone, its event loses the clip (SET NULL) and the clip's key with it.
    with runtime.db.transaction() as session:
        session.delete(session.get(Clip, clip.id))
    with runtime.db.transaction() as session:
        assert session.scalars(select(MotionEvent.clip_id)).all() == [None]
        if db_backend == "postgres":
            assert session.execute(text("SELECT count(*) FROM motion_event_keys")).scalar() == 0


# ---------------------------------------------------------------- pruning


def _footage_plan(connection: Connection, start: datetime, end: datetime) -> str:
    statement = cameras_with_footage(
        camera_ids=[uuid.uuid4(), uuid.uuid4()],
        window_start=start,
        window_end=end,
        max_event_s=MAX_EVENT_S,
    )
    sql = statement.compile(dialect=connection.dialect, compile_kwargs={"literal_binds": True})
    return "\n".join(row[0] for row in connection.exec_driver_sql(f"EXPLAIN {sql}"))


def _literal(value: object) -> str:
    if isinstance(value, datetime):
        return f"'{value.isoformat()}'::timestamptz"
    if isinstance(value, uuid.UUID):
        return f"'{value}'::uuid"
    return str(int(str(value)))


def _generic_plan(connection: Connection, start: datetime, end: datetime) -> str:
    """The plan the server keeps for the statement as prepared, parameters unknown when
    planned: months are pruned when it runs (``Subplans Removed``), not when planned."""
    statement = cameras_with_footage(
        camera_ids=[uuid.uuid4()], window_start=start, window_end=end, max_event_s=MAX_EVENT_S
    )
    expanded = statement.compile(dialect=connection.dialect).construct_expanded_state()
    names = list(dict.fromkeys(re.findall(r"%\((\w+)\)s", expanded.statement)))
    sql = re.sub(r"%\((\w+)\)s", lambda m: f"${names.index(m.group(1)) + 1}", expanded.statement)
    connection.exec_driver_sql("SET LOCAL plan_cache_mode = force_generic_plan")
    connection.exec_driver_sql(f"PREPARE footage_probe AS {sql}")
    values = [expanded.parameters[name] for name in names]
    args = ", ".join(_literal(value) for value in values)
    try:
        rows = connection.exec_driver_sql(
            f"EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) EXECUTE footage_probe({args})"
        )
        return "\n".join(row[0] for row in rows)
    finally:
        connection.exec_driver_sql("DEALLOCATE footage_probe")


MONTH = re.compile(r"motion_events_(?:\d{4}_\d{2}|default)\b")


@pytest.mark.postgres
@pytest.mark.parametrize("db_backend", ["postgres"], indirect=False)
def test_targeting_reads_only_the_months_its_window_overlaps(
    runtime: Runtime, db_backend: str
) -> None:
    month = partitions.month_start(utcnow())
    following = partitions.next_month(month)
    with runtime.db.transaction() as session:
        partitions.ensure_months_ahead(session=session, months_ahead=1)
        connection = session.connection()
        everything = set(partitions.partitions(connection))
        assert len(everything) >= 3
        inside = _footage_plan(
            connection, month + timedelta(days=14, hours=12), month + timedelta(days=14, hours=14)
        )
        # The window's earliest start (an event may begin max_event_s before it) reaches
        # back into the month before: both months are read, no other.
        across = _footage_plan(
            connection, following + timedelta(minutes=5), following + timedelta(hours=3)
        )
        generic = _generic_plan(
            connection, month + timedelta(days=14, hours=12), month + timedelta(days=14, hours=14)
        )
    assert set(MONTH.findall(inside)) == {partitions.partition_name(month)}, inside
    assert set(MONTH.findall(across)) == {
        partitions.partition_name(month),
        partitions.partition_name(following),
    }, across
    # Planned without the window, the months are pruned as the statement runs.
    assert "Subplans Removed" in generic, generic
    scanned = {
        name
        for line in generic.splitlines()
        if "never executed" not in line
        for name in MONTH.findall(line)
    }
    assert scanned <= {partitions.partition_name(month)}, generic


def test_settings_bound_the_months_ahead(tmp_path: Path) -> None:
    assert Settings(data_dir=tmp_path).event_partitions_ahead_months == 3
    with pytest.raises(ValueError):
        Settings(data_dir=tmp_path, event_partitions_ahead_months=0)
