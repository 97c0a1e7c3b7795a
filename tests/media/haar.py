"""An independent face detector for the redaction tests: OpenCV's Haar cascade
(``haarcascade_frontalface_default.xml``, Rainer Lienhart's Viola-Jones frontal face
model, Intel License Agreement, kept gzipped beside this file in ``data/``), evaluated
here in numpy.

OpenCV 5's wheels no longer ship ``cv2.CascadeClassifier`` nor the cascade files (they
moved to opencv_contrib), so this module reads the cascade itself: integral images per
scale, variance-normalised Haar features, boosted stumps stage by stage, and windows
grouped by overlap as OpenCV's ``groupRectangles`` does (``min_neighbors``).
"""

from __future__ import annotations

import gzip
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import cv2
import numpy as np

from doorstep.media.redaction import Box

CASCADE = Path(__file__).parent / "data" / "haarcascade_frontalface_default.xml.gz"


@dataclass(frozen=True)
class Stage:
    """One boosted stage: per stump, three rectangles (x, y, w, h, weight; unused ones
    weigh 0), a threshold and its two leaf values."""

    rects: np.ndarray  # (stumps, 3, 5)
    thresholds: np.ndarray
    left: np.ndarray
    right: np.ndarray
    threshold: float


@dataclass(frozen=True)
class Cascade:
    size: tuple[int, int]
    stages: tuple[Stage, ...]


def _numbers(text: str | None) -> list[float]:
    return [float(v) for v in (text or "").split()]


@cache
def load_cascade(path: Path = CASCADE) -> Cascade:
    root = ET.fromstring(gzip.decompress(path.read_bytes()))
    cascade = root.find("cascade")
    assert cascade is not None
    features = []
    for feature in cascade.iterfind("features/_"):
        rects = np.zeros((3, 5))
        for k, rect in enumerate(feature.iterfind("rects/_")):
            rects[k] = _numbers(rect.text)
        features.append(rects)
    stages = []
    for stage in cascade.iterfind("stages/_"):
        nodes = [_numbers(w.findtext("internalNodes")) for w in stage.iterfind("weakClassifiers/_")]
        leaves = [_numbers(w.findtext("leafValues")) for w in stage.iterfind("weakClassifiers/_")]
        stages.append(
            Stage(
                np.stack([features[int(n[2])] for n in nodes]),
                np.array([n[3] for n in nodes]),
                np.array([leaf[0] for leaf in leaves]),
                np.array([leaf[1] for leaf in leaves]),
                float(stage.findtext("stageThreshold") or 0),
            )
        )
    size = (int(cascade.findtext("width") or 24), int(cascade.findtext("height") or 24))
    return Cascade(size, tuple(stages))


def _sums(table: np.ndarray, ys: np.ndarray, xs: np.ndarray, rect: np.ndarray) -> np.ndarray:
    """Sums of ``table``'s integral over rectangles (..., 4 columns x, y, w, h) placed at
    every window (ys, xs): shape (windows, ...)."""
    x, y, w, h = (rect[..., k].astype(np.intp) for k in range(4))
    top = ys.reshape(-1, *([1] * x.ndim)) + y
    left = xs.reshape(-1, *([1] * x.ndim)) + x
    return table[top + h, left + w] - table[top, left + w] - table[top + h, left] + table[top, left]


def _windows(gray: np.ndarray, cascade: Cascade, step: int) -> tuple[np.ndarray, np.ndarray]:
    """Top-left corners of the windows of ``gray`` that pass every stage."""
    win_w, win_h = cascade.size
    total, squares = cv2.integral2(gray, sdepth=cv2.CV_64F, sqdepth=cv2.CV_64F)
    ys, xs = np.mgrid[0 : gray.shape[0] - win_h + 1 : step, 0 : gray.shape[1] - win_w + 1 : step]
    ys, xs = ys.ravel(), xs.ravel()
    inner = np.array([1, 1, win_w - 2, win_h - 2, 0.0])
    area = (win_w - 2) * (win_h - 2)
    norm = area * _sums(squares, ys, xs, inner) - _sums(total, ys, xs, inner) ** 2
    norm = np.where(norm > 0, np.sqrt(np.maximum(norm, 0)), 1.0)
    for stage in cascade.stages:
        if len(ys) == 0:
            break
        values = (_sums(total, ys, xs, stage.rects) * stage.rects[..., 4]).sum(axis=2)
        below = values < stage.thresholds[None, :] * norm[:, None]
        score = np.where(below, stage.left[None, :], stage.right[None, :]).sum(axis=1)
        keep = score >= stage.threshold
        ys, xs, norm = ys[keep], xs[keep], norm[keep]
    return ys, xs


def _group(rects: list[tuple[float, float, float, float]], min_neighbors: int) -> list[Box]:
    """OpenCV's grouping: windows are alike when every edge lies within 20% of their mean
    size; clusters of more than ``min_neighbors`` windows give their mean box."""
    parent = list(range(len(rects)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, a in enumerate(rects):
        for j in range(i):
            b = rects[j]
            delta = 0.2 * (min(a[2], b[2]) + min(a[3], b[3])) * 0.5
            if (
                abs(a[0] - b[0]) <= delta
                and abs(a[1] - b[1]) <= delta
                and abs(a[0] + a[2] - b[0] - b[2]) <= delta
                and abs(a[1] + a[3] - b[1] - b[3]) <= delta
            ):
                parent[root(i)] = root(j)
    clusters: dict[int, list[tuple[float, float, float, float]]] = {}
    for i, rect in enumerate(rects):
        clusters.setdefault(root(i), []).append(rect)
    boxes = []
    for members in clusters.values():
        if len(members) > min_neighbors:
            x, y, w, h = np.mean(np.array(members), axis=0)
            boxes.append(Box(float(x), float(y), float(x + w), float(y + h)))
    return boxes


def haar_faces(
    rgb: np.ndarray, *, scale_factor: float = 1.1, min_neighbors: int = 3, min_size: int = 24
) -> list[Box]:
    """Frontal faces in an RGB frame, as OpenCV's ``detectMultiScale`` would find them."""
    cascade = load_cascade()
    gray = cv2.equalizeHist(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY))
    height, width = gray.shape
    factor = min_size / cascade.size[0]
    found: list[tuple[float, float, float, float]] = []
    while width / factor >= cascade.size[0] and height / factor >= cascade.size[1]:
        size = (round(width / factor), round(height / factor))
        scaled = cv2.resize(gray, size, interpolation=cv2.INTER_LINEAR)
        ys, xs = _windows(scaled, cascade, 1 if factor > 2 else 2)
        win = cascade.size[0] * factor
        found += [(x * factor, y * factor, win, win) for y, x in zip(ys.tolist(), xs.tolist())]
        factor *= scale_factor
    return _group(found, min_neighbors)


def haar_sees(rgb: np.ndarray, label: Box) -> bool:
    """Whether the cascade finds a face on ``label``: it runs on the label's surroundings
    only (twice its size), for faces from half to twice the label's height."""
    height, width = rgb.shape[:2]
    x1, y1, x2, y2 = label.expanded(0.5).pixels(width, height)
    crop = np.ascontiguousarray(rgb[y1:y2, x1:x2])
    found = haar_faces(crop, scale_factor=1.15, min_size=max(24, round(label.height * 0.5)))
    local = Box(label.x1 - x1, label.y1 - y1, label.x2 - x1, label.y2 - y1)
    return any(min(f.area, local.area) > 0 and _overlap(f, local) >= 0.5 for f in found)


def _overlap(a: Box, b: Box) -> float:
    w = min(a.x2, b.x2) - max(a.x1, b.x1)
    h = min(a.y2, b.y2) - max(a.y1, b.y1)
    return (w * h) / min(a.area, b.area) if w > 0 and h > 0 else 0.0
