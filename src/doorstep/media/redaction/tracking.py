"""Carries each detected region across frames, so a face does not flash clear between
detections.

Detection runs on key frames only (every Nth frame, for speed). At each key frame the
tracker pairs the new detections with its live tracks by overlap (IoU, greedy, best pair
first). A track with no detection is held for ``hold_keys`` key frames before it ends,
its box growing by ``hold_growth`` on every side at each miss (the region may have
moved). A detection with no track starts one. The frames between two key frames get, for
each track, its box blended between the two key frames; a track seen at only one of
them keeps that box over the whole gap (covering a face that enters or leaves).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from doorstep.media.redaction.geometry import Box, blend, iou
from doorstep.media.redaction.models import Detection


@dataclass(frozen=True)
class TrackedBox:
    track_id: str
    kind: str
    box: Box


@dataclass
class Track:
    track_id: str
    kind: str
    box: Box
    first_frame: int
    last_seen: int
    misses: int = 0
    detections: int = 1


@dataclass
class _Key:
    frame: int
    boxes: dict[str, Box] = field(default_factory=dict)


class Tracker:
    """Tracks of one kind of region over one clip; track ids are ``prefix`` + a counter
    ("f1", "f2", ...), stable for the same clip and settings, so an owner can name one."""

    def __init__(
        self,
        prefix: str,
        *,
        iou_threshold: float = 0.2,
        hold_keys: int = 2,
        hold_growth: float = 0.1,
    ) -> None:
        self.prefix = prefix
        self.hold_growth = hold_growth
        self.iou_threshold = iou_threshold
        self.hold_keys = hold_keys
        self.live: list[Track] = []
        self.ended: list[Track] = []
        self._count = 0
        self._previous: _Key | None = None
        self._current: _Key | None = None

    @property
    def key_frame(self) -> int | None:
        """The latest key frame observed (frames up to it can be drawn)."""
        return None if self._current is None else self._current.frame

    def _pairs(self, detections: Sequence[Detection]) -> list[tuple[int, int]]:
        scored = [
            (iou(track.box, det.box), t, d)
            for t, track in enumerate(self.live)
            for d, det in enumerate(detections)
            if track.kind == det.kind
        ]
        scored.sort(key=lambda item: (-item[0], item[1], item[2]))
        pairs: list[tuple[int, int]] = []
        used_tracks: set[int] = set()
        used_dets: set[int] = set()
        for overlap, t, d in scored:
            if overlap < self.iou_threshold or t in used_tracks or d in used_dets:
                continue
            pairs.append((t, d))
            used_tracks.add(t)
            used_dets.add(d)
        return pairs

    def observe(self, frame: int, detections: Sequence[Detection]) -> None:
        """Take the detections of key frame ``frame`` (frames must increase)."""
        pairs = self._pairs(detections)
        matched_tracks = {t for t, _ in pairs}
        matched_dets = {d for _, d in pairs}
        for t, d in pairs:
            track = self.live[t]
            track.box, track.last_seen, track.misses = detections[d].box, frame, 0
            track.detections += 1
        still: list[Track] = []
        for t, track in enumerate(self.live):
            if t not in matched_tracks:
                track.misses += 1
                if track.misses > self.hold_keys:
                    self.ended.append(track)
                    continue
                track.box = track.box.expanded(self.hold_growth)
            still.append(track)
        for d, det in enumerate(detections):
            if d not in matched_dets:
                self._count += 1
                still.append(Track(f"{self.prefix}{self._count}", det.kind, det.box, frame, frame))
        self.live = still
        self._previous = self._current
        self._current = _Key(frame, {track.track_id: track.box for track in self.live})

    def _kinds(self) -> dict[str, str]:
        return {track.track_id: track.kind for track in [*self.live, *self.ended]}

    def boxes_for(self, frame: int) -> list[TrackedBox]:
        """The boxes to hide on ``frame``, which lies after the previous key frame and at or
        before the latest one."""
        current = self._current
        if current is None:
            return []
        previous = self._previous
        if previous is None or frame >= current.frame:
            ids = sorted(current.boxes)
            kinds = self._kinds()
            return [TrackedBox(i, kinds[i], current.boxes[i]) for i in ids]
        share = (frame - previous.frame) / (current.frame - previous.frame)
        kinds = self._kinds()
        boxes: list[TrackedBox] = []
        for track_id in sorted(set(previous.boxes) | set(current.boxes)):
            before, after = previous.boxes.get(track_id), current.boxes.get(track_id)
            if before is not None and after is not None:
                box = blend(before, after, share)
            else:
                held = before if before is not None else after
                assert held is not None  # the id came from one of the two keys
                box = held
            boxes.append(TrackedBox(track_id, kinds[track_id], box))
        return boxes

    def summary(self) -> list[dict[str, object]]:
        """Every track of the clip: id, kind, frames spanned, detections; for the report."""
        tracks = sorted(
            [*self.ended, *self.live], key=lambda t: int(t.track_id[len(self.prefix) :])
        )
        return [
            {
                "track_id": t.track_id,
                "kind": t.kind,
                "first_frame": t.first_frame,
                "last_seen_frame": t.last_seen,
                "detections": t.detections,
            }
            for t in tracks
        ]
