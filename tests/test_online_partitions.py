"""The online move of motion events into monthly partitions (issue 17):
``doorstep events prepare-partitions`` copies while writes go on, and revision 20261205_0015
then only swaps. It must give what the revision's one-transaction move gives on the same
data (rows, keys, indexes, constraints, triggers, by the catalogue), keep every write made
during the copy, continue after an interruption, and leave a schema the revision's
downgrade takes back. SQLite has nothing to move."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.exc import IntegrityError

from doorstep.cameras import partitions
from doorstep.migrate import downgrade, upgrade
from doorstep.migrations import online_partitions
from doorstep.migrations.online_partitions import OnlineMoveError, Progress
from doorstep.runtime import Runtime
from tests.commands import run_doorstep
from tests.conftest import make_settings
from tests.factories import make_camera, make_person
from tests.partitions_support import EVENT_COLUMNS, clip, event, event_rows

BEFORE = online_partitions.BEFORE
SWAP = "20261205_0015"
# Months with events: the copy runs several batches in most of them.
MONTHS_BACK = (400, 300, 200, 65, 30, 0)


def on_postgres(test: Any) -> Any:
    """The move is PostgreSQL's: SQLite keeps one table (the last test)."""
    marked = pytest.mark.parametrize("db_backend", ["postgres"], indirect=False)(test)
    return pytest.mark.postgres(marked)


# What the two paths must agree on, read from the catalogue.
CATALOGUE = {
    "tables": "SELECT c.relname, c.relkind::text, coalesce(pg_get_expr(c.relpartbound, c.oid),"
    " '') FROM pg_class c WHERE c.relnamespace = 'public'::regnamespace"
    " AND c.relname LIKE 'motion_event%' AND c.relkind IN ('r', 'p')",
    "columns": "SELECT table_name, column_name, ordinal_position, data_type, is_nullable"
    " FROM information_schema.columns WHERE table_schema = 'public'"
    " AND table_name LIKE 'motion_event%'",
    "indexes": "SELECT tablename, indexname, indexdef FROM pg_indexes"
    " WHERE schemaname = 'public' AND tablename LIKE 'motion_event%'",
    "attached": "SELECT c.relname, p.relname FROM pg_inherits i"
    " JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_class p ON p.oid = i.inhparent"
    " WHERE p.relname LIKE '%motion_event%'",
    "constraints": "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid)"
    " FROM pg_constraint WHERE conrelid::regclass::text LIKE 'motion_event%'",
    "triggers": "SELECT tgrelid::regclass::text, tgname, pg_get_triggerdef(oid) FROM pg_trigger"
    " WHERE NOT tgisinternal AND tgrelid::regclass::text LIKE 'motion_event%'",
    "functions": "SELECT proname, prosrc FROM pg_proc WHERE proname LIKE 'motion_event%'",
    "events": f"SELECT {EVENT_COLUMNS}, tableoid::regclass::text FROM motion_events",
    "keys": "SELECT event_id, camera_id, device_ref, clip_id FROM motion_event_keys",
    "leftovers": "SELECT relname FROM pg_class WHERE relname IN ('motion_events_next',"
    " 'motion_events_next_progress', 'motion_events_unpartitioned',"
    " 'ix_motion_events_started_at_id_copy') UNION ALL SELECT proname FROM pg_proc"
    " WHERE proname = 'motion_events_mirror'",
}


def _catalogue(url: str) -> dict[str, set[tuple[Any, ...]]]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return {
                name: {tuple(row) for row in conn.execute(text(sql))}
                for name, sql in CATALOGUE.items()
            }
    finally:
        engine.dispose()


@pytest.fixture
def filled_url(fresh_url: str, tmp_path: Path) -> str:
    """A database at the revision before 0015 holding events in six months (with device
    references, clips, and events of the same camera and time), events far ahead, and three
    clips; the shape of a live instance about to be partitioned."""
    upgrade(fresh_url)
    runtime = Runtime(make_settings(tmp_path, fresh_url))
    try:
        owner = make_person(runtime)
        cameras = [make_camera(runtime, owner.user) for _ in range(2)]
        now = datetime.now(UTC)
        with runtime.db.transaction() as session:
            clips = [clip(cameras[0], now - timedelta(days=d)) for d in (300, 30, 0)]
            session.add_all(clips)
            session.flush()
            for i, days in enumerate(MONTHS_BACK):
                for j in range(7):
                    at = now - timedelta(days=days, minutes=j)
                    camera = cameras[j % 2]
                    ref = f"ref-{i}-{j}" if j % 3 else None
                    session.add(event(camera, at, device_ref=ref))
            for i, c in enumerate(clips):
                session.add(event(cameras[0], c.started_at, clip_id=c.id, on_device=False))
                session.add(event(cameras[1], now + timedelta(days=900 + i), device_ref=f"far-{i}"))
    finally:
        runtime.close()
    downgrade(fresh_url, BEFORE)
    return fresh_url


@pytest.fixture
def engine(filled_url: str) -> Iterator[Engine]:
    engine = create_engine(filled_url)
    yield engine
    engine.dispose()


def _expected_keys(url: str) -> set[tuple[Any, ...]]:
    return {
        (row[0], row[1], row[7], row[8])
        for row in event_rows(url)
        if row[7] is not None or row[8] is not None
    }


class Interrupted(Exception):
    pass


def _interrupt(engine: Engine, *, batches: int) -> None:
    """Run ``prepare`` (2 events a batch) and stop it after ``batches`` batches, as a
    killed process would stop: what it committed stays."""
    seen: list[Progress] = []

    def report(progress: Progress) -> None:
        seen.append(progress)
        if len(seen) == batches:
            raise Interrupted

    with pytest.raises(Interrupted):
        online_partitions.prepare(engine, batch_rows=2, report=report)


@on_postgres
def test_prepared_swap_gives_what_the_one_transaction_move_gives(
    filled_url: str, engine: Engine
) -> None:
    before = event_rows(filled_url)
    upgrade(filled_url, SWAP)
    plain = _catalogue(filled_url)
    downgrade(filled_url, BEFORE)
    assert event_rows(filled_url) == before

    seen: list[Progress] = []
    counts = online_partitions.prepare(engine, batch_rows=3, report=seen.append)
    assert counts is not None
    assert sum(c.new for c in counts) == len(before)
    assert all(c.old == c.new for c in counts)
    # Month by month, several batches each, every stretch reported done once.
    done = [p for p in seen if p.done]
    assert len(done) == len({p.stretch for p in seen}) and len(seen) > len(done)
    months = [p.stretch for p in done[1:-1]]
    assert (done[0].stretch, done[-1].stretch) == ("before", "after")
    assert months == sorted(months) and all(m.startswith("motion_events_20") for m in months)
    upgrade(filled_url, SWAP)
    online = _catalogue(filled_url)
    assert plain["leftovers"] == set()
    for name in CATALOGUE:
        assert online[name] == plain[name], name
    assert len(online["events"]) == len(before)

    # The revision's downgrade takes the swapped table back, and the upgrade again.
    downgrade(filled_url, BEFORE)
    assert event_rows(filled_url) == before
    upgrade(filled_url)
    assert event_rows(filled_url) == before


@on_postgres
def test_writes_during_the_copy_all_end_up_right(filled_url: str, engine: Engine) -> None:
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT id, started_at, camera_id, owner_id FROM motion_events"
                " ORDER BY started_at, id"
            )
        ).all()
        clip_ids = list(conn.scalars(text("SELECT id FROM clips ORDER BY started_at")))
    # The first month's first batch (3 rows) is copied when the writes come; this month's
    # events (rows[-11:-3], before the three far ahead) are not.
    oldest = rows[0]
    camera_id, owner_id = oldest.camera_id, oldest.owner_id
    now = datetime.now(UTC)
    writer = create_engine(filled_url, isolation_level="AUTOCOMMIT")
    written: list[str] = []

    def write_between_batches(progress: Progress) -> None:
        if written or progress.copied == 0:
            return
        written.append(progress.stretch)
        with writer.connect() as conn:
            # New events: in the month being copied, before the cursor; in one not yet
            # copied; far ahead, and before every month (the default's two stretches).
            for at, ref in (
                (oldest.started_at + timedelta(seconds=1), "new-copied-month"),
                (now, "new-this-month"),
                (now + timedelta(days=2000), "new-far-ahead"),
                (oldest.started_at - timedelta(days=400), "new-long-ago"),
            ):
                conn.execute(
                    text(
                        f"INSERT INTO motion_events ({EVENT_COLUMNS}) VALUES (:id, :camera, "
                        ":owner, 'motion', :at, :at, true, :ref, NULL, now())"
                    ),
                    {"id": uuid.uuid4(), "camera": camera_id, "owner": owner_id}
                    | {
                        "at": at,
                        "ref": ref,
                    },
                )
            # Clips taken off two events (one copied), and set on one copied, one not yet.
            conn.execute(
                text("UPDATE motion_events SET clip_id = NULL WHERE clip_id IN (:a, :b)"),
                {"a": clip_ids[1], "b": clip_ids[2]},
            )
            for event_id, clip_id in ((rows[0].id, clip_ids[2]), (rows[-11].id, clip_ids[1])):
                conn.execute(
                    text("UPDATE motion_events SET clip_id = :clip WHERE id = :id"),
                    {"clip": clip_id, "id": event_id},
                )
            # Deleted: one copied, one not yet.
            conn.execute(
                text("DELETE FROM motion_events WHERE id IN (:a, :b)"),
                {"a": rows[1].id, "b": rows[-9].id},
            )
            # Moved: from this month into the copied part of the first, and the other way.
            conn.execute(
                text("UPDATE motion_events SET started_at = :at WHERE id = :id"),
                {"at": oldest.started_at + timedelta(seconds=2), "id": rows[-10].id},
            )
            conn.execute(
                text("UPDATE motion_events SET started_at = :at WHERE id = :id"),
                {"at": now - timedelta(seconds=1), "id": rows[2].id},
            )

    try:
        counts = online_partitions.prepare(engine, batch_rows=3, report=write_between_batches)
    finally:
        writer.dispose()
    assert written == [partitions.partition_name(oldest.started_at)]
    assert counts is not None and all(c.old == c.new for c in counts)
    expected = event_rows(filled_url)
    assert len(expected) == len(rows) + 4 - 2
    expected_keys = _expected_keys(filled_url)
    upgrade(filled_url, SWAP)
    after = _catalogue(filled_url)
    assert {row[:-1] for row in after["events"]} == expected
    assert after["keys"] == expected_keys
    for *row, partition in after["events"]:
        month = partitions.partition_name(row[4])
        assert partition == (
            month if month in {r[0] for r in after["tables"]} else "motion_events_default"
        )


@on_postgres
def test_a_row_changed_while_its_batch_is_open_is_not_brought_back(
    filled_url: str, engine: Engine
) -> None:
    # Stopped after its first batch: the table, its mirror and the progress are there.
    _interrupt(engine, batches=1)
    with engine.connect() as conn:
        stretch = next(
            s for s in online_partitions.stretches(conn, copied=False) if s.lower is not None
        )
        in_it = (
            conn.execute(
                text(
                    "SELECT id FROM motion_events"
                    " WHERE started_at >= :lower AND started_at < :upper ORDER BY id"
                ),
                {"lower": stretch.lower, "upper": stretch.upper},
            )
            .scalars()
            .all()
        )
    assert len(in_it) >= 2
    gone, changed = in_it[0], in_it[1]
    writer = create_engine(filled_url, isolation_level="AUTOCOMMIT")
    finished = threading.Event()

    def delete_and_update() -> None:
        with writer.connect() as conn:
            conn.execute(text("DELETE FROM motion_events WHERE id = :id"), {"id": gone})
            conn.execute(
                text("UPDATE motion_events SET device_ref = 'changed' WHERE id = :id"),
                {"id": changed},
            )
        finished.set()

    try:
        with engine.begin() as conn:
            online_partitions.copy_batch(conn, stretch, None, 1000)
            thread = threading.Thread(target=delete_and_update)
            thread.start()
            # The batch's rows are locked FOR SHARE: the delete waits for its commit.
            assert not finished.wait(1.0)
        thread.join(10)
        assert finished.is_set()
    finally:
        writer.dispose()
    with engine.connect() as conn:
        copied: dict[uuid.UUID, str] = dict(
            conn.execute(text("SELECT id, device_ref FROM motion_events_next")).all()
        )
    assert gone not in copied
    assert copied[changed] == "changed"

    # The second run continues where the first stopped, and verifies.
    counts = online_partitions.prepare(engine, batch_rows=2)
    assert counts is not None and all(c.old == c.new for c in counts)
    expected = event_rows(filled_url)
    upgrade(filled_url, SWAP)
    assert event_rows(filled_url) == expected


@on_postgres
def test_an_interrupted_prepare_resumes_and_the_swap_waits_for_it(
    filled_url: str, engine: Engine
) -> None:
    _interrupt(engine, batches=3)
    with engine.connect() as conn:
        every = online_partitions.stretches(conn)
        copied_before: dict[str, int] = dict(
            conn.execute(text("SELECT stretch, copied FROM motion_events_next_progress")).all()
        )
        pending = {s.name for s in online_partitions.stretches(conn, copied=False)}
        remaining = {
            s.name: conn.scalar(
                text(f"SELECT count(*) FROM motion_events WHERE {s.condition()}"),
                s.bounds(),
            )
            - copied_before[s.name]
            for s in every
            if s.name in pending
        }
    assert pending and len(pending) < len(every)
    assert any(copied_before[name] for name in pending)  # stopped inside a month
    # Half prepared: the revision refuses rather than start the long copy unasked.
    with pytest.raises(OnlineMoveError, match="only partly prepared"):
        upgrade(filled_url, SWAP)

    resumed: list[Progress] = []
    counts = online_partitions.prepare(engine, batch_rows=2, report=resumed.append)
    assert counts is not None and all(c.old == c.new for c in counts)
    # Only what was left is read: the stretches not finished, each from its position
    # (a batch of 2 rows at a time, the last one finding fewer).
    assert {p.stretch for p in resumed} == pending
    assert len(resumed) == sum(left // 2 + 1 for left in remaining.values())
    with engine.connect() as conn:
        total = conn.scalar(text("SELECT sum(copied) FROM motion_events_next_progress"))
    assert total == len(event_rows(filled_url))

    expected = event_rows(filled_url)
    upgrade(filled_url, SWAP)
    assert event_rows(filled_url) == expected
    # The keys still refuse a second event with a camera's device reference, or a clip's.
    with engine.connect() as conn:
        camera_id, owner_id, ref = conn.execute(
            text(
                "SELECT camera_id, owner_id, device_ref FROM motion_events"
                " WHERE device_ref IS NOT NULL LIMIT 1"
            )
        ).one()
        clip_id = conn.scalar(
            text("SELECT clip_id FROM motion_events WHERE clip_id IS NOT NULL LIMIT 1")
        )
    for over in ({"ref": ref, "clip": None}, {"ref": "fresh", "clip": clip_id}):
        with pytest.raises(IntegrityError), engine.begin() as conn:
            conn.execute(
                text(
                    f"INSERT INTO motion_events ({EVENT_COLUMNS}) VALUES (:id, :camera, :owner,"
                    " 'motion', now() - interval '40 days', now(), true, :ref, :clip, now())"
                ),
                {"id": uuid.uuid4(), "camera": camera_id, "owner": owner_id} | over,
            )


@on_postgres
def test_abandon_leaves_the_one_transaction_move(filled_url: str, engine: Engine) -> None:
    before = event_rows(filled_url)
    _interrupt(engine, batches=2)
    assert online_partitions.abandon(engine) is True
    assert online_partitions.abandon(engine) is False
    upgrade(filled_url, SWAP)
    assert event_rows(filled_url) == before
    assert _catalogue(filled_url)["leftovers"] == set()
    # Partitioned already: nothing to do.
    assert online_partitions.prepare(engine) is None


@on_postgres
def test_a_copy_index_left_invalid_by_an_interrupted_build_is_built_again(
    filled_url: str, engine: Engine
) -> None:
    # A concurrent build that fails leaves its index behind, invalid; here a unique one
    # that the owners' repeated ids break.
    autocommit = engine.execution_options(isolation_level="AUTOCOMMIT")
    with autocommit.connect() as conn, pytest.raises(IntegrityError):
        conn.exec_driver_sql(
            f"CREATE UNIQUE INDEX CONCURRENTLY {online_partitions.COPY_INDEX}"
            " ON motion_events (owner_id)"
        )
    valid = (
        "SELECT indisvalid, pg_get_indexdef(indexrelid) FROM pg_index"
        f" WHERE indexrelid = to_regclass('{online_partitions.COPY_INDEX}')"
    )
    with engine.connect() as conn:
        assert conn.execute(text(valid)).one()[0] is False
    counts = online_partitions.prepare(engine, batch_rows=5)
    assert counts is not None and all(c.old == c.new for c in counts)
    with engine.connect() as conn:
        is_valid, definition = conn.execute(text(valid)).one()
    assert is_valid and definition.endswith("(started_at, id)")


@on_postgres
def test_a_second_run_refuses_while_one_prepares(filled_url: str, engine: Engine) -> None:
    refused: list[str] = []

    def second_run(progress: Progress) -> None:
        if not refused:
            with pytest.raises(OnlineMoveError, match="is running") as second:
                online_partitions.prepare(engine, batch_rows=2)
            refused.append(str(second.value))
            with pytest.raises(OnlineMoveError, match="is running"):
                online_partitions.abandon(engine)

    counts = online_partitions.prepare(engine, batch_rows=2, report=second_run)
    assert refused and counts is not None
    # The first run's lock went with it.
    assert online_partitions.prepare(engine) == counts


@on_postgres
def test_prepare_runs_only_at_the_revision_before_the_move(fresh_url: str) -> None:
    upgrade(fresh_url, "20261205_0013")
    engine = create_engine(fresh_url)
    try:
        with pytest.raises(OnlineMoveError, match=BEFORE):
            online_partitions.prepare(engine)
    finally:
        engine.dispose()


@on_postgres
def test_the_command_prepares_then_migrate_swaps(filled_url: str) -> None:
    env = {"DOORSTEP_DATABASE_URL": filled_url}
    before = event_rows(filled_url)
    out = run_doorstep(
        "events", "prepare-partitions", "--batch", "4", "--month-pause-s", "0.01", env=env
    ).stdout
    # The first month's 7 events; the 3 far ahead are inside the months (3 past the newest).
    assert "copied motion_events_default (before the months): 0 events" in out
    assert f"copied {partitions.partition_name(min(r[4] for r in before))}: 7 events" in out
    assert "verified motion_events_default: 0 events" in out
    assert f"ready: run `doorstep migrate --revision {SWAP}`" in out
    assert (
        "database at 20261205_0015" in run_doorstep("migrate", "--revision", SWAP, env=env).stdout
    )
    assert event_rows(filled_url) == before
    again = run_doorstep("events", "prepare-partitions", env=env).stdout
    assert "nothing to do" in again


def test_on_sqlite_the_command_has_nothing_to_do(tmp_path: Path) -> None:
    env = {"DOORSTEP_DATA_DIR": str(tmp_path / "data")}
    run_doorstep("migrate", env=env)
    done = run_doorstep("events", "prepare-partitions", env=env)
    assert done.returncode == 0 and "nothing to do" in done.stdout
