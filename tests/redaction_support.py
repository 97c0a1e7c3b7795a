"""Helpers for the redacted-sharing tests (tests/footage/test_redaction_flow.py and
tests/e2e/test_preview.py): clips of real, labelled faces with the tags a camera might
write, a stored clip in a request's window, and checks of what a copy shows."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import av
import cv2
import numpy as np
from fastapi.testclient import TestClient

from bench.redaction_clips import FACES, ClipShape, Labelled, frames, load_labelled
from doorstep.db import utcnow
from doorstep.media.redaction import Box
from doorstep.media.redaction.geometry import covered_share
from doorstep.runtime import Runtime
from tests.factories import (
    CameraWithToken,
    Person,
    make_agency,
    make_camera,
    make_officer,
    make_person,
    send_request,
    set_policy,
    upload_clip,
)

LAT, LNG = 39.9526, -75.1652
# Photos whose faces are large enough for OpenCV's Haar cascade to see them too.
PHOTOS = ("2008_001009.jpg", "2008_001322.jpg", "2008_002506.jpg")
SHAPE = ClipShape(width=640, height=480, fps=10, seconds_each=1.0, pan_px=4)
# A camera privacy zone, drawn on a 1280x720 frame (the clip is 640x480: it scales).
ZONE_DRAWN = {"width": 1280, "height": 720, "polygons": [[[40, 30], [400, 45], [300, 240]]]}
TAGS = {"title": "Front door, 12 Elm Street", "comment": "owner: Jane Example"}
# Refused at upload (tests/footage: an upload carrying it is a 400); written into a staged
# original directly to check that the job drops it too.
LOCATION = {"location": "+39.9526-075.1652/"}


def labelled_photos() -> list[Labelled]:
    photos = [p for p in load_labelled(FACES) if p.name in PHOTOS]
    assert len(photos) == len(PHOTOS)
    return photos


def write_tagged_clip(
    path: Path, shape: ClipShape = SHAPE, total: int | None = None, *, location: bool = False
) -> list[tuple[Box, ...]]:
    """An H.264 MP4 of the labelled photos panning, with container tags (title, comment,
    with ``location`` a location too) and stream tags; returns every frame's labelled
    face boxes."""
    truth: list[tuple[Box, ...]] = []
    with av.open(str(path), mode="w", format="mp4") as container:
        for key, value in {**TAGS, **(LOCATION if location else {})}.items():
            container.metadata[key] = value
        stream = container.add_stream("libx264", rate=shape.fps)
        stream.width, stream.height, stream.pix_fmt = shape.width, shape.height, "yuv420p"
        stream.metadata["handler_name"] = "Jane's doorbell"
        stream.metadata["title"] = "Elm Street porch"
        stream.options = {"preset": "veryfast", "crf": "20"}
        for index, (image, boxes) in enumerate(frames(labelled_photos(), shape, total)):
            frame = av.VideoFrame.from_ndarray(image, format="rgb24")
            frame.pts = index
            container.mux(stream.encode(frame))
            truth.append(boxes)
        container.mux(stream.encode(None))
    return truth


def frames_of(path: Path) -> Iterator[np.ndarray]:
    with av.open(str(path)) as container:
        for frame in container.decode(video=0):
            yield frame.to_ndarray(format="rgb24")


def tags_of(path: Path) -> tuple[dict[str, str], list[dict[str, str]]]:
    """The container's tags and each stream's."""
    with av.open(str(path)) as container:
        return dict(container.metadata), [dict(s.metadata) for s in container.streams]


def on_a_label(found: list[Box], truth: tuple[Box, ...]) -> list[Box]:
    """The found boxes that lie mostly on a labelled face."""
    return [f for f in found if any(covered_share(f, t.expanded(0.3)) >= 0.5 for t in truth)]


def zone_mask(width: int, height: int) -> np.ndarray:
    """The zone's inside in a clip's pixels, less the edge ring H.264 blends."""
    sx, sy = width / ZONE_DRAWN["width"], height / ZONE_DRAWN["height"]  # type: ignore[operator]
    polygon = [[x * sx, y * sy] for x, y in ZONE_DRAWN["polygons"][0]]  # type: ignore[index]
    mask = np.zeros((height, width), dtype=np.uint8)
    cv2.fillPoly(mask, [np.array(polygon, dtype=np.int32)], 1)
    return cv2.erode(mask, np.ones((5, 5), np.uint8)).astype(bool)


@dataclass
class Scene:
    """An agency, its officer, an owner whose camera stored the clip, an active request."""

    officer: Person
    owner: Person
    cam: CameraWithToken
    event: dict[str, Any]
    request_id: str


def scene(client: TestClient, runtime: Runtime, clip: Path, *, expect: int = 201) -> Scene:
    """The clip uploaded by a new owner near a new agency's active request; with another
    ``expect``ed status the upload's answer is the scene's event."""
    agency = make_agency(runtime, lat=LAT, lng=LNG)
    officer = make_officer(runtime, agency)
    owner = make_person(runtime)
    cam = make_camera(runtime, owner.user, latitude=LAT, longitude=LNG)
    r = upload_clip(client, cam, clip, started_at=utcnow() - timedelta(hours=2))
    assert r.status_code == expect, r.text
    set_policy(runtime, moderator_review=False)
    request_id, _ = send_request(client, officer, lat=LAT, lng=LNG)
    return Scene(officer, owner, cam, dict(r.json()), request_id)
