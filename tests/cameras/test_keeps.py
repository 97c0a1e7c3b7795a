"""Per-clip keep: an owner keeps a clip past its camera's retention, within the instance's
maximum; the retention sweep leaves a kept clip's files on disk until he stops keeping it."""

from __future__ import annotations

import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event, text
from tests.conftest import make_settings
from tests.factories import (
    HTML,
    CameraWithToken,
    Person,
    form_error,
    make_camera,
    make_person,
    sample_clip,
    sign_in,
    upload_clip,
)

from doorstep.cameras import deletion as camera_deletion
from doorstep.cameras.models import Clip
from doorstep.config import Settings
from doorstep.db import utcnow
from doorstep.runtime import Runtime

MAX_KEPT = 2


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return make_settings(tmp_path, database_url, max_kept_clips=MAX_KEPT)


def _media_files(runtime: Runtime) -> list[str]:
    """The files really on disk under the media root."""
    root = Path(runtime.settings.resolved_media_url().removeprefix("file://"))
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())


def _old_clips(
    client: TestClient, owner: Person, cam: CameraWithToken, tmp_path: Path, count: int
) -> list[str]:
    """``count`` clips two days old on a camera whose retention is then one day."""
    ids = []
    for i in range(count):
        r = upload_clip(
            client,
            cam,
            sample_clip(tmp_path, f"{i}.mp4", seed=i),
            started_at=utcnow() - timedelta(days=2),
        )
        assert r.status_code == 201, r.text
        ids.append(r.json()["clip"]["id"])
    r = client.patch(
        f"/api/v1/cameras/{cam.camera.id}", headers=owner.headers, json={"retention_days": 1}
    )
    assert r.status_code == 200, r.text
    return ids


def _sweep(runtime: Runtime) -> int:
    with runtime.db.transaction() as session:
        return camera_deletion.sweep_retention(session=session, storage=runtime.storage)


def _keep(client: TestClient, person: Person, clip_id: str) -> Any:
    return client.post(f"/api/v1/clips/{clip_id}/keep", headers=person.headers)


def _stop_keeping(client: TestClient, person: Person, clip_id: str) -> Any:
    return client.delete(f"/api/v1/clips/{clip_id}/keep", headers=person.headers)


def test_the_owner_keeps_and_stops_keeping_a_clip(
    client: TestClient, runtime: Runtime, tmp_path: Path
) -> None:
    owner = make_person(runtime)
    cam = make_camera(runtime, owner.user)
    r = upload_clip(client, cam, sample_clip(tmp_path))
    clip_id, event_id = r.json()["clip"]["id"], r.json()["id"]
    assert r.json()["clip"]["kept_at"] is None

    kept = _keep(client, owner, clip_id)
    assert kept.status_code == 200, kept.text
    assert kept.json()["id"] == clip_id and kept.json()["kept_at"] is not None
    again = _keep(client, owner, clip_id)
    assert again.status_code == 200 and again.json()["kept_at"] == kept.json()["kept_at"]
    shown = client.get(f"/api/v1/events/{event_id}", headers=owner.headers).json()
    assert shown["clip"]["kept_at"] == kept.json()["kept_at"]

    stopped = _stop_keeping(client, owner, clip_id)
    assert stopped.status_code == 200 and stopped.json()["kept_at"] is None
    assert client.get(f"/api/v1/clips/{clip_id}", headers=owner.headers).json()["kept_at"] is None


def test_someone_elses_clip_is_not_found(
    client: TestClient, runtime: Runtime, tmp_path: Path
) -> None:
    owner, other = make_person(runtime), make_person(runtime)
    cam = make_camera(runtime, owner.user)
    clip_id = upload_clip(client, cam, sample_clip(tmp_path)).json()["clip"]["id"]
    assert _keep(client, owner, clip_id).status_code == 200

    for answer in (_keep(client, other, clip_id), _stop_keeping(client, other, clip_id)):
        assert answer.status_code == 404
        assert answer.json()["error"]["code"] == "clip_not_found"
    assert client.post(f"/api/v1/clips/{clip_id}/keep").status_code == 401
    assert client.get(f"/api/v1/clips/{clip_id}", headers=owner.headers).json()["kept_at"]


def test_keeping_past_the_maximum_is_refused(
    client: TestClient, runtime: Runtime, tmp_path: Path
) -> None:
    owner, neighbour = make_person(runtime), make_person(runtime)
    cam = make_camera(runtime, owner.user)
    ids = [
        upload_clip(client, cam, sample_clip(tmp_path, f"{i}.mp4", seed=i)).json()["clip"]["id"]
        for i in range(MAX_KEPT + 1)
    ]
    *within, over = ids
    assert [_keep(client, owner, i).status_code for i in within] == [200] * MAX_KEPT

    refused = _keep(client, owner, over)
    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "keep_limit_reached"
    assert refused.json()["error"]["details"] == {"max_kept": MAX_KEPT}
    assert client.get(f"/api/v1/clips/{over}", headers=owner.headers).json()["kept_at"] is None

    # The maximum is each owner's: another's clips do not count against it.
    theirs = make_camera(runtime, neighbour.user)
    their_clip = upload_clip(client, theirs, sample_clip(tmp_path, "n.mp4", seed=9))
    assert _keep(client, neighbour, their_clip.json()["clip"]["id"]).status_code == 200

    # Stopping one, or deleting a kept one, frees a place.
    assert _stop_keeping(client, owner, within[0]).status_code == 200
    assert _keep(client, owner, over).status_code == 200
    assert client.delete(f"/api/v1/clips/{within[1]}", headers=owner.headers).status_code == 204
    assert _keep(client, owner, within[0]).status_code == 200


def test_the_sweep_leaves_a_kept_clip_until_it_is_no_longer_kept(
    client: TestClient, runtime: Runtime, tmp_path: Path
) -> None:
    owner = make_person(runtime)
    cam = make_camera(runtime, owner.user, retention_days=30)
    kept, swept = _old_clips(client, owner, cam, tmp_path, 2)
    assert _keep(client, owner, kept).status_code == 200
    assert len(_media_files(runtime)) == 4

    assert _sweep(runtime) == 1
    files = _media_files(runtime)
    assert len(files) == 2 and all(kept in f for f in files), "the kept clip's files stay"
    assert not any(swept in f for f in files)
    assert _sweep(runtime) == 0, "a kept clip stays past every later sweep"
    assert client.get(f"/media/clips/{kept}.mp4", headers=owner.headers).status_code == 200

    assert _stop_keeping(client, owner, kept).status_code == 200
    assert _sweep(runtime) == 1
    assert _media_files(runtime) == []
    with runtime.db.read_only() as session:
        row = session.get_one(Clip, uuid.UUID(kept))
        assert row.deleted_reason == "retention" and row.kept_at is None


def test_a_kept_clip_still_within_retention_is_not_swept_when_unkept(
    client: TestClient, runtime: Runtime, tmp_path: Path
) -> None:
    owner = make_person(runtime)
    cam = make_camera(runtime, owner.user, retention_days=30)
    clip_id = upload_clip(client, cam, sample_clip(tmp_path)).json()["clip"]["id"]
    assert _keep(client, owner, clip_id).status_code == 200
    assert _stop_keeping(client, owner, clip_id).status_code == 200
    assert _sweep(runtime) == 0
    assert len(_media_files(runtime)) == 2


def test_the_owner_deletes_a_kept_clip_by_hand(
    client: TestClient, runtime: Runtime, tmp_path: Path
) -> None:
    owner = make_person(runtime)
    cam = make_camera(runtime, owner.user)
    clip_id = upload_clip(client, cam, sample_clip(tmp_path)).json()["clip"]["id"]
    assert _keep(client, owner, clip_id).status_code == 200

    assert client.delete(f"/api/v1/clips/{clip_id}", headers=owner.headers).status_code == 204
    assert _media_files(runtime) == [], "a kept clip's files leave storage when deleted"
    with runtime.db.read_only() as session:
        row = session.get_one(Clip, uuid.UUID(clip_id))
        assert row.deleted_reason == "owner" and row.kept_at is None
    assert _keep(client, owner, clip_id).status_code == 404


@pytest.mark.parametrize("db_backend", [pytest.param("postgres", marks=pytest.mark.postgres)])
def test_an_index_serves_the_sweeps_query(
    client: TestClient, runtime: Runtime, tmp_path: Path
) -> None:
    """The sweep reads live, unkept clips per camera by age: ``ix_clips_retention_due``
    answers that on PostgreSQL, without reading the deleted rows that pile up."""
    owner = make_person(runtime)
    cam = make_camera(runtime, owner.user, retention_days=30)
    _old_clips(client, owner, cam, tmp_path, 1)
    engine = runtime.db.engine
    captured: list[tuple[str, Any]] = []

    def capture(conn: Any, cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if "FROM clips JOIN cameras" in statement and "kept_at IS NULL" in statement:
            captured.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", capture)
    try:
        assert _sweep(runtime) == 1
    finally:
        event.remove(engine, "before_cursor_execute", capture)
    assert captured
    with engine.connect() as conn:
        # A few rows make a sequential scan cheapest; the question is whether an index
        # can answer the query at all.
        conn.execute(text("SET enable_seqscan = off"))
        for statement, parameters in captured:
            plan = "\n".join(
                row[0] for row in conn.exec_driver_sql("EXPLAIN " + statement, parameters)
            )
            assert "ix_clips_retention_due" in plan, plan


def test_the_event_page_keeps_the_clip_and_says_when_the_maximum_is_reached(
    client: TestClient, runtime: Runtime, tmp_path: Path
) -> None:
    owner, stranger = make_person(runtime), make_person(runtime)
    cam = make_camera(runtime, owner.user)
    events = [
        upload_clip(client, cam, sample_clip(tmp_path, f"{i}.mp4", seed=i)).json()["id"]
        for i in range(MAX_KEPT + 1)
    ]
    csrf = sign_in(client, owner.user.email)
    *within, over = events
    for event_id in within:
        page = client.get(f"/events/{event_id}", headers=HTML)
        assert "Keep this clip" in page.text and 'class="tag ok kept"' not in page.text
        r = client.post(
            f"/events/{event_id}/keep",
            data={"csrf_token": csrf, "keep": "yes"},
            follow_redirects=False,
        )
        assert r.status_code == 303 and r.headers["location"].endswith("notice=clip_kept")
        page = client.get(r.headers["location"], headers=HTML)
        assert "Stop keeping" in page.text and 'class="tag ok kept"' in page.text
    timeline = client.get("/timeline", headers=HTML).text
    assert timeline.count('class="tag ok kept"') == MAX_KEPT

    refused = client.post(f"/events/{over}/keep", data={"csrf_token": csrf, "keep": "yes"})
    assert refused.status_code == 409
    assert f"You keep {MAX_KEPT} clips already" in form_error(refused.text)
    assert "Keep this clip" in refused.text

    r = client.post(
        f"/events/{within[0]}/keep",
        data={"csrf_token": csrf, "keep": "no"},
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"].endswith("notice=clip_unkept")
    assert "Keep this clip" in client.get(r.headers["location"], headers=HTML).text
    assert client.post(f"/events/{over}/keep", data={"csrf_token": csrf}).status_code == 200

    assert client.post(f"/events/{within[1]}/keep", data={"keep": "no"}).status_code == 403
    stranger_csrf = sign_in(client, stranger.user.email)
    r = client.post(f"/events/{within[1]}/keep", data={"csrf_token": stranger_csrf, "keep": "no"})
    assert r.status_code == 404
