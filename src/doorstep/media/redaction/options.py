"""What the owner decides for one redaction, and what the redaction reports."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from doorstep.media.redaction.geometry import Box, covered_share
from doorstep.media.redaction.zones import Point


class HideStyle(StrEnum):
    PIXELATE = "pixelate"
    FILL = "fill"


@dataclass(frozen=True)
class ManualBox:
    """A box the owner drew, hidden from ``start_s`` to ``end_s`` (seconds, inclusive)."""

    box: Box
    start_s: float
    end_s: float

    def covers(self, t: float) -> bool:
        return self.start_s <= t <= self.end_s

    def describe(self) -> dict[str, Any]:
        return {"box": self.box.as_list(), "start_s": self.start_s, "end_s": self.end_s}


@dataclass(frozen=True)
class Removal:
    """A false detection the owner took back: a whole track (``track_id``), or whatever
    detection lies mostly inside ``box`` between ``start_s`` and ``end_s``."""

    track_id: str | None = None
    box: Box | None = None
    start_s: float = 0.0
    end_s: float = float("inf")

    def __post_init__(self) -> None:
        if (self.track_id is None) == (self.box is None):
            raise ValueError("a removal names either a track or a box")

    def drops(self, track_id: str, box: Box, t: float) -> bool:
        if self.track_id is not None:
            return self.track_id == track_id
        assert self.box is not None
        return self.start_s <= t <= self.end_s and covered_share(box, self.box) >= 0.5

    def describe(self) -> dict[str, Any]:
        if self.track_id is not None:
            return {"track_id": self.track_id}
        assert self.box is not None
        end = None if self.end_s == float("inf") else self.end_s
        return {"box": self.box.as_list(), "start_s": self.start_s, "end_s": end}


@dataclass(frozen=True)
class RedactionOptions:
    """Faces, text and zones are all hidden unless turned off. Detection runs on every
    ``detect_every``-th frame (faces) and every ``text_every``-th detection (text); the
    frames between are interpolated by the tracker."""

    faces: bool = True
    text: bool = True
    zones: Sequence[Sequence[Point]] = ()
    manual_boxes: Sequence[ManualBox] = ()
    removals: Sequence[Removal] = ()
    """What is hidden: the owner's choices at a share (all detection on by default)."""
    style: HideStyle = HideStyle.PIXELATE
    margin: float = 0.35
    """How: large-block pixelation or a solid fill, over detections grown by ``margin``
    (a share of their width and height on every side)."""
    detect_every: int = 5
    text_every: int = 3
    hold_keys: int = 2
    face_side: int = 480
    text_side: int = 640
    """Speed (bench/redaction.py): detection on key frames only, tracks held for
    ``hold_keys`` key frames, the networks at reduced sizes (the frame's longer side)."""
    threads: int = 1
    x264_preset: str = "veryfast"
    crf: int = 23
    """ONNX Runtime threads per session, and the x264 encoder of the copy."""

    def settings(self) -> dict[str, Any]:
        """The detection and encoding settings, for a manifest (zones and edits apart)."""
        edits = {"zones", "manual_boxes", "removals"}
        shown = {k: v for k, v in vars(self).items() if k not in edits}
        return {**shown, "style": self.style.value}


@dataclass
class RedactionReport:
    """What a manifest records about one redacted copy."""

    original_sha256: str
    redacted_sha256: str
    width: int
    height: int
    frames: int
    fps: float
    detectors: list[dict[str, Any]]
    settings: dict[str, Any]
    zones: list[list[list[float]]]
    manual_boxes: list[dict[str, Any]]
    removals: list[dict[str, Any]]
    tracks: list[dict[str, Any]]
    # Per frame: [faces hidden, text regions hidden, manual boxes hidden].
    frame_counts: list[list[int]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)
