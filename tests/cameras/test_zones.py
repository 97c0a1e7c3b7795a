"""Privacy zones: the API, the settings page's form without script, and zones filled at
ingest (a real MP4 made with PyAV, decoded back and checked pixel by pixel)."""

from __future__ import annotations

import hashlib
from datetime import timedelta
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest
from fastapi.testclient import TestClient
from tests.factories import (
    HTML,
    csrf_of,
    form_error,
    make_camera,
    make_person,
    sign_in,
    upload_clip,
)

from doorstep.cameras import clips as camera_clips
from doorstep.cameras.models import Camera
from doorstep.db import utcnow
from doorstep.media.kinds import EventKind
from doorstep.media.video import ClipLimits
from doorstep.runtime import Runtime

TRIANGLE = [[10, 10], [200, 10], [100, 150]]
TAGS = {"title": "Jane Doe's front door", "comment": "12 Elm Street"}


def zones_url(cam: Any) -> str:
    return f"/api/v1/cameras/{cam.camera.id}/zones"


def bright_clip(path: Path, *, width: int = 320, height: int = 240, frames: int = 12) -> Path:
    """A real H.264 MP4 (PyAV): a grey scene with a white square at x, y 40..120, and
    container and stream tags naming its owner."""
    with av.open(str(path), mode="w", format="mp4") as container:
        container.metadata.update(TAGS)
        stream = container.add_stream("libx264", rate=10)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.metadata.update(TAGS)
        for index in range(frames):
            image = np.full((height, width, 3), 110, dtype=np.uint8)
            image[40:120, 40:120] = 250
            image[180:230, 200:300] = 240  # outside every zone: must stay bright
            frame = av.VideoFrame.from_ndarray(image, format="rgb24")
            frame.pts, frame.time_base = index, Fraction(1, 10)
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return path


def decoded_frames(path: Path) -> tuple[list[np.ndarray], dict[str, str], dict[str, str]]:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(stream)]
        return frames, dict(container.metadata), dict(stream.metadata)


# ---------------------------------------------------------------- API


def test_set_get_and_clear_zones(client: TestClient, runtime: Runtime) -> None:
    owner = make_person(runtime)
    cam = make_camera(runtime, owner.user)
    empty = client.get(zones_url(cam), headers=owner.headers)
    assert empty.status_code == 200
    assert empty.json() == {
        "camera_id": str(cam.camera.id),
        "width": None,
        "height": None,
        "polygons": [],
        "apply_at_ingest": False,
    }
    body = {"width": 320, "height": 180, "polygons": [TRIANGLE], "apply_at_ingest": True}
    put = client.put(zones_url(cam), json=body, headers=owner.headers)
    assert put.status_code == 200, put.text
    got = client.get(zones_url(cam), headers=owner.headers).json()
    assert got["width"] == 320 and got["height"] == 180 and got["apply_at_ingest"] is True
    assert got["polygons"] == [[[float(x), float(y)] for x, y in TRIANGLE]]

    # The stored format the redacted copies read (media.redaction.scaled_zones).
    with runtime.db.transaction() as session:
        camera = session.get(Camera, cam.camera.id)
        assert camera is not None
        assert camera.privacy_zones == {
            "width": 320,
            "height": 180,
            "polygons": [[[10.0, 10.0], [200.0, 10.0], [100.0, 150.0]]],
        }
        assert camera.zones_at_ingest is True

    assert client.delete(zones_url(cam), headers=owner.headers).status_code == 204
    cleared = client.get(zones_url(cam), headers=owner.headers).json()
    assert cleared["polygons"] == [] and cleared["width"] is None
    assert cleared["apply_at_ingest"] is False


def test_another_owner_gets_404(client: TestClient, runtime: Runtime) -> None:
    owner, other = make_person(runtime), make_person(runtime)
    cam = make_camera(runtime, owner.user)
    body = {"width": 320, "height": 180, "polygons": [TRIANGLE]}
    assert client.put(zones_url(cam), json=body, headers=owner.headers).status_code == 200
    for method in ("get", "put", "delete"):
        kwargs: dict[str, Any] = {"json": body} if method == "put" else {}
        r = client.request(method, zones_url(cam), headers=other.headers, **kwargs)
        assert r.status_code == 404, (method, r.text)
        assert r.json()["error"]["code"] == "camera_not_found"
    still = client.get(zones_url(cam), headers=owner.headers).json()
    assert still["polygons"] == [[[float(x), float(y)] for x, y in TRIANGLE]]


BAD_ZONES = [
    ("zone_too_many", [TRIANGLE] * 17, "at most 16"),
    ("zone_too_few_points", [[[10, 10], [50, 50]]], "at least 3 points"),
    ("zone_too_many_points", [[[10 + i, 10 + (i % 2) * 5] for i in range(65)]], "at most 64"),
    ("zone_outside_frame", [[[10, 10], [400, 10], [100, 150]]], "outside the 320x180 frame"),
    ("zone_self_intersecting", [[[10, 10], [100, 100], [100, 10], [10, 100]]], "crosses"),
    ("zone_empty", [[[10, 10], [50, 50], [90, 90]]], "covers no area"),
]


@pytest.mark.parametrize(("code", "polygons", "words"), BAD_ZONES, ids=[b[0] for b in BAD_ZONES])
def test_bad_polygons_get_a_clear_400(
    client: TestClient, runtime: Runtime, code: str, polygons: list[Any], words: str
) -> None:
    owner = make_person(runtime)
    cam = make_camera(runtime, owner.user)
    body = {"width": 320, "height": 180, "polygons": polygons, "apply_at_ingest": True}
    r = client.put(zones_url(cam), json=body, headers=owner.headers)
    assert r.status_code == 400, r.text
    assert r.json()["error"]["code"] == code
    assert words in r.json()["error"]["message"]
    assert client.get(zones_url(cam), headers=owner.headers).json()["polygons"] == []


def test_frame_size_out_of_range_is_refused(client: TestClient, runtime: Runtime) -> None:
    owner = make_person(runtime)
    cam = make_camera(runtime, owner.user)
    for width in (15, 7681):
        body = {"width": width, "height": 180, "polygons": [TRIANGLE]}
        assert client.put(zones_url(cam), json=body, headers=owner.headers).status_code == 422


def test_zones_api_is_documented(client: TestClient) -> None:
    paths = client.get("/api/v1/openapi.json").json()["paths"]
    route = paths["/api/v1/cameras/{camera_id}/zones"]
    assert set(route) >= {"get", "put", "delete"}
    assert {"400", "404", "422"} <= set(route["put"]["responses"])
    assert "404" in route["get"]["responses"] and "404" in route["delete"]["responses"]
    for code, _, _ in BAD_ZONES:
        assert code in route["put"]["description"]


# ---------------------------------------------------------------- page, without script


def test_page_form_saves_zones_from_the_textarea(client: TestClient, runtime: Runtime) -> None:
    owner = make_person(runtime)
    cam = make_camera(runtime, owner.user)
    sign_in(client, owner.user.email)
    page = client.get(f"/cameras/{cam.camera.id}", headers=HTML)
    assert page.status_code == 200
    assert "Privacy zones" in page.text and 'src="/static/zone-frame.svg"' in page.text
    assert 'name="width" value="1280"' in page.text and "has no clip yet" in page.text
    assert '<script src="/static/zones.js" defer></script>' in page.text
    form = {
        "csrf_token": csrf_of(page.text),
        "width": "1280",
        "height": "720",
        "points": "10,10 200,10 100,150\n\n600,300 900,300 900,600 600,600\n",
        "apply_at_ingest": "1",
    }
    r = client.post(f"/cameras/{cam.camera.id}/zones", data=form, follow_redirects=False)
    assert r.status_code == 303, r.text
    got = client.get(zones_url(cam), headers=owner.headers).json()
    assert got["width"] == 1280 and got["apply_at_ingest"] is True
    assert len(got["polygons"]) == 2 and got["polygons"][1][2] == [900.0, 600.0]
    again = client.get(r.headers["location"], headers=HTML)
    assert "Privacy zones saved" in again.text
    assert "10,10 200,10 100,150\n600,300 900,300 900,600 600,600" in again.text
    assert "Zone 2: 4 points" in again.text

    # An empty textarea clears them.
    form.update(points="", apply_at_ingest="", csrf_token=csrf_of(again.text))
    r = client.post(f"/cameras/{cam.camera.id}/zones", data=form, follow_redirects=False)
    assert r.status_code == 303
    assert client.get(zones_url(cam), headers=owner.headers).json()["polygons"] == []


@pytest.mark.parametrize(
    ("points", "message"),
    [
        ("10,10 900,10 100,150", "Privacy zone 1: the point (900, 10) is outside the 320x180"),
        ("10,10 100,100 100,10 10,100", "Privacy zone 1: the outline crosses itself"),
        ("10,10 20,20", "Privacy zone 1: a zone needs at least 3 points."),
        ("10,10 twenty 100,150", 'Privacy zones, line 1: "twenty" is not a point'),
    ],
)
def test_page_form_shows_the_zone_message(
    client: TestClient, runtime: Runtime, points: str, message: str
) -> None:
    owner = make_person(runtime)
    cam = make_camera(runtime, owner.user)
    csrf = sign_in(client, owner.user.email)
    form = {"csrf_token": csrf, "width": "320", "height": "180", "points": points}
    r = client.post(f"/cameras/{cam.camera.id}/zones", data=form, headers=HTML)
    assert r.status_code == 400
    assert form_error(r.text).startswith(message), form_error(r.text)
    assert points in r.text  # what the owner typed is still there to fix
    assert client.get(zones_url(cam), headers=owner.headers).json()["polygons"] == []


def test_another_owners_zone_form_is_404(client: TestClient, runtime: Runtime) -> None:
    owner, other = make_person(runtime), make_person(runtime)
    cam = make_camera(runtime, owner.user)
    csrf = sign_in(client, other.user.email)
    assert client.get(f"/cameras/{cam.camera.id}", headers=HTML).status_code == 404
    form = {"csrf_token": csrf, "width": "320", "height": "180", "points": "10,10 200,10 100,150"}
    r = client.post(f"/cameras/{cam.camera.id}/zones", data=form, headers=HTML)
    assert r.status_code == 404
    assert client.get(zones_url(cam), headers=owner.headers).json()["polygons"] == []


# ---------------------------------------------------------------- ingest


def _stored_file(client: TestClient, owner: Any, clip: dict[str, Any], tmp_path: Path) -> Path:
    r = client.get(f"/media/clips/{clip['id']}.mp4", headers=owner.headers)
    assert r.status_code == 200
    path = tmp_path / f"stored-{clip['id']}.mp4"
    path.write_bytes(r.content)
    return path


def test_zones_are_filled_before_the_clip_is_stored(
    client: TestClient, runtime: Runtime, tmp_path: Path
) -> None:
    owner = make_person(runtime)
    cam = make_camera(runtime, owner.user)
    # Drawn on a 640x480 frame: the square 80..240 is 40..120 of the 320x240 clip.
    square = [[80, 80], [240, 80], [240, 240], [80, 240]]
    body = {"width": 640, "height": 480, "polygons": [square], "apply_at_ingest": True}
    assert client.put(zones_url(cam), json=body, headers=owner.headers).status_code == 200
    sent = bright_clip(tmp_path / "sent.mp4")
    original_sha = hashlib.sha256(sent.read_bytes()).hexdigest()

    r = upload_clip(client, cam, sent)
    assert r.status_code == 201, r.text
    clip = r.json()["clip"]
    stored = _stored_file(client, owner, clip, tmp_path)
    assert clip["sha256"] == hashlib.sha256(stored.read_bytes()).hexdigest() != original_sha
    frames, container_tags, stream_tags = decoded_frames(stored)
    assert len(frames) == 12
    for index, frame in enumerate(frames):
        inside = frame[42:118, 42:118]
        assert inside.max() <= 24, (index, int(inside.max()))  # solid black, every frame
        assert frame[185:225, 205:295].min() >= 200, index  # the rest untouched
    for tags in (container_tags, stream_tags):
        assert not set(tags) & {"title", "comment"}, tags
        assert not any(v in tags.values() for v in TAGS.values()), tags
    thumbnail = client.get(f"/media/clips/{clip['id']}.jpg", headers=owner.headers)
    assert thumbnail.status_code == 200


def test_without_ingest_zones_the_clip_is_stored_as_sent(
    client: TestClient, runtime: Runtime, tmp_path: Path
) -> None:
    owner = make_person(runtime)
    cam = make_camera(runtime, owner.user)
    body = {"width": 320, "height": 240, "polygons": [TRIANGLE], "apply_at_ingest": False}
    assert client.put(zones_url(cam), json=body, headers=owner.headers).status_code == 200
    sent = bright_clip(tmp_path / "sent.mp4")
    r = upload_clip(client, cam, sent)
    assert r.status_code == 201, r.text
    clip = r.json()["clip"]
    assert clip["sha256"] == hashlib.sha256(sent.read_bytes()).hexdigest()
    assert _stored_file(client, owner, clip, tmp_path).read_bytes() == sent.read_bytes()
    frames, container_tags, _ = decoded_frames(sent)
    assert frames[0][60, 60].min() >= 200 and container_tags["title"] == TAGS["title"]


def test_page_draws_on_the_newest_clips_thumbnail(
    client: TestClient, runtime: Runtime, tmp_path: Path
) -> None:
    owner = make_person(runtime)
    cam = make_camera(runtime, owner.user)
    clip = upload_clip(client, cam, bright_clip(tmp_path / "a.mp4")).json()["clip"]
    body = {"width": 640, "height": 480, "polygons": [[[0, 0], [640, 0], [0, 480]]]}
    assert client.put(zones_url(cam), json=body, headers=owner.headers).status_code == 200
    sign_in(client, owner.user.email)
    page = client.get(f"/cameras/{cam.camera.id}", headers=HTML).text
    assert f'src="/media/clips/{clip["id"]}.jpg"' in page
    assert 'name="width" value="320"' in page and 'name="height" value="240"' in page
    assert "0,0 320,0 0,240" in page  # the stored zones, on the frame shown


def test_ingest_in_one_transaction_fills_the_zones_too(
    client: TestClient, runtime: Runtime, tmp_path: Path
) -> None:
    """``ingest_clip`` (the demo, scripts) stores through the same step as an upload."""
    owner = make_person(runtime)
    cam = make_camera(runtime, owner.user)
    square = [[40, 40], [120, 40], [120, 120], [40, 120]]
    body = {"width": 320, "height": 240, "polygons": [square], "apply_at_ingest": True}
    assert client.put(zones_url(cam), json=body, headers=owner.headers).status_code == 200
    sent = bright_clip(tmp_path / "sent.mp4")
    with runtime.db.transaction() as session:
        result = camera_clips.ingest_clip(
            session=session,
            storage=runtime.storage,
            limits=ClipLimits.from_settings(runtime.settings),
            camera=session.get_one(Camera, cam.camera.id),
            file_path=sent,
            started_at=utcnow() - timedelta(minutes=5),
            kind=EventKind.motion,
        )
        assert result.clip is not None
        clip = {"id": str(result.clip.id), "sha256": result.clip.sha256}
    stored = _stored_file(client, owner, clip, tmp_path)
    assert clip["sha256"] == hashlib.sha256(stored.read_bytes()).hexdigest()
    frames, container_tags, _ = decoded_frames(stored)
    assert all(frame[42:118, 42:118].max() <= 24 for frame in frames)
    assert "title" not in container_tags
