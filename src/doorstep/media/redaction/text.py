"""Text regions (licence plates, house numbers, screens): the PP-OCR text-detection model
shipped in the ``rapidocr`` package, on ONNX Runtime, with a DB-style post-processing.

The network returns a per-pixel text probability map at the input's resolution. The map is
thresholded, each connected region becomes a rotated-rectangle contour, regions whose mean
probability is low are dropped, and the rest are grown by their shrink distance (DB
detectors predict text a little smaller than it is) before their bounding boxes are taken.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

from doorstep.media.redaction.geometry import Box
from doorstep.media.redaction.models import Detection, DetectorSettings, OnnxDetector

PACKAGE = "rapidocr"
MODEL_FILE = "models/PP-OCRv6_det_small.onnx"
_MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32).reshape(1, 3, 1, 1) * 255.0
_STD = np.array([0.229, 0.224, 0.225], dtype=np.float32).reshape(1, 3, 1, 1) * 255.0


@dataclass(frozen=True)
class TextSettings(DetectorSettings):
    threshold: float = 0.3
    box_threshold: float = 0.5
    unclip_ratio: float = 1.6
    min_side: float = 3.0


def _region_score(probability: npt.NDArray[np.float32], contour: npt.NDArray[Any]) -> float:
    x, y, w, h = cv2.boundingRect(contour)
    mask = np.zeros((h, w), dtype=np.uint8)
    cv2.fillPoly(mask, [contour - np.array([x, y])], 1)
    return float(cv2.mean(probability[y : y + h, x : x + w], mask)[0])


def regions(probability: npt.NDArray[np.float32], settings: TextSettings) -> list[Detection]:
    """Text boxes (map pixels) from a probability map."""
    binary = (probability > settings.threshold).astype(np.uint8)
    contours, _ = cv2.findContours(binary, cv2.RETR_LIST, cv2.CHAIN_APPROX_SIMPLE)
    found: list[Detection] = []
    for contour in contours:
        (cx, cy), (w, h), angle = cv2.minAreaRect(contour)
        if min(w, h) < settings.min_side:
            continue
        score = _region_score(probability, contour)
        if score < settings.box_threshold:
            continue
        # DB's unclip: grow by area * ratio / perimeter on every side.
        grow = w * h * settings.unclip_ratio / (2 * (w + h))
        corners = cv2.boxPoints(((cx, cy), (w + 2 * grow, h + 2 * grow), angle))
        xs, ys = corners[:, 0], corners[:, 1]
        box = Box(float(xs.min()), float(ys.min()), float(xs.max()), float(ys.max()))
        found.append(Detection(box, score, "text"))
    found.sort(key=lambda d: (d.box.y1, d.box.x1, -d.score))
    return found


class TextDetector(
    OnnxDetector, name="pp-ocr-det", package=PACKAGE, model_file=MODEL_FILE, settings=TextSettings
):
    """Finds text regions in RGB frames; one ONNX Runtime session, reused."""

    settings: TextSettings

    def prepare(self, tensor: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        normalised: npt.NDArray[np.float32] = (tensor - _MEAN) / _STD
        return normalised

    def found(self, outputs: list[Any]) -> list[Detection]:
        return regions(np.asarray(outputs[0][0, 0], dtype=np.float32), self.settings)
