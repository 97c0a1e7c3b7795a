"""Ingest between and across transactions: a clip is decoded outside any transaction, so
what changes meanwhile is checked again; concurrent sends of one device_ref make one
event and never a 500."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, text
from tests.factories import make_camera, make_person, sample_clip, upload_clip

from doorstep.cameras import clips as camera_clips
from doorstep.cameras import events as camera_events
from doorstep.cameras import registry as camera_registry
from doorstep.cameras.models import Camera, Clip, MotionEvent
from doorstep.db import utcnow
from doorstep.media.kinds import EventKind
from doorstep.media.video import ClipLimits
from doorstep.runtime import Runtime

POSTGRES_ONLY = pytest.mark.parametrize(
    "db_backend", [pytest.param("postgres", marks=pytest.mark.postgres)]
)


def _counts(runtime: Runtime) -> tuple[int, int, list[str]]:
    with runtime.db.transaction() as session:
        clips = session.scalar(select(func.count()).select_from(Clip)) or 0
        events = session.scalar(select(func.count()).select_from(MotionEvent)) or 0
    return clips, events, runtime.storage.keys()


def test_token_revoked_while_the_clip_decodes_is_refused_and_leaves_nothing(
    client: TestClient, runtime: Runtime, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The clip is stored outside any transaction; the write transaction checks the token
    again, and the files go when it refuses."""
    owner = make_person(runtime)
    cam = make_camera(runtime, owner.user)
    store_clip = camera_clips.store_clip

    def store_then_revoke(**kwargs: Any) -> camera_clips.StoredClip:
        stored = store_clip(**kwargs)
        assert len(runtime.storage.keys()) == 2  # the clip and its thumbnail, not recorded
        with runtime.db.transaction() as session:  # the owner, meanwhile
            camera_registry.revoke_camera_token(
                session=session, owner=owner.user, camera_id=cam.camera.id
            )
        return stored

    monkeypatch.setattr(camera_clips, "store_clip", store_then_revoke)
    r = upload_clip(client, cam, sample_clip(tmp_path))
    assert r.status_code == 401 and r.json()["error"]["code"] == "invalid_camera_token"
    assert _counts(runtime) == (0, 0, [])


def test_a_retry_that_loses_the_race_gets_the_first_event_and_its_files_go(
    runtime: Runtime, tmp_path: Path
) -> None:
    """Two sends of one clip both pass the checks and are both stored before either is
    recorded: the second to record gets the first one's event, and its own files go."""
    cam = make_camera(runtime, make_person(runtime).user).camera
    clip = sample_clip(tmp_path)
    limits = ClipLimits.from_settings(runtime.settings)
    started = utcnow() - timedelta(minutes=3)
    stored = []
    for _ in range(2):
        with runtime.db.read_only() as session:
            assert (
                camera_clips.check_clip(
                    session=session,
                    camera=session.get_one(Camera, cam.id),
                    started_at=started,
                    device_ref="sd:/9.mp4",
                )
                is None
            )
        stored.append(
            camera_clips.store_clip(
                storage=runtime.storage, limits=limits, camera_id=cam.id, file_path=clip
            )
        )
    results = []
    for item in stored:
        with runtime.db.transaction() as session:
            result = camera_clips.record_clip(
                session=session,
                storage=runtime.storage,
                camera=session.get_one(Camera, cam.id),
                stored=item,
                started_at=started,
                kind=EventKind.motion,
                device_ref="sd:/9.mp4",
            )
            results.append((result.event.id, result.created))
    assert results[0][1] is True and results[1] == (results[0][0], False)
    clips, events, keys = _counts(runtime)
    assert (clips, events) == (1, 1)
    assert sorted(keys) == sorted([stored[0].storage_key, stored[0].thumbnail_key])


def _wait_for_lock_waiter(runtime: Runtime) -> None:
    """Until another session of this database waits on a row lock (the second insert
    waiting on the first one's uncommitted row)."""
    event = threading.Event()
    for _ in range(600):
        with runtime.db.engine.connect() as conn:
            waiting = conn.scalar(
                text(
                    "SELECT count(*) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND wait_event_type = 'Lock'"
                )
            )
        if waiting:
            return
        event.wait(0.05)
    raise AssertionError("the second request never reached the unique index")


def _race(runtime: Runtime, first: Callable[[Any], Any], second: Callable[[Any], Any]) -> Any:
    """Run ``first`` in a transaction left open until ``second`` (in its own transaction,
    in another thread) waits on it; then commit the first. Returns what second returned."""
    inserted, release = threading.Event(), threading.Event()
    outcome: dict[str, Any] = {}

    def run_first() -> None:
        try:
            with runtime.db.transaction() as session:
                first(session)
                inserted.set()
                release.wait(60)
        except BaseException as exc:
            outcome["first_error"] = exc
            inserted.set()

    def run_second() -> None:
        try:
            with runtime.db.transaction() as session:
                outcome["second"] = second(session)
        except BaseException as exc:
            outcome["second_error"] = exc

    a = threading.Thread(target=run_first)
    a.start()
    assert inserted.wait(60)
    b = threading.Thread(target=run_second)
    b.start()
    try:
        _wait_for_lock_waiter(runtime)
    finally:
        release.set()
        a.join(60)
        b.join(60)
    assert "first_error" not in outcome, outcome
    assert "second_error" not in outcome, outcome
    return outcome["second"]


@POSTGRES_ONLY
def test_concurrent_sends_of_one_device_ref_make_one_event(runtime: Runtime) -> None:
    """On PostgreSQL both requests can look the reference up before either commits: the
    second's insert then meets the unique index, and it answers with the first's event
    (it was a 500)."""
    cam = make_camera(runtime, make_person(runtime).user).camera
    started = utcnow() - timedelta(minutes=2)

    def send(session: Any) -> MotionEvent:
        return camera_events.report_device_event(
            session=session,
            camera=session.get_one(Camera, cam.id),
            kind=EventKind.ding,
            started_at=started,
            ended_at=None,
            device_ref="ring-42",
            max_duration_s=600,
            alert_window_s=30,
        ).event

    second = _race(runtime, send, send)
    with runtime.db.transaction() as session:
        events = list(session.scalars(select(MotionEvent)))
    assert [e.id for e in events] == [second.id]


@POSTGRES_ONLY
def test_concurrent_batches_sharing_references_record_each_once(runtime: Runtime) -> None:
    cam = make_camera(runtime, make_person(runtime).user).camera
    started = utcnow() - timedelta(minutes=30)

    def batch(refs: list[str]) -> Callable[[Any], camera_events.BatchResult]:
        def send(session: Any) -> camera_events.BatchResult:
            return camera_events.record_device_events(
                session=session,
                camera=session.get_one(Camera, cam.id),
                events=[
                    camera_events.DeviceEventSpec(
                        EventKind.motion, started + timedelta(seconds=i), None, ref
                    )
                    for i, ref in enumerate(refs)
                ],
                max_duration_s=600,
                alert_window_s=30,
            )

        return send

    result = _race(runtime, batch(["e1", "e2"]), batch(["e2", "e3", "e3", "e4"]))
    assert (result.created, result.duplicates) == (2, 2)
    with runtime.db.transaction() as session:
        refs = sorted(session.scalars(select(MotionEvent.device_ref)))
    assert refs == ["e1", "e2", "e3", "e4"]
