"""The copy of a clip that neighbours see in a post: a real MP4 with real, labelled faces
(tests/media/data) and a camera's tags, posted; the outbox makes the redacted copy; a
neighbour gets it only once it is ready, with no tags, no face, the zone solid, and a
thumbnail made from it."""

from __future__ import annotations

import io
import uuid
from pathlib import Path
from typing import Any

import av
import cv2
import numpy as np
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import delete, select

from bench.redaction_clips import FACES, ClipShape, load_labelled, write_clip
from doorstep.cameras.models import Camera, Clip
from doorstep.feed import clip_copies
from doorstep.feed.models import Post
from doorstep.jobs import job_registry
from doorstep.media.redaction import Box, RedactionOptions, build_detectors
from doorstep.media.redaction.geometry import covered_share
from doorstep.notify.models import JobStatus, OutboxJob
from doorstep.notify.worker import Worker
from doorstep.runtime import Runtime
from tests.factories import (
    HOME_LAT,
    HOME_LNG,
    HTML,
    CameraWithToken,
    Person,
    make_camera,
    make_person,
    sample_clip,
    set_home,
    sign_in,
    upload_clip,
)

PHOTOS = ("2008_001009.jpg", "2008_001322.jpg", "2008_002506.jpg")
SHAPE = ClipShape(width=640, height=480, fps=10, seconds_each=1.0, pan_px=4)
# The camera's privacy zone: the bottom-right corner of the frame (a neighbour's window).
ZONE = [(440.0, 300.0), (630.0, 300.0), (630.0, 470.0), (440.0, 470.0)]


@pytest.fixture(scope="module")
def face_clip(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[tuple[Box, ...]]]:
    photos = [p for p in load_labelled(FACES) if p.name in PHOTOS]
    assert len(photos) == len(PHOTOS)
    path = tmp_path_factory.mktemp("feed-faces") / "faces.mp4"
    return path, write_clip(path, photos, SHAPE)


def drain(runtime: Runtime) -> None:
    Worker(runtime, job_registry(runtime.settings, periodic=False)).drain()


def frames_of(data: bytes) -> list[np.ndarray]:
    with av.open(io.BytesIO(data)) as container:
        return [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]


def tags_of(data: bytes) -> dict[str, str]:
    with av.open(io.BytesIO(data)) as container:
        tags = dict(container.metadata)
        for stream in container.streams:
            tags.update({f"stream:{k}": v for k, v in stream.metadata.items()})
        return tags


def jpeg(data: bytes) -> np.ndarray:
    image = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), cv2.IMREAD_COLOR)
    assert image is not None
    return np.asarray(image)


def zone_mask(width: int, height: int) -> np.ndarray:
    mask = np.zeros((height, width), dtype=np.uint8)
    sx, sy = width / SHAPE.width, height / SHAPE.height
    polygon = np.array([(x * sx, y * sy) for x, y in ZONE], dtype=np.int32)
    cv2.fillPoly(mask, [polygon], 1)
    # Leave out the outline's ring of pixels, where H.264 and JPEG blend the edge.
    return cv2.erode(mask, np.ones((5, 5), np.uint8)).astype(bool)


def _author(runtime: Runtime, *, zones: bool = True) -> tuple[Person, CameraWithToken]:
    author = make_person(runtime)
    set_home(runtime, author)
    cam = make_camera(runtime, author.user, latitude=HOME_LAT, longitude=HOME_LNG)
    if zones:
        with runtime.db.transaction() as session:
            camera = session.get(Camera, cam.camera.id)
            assert camera is not None
            camera.privacy_zones = {"width": 640, "height": 480, "polygons": [ZONE]}
    return author, cam


def _neighbor(runtime: Runtime) -> Person:
    neighbor = make_person(runtime)
    set_home(runtime, neighbor)
    return neighbor


def _post(client: TestClient, who: Person, clip_id: str) -> Any:
    r = client.post(
        "/api/v1/posts",
        headers=who.headers,
        json={"category": "crime", "title": "Package taken", "body": "See.", "clip_id": clip_id},
    )
    assert r.status_code == 201, r.text
    return r.json()


def _stored(runtime: Runtime, post_id: str) -> Post:
    with runtime.db.transaction() as session:
        post = session.get(Post, uuid.UUID(post_id))
        assert post is not None
        session.expunge(post)
        return post


def _copy_files(runtime: Runtime, post_id: str) -> list[str]:
    return sorted(runtime.storage.keys(f"posts/{post_id}/"))


def test_neighbours_get_the_redacted_copy_only_once_it_is_ready(
    client: TestClient, runtime: Runtime, face_clip: tuple[Path, list[tuple[Box, ...]]]
) -> None:
    author, cam = _author(runtime)
    clip = upload_clip(client, cam, face_clip[0]).json()["clip"]
    post = _post(client, author, clip["id"])
    assert post["clip"] is None and post["clip_status"] == "processing"
    assert post["clip_status_message"] == clip_copies.PREPARING
    sign_in(client, author)
    page = client.get(f"/posts/{post['id']}", headers=HTML)
    assert clip_copies.PREPARING in page.text

    neighbor = _neighbor(runtime)
    seen = client.get(f"/api/v1/posts/{post['id']}", headers=neighbor.headers).json()
    assert seen["clip"] is None and seen["clip_status"] is None
    assert seen["clip_status_message"] is None
    for name in ("clip.mp4", "clip.jpg"):
        url = f"/media/posts/{post['id']}/{name}"
        assert client.get(url, headers=neighbor.headers).status_code == 404
        assert client.get(url, headers=author.headers).status_code == 404

    drain(runtime)
    seen = client.get(f"/api/v1/posts/{post['id']}", headers=neighbor.headers).json()
    assert seen["clip"]["video_url"] == f"/media/posts/{post['id']}/clip.mp4"
    assert (
        client.get(f"/api/v1/posts/{post['id']}", headers=author.headers).json()["clip_status"]
        == "ready"
    )
    stored = _stored(runtime, post["id"])
    assert stored.clip_copy_key is not None and stored.clip_copy_key.startswith(
        f"posts/{post['id']}/"
    )
    manifest = stored.clip_copy_redaction or {}
    assert manifest["choices"]["faces"] and manifest["zones"]
    assert manifest["original_sha256"] == clip["sha256"]

    video = client.get(seen["clip"]["video_url"], headers=neighbor.headers)
    assert video.status_code == 200 and video.headers["content-type"] == "video/mp4"
    own = client.get(f"/media/clips/{clip['id']}.mp4", headers=author.headers).content
    assert "title" in tags_of(own)  # the owner's file keeps the camera's tags
    assert not any(k in tags_of(video.content) for k in ("title", "comment"))
    assert not any("Jane" in v or "Elm" in v for v in tags_of(video.content).values())

    _check_no_face(frames_of(own), frames_of(video.content), face_clip[1])
    inside = zone_mask(SHAPE.width, SHAPE.height)
    for frame in frames_of(video.content):
        assert int(frame[inside].max()) <= 12

    thumb = client.get(seen["clip"]["thumbnail_url"], headers=neighbor.headers)
    assert thumb.status_code == 200 and thumb.headers["content-type"] == "image/jpeg"
    assert runtime.storage.read_bytes(clip_copies.thumbnail_key(stored.clip_copy_key)) == (
        thumb.content
    )
    picture = jpeg(thumb.content)
    owners = jpeg(client.get(f"/media/clips/{clip['id']}.jpg", headers=author.headers).content)
    small = zone_mask(picture.shape[1], picture.shape[0])
    assert float(picture[small].mean()) < 8.0  # the zone is solid in the thumbnail too
    assert float(owners[small].mean()) > 30.0  # where the owner's own thumbnail shows it


def _check_no_face(
    original: list[np.ndarray], copy: list[np.ndarray], truth: list[tuple[Box, ...]]
) -> None:
    detector = build_detectors(RedactionOptions())[0]
    assert detector is not None

    def on_labels(frames: list[np.ndarray]) -> list[int]:
        return [
            sum(
                1
                for d in detector.detect(frame)
                if any(covered_share(d.box, t.expanded(0.3)) >= 0.5 for t in truth[i])
            )
            for i, frame in enumerate(frames)
        ]

    assert len(copy) == len(original) == len(truth)
    assert sum(on_labels(original)) >= 0.9 * sum(len(t) for t in truth)
    assert on_labels(copy) == [0] * len(copy)


def test_removing_the_clip_or_the_post_deletes_the_copy(
    client: TestClient, runtime: Runtime, tmp_path: Path
) -> None:
    author, cam = _author(runtime, zones=False)
    neighbor = _neighbor(runtime)
    posts = []
    for n in range(3):
        clip = upload_clip(client, cam, sample_clip(tmp_path / str(n))).json()["clip"]
        posts.append((_post(client, author, clip["id"]), clip))
    drain(runtime)
    for post, _clip in posts:
        assert len(_copy_files(runtime, post["id"])) == 2  # the copy and its thumbnail
        url = f"/media/posts/{post['id']}/clip.mp4"
        assert client.get(url, headers=neighbor.headers).status_code == 200

    (edited, _), (deleted, _), (clip_gone, its_clip) = posts
    r = client.patch(
        f"/api/v1/posts/{edited['id']}", headers=author.headers, json={"remove_clip": True}
    )
    assert r.status_code == 200 and r.json()["clip"] is None and r.json()["clip_status"] is None
    assert (
        client.delete(f"/api/v1/posts/{deleted['id']}", headers=author.headers).status_code == 204
    )
    assert (
        client.delete(f"/api/v1/clips/{its_clip['id']}", headers=author.headers).status_code == 204
    )
    url = f"/media/posts/{clip_gone['id']}/clip.mp4"
    assert client.get(url, headers=neighbor.headers).status_code == 404
    with runtime.db.transaction() as session:
        assert clip_copies.sweep_orphans(session=session) == 1
    drain(runtime)
    for post in (edited, deleted, clip_gone):
        assert _copy_files(runtime, post["id"]) == []
    assert _stored(runtime, clip_gone["id"]).clip_copy_key is None


def test_a_clip_changed_before_the_job_runs_leaves_only_the_new_copy(
    client: TestClient, runtime: Runtime, tmp_path: Path
) -> None:
    author, cam = _author(runtime, zones=False)
    first = upload_clip(client, cam, sample_clip(tmp_path / "a")).json()["clip"]
    second = upload_clip(client, cam, sample_clip(tmp_path / "b", seconds=3)).json()["clip"]
    post = _post(client, author, first["id"])
    stale_key = _stored(runtime, post["id"]).clip_copy_key
    assert stale_key is not None
    # A worker killed while writing the first copy left its file behind.
    runtime.storage.put_bytes(stale_key, b"half a copy", "video/mp4")
    r = client.patch(
        f"/api/v1/posts/{post['id']}", headers=author.headers, json={"clip_id": second["id"]}
    )
    assert r.status_code == 200 and r.json()["clip_status"] == "processing"
    drain(runtime)
    stored = _stored(runtime, post["id"])
    assert stored.clip_copy_status == "ready" and stored.clip_copy_key != stale_key
    assert stored.clip_id == uuid.UUID(second["id"])
    assert stored.clip_copy_key is not None
    assert _copy_files(runtime, post["id"]) == sorted(
        [stored.clip_copy_key, clip_copies.thumbnail_key(stored.clip_copy_key)]
    )
    assert len(frames_of(runtime.storage.read_bytes(stored.clip_copy_key))) == 30  # the 3 s clip


def test_a_job_run_again_after_a_crash_records_one_copy(
    client: TestClient, runtime: Runtime, tmp_path: Path
) -> None:
    author, cam = _author(runtime, zones=False)
    clip = upload_clip(client, cam, sample_clip(tmp_path)).json()["clip"]
    post = _post(client, author, clip["id"])
    key = _stored(runtime, post["id"]).clip_copy_key
    assert key is not None
    # The first run was killed after writing part of the copy: the job runs again.
    runtime.storage.put_bytes(key, b"half a copy", "video/mp4")
    drain(runtime)
    stored = _stored(runtime, post["id"])
    assert stored.clip_copy_key == key and stored.clip_copy_status == "ready"
    assert _copy_files(runtime, post["id"]) == sorted([key, clip_copies.thumbnail_key(key)])
    assert frames_of(runtime.storage.read_bytes(key))  # a whole, playable copy


def test_a_lasting_failure_shows_the_author_why(
    client: TestClient, runtime: Runtime, tmp_path: Path
) -> None:
    author, cam = _author(runtime, zones=False)
    clip = upload_clip(client, cam, sample_clip(tmp_path)).json()["clip"]
    with runtime.db.transaction() as session:
        stored_clip = session.get(Clip, uuid.UUID(clip["id"]))
        assert stored_clip is not None and stored_clip.storage_key is not None
        runtime.storage.put_bytes(stored_clip.storage_key, b"not a video at all", "video/mp4")
    post = _post(client, author, clip["id"])
    drain(runtime)
    mine = client.get(f"/api/v1/posts/{post['id']}", headers=author.headers).json()
    assert mine["clip"] is None and mine["clip_status"] == "failed"
    assert "could not be read" in mine["clip_status_message"]
    sign_in(client, author)
    assert "could not be read" in client.get(f"/posts/{post['id']}", headers=HTML).text
    neighbor = _neighbor(runtime)
    theirs = client.get(f"/api/v1/posts/{post['id']}", headers=neighbor.headers).json()
    assert theirs["clip"] is None and theirs["clip_status_message"] is None
    url = f"/media/posts/{post['id']}/clip.mp4"
    assert client.get(url, headers=neighbor.headers).status_code == 404
    assert _copy_files(runtime, post["id"]) == []


def _copy_job(runtime: Runtime) -> OutboxJob:
    with runtime.db.transaction() as session:
        job = session.scalars(select(OutboxJob).where(OutboxJob.kind == clip_copies.COPY_JOB)).one()
        session.expunge(job)
        return job


def test_a_passing_failure_is_retried_until_it_gives_up(
    client: TestClient, runtime: Runtime, tmp_path: Path
) -> None:
    author, cam = _author(runtime, zones=False)
    clip = upload_clip(client, cam, sample_clip(tmp_path)).json()["clip"]
    with runtime.db.transaction() as session:
        stored_clip = session.get(Clip, uuid.UUID(clip["id"]))
        assert stored_clip is not None and stored_clip.storage_key is not None
        original_key = stored_clip.storage_key
    original = runtime.storage.read_bytes(original_key)
    runtime.storage.delete(original_key)  # the store does not answer for a while
    post = _post(client, author, clip["id"])
    Worker(runtime, job_registry(runtime.settings, periodic=False)).drain(max_rounds=1)
    job = _copy_job(runtime)
    assert job.status == JobStatus.pending and job.attempts == 1  # to be tried again
    assert _stored(runtime, post["id"]).clip_copy_status == "processing"

    runtime.storage.put_bytes(original_key, original, "video/mp4")  # it answers again
    drain(runtime)
    assert _stored(runtime, post["id"]).clip_copy_status == "ready"

    second = upload_clip(client, cam, sample_clip(tmp_path / "2")).json()["clip"]
    with runtime.db.transaction() as session:
        stored_clip = session.get(Clip, uuid.UUID(second["id"]))
        assert stored_clip is not None and stored_clip.storage_key is not None
        runtime.storage.delete(stored_clip.storage_key)
        session.execute(delete(OutboxJob).where(OutboxJob.kind == clip_copies.COPY_JOB))
        # (the first job, done, is cleared so that the second is the one looked at)
    r = client.patch(
        f"/api/v1/posts/{post['id']}", headers=author.headers, json={"clip_id": second["id"]}
    )
    assert r.json()["clip_status"] == "processing"
    drain(runtime)  # this instance retries at once: every try fails
    assert _copy_job(runtime).status == JobStatus.done  # the last try recorded the failure
    mine = client.get(f"/api/v1/posts/{post['id']}", headers=author.headers).json()
    assert mine["clip_status"] == "failed" and "file is gone" in mine["clip_status_message"]
    assert mine["clip"] is None


def test_the_edit_page_changes_the_clip_and_makes_a_new_copy(
    client: TestClient, runtime: Runtime, tmp_path: Path
) -> None:
    author, cam = _author(runtime, zones=False)
    first = upload_clip(client, cam, sample_clip(tmp_path / "a")).json()["clip"]
    second = upload_clip(client, cam, sample_clip(tmp_path / "b", seconds=3)).json()["clip"]
    post = _post(client, author, first["id"])
    drain(runtime)
    old_key = _stored(runtime, post["id"]).clip_copy_key
    assert old_key is not None
    csrf = sign_in(client, author)
    form = client.get(f"/posts/{post['id']}/edit", headers=HTML)
    assert "Keep the current clip" in form.text and f'value="{second["id"]}"' in form.text
    r = client.post(
        f"/posts/{post['id']}/edit",
        data={
            "csrf_token": csrf,
            "category": "crime",
            "title": "Package taken",
            "body": "See the other clip.",
            "clip_id": second["id"],
        },
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    assert clip_copies.PREPARING in client.get(f"/posts/{post['id']}", headers=HTML).text
    drain(runtime)
    stored = _stored(runtime, post["id"])
    assert stored.clip_id == uuid.UUID(second["id"]) and stored.clip_copy_status == "ready"
    assert stored.clip_copy_key is not None and stored.clip_copy_key != old_key
    assert not runtime.storage.exists(old_key)
    assert not runtime.storage.exists(clip_copies.thumbnail_key(old_key))
    page = client.get(f"/posts/{post['id']}", headers=HTML)
    assert f'src="/media/posts/{post["id"]}/clip.mp4"' in page.text


def test_a_clip_deleted_before_the_job_runs_gets_no_copy(
    client: TestClient, runtime: Runtime, tmp_path: Path
) -> None:
    author, cam = _author(runtime, zones=False)
    clip = upload_clip(client, cam, sample_clip(tmp_path)).json()["clip"]
    post = _post(client, author, clip["id"])
    r = client.delete(f"/api/v1/clips/{clip['id']}", headers=author.headers)
    assert r.status_code == 204
    drain(runtime)
    assert _copy_files(runtime, post["id"]) == []
    with runtime.db.transaction() as session:
        assert clip_copies.sweep_orphans(session=session) == 1
    stored = _stored(runtime, post["id"])
    assert stored.clip_copy_status is None and stored.clip_copy_key is None
    mine = client.get(f"/api/v1/posts/{post['id']}", headers=author.headers).json()
    assert mine["clip"] is None and mine["clip_status_message"] is None
