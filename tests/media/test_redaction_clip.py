"""Redaction of real clips: real, labelled faces (tests/media/data, see its README) panned
across an H.264 clip, redacted with redact_clip and read back with PyAV."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from bench.redaction_clips import FACES, ClipShape, Labelled, load_labelled, write_clip
from doorstep.media.redaction import (
    Box,
    RedactionOptions,
    RedactionReport,
    build_detectors,
    redact_clip,
)
from doorstep.media.redaction.faces import FaceDetector
from doorstep.media.redaction.geometry import covered_share
from tests.media.haar import haar_sees

# Photos whose faces are large enough for OpenCV's Haar cascade to see them too.
PHOTOS = ("2008_001009.jpg", "2008_001322.jpg", "2008_002506.jpg")
SHAPE = ClipShape(width=640, height=480, fps=10, seconds_each=1.0, pan_px=4)
ZONE = [(20.0, 20.0), (200.0, 30.0), (150.0, 160.0), (30.0, 120.0)]


@pytest.fixture(scope="module")
def detectors() -> tuple[FaceDetector | None, object]:
    return build_detectors(RedactionOptions())


@pytest.fixture(scope="module")
def face_clip(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[tuple[Box, ...]]]:
    photos: list[Labelled] = [p for p in load_labelled(FACES) if p.name in PHOTOS]
    assert len(photos) == len(PHOTOS)
    path = tmp_path_factory.mktemp("redaction") / "faces.mp4"
    return path, write_clip(path, photos, SHAPE)


@pytest.fixture(scope="module")
def redacted(
    face_clip: tuple[Path, list[tuple[Box, ...]]],
    tmp_path_factory: pytest.TempPathFactory,
    detectors: tuple[FaceDetector, object],
) -> tuple[Path, RedactionReport]:
    dst = tmp_path_factory.mktemp("redacted") / "out.mp4"
    # Detection on every third frame: the frames between are the tracker's.
    options = RedactionOptions(zones=[ZONE], detect_every=3)
    return dst, redact_clip(face_clip[0], dst, options, detectors=detectors)  # type: ignore[arg-type]


def frames_of(path: Path) -> Iterator[np.ndarray]:
    with av.open(str(path)) as container:
        for frame in container.decode(video=0):
            yield frame.to_ndarray(format="rgb24")


def on_a_label(found: list[Box], truth: tuple[Box, ...]) -> list[Box]:
    """The found boxes that lie mostly on a labelled face."""
    return [f for f in found if any(covered_share(f, t.expanded(0.3)) >= 0.5 for t in truth)]


def test_the_same_detector_finds_no_labelled_face_in_the_copy(
    face_clip: tuple[Path, list[tuple[Box, ...]]],
    redacted: tuple[Path, RedactionReport],
    detectors: tuple[FaceDetector, object],
) -> None:
    source, truth = face_clip
    detector = detectors[0]
    before = [
        len(on_a_label([d.box for d in detector.detect(f)], truth[i]))
        for i, f in enumerate(frames_of(source))
    ]
    after = [
        len(on_a_label([d.box for d in detector.detect(f)], truth[i]))
        for i, f in enumerate(frames_of(redacted[0]))
    ]
    assert len(after) == len(before) == len(truth)
    labelled = sum(len(t) for t in truth)
    assert sum(before) >= 0.9 * labelled  # the original shows the faces
    assert after == [0] * len(after)  # no frame of the copy does


def test_haar_cascade_finds_no_labelled_face_in_the_copy(
    face_clip: tuple[Path, list[tuple[Box, ...]]], redacted: tuple[Path, RedactionReport]
) -> None:
    """OpenCV's Haar cascade (tests/media/haar.py), on every other frame: key frames and
    the tracker's in-between frames alike."""
    source, truth = face_clip

    def seen(path: Path) -> list[int]:
        return [
            sum(haar_sees(frame, label) for label in truth[i])
            for i, frame in enumerate(frames_of(path))
            if i % 2 == 1
        ]

    before, after = seen(source), seen(redacted[0])
    assert sum(before) >= 0.6 * sum(len(truth[i]) for i in range(1, len(truth), 2))
    assert after == [0] * len(after)


def test_the_zone_is_solid_on_every_frame(redacted: tuple[Path, RedactionReport]) -> None:
    mask = np.zeros((SHAPE.height, SHAPE.width), dtype=np.uint8)
    cv2.fillPoly(mask, [np.array(ZONE, dtype=np.int32)], 1)
    # Leave out the outline's ring of pixels, where H.264 blends the edge.
    inside = cv2.erode(mask, np.ones((5, 5), np.uint8)).astype(bool)
    count = 0
    for frame in frames_of(redacted[0]):
        pixels = frame[inside]
        assert int(pixels.max()) <= 12 and float(pixels.mean()) < 2.0
        count += 1
    assert count == redacted[1].frames == len(redacted[1].frame_counts)
