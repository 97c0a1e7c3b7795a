"""Clip files change with the commit, on a real local media directory: a delete removes
the files only once its transaction commits (a rollback keeps row and file), and the
files of an upload that is not recorded are removed once, whatever step refused it."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from tests.factories import make_camera, make_person, sample_clip, upload_clip

from doorstep.cameras import clips as camera_clips
from doorstep.cameras import deletion as camera_deletion
from doorstep.cameras import registry as camera_registry
from doorstep.cameras.models import Camera, Clip, MotionEvent
from doorstep.db import utcnow
from doorstep.media.kinds import EventKind
from doorstep.media.video import ClipLimits
from doorstep.runtime import Runtime


class Failed(Exception):
    """The work after the delete failed: its transaction rolls back."""


def _media_files(runtime: Runtime) -> list[str]:
    """The files really on disk under the media root."""
    root = Path(runtime.settings.resolved_media_url().removeprefix("file://"))
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())


def _record(runtime: Runtime, camera_id: uuid.UUID, tmp_path: Path, started_at: datetime) -> Clip:
    with runtime.db.transaction() as session:
        result = camera_clips.ingest_clip(
            session=session,
            storage=runtime.storage,
            limits=ClipLimits.from_settings(runtime.settings),
            camera=session.get_one(Camera, camera_id),
            file_path=sample_clip(tmp_path),
            started_at=started_at,
            kind=EventKind.motion,
        )
    assert result.clip is not None
    return result.clip


def _row(runtime: Runtime, clip_id: uuid.UUID) -> tuple[Clip, int]:
    with runtime.db.read_only() as session:
        events = session.scalar(
            select(func.count()).select_from(MotionEvent).where(MotionEvent.clip_id == clip_id)
        )
        return session.get_one(Clip, clip_id), events or 0


def test_a_clip_delete_that_rolls_back_keeps_its_file(runtime: Runtime, tmp_path: Path) -> None:
    owner = make_person(runtime).user
    camera = make_camera(runtime, owner).camera
    clip = _record(runtime, camera.id, tmp_path, utcnow() - timedelta(minutes=5))
    files = _media_files(runtime)
    assert files == sorted([clip.storage_key, clip.thumbnail_key])

    with pytest.raises(Failed), runtime.db.transaction() as session:
        camera_deletion.delete_clip(
            session=session, storage=runtime.storage, owner=owner, clip_id=clip.id
        )
        assert _media_files(runtime) == files, "nothing leaves storage before the commit"
        raise Failed
    assert _media_files(runtime) == files
    row, events = _row(runtime, clip.id)
    assert row.deleted_at is None and row.storage_key == clip.storage_key and events == 1

    with runtime.db.transaction() as session:
        camera_deletion.delete_clip(
            session=session, storage=runtime.storage, owner=owner, clip_id=clip.id
        )
        assert _media_files(runtime) == files
    assert _media_files(runtime) == [], "the committed delete removes both files"


def test_a_camera_delete_that_rolls_back_keeps_its_clips_files(
    runtime: Runtime, tmp_path: Path
) -> None:
    owner = make_person(runtime).user
    camera = make_camera(runtime, owner).camera
    clip = _record(runtime, camera.id, tmp_path, utcnow() - timedelta(minutes=5))
    files = _media_files(runtime)

    with pytest.raises(Failed), runtime.db.transaction() as session:
        camera_registry.delete_camera(
            session=session, storage=runtime.storage, owner=owner, camera_id=camera.id
        )
        assert _media_files(runtime) == files, "nothing leaves storage before the commit"
        raise Failed
    assert _media_files(runtime) == files
    assert _row(runtime, clip.id)[0].storage_key == clip.storage_key

    with runtime.db.transaction() as session:
        camera_registry.delete_camera(
            session=session, storage=runtime.storage, owner=owner, camera_id=camera.id
        )
        assert _media_files(runtime) == files
    assert _media_files(runtime) == []


def test_the_retention_sweep_deletes_files_only_after_its_commit(
    runtime: Runtime, tmp_path: Path
) -> None:
    owner = make_person(runtime).user
    camera = make_camera(runtime, owner, retention_days=30).camera
    clip = _record(runtime, camera.id, tmp_path, utcnow() - timedelta(days=2))
    with runtime.db.transaction() as session:
        camera_registry.update_camera(
            session=session, owner=owner, camera_id=camera.id, retention_days=1
        )
    files = _media_files(runtime)
    assert len(files) == 2

    with pytest.raises(Failed), runtime.db.transaction() as session:
        assert camera_deletion.sweep_retention(session=session, storage=runtime.storage) == 1
        raise Failed
    assert _media_files(runtime) == files, "a rolled-back sweep deletes nothing"
    assert _row(runtime, clip.id)[0].deleted_at is None

    with runtime.db.transaction() as session:
        assert camera_deletion.sweep_retention(session=session, storage=runtime.storage) == 1
        assert _media_files(runtime) == files, "nothing leaves storage before the commit"
    assert _media_files(runtime) == []
    row, events = _row(runtime, clip.id)
    assert row.deleted_at is not None and row.deleted_reason == "retention" and events == 0
    # The keys stay until a sweep has seen the files gone; the next one forgets them.
    assert row.storage_key == clip.storage_key
    with runtime.db.transaction() as session:
        assert camera_deletion.sweep_retention(session=session, storage=runtime.storage) == 0
    row, _events = _row(runtime, clip.id)
    assert row.storage_key is None and row.thumbnail_key is None


def _count_deletes(runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The keys deleted from the (real) storage, in order."""
    deleted: list[str] = []
    real_delete = runtime.storage.delete

    def delete(key: str) -> None:
        deleted.append(key)
        real_delete(key)

    monkeypatch.setattr(runtime.storage, "delete", delete)
    return deleted


def test_an_upload_refused_by_the_write_transaction_removes_its_files_once(
    client: TestClient, runtime: Runtime, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The token is revoked while the clip decodes: the write transaction refuses before
    record_clip is reached, and each stored file is removed exactly once."""
    owner = make_person(runtime)
    cam = make_camera(runtime, owner.user)
    deleted = _count_deletes(runtime, monkeypatch)
    store_clip = camera_clips.store_clip
    stored: list[camera_clips.StoredClip] = []

    def store_then_revoke(**kwargs: Any) -> camera_clips.StoredClip:
        stored.append(store_clip(**kwargs))
        with runtime.db.transaction() as session:
            camera_registry.revoke_camera_token(
                session=session, owner=owner.user, camera_id=cam.camera.id
            )
        return stored[0]

    monkeypatch.setattr(camera_clips, "store_clip", store_then_revoke)
    r = upload_clip(client, cam, sample_clip(tmp_path))
    assert r.status_code == 401
    assert sorted(deleted) == sorted([stored[0].storage_key, stored[0].thumbnail_key])
    assert _media_files(runtime) == []


def test_an_upload_failing_inside_record_clip_removes_its_files_once(
    client: TestClient, runtime: Runtime, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cam = make_camera(runtime, make_person(runtime).user)
    deleted = _count_deletes(runtime, monkeypatch)

    def explode(**_kwargs: object) -> None:
        raise RuntimeError("database went away")

    monkeypatch.setattr(camera_clips, "alert_owner", explode)
    with pytest.raises(RuntimeError):
        upload_clip(client, cam, sample_clip(tmp_path))
    assert len(deleted) == len(set(deleted)) == 2
    assert _media_files(runtime) == []


def test_a_duplicates_files_go_with_the_commit_once(
    runtime: Runtime, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two sends of one device_ref both stored: the second to record gets the first's
    event, and its own files are removed once its transaction commits."""
    camera = make_camera(runtime, make_person(runtime).user).camera
    limits = ClipLimits.from_settings(runtime.settings)
    started = utcnow() - timedelta(minutes=3)
    stored = [
        camera_clips.store_clip(
            storage=runtime.storage,
            limits=limits,
            camera_id=camera.id,
            file_path=sample_clip(tmp_path, f"{i}.mp4", seed=i),
        )
        for i in range(2)
    ]
    deleted = _count_deletes(runtime, monkeypatch)
    created = []
    for item in stored:
        with runtime.db.transaction() as session:
            camera_clips.discard_on_rollback(session=session, storage=runtime.storage, stored=item)
            result = camera_clips.record_clip(
                session=session,
                storage=runtime.storage,
                camera=session.get_one(Camera, camera.id),
                stored=item,
                started_at=started,
                kind=EventKind.motion,
                device_ref="sd:/7.mp4",
            )
            assert deleted == [], "nothing is removed before the commit"
            created.append(result.created)
    assert created == [True, False]
    assert sorted(deleted) == sorted([stored[1].storage_key, stored[1].thumbnail_key])
    assert _media_files(runtime) == sorted([stored[0].storage_key, stored[0].thumbnail_key])


def test_a_file_delete_failing_after_the_commit_is_redone_by_the_next_sweep(
    runtime: Runtime, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    owner = make_person(runtime).user
    camera = make_camera(runtime, owner).camera
    clip = _record(runtime, camera.id, tmp_path, utcnow() - timedelta(minutes=5))
    files = _media_files(runtime)
    real_delete = runtime.storage.delete

    def unreachable(key: str) -> None:
        raise OSError("storage unreachable")

    monkeypatch.setattr(runtime.storage, "delete", unreachable)
    with runtime.db.transaction() as session:
        camera_deletion.delete_clip(
            session=session, storage=runtime.storage, owner=owner, clip_id=clip.id
        )
    assert _media_files(runtime) == files, "the delete failed after the commit"
    row, _events = _row(runtime, clip.id)
    assert row.deleted_at is not None and row.storage_key == clip.storage_key

    monkeypatch.setattr(runtime.storage, "delete", real_delete)
    for _ in range(2):  # the first sweep deletes the files, the next forgets the keys
        with runtime.db.transaction() as session:
            assert camera_deletion.sweep_retention(session=session, storage=runtime.storage) == 0
    assert _media_files(runtime) == []
    row, _events = _row(runtime, clip.id)
    assert row.storage_key is None and row.thumbnail_key is None
