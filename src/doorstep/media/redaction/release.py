"""Copies that leave an owner: a stored clip, redacted and cleaned of tags, written to a
new storage key. The one path evidence, feed clips and device uploads take out.

``Choices`` is what an owner decides at a share, as stored with the share (JSON) and as
forms and the API take it; ``release_copy`` turns a stored clip into its copy. Models load
once per process and serve every later copy with the same settings.
"""

from __future__ import annotations

import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import av

from doorstep.errors import DoorstepError, InvalidInput, NotFound
from doorstep.media.redaction.clip import build_detectors, redact_clip
from doorstep.media.redaction.faces import FaceDetector
from doorstep.media.redaction.geometry import Box
from doorstep.media.redaction.models import ModelMissing
from doorstep.media.redaction.options import ManualBox, RedactionOptions, RedactionReport, Removal
from doorstep.media.redaction.text import TextDetector
from doorstep.media.redaction.zones import Point
from doorstep.media.storage import MediaStorage, removed_on_failure

Polygon = Sequence[Point]
Progress = Callable[[float], None]

MAX_MANUAL = 32
"""At most this many boxes and this many removals in one share."""


@dataclass(frozen=True)
class Choices:
    """An owner's choices for one copy. ``unredacted`` sends the clip without hiding
    anything (tags are still stripped): only an explicit choice, counted in public."""

    faces: bool = True
    text: bool = True
    zones: bool = True
    unredacted: bool = False
    manual_boxes: tuple[ManualBox, ...] = ()
    removals: tuple[Removal, ...] = field(default=())

    def as_dict(self) -> dict[str, Any]:
        return {
            "faces": self.faces,
            "text": self.text,
            "zones": self.zones,
            "unredacted": self.unredacted,
            "manual_boxes": [m.describe() for m in self.manual_boxes],
            "removals": [r.describe() for r in self.removals],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> Choices:
        """Choices from stored or submitted JSON; a malformed box or removal is a 400."""
        data = data or {}
        boxes = data.get("manual_boxes") or []
        removals = data.get("removals") or []
        if len(boxes) > MAX_MANUAL or len(removals) > MAX_MANUAL:
            raise InvalidInput(
                f"At most {MAX_MANUAL} boxes and {MAX_MANUAL} removals.", code="too_many_edits"
            )
        return cls(
            faces=bool(data.get("faces", True)),
            text=bool(data.get("text", True)),
            zones=bool(data.get("zones", True)),
            unredacted=bool(data.get("unredacted", False)),
            manual_boxes=tuple(_manual_box(b, i) for i, b in enumerate(boxes)),
            removals=tuple(_removal(r, i) for i, r in enumerate(removals)),
        )

    def options(self, zones: Sequence[Polygon]) -> RedactionOptions:
        """The redaction to run; ``zones`` are the camera's, in the clip's pixels."""
        if self.unredacted:
            return RedactionOptions(faces=False, text=False)
        return RedactionOptions(
            faces=self.faces,
            text=self.text,
            zones=tuple(zones) if self.zones else (),
            manual_boxes=self.manual_boxes,
            removals=self.removals,
        )

    def hides_anything(self) -> bool:
        return not self.unredacted


def _box(raw: Any, what: str, index: int) -> Box:
    try:
        x1, y1, x2, y2 = (float(v) for v in raw)
    except (TypeError, ValueError):
        raise InvalidInput(
            f"{what} {index + 1}: a box is [x1, y1, x2, y2] in frame pixels.", code="bad_box"
        ) from None
    if not (x2 > x1 and y2 > y1) or min(x1, y1) < 0:
        raise InvalidInput(
            f"{what} {index + 1}: a box needs x2 > x1 and y2 > y1, inside the frame.",
            code="bad_box",
        )
    return Box(x1, y1, x2, y2)


def _span(raw: dict[str, Any], what: str, index: int) -> tuple[float, float]:
    try:
        start = float(raw.get("start_s") or 0.0)
        end_raw = raw.get("end_s")
        end = float("inf") if end_raw is None else float(end_raw)
    except (TypeError, ValueError):
        raise InvalidInput(
            f"{what} {index + 1}: start_s and end_s are seconds.", code="bad_time_span"
        ) from None
    if start < 0 or end < start:
        raise InvalidInput(
            f"{what} {index + 1}: the span must start at 0 s or later and end after it starts.",
            code="bad_time_span",
        )
    return start, end


def _manual_box(raw: Any, index: int) -> ManualBox:
    if not isinstance(raw, dict):
        raise InvalidInput(f"Box {index + 1}: expected an object.", code="bad_box")
    start, end = _span(raw, "Box", index)
    return ManualBox(box=_box(raw.get("box"), "Box", index), start_s=start, end_s=end)


def _removal(raw: Any, index: int) -> Removal:
    if not isinstance(raw, dict):
        raise InvalidInput(f"Removal {index + 1}: expected an object.", code="bad_removal")
    if raw.get("track_id") is not None:
        return Removal(track_id=str(raw["track_id"])[:40])
    if raw.get("box") is None:
        raise InvalidInput(
            f"Removal {index + 1}: name a track_id, or a box and a time span.", code="bad_removal"
        )
    start, end = _span(raw, "Removal", index)
    return Removal(box=_box(raw.get("box"), "Removal", index), start_s=start, end_s=end)


def scaled_zones(stored: dict[str, Any] | None, width: int, height: int) -> list[list[Point]]:
    """A camera's stored zones (``{"width", "height", "polygons"}``, drawn on a frame of
    that size) in the pixels of a clip ``width`` by ``height``, clamped to it."""
    if not stored or not stored.get("polygons"):
        return []
    sx = width / float(stored["width"])
    sy = height / float(stored["height"])
    return [
        [(min(max(x * sx, 0.0), width), min(max(y * sy, 0.0), height)) for x, y in polygon]
        for polygon in stored["polygons"]
    ]


_DETECTORS: dict[tuple[bool, bool, int, int, int], Any] = {}
_DETECTORS_LOCK = threading.Lock()


def shared_detectors(options: RedactionOptions) -> tuple[FaceDetector | None, TextDetector | None]:
    """The detectors for ``options``, loaded once per process (a worker redacts many clips)."""
    key = (options.faces, options.text, options.face_side, options.text_side, options.threads)
    with _DETECTORS_LOCK:
        if key not in _DETECTORS:
            _DETECTORS[key] = build_detectors(options)
        found: tuple[FaceDetector | None, TextDetector | None] = _DETECTORS[key]
        return found


def redact_file(
    src: Path, dst: Path, options: RedactionOptions, *, progress: Progress | None = None
) -> RedactionReport:
    """``redact_clip`` with this process's detectors and a progress of 0..1."""

    def frames_done(done: int, expected: int) -> None:
        if progress is not None and expected:
            progress(min(done / expected, 1.0))

    return redact_clip(src, dst, options, progress=frames_done, detectors=shared_detectors(options))


def release_copy(
    storage: MediaStorage,
    src_key: str,
    dst_key: str,
    options: RedactionOptions,
    *,
    progress: Progress | None = None,
) -> RedactionReport:
    """Write the redacted copy of the stored clip ``src_key`` to ``dst_key``. Nothing is
    left at ``dst_key`` when any step fails. Runs in the worker: it takes seconds."""
    with tempfile.TemporaryDirectory(prefix="doorstep-redact-") as tmp:
        src, dst = Path(tmp) / "original.mp4", Path(tmp) / "copy.mp4"
        with src.open("wb") as out:
            for chunk in storage.open_range(src_key):
                out.write(chunk)
        report = redact_file(src, dst, options, progress=progress)
        with removed_on_failure(storage, dst_key):
            storage.put_file(dst_key, dst, "video/mp4")
    return report


def failure_reason(exc: BaseException, *, last_try: bool) -> str | None:
    """Why a copy could not be made, in words for its owner (no final stop); None while
    another try may still cure it. No models, an unreadable file or a refused choice end at
    once; a file the store does not find, or any other error, is tried again until the last
    try (a store can lag behind a restore or a replication)."""
    if isinstance(exc, ModelMissing):
        return "this instance has no redaction models installed; ask its operator"
    if isinstance(exc, NotFound):
        return "the clip's file is gone" if last_try else None
    if isinstance(exc, DoorstepError):
        return exc.message.rstrip(".")
    if isinstance(exc, av.error.FFmpegError):
        return "the clip's file could not be read as video"
    return "the copy could not be made after several tries" if last_try else None


def throttled(step: Callable[[float], object], every_s: float) -> Progress:
    """A progress callback that passes a share on to ``step`` at most once every
    ``every_s`` seconds: long jobs record progress and renew their lease through it."""
    last = [time.monotonic()]

    def progress(share: float) -> None:
        now = time.monotonic()
        if now - last[0] >= every_s:
            last[0] = now
            step(share)

    return progress
