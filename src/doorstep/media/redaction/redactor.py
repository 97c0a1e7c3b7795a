"""Frame by frame redaction, independent of how frames are read and written.

``Redactor.push`` takes decoded RGB frames in order and returns those that are ready,
redacted in place. A frame is ready once every active detector has run on a key frame at
or after it, so the tracker can blend its boxes between two key frames; at most
``detect_every * text_every`` frames wait, which bounds memory.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Protocol

from doorstep.media.redaction.geometry import Box
from doorstep.media.redaction.hiding import fill_zones, hide
from doorstep.media.redaction.models import Detection, Image
from doorstep.media.redaction.options import RedactionOptions
from doorstep.media.redaction.tracking import TrackedBox, Tracker
from doorstep.media.redaction.zones import zone_mask


class Detector(Protocol):
    name: str

    def detect(self, rgb: Image) -> list[Detection]: ...


@dataclass
class _Lane:
    """One detector, its tracker and how often it runs (in frames)."""

    detector: Detector
    tracker: Tracker
    every: int


@dataclass(frozen=True)
class RedactedFrame:
    """A frame after redaction; ``counts`` are (faces, text regions, manual boxes) hidden,
    ``hidden`` every box hidden (after margins), zones aside."""

    index: int
    image: Image
    counts: tuple[int, int, int]
    hidden: tuple[tuple[str, Box], ...]


class Redactor:
    def __init__(
        self,
        options: RedactionOptions,
        *,
        fps: float,
        width: int,
        height: int,
        faces: Detector | None,
        text: Detector | None,
    ) -> None:
        self.options = options
        self.fps = fps
        self._mask = zone_mask(options.zones, width, height)
        every = max(1, options.detect_every)
        self.lanes: dict[str, _Lane] = {}
        if faces is not None:
            self.lanes["face"] = _Lane(faces, Tracker("f", hold_keys=options.hold_keys), every)
        if text is not None:
            text_every = every * max(1, options.text_every)
            self.lanes["text"] = _Lane(text, Tracker("t", hold_keys=options.hold_keys), text_every)
        self._waiting: deque[tuple[int, Image]] = deque()
        self._last = -1

    def push(self, index: int, image: Image) -> list[RedactedFrame]:
        self._waiting.append((index, image))
        self._last = index
        for lane in self.lanes.values():
            if index % lane.every == 0:
                lane.tracker.observe(index, lane.detector.detect(image))
        return self._release(final=False)

    def finish(self) -> list[RedactedFrame]:
        """Detect on the last frame where a detector has not yet, and release the rest."""
        if self._waiting:
            last_index, last_image = self._waiting[-1]
            for lane in self.lanes.values():
                if lane.tracker.key_frame != last_index:
                    lane.tracker.observe(last_index, lane.detector.detect(last_image))
        return self._release(final=True)

    def _ready_until(self) -> int:
        keys = [lane.tracker.key_frame for lane in self.lanes.values()]
        return min((-1 if key is None else key for key in keys), default=self._last)

    def _release(self, *, final: bool) -> list[RedactedFrame]:
        until = self._last if final else self._ready_until()
        released: list[RedactedFrame] = []
        while self._waiting and self._waiting[0][0] <= until:
            index, image = self._waiting.popleft()
            counts, hidden = self._redact(index, image)
            released.append(RedactedFrame(index, image, counts, hidden))
        return released

    def _kept(self, boxes: list[TrackedBox], t: float) -> list[TrackedBox]:
        removals = self.options.removals
        return [b for b in boxes if not any(r.drops(b.track_id, b.box, t) for r in removals)]

    def _redact(
        self, index: int, image: Image
    ) -> tuple[tuple[int, int, int], tuple[tuple[str, Box], ...]]:
        t = index / self.fps
        counts = {"face": 0, "text": 0}
        hidden: list[tuple[str, Box]] = []
        for kind, lane in self.lanes.items():
            boxes = self._kept(lane.tracker.boxes_for(index), t)
            counts[kind] = len(boxes)
            hidden += [(kind, tracked.box.expanded(self.options.margin)) for tracked in boxes]
        manual = [m for m in self.options.manual_boxes if m.covers(t)]
        hidden += [("manual", m.box) for m in manual]
        for _, box in hidden:
            hide(image, box, self.options.style)
        fill_zones(image, self._mask)
        return (counts["face"], counts["text"], len(manual)), tuple(hidden)

    def tracks(self) -> list[dict[str, object]]:
        return [track for lane in self.lanes.values() for track in lane.tracker.summary()]
