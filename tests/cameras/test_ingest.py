"""Ingest: a real H.264 clip is stored with its hash and thumbnail; every refusal leaves nothing."""

from __future__ import annotations

import hashlib
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, update
from tests.factories import make_camera, make_person, sample_clip, upload_clip

from doorstep.cameras.models import Clip, MotionEvent
from doorstep.db import utcnow
from doorstep.jobs import job_registry
from doorstep.media.samples import write_sample_clip
from doorstep.notify.models import Notification, OutboxJob
from doorstep.notify.worker import Worker
from doorstep.runtime import Runtime


def _counts(runtime: Runtime) -> tuple[int, int, list[str]]:
    with runtime.db.transaction() as session:
        clips = session.scalar(select(func.count()).select_from(Clip)) or 0
        events = session.scalar(select(func.count()).select_from(MotionEvent)) or 0
    return clips, events, runtime.storage.keys()


def test_upload_stores_clip_hash_thumbnail_and_alerts(
    client: TestClient, runtime: Runtime, tmp_path: Path
) -> None:
    owner = make_person(runtime)
    cam = make_camera(runtime, owner.user)
    path = sample_clip(tmp_path, seconds=2.0, width=320, height=240)
    r = upload_clip(client, cam, path, kind="person")
    assert r.status_code == 201, r.text
    body = r.json()
    clip = body["clip"]
    assert body["kind"] == "person" and body["on_device"] is False
    assert clip["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert clip["size_bytes"] == path.stat().st_size
    assert (clip["width"], clip["height"], clip["codec"]) == (320, 240, "h264")
    assert clip["duration_s"] == pytest.approx(2.0, abs=0.25)
    # the stored file is the same bytes; the thumbnail is a JPEG
    video = client.get(clip["video_url"], headers=owner.headers)
    assert video.status_code == 200 and video.content == path.read_bytes()
    thumb = client.get(clip["thumbnail_url"], headers=owner.headers)
    assert thumb.status_code == 200 and thumb.content[:2] == b"\xff\xd8"
    # a range request, as the player makes
    part = client.get(clip["video_url"], headers={**owner.headers, "Range": "bytes=0-99"})
    assert part.status_code == 206 and part.content == path.read_bytes()[:100]
    with runtime.db.transaction() as session:
        note = session.scalars(select(Notification)).one()
        assert note.user_id == owner.user.id and "Front door" in note.title
        kinds = list(session.scalars(select(OutboxJob.kind)))
    assert kinds == ["notify.email"]


def _assert_refused(r, status: int, code: str, runtime: Runtime) -> None:  # type: ignore[no-untyped-def]
    assert r.status_code == status, r.text
    assert r.json()["error"]["code"] == code
    clips, events, keys = _counts(runtime)
    assert (clips, events, keys) == (0, 0, []), "a refused upload must leave nothing behind"


def test_non_video_refused(client: TestClient, runtime: Runtime, tmp_path: Path) -> None:
    cam = make_camera(runtime, make_person(runtime).user)
    path = tmp_path / "notes.mp4"
    path.write_bytes(b"this is not a video at all\n" * 100)
    _assert_refused(upload_clip(client, cam, path), 415, "not_a_video", runtime)


def test_truncated_video_refused(client: TestClient, runtime: Runtime, tmp_path: Path) -> None:
    cam = make_camera(runtime, make_person(runtime).user)
    full = sample_clip(tmp_path, seconds=3.0)
    cut = tmp_path / "cut.mp4"
    data = full.read_bytes()
    cut.write_bytes(data[: int(len(data) * 0.7)])
    _assert_refused(upload_clip(client, cam, cut), 400, "truncated_video", runtime)


def test_oversized_refused(client: TestClient, runtime: Runtime, tmp_path: Path) -> None:
    runtime.settings.max_clip_bytes = 20_000
    cam = make_camera(runtime, make_person(runtime).user)
    path = sample_clip(tmp_path, seconds=4.0, width=640, height=480, noise=20.0)
    assert path.stat().st_size > 20_000
    _assert_refused(upload_clip(client, cam, path), 413, "clip_too_large", runtime)


def test_too_long_refused(client: TestClient, runtime: Runtime, tmp_path: Path) -> None:
    runtime.settings.max_clip_duration_s = 1.0
    cam = make_camera(runtime, make_person(runtime).user)
    _assert_refused(
        upload_clip(client, cam, sample_clip(tmp_path, seconds=2.0)), 400, "clip_too_long", runtime
    )


def test_resolution_too_large_refused(client: TestClient, runtime: Runtime, tmp_path: Path) -> None:
    runtime.settings.max_clip_width = 160
    cam = make_camera(runtime, make_person(runtime).user)
    _assert_refused(
        upload_clip(client, cam, sample_clip(tmp_path)), 400, "resolution_too_large", runtime
    )


def test_wrong_token_refused(client: TestClient, runtime: Runtime, tmp_path: Path) -> None:
    cam = make_camera(runtime, make_person(runtime).user)
    _assert_refused(
        upload_clip(client, cam, sample_clip(tmp_path), token="dsc_wrong"),
        401,
        "invalid_camera_token",
        runtime,
    )


def test_other_cameras_token_refused(client: TestClient, runtime: Runtime, tmp_path: Path) -> None:
    owner = make_person(runtime)
    cam_a = make_camera(runtime, owner.user)
    cam_b = make_camera(runtime, owner.user, name="Back yard")
    _assert_refused(
        upload_clip(client, cam_a, sample_clip(tmp_path), token=cam_b.token),
        401,
        "invalid_camera_token",
        runtime,
    )


def test_revoked_and_rotated_token_refused(
    client: TestClient, runtime: Runtime, tmp_path: Path
) -> None:
    owner = make_person(runtime)
    cam = make_camera(runtime, owner.user)
    r = client.post(f"/api/v1/cameras/{cam.camera.id}/token/rotate", headers=owner.headers)
    assert r.status_code == 200
    new_token = r.json()["ingest_token"]
    _assert_refused(
        upload_clip(client, cam, sample_clip(tmp_path)), 401, "invalid_camera_token", runtime
    )
    assert (
        client.delete(f"/api/v1/cameras/{cam.camera.id}/token", headers=owner.headers).status_code
        == 200
    )
    _assert_refused(
        upload_clip(client, cam, sample_clip(tmp_path), token=new_token),
        401,
        "invalid_camera_token",
        runtime,
    )


def test_future_start_refused(client: TestClient, runtime: Runtime, tmp_path: Path) -> None:
    cam = make_camera(runtime, make_person(runtime).user)
    _assert_refused(
        upload_clip(client, cam, sample_clip(tmp_path), started_at=utcnow() + timedelta(hours=1)),
        400,
        "start_in_future",
        runtime,
    )


def test_non_h264_refused(client: TestClient, runtime: Runtime, tmp_path: Path) -> None:
    import av

    cam = make_camera(runtime, make_person(runtime).user)
    path = tmp_path / "mpeg4.mp4"
    with av.open(str(path), "w") as out:
        stream = out.add_stream("mpeg4", rate=10)
        stream.width, stream.height, stream.pix_fmt = 160, 120, "yuv420p"
        for i in range(10):
            frame = av.VideoFrame(160, 120, "yuv420p")
            for plane in frame.planes:
                plane.update(bytes([i * 10 % 255]) * plane.buffer_size)
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    _assert_refused(upload_clip(client, cam, path), 415, "unsupported_codec", runtime)


def test_missing_fields_refused(client: TestClient, runtime: Runtime, tmp_path: Path) -> None:
    cam = make_camera(runtime, make_person(runtime).user)
    r = client.post(
        f"/api/v1/cameras/{cam.camera.id}/clips",
        headers=cam.headers,
        data={"kind": "motion"},
        files={"file": ("a.mp4", sample_clip(tmp_path).read_bytes(), "video/mp4")},
    )
    _assert_refused(r, 400, "field_missing", runtime)
    r = client.post(
        f"/api/v1/cameras/{cam.camera.id}/clips",
        headers=cam.headers,
        data={"kind": "motion", "started_at": "2026-01-01T00:00:00"},
        files={"file": ("a.mp4", sample_clip(tmp_path).read_bytes(), "video/mp4")},
    )
    _assert_refused(r, 400, "naive_time", runtime)
    r = client.post(
        f"/api/v1/cameras/{cam.camera.id}/clips",
        headers=cam.headers,
        data={"kind": "dragon", "started_at": utcnow().isoformat()},
        files={"file": ("a.mp4", sample_clip(tmp_path).read_bytes(), "video/mp4")},
    )
    _assert_refused(r, 400, "invalid_field", runtime)


def test_failed_commit_leaves_no_file(
    client: TestClient, runtime: Runtime, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """If the database refuses the transaction after the files were stored, they are removed."""
    from doorstep.cameras import clips as camera_clips

    cam = make_camera(runtime, make_person(runtime).user)

    def explode(**_kwargs: object) -> None:
        raise RuntimeError("database went away")

    monkeypatch.setattr(camera_clips, "alert_owner", explode)
    with pytest.raises(RuntimeError):
        upload_clip(client, cam, sample_clip(tmp_path))
    assert _counts(runtime) == (0, 0, [])


def test_local_first_event(client: TestClient, runtime: Runtime) -> None:
    owner = make_person(runtime)
    cam = make_camera(runtime, owner.user)
    start = utcnow() - timedelta(minutes=3)
    r = client.post(
        f"/api/v1/cameras/{cam.camera.id}/events",
        headers=cam.headers,
        json={
            "kind": "package",
            "started_at": start.isoformat(),
            "ended_at": (start + timedelta(seconds=20)).isoformat(),
            "device_ref": "sd:/clips/0001.mp4",
        },
    )
    assert r.status_code == 201, r.text
    assert r.json()["on_device"] is True and r.json()["clip"] is None
    page = client.get("/api/v1/events", headers=owner.headers, params={"on_device": True}).json()
    assert [e["id"] for e in page["events"]] == [r.json()["id"]]
    bad = client.post(
        f"/api/v1/cameras/{cam.camera.id}/events",
        headers=cam.headers,
        json={"kind": "package", "started_at": (utcnow() + timedelta(hours=2)).isoformat()},
    )
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "start_in_future"
    wrong = client.post(
        f"/api/v1/cameras/{cam.camera.id}/events",
        headers=owner.headers,
        json={"kind": "package", "started_at": start.isoformat()},
    )
    assert wrong.status_code == 401


def test_sample_clip_is_deterministic(tmp_path: Path) -> None:
    a = write_sample_clip(tmp_path / "a.mp4", seed=3)
    b = write_sample_clip(tmp_path / "b.mp4", seed=3)
    assert a.read_bytes() == b.read_bytes()


def test_same_device_ref_is_one_event(client: TestClient, runtime: Runtime, tmp_path: Path) -> None:
    """A device that retries after a lost answer gets the event it already made."""
    owner = make_person(runtime)
    cam = make_camera(runtime, owner.user)
    other = make_camera(runtime, owner.user, name="Garage")
    path = sample_clip(tmp_path)
    started = utcnow() - timedelta(minutes=4)

    def send(camera):  # type: ignore[no-untyped-def]
        with path.open("rb") as fh:
            return client.post(
                f"/api/v1/cameras/{camera.camera.id}/clips",
                headers=camera.headers,
                data={
                    "started_at": started.isoformat(),
                    "kind": "motion",
                    "device_ref": "sd:/0007.mp4",
                },
                files={"file": (path.name, fh, "video/mp4")},
            )

    first, again = send(cam), send(cam)
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["id"] == again.json()["id"]
    assert send(other).status_code == 201  # another camera's reference is its own
    clips, events, keys = _counts(runtime)
    assert (clips, events, len(keys)) == (2, 2, 4)
    body = {"kind": "ding", "started_at": started.isoformat(), "device_ref": "ring-17"}
    a = client.post(f"/api/v1/cameras/{cam.camera.id}/events", headers=cam.headers, json=body)
    b = client.post(f"/api/v1/cameras/{cam.camera.id}/events", headers=cam.headers, json=body)
    assert (a.status_code, b.status_code) == (201, 200) and a.json()["id"] == b.json()["id"]
    assert _counts(runtime)[1] == 3


def test_clip_with_a_location_tag_refused(
    client: TestClient, runtime: Runtime, tmp_path: Path
) -> None:
    """A location tag in the file would carry the camera's exact position to whoever the
    clip is shared with (an agency, the feed)."""
    import av

    cam = make_camera(runtime, make_person(runtime).user)
    source = sample_clip(tmp_path)
    tagged = tmp_path / "tagged.mov"
    with av.open(str(source)) as src, av.open(str(tagged), "w", format="mov") as out:
        out.metadata["location"] = "+39.9512-075.1634/"
        stream = out.add_stream_from_template(src.streams.video[0])
        for packet in src.demux(src.streams.video[0]):
            if packet.dts is None:
                continue
            packet.stream = stream
            out.mux(packet)
    _assert_refused(upload_clip(client, cam, tagged), 400, "location_metadata", runtime)


def test_event_batch_all_or_nothing_deduplicated_one_alert_per_window(
    client: TestClient, runtime: Runtime
) -> None:
    owner = make_person(runtime)
    cam = make_camera(runtime, owner.user)
    start = utcnow() - timedelta(hours=1)
    url = f"/api/v1/cameras/{cam.camera.id}/events/batch"

    def ev(i: int, **over: object) -> dict[str, object]:
        return {
            "kind": "motion",
            "device_ref": f"e{i}",
            "started_at": (start + timedelta(seconds=i)).isoformat(),
            **over,
        }

    # One bad event refuses the whole batch and names it.
    bad = client.post(
        url,
        headers=cam.headers,
        json={"events": [ev(0), ev(1, started_at=(utcnow() + timedelta(hours=1)).isoformat())]},
    )
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "start_in_future"
    assert "Event 1" in bad.json()["error"]["message"]
    assert _counts(runtime)[1] == 0
    assert client.post(url, headers=owner.headers, json={"events": [ev(0)]}).status_code == 401
    # A repeated device_ref (inside the batch) counts once.
    r = client.post(url, headers=cam.headers, json={"events": [ev(0), ev(1), ev(1), ev(2)]})
    assert r.status_code == 201 and r.json() == {"created": 3, "duplicates": 1}
    # The same batch again (a retry): nothing new.
    r = client.post(url, headers=cam.headers, json={"events": [ev(0), ev(1), ev(2), ev(3)]})
    assert r.json() == {"created": 1, "duplicates": 3}
    assert _counts(runtime)[1] == 4
    page = client.get("/api/v1/events", headers=owner.headers).json()["events"]
    assert sorted(e["kind"] for e in page) == ["motion"] * 4 and all(e["on_device"] for e in page)
    # Both batches fall in one alert window: one alert, after it, counts the four events.
    assert client.get("/api/v1/notifications", headers=owner.headers).json() == []
    with runtime.db.transaction() as session:
        session.execute(update(OutboxJob).values(run_after=utcnow() - timedelta(seconds=1)))
    Worker(runtime, job_registry(runtime.settings, periodic=False)).drain()
    titles = [n["title"] for n in client.get("/api/v1/notifications", headers=owner.headers).json()]
    assert titles == ["4 motion events at Front door"]
