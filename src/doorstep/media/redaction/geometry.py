"""Axis-aligned boxes in frame pixels: overlap, non-maximum suppression, margins, blending."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Box:
    """A rectangle in frame pixels, ``x1 <= x2`` and ``y1 <= y2`` (floats; rounded when drawn)."""

    x1: float
    y1: float
    x2: float
    y2: float

    @property
    def width(self) -> float:
        return max(0.0, self.x2 - self.x1)

    @property
    def height(self) -> float:
        return max(0.0, self.y2 - self.y1)

    @property
    def area(self) -> float:
        return self.width * self.height

    def scaled(self, sx: float, sy: float) -> Box:
        return Box(self.x1 * sx, self.y1 * sy, self.x2 * sx, self.y2 * sy)

    def expanded(self, margin: float) -> Box:
        """Grown by ``margin`` times its width and height on every side."""
        dx, dy = self.width * margin, self.height * margin
        return Box(self.x1 - dx, self.y1 - dy, self.x2 + dx, self.y2 + dy)

    def clipped(self, width: int, height: int) -> Box:
        return Box(
            min(max(self.x1, 0.0), float(width)),
            min(max(self.y1, 0.0), float(height)),
            min(max(self.x2, 0.0), float(width)),
            min(max(self.y2, 0.0), float(height)),
        )

    def pixels(self, width: int, height: int) -> tuple[int, int, int, int]:
        """Integer ``(x1, y1, x2, y2)`` inside the frame, rounded outwards."""
        box = self.clipped(width, height)
        return (
            int(box.x1),
            int(box.y1),
            min(width, int(-(-box.x2 // 1))),
            min(height, int(-(-box.y2 // 1))),
        )

    def as_list(self) -> list[float]:
        return [round(self.x1, 1), round(self.y1, 1), round(self.x2, 1), round(self.y2, 1)]


def intersection(a: Box, b: Box) -> float:
    w = min(a.x2, b.x2) - max(a.x1, b.x1)
    h = min(a.y2, b.y2) - max(a.y1, b.y1)
    return w * h if w > 0 and h > 0 else 0.0


def iou(a: Box, b: Box) -> float:
    inter = intersection(a, b)
    union = a.area + b.area - inter
    return inter / union if union > 0 else 0.0


def covered_share(target: Box, by: Box) -> float:
    """How much of ``target``'s area lies inside ``by`` (0..1)."""
    return intersection(target, by) / target.area if target.area > 0 else 0.0


def suppress(boxes: Sequence[Box], scores: Sequence[float], threshold: float) -> list[int]:
    """Greedy non-maximum suppression: indexes of the boxes kept, best score first.
    Ties keep the earlier box, so the result is deterministic."""
    order = sorted(range(len(boxes)), key=lambda i: (-scores[i], i))
    kept: list[int] = []
    for index in order:
        if all(iou(boxes[index], boxes[other]) <= threshold for other in kept):
            kept.append(index)
    return kept


def blend(a: Box, b: Box, t: float) -> Box:
    """The box a share ``t`` (0..1) of the way from ``a`` to ``b``."""
    return Box(
        a.x1 + (b.x1 - a.x1) * t,
        a.y1 + (b.y1 - a.y1) * t,
        a.x2 + (b.x2 - a.x2) * t,
        a.y2 + (b.y2 - a.y2) * t,
    )


def union_box(a: Box, b: Box) -> Box:
    return Box(min(a.x1, b.x1), min(a.y1, b.y1), max(a.x2, b.x2), max(a.y2, b.y2))
