"""Retention: clips past their camera's retention leave storage; owners delete at once."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from tests.factories import (
    CameraWithToken,
    Person,
    make_camera,
    make_person,
    sample_clip,
    upload_clip,
)

from doorstep.audit import AuditRecord
from doorstep.cameras.models import Clip, MotionEvent
from doorstep.db import utcnow
from doorstep.jobs import job_registry
from doorstep.notify.worker import Worker
from doorstep.runtime import Runtime


def _shorten_retention(client: TestClient, owner: Person, cam: CameraWithToken, days: int) -> None:
    r = client.patch(
        f"/api/v1/cameras/{cam.camera.id}", headers=owner.headers, json={"retention_days": days}
    )
    assert r.status_code == 200, r.text


def test_worker_deletes_clips_past_retention(
    client: TestClient, runtime: Runtime, tmp_path: Path
) -> None:
    owner = make_person(runtime)
    # Devices cannot send what the retention would delete at once (clip_too_old), so the
    # old clips arrive first and the owner shortens the retention afterwards.
    short = make_camera(runtime, owner.user, name="Short", retention_days=30)
    long = make_camera(runtime, owner.user, name="Long", retention_days=30)
    clip_path = sample_clip(tmp_path)
    old_short = upload_clip(client, short, clip_path, started_at=utcnow() - timedelta(days=2))
    new_short = upload_clip(client, short, clip_path, started_at=utcnow() - timedelta(hours=2))
    old_long = upload_clip(client, long, clip_path, started_at=utcnow() - timedelta(days=2))
    device = client.post(
        f"/api/v1/cameras/{short.camera.id}/events",
        headers=short.headers,
        json={"kind": "motion", "started_at": (utcnow() - timedelta(days=3)).isoformat()},
    )
    assert device.status_code == 201
    assert [r.status_code for r in (old_short, new_short, old_long)] == [201] * 3
    _shorten_retention(client, owner, short, days=1)
    ids = {
        name: r.json()["clip"]["id"]
        for name, r in [("old_short", old_short), ("new_short", new_short), ("old_long", old_long)]
    }
    keys_before = set(runtime.storage.keys())
    assert len(keys_before) == 6  # three clips, three thumbnails

    Worker(runtime, job_registry(runtime.settings)).run_periodic(force=True)

    with runtime.db.transaction() as session:
        clips = {str(c.id): c for c in session.scalars(select(Clip))}
        events = list(session.scalars(select(MotionEvent)))
        audit = list(session.scalars(select(AuditRecord.action)))
    gone = clips[ids["old_short"]]
    assert gone.deleted_at is not None and gone.deleted_reason == "retention"
    assert gone.storage_key is None
    assert clips[ids["new_short"]].deleted_at is None
    assert clips[ids["old_long"]].deleted_at is None
    remaining = set(runtime.storage.keys())
    assert not any(ids["old_short"] in key for key in remaining), "the file must be gone"
    assert len(remaining) == 4
    assert sorted(str(e.clip_id) for e in events) == sorted([ids["new_short"], ids["old_long"]])
    assert "clip.retention_deleted" in audit
    r = client.get(f"/media/clips/{ids['old_short']}.mp4", headers=owner.headers)
    assert r.status_code == 404


def test_local_storage_file_is_really_gone(
    client: TestClient, runtime: Runtime, tmp_path: Path
) -> None:
    owner = make_person(runtime)
    cam = make_camera(runtime, owner.user)
    r = upload_clip(client, cam, sample_clip(tmp_path))
    clip_id = r.json()["clip"]["id"]
    media_root = Path(runtime.settings.resolved_media_url().removeprefix("file://"))
    files = [p for p in media_root.rglob("*") if p.is_file()]
    assert any(clip_id in p.name for p in files)
    assert client.delete(f"/api/v1/clips/{clip_id}", headers=owner.headers).status_code == 204
    files = [p for p in media_root.rglob("*") if p.is_file()]
    assert not any(clip_id in p.name for p in files)
    with runtime.db.transaction() as session:
        rec = session.scalars(select(AuditRecord).where(AuditRecord.action == "clip.deleted")).one()
        assert rec.subject_id == clip_id and rec.actor_id == owner.user.id
    assert client.get(f"/api/v1/clips/{clip_id}", headers=owner.headers).status_code == 404


def test_retention_bounds(client: TestClient, runtime: Runtime) -> None:
    owner = make_person(runtime)
    for days in (0, 366):
        r = client.post(
            "/api/v1/cameras",
            headers=owner.headers,
            json={
                "name": "x",
                "kind": "doorbell",
                "latitude": 40,
                "longitude": -75,
                "retention_days": days,
            },
        )
        assert r.status_code == 422
    r = client.post(
        "/api/v1/cameras",
        headers=owner.headers,
        json={"name": "x", "kind": "doorbell", "latitude": 40, "longitude": -75},
    )
    assert r.status_code == 201 and r.json()["retention_days"] == 60


def test_one_undeletable_file_does_not_stall_retention(
    client: TestClient, runtime: Runtime, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    owner = make_person(runtime)
    cam = make_camera(runtime, owner.user, retention_days=30)
    old = [
        upload_clip(
            client,
            cam,
            sample_clip(tmp_path, f"{i}.mp4", seed=i),
            started_at=utcnow() - timedelta(days=2),
        ).json()["clip"]["id"]
        for i in range(2)
    ]
    _shorten_retention(client, owner, cam, days=1)
    stuck, other = old
    real_delete = runtime.storage.delete

    def flaky_delete(key: str) -> None:
        if stuck in key:
            raise OSError("storage unreachable for this object")
        real_delete(key)

    monkeypatch.setattr(runtime.storage, "delete", flaky_delete)
    Worker(runtime, job_registry(runtime.settings)).run_periodic(force=True)
    keys = runtime.storage.keys()
    assert not any(other in k for k in keys), "the other clip is deleted all the same"
    assert any(stuck in k for k in keys)
    monkeypatch.setattr(runtime.storage, "delete", real_delete)
    Worker(runtime, job_registry(runtime.settings)).run_periodic(force=True)
    assert not any(stuck in k for k in runtime.storage.keys(prefix="clips/")), "retried"
