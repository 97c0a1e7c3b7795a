"""Motion detection for the agent: background subtraction on a small grayscale frame.

Per frame: downscale the luma plane, blur away sensor noise, cancel global lighting
changes (shift to a fixed median), subtract the background (OpenCV MOG2), zero the
masked areas, open the mask, and call it motion when one blob covers at least
``min_area`` of the frame (and the change is not most of the frame: a light switched
on). ``SpanTracker`` turns per-frame answers into debounced spans.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import av
import cv2
import numpy as np
import numpy.typing as npt

Polygon = list[tuple[float, float]]
Luma = npt.NDArray[np.uint8]


@dataclass(frozen=True)
class MotionSettings:
    analysis_width: int = 320
    min_area: float = 0.003  # of the frame, for one blob
    max_area: float = 0.6  # of the frame changed at once: lighting, not motion
    sensitivity: float = 25.0  # MOG2 variance threshold: lower sees fainter changes
    warmup_s: float = 1.0  # the background model learns the scene first
    start_frames: int = 2  # consecutive moving frames that start a span
    history_s: float = 30.0  # how long a change takes to become background


def parse_polygon(text: str) -> Polygon:
    """``"x1,y1 x2,y2 x3,y3 ..."`` in source pixels -> a polygon of three points or more."""
    points: Polygon = []
    for pair in text.replace(";", " ").split():
        try:
            x, y = pair.split(",")
            points.append((float(x), float(y)))
        except ValueError as exc:
            raise ValueError(f"a mask point is 'x,y', not {pair!r}") from exc
    if len(points) < 3:
        raise ValueError("a mask polygon needs at least three points")
    return points


class MotionDetector:
    """Answers "is something moving?" for each frame of one source."""

    def __init__(
        self,
        width: int,
        height: int,
        fps: float,
        settings: MotionSettings | None = None,
        masks: Sequence[Polygon] = (),
    ) -> None:
        self.settings = s = settings or MotionSettings()
        scale = min(1.0, s.analysis_width / width)
        self.size = (max(16, round(width * scale)), max(16, round(height * scale)))
        w, h = self.size
        self._keep = np.full((h, w), 255, dtype=np.uint8)
        for polygon in masks:
            pts = np.array([[x * scale, y * scale] for x, y in polygon], dtype=np.int32)
            cv2.fillPoly(self._keep, [pts], 0)
        self._min_pixels = s.min_area * w * h
        self._max_pixels = s.max_area * w * h
        self._warmup_frames = max(1, round(s.warmup_s * fps))
        self._frames = 0
        self._subtractor = cv2.createBackgroundSubtractorMOG2(
            history=max(10, round(s.history_s * fps)),
            varThreshold=s.sensitivity,
            detectShadows=False,
        )
        self._kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (3, 3))

    def moving(self, luma: Luma) -> bool:
        """``luma``: the full-size grayscale (Y) plane of one frame."""
        small = cv2.resize(luma, self.size, interpolation=cv2.INTER_AREA)
        small = cv2.GaussianBlur(small, (5, 5), 0)
        # Cancel slow or sudden global brightness changes; the median ignores the
        # moving object itself.
        shift = 128.0 - float(np.median(small[::4, ::4]))
        normalized = np.clip(small.astype(np.float32) + shift, 0, 255).astype(np.uint8)
        self._frames += 1
        warming = self._frames <= self._warmup_frames
        foreground = self._subtractor.apply(normalized, learningRate=0.2 if warming else -1)
        if warming:
            return False
        foreground = cv2.bitwise_and(foreground, self._keep)
        foreground = cv2.morphologyEx(foreground, cv2.MORPH_OPEN, self._kernel)
        changed = cv2.countNonZero(foreground)
        if changed < self._min_pixels or changed > self._max_pixels:
            return False
        count, _labels, stats, _centroids = cv2.connectedComponentsWithStats(
            foreground, connectivity=8
        )
        areas = stats[1:count, cv2.CC_STAT_AREA]
        return bool(areas.size and areas.max() >= self._min_pixels)


@dataclass
class Span:
    start_s: float
    end_s: float


class SpanTracker:
    """Debounces per-frame answers: a span starts after ``start_frames`` moving frames in
    a row and ends once nothing moved for ``gap_s``; it covers the first to the last
    moving frame."""

    def __init__(self, *, start_frames: int, gap_s: float, frame_s: float) -> None:
        self.start_frames = max(1, start_frames)
        self.gap_s = gap_s
        self.frame_s = frame_s
        self._run_start: float | None = None
        self._run = 0
        self.current: Span | None = None

    def update(self, t: float, moving: bool) -> tuple[Span | None, Span | None]:
        """Returns (span that just started, span that just ended)."""
        started = ended = None
        if moving:
            if self.current is not None:
                self.current.end_s = t + self.frame_s
            else:
                if self._run == 0:
                    self._run_start = t
                self._run += 1
                if self._run >= self.start_frames:
                    assert self._run_start is not None
                    self.current = started = Span(self._run_start, t + self.frame_s)
        else:
            self._run = 0
            if self.current is not None and t - self.current.end_s >= self.gap_s:
                ended, self.current = self.current, None
        return started, ended

    def finish(self) -> Span | None:
        ended, self.current = self.current, None
        return ended


def detect_spans(
    path: Path,
    *,
    settings: MotionSettings | None = None,
    masks: Sequence[Polygon] = (),
    gap_s: float = 1.0,
) -> list[Span]:
    """Motion spans (seconds from the first frame) in a video file; no clip is written."""
    spans: list[Span] = []
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        fps = float(stream.average_rate or 10)
        detector = MotionDetector(stream.width, stream.height, fps, settings, masks)
        tracker = SpanTracker(
            start_frames=detector.settings.start_frames, gap_s=gap_s, frame_s=1 / fps
        )
        for t, luma in _lumas(container, stream, fps):
            _started, ended = tracker.update(t, detector.moving(luma))
            if ended:
                spans.append(ended)
    last = tracker.finish()
    if last:
        spans.append(last)
    return spans


def _lumas(
    container: av.container.InputContainer, stream: av.VideoStream, fps: float
) -> Iterator[tuple[float, Luma]]:
    first: float | None = None
    for index, frame in enumerate(container.decode(stream)):
        t = frame.time if frame.time is not None else index / fps
        first = t if first is None else first
        yield t - first, np.asarray(frame.to_ndarray(format="gray"), dtype=np.uint8)
