"""Hiding regions of a frame so that they cannot be recovered: pixelation with large blocks
(a region keeps at most a few blocks of flat colour a side) or a solid fill. Zones are
always filled solid."""

from __future__ import annotations

import cv2
import numpy as np
import numpy.typing as npt

from doorstep.media.redaction.geometry import Box
from doorstep.media.redaction.options import HideStyle

Image = npt.NDArray[np.uint8]

# A pixelated region has at most this many blocks along its longer side, and no block is
# smaller than MIN_BLOCK pixels: a face becomes a handful of flat squares.
MAX_BLOCKS = 4
MIN_BLOCK = 12
FILL = (0, 0, 0)


def pixelate(region: Image) -> None:
    """Replace ``region`` (a view into the frame) with its blocks' mean colours."""
    height, width = region.shape[:2]
    if height == 0 or width == 0:
        return
    block = max(MIN_BLOCK, -(-max(height, width) // MAX_BLOCKS))
    cols, rows = max(1, -(-width // block)), max(1, -(-height // block))
    small = cv2.resize(region, (cols, rows), interpolation=cv2.INTER_AREA)
    region[:] = cv2.resize(small, (width, height), interpolation=cv2.INTER_NEAREST)


def hide(frame: Image, box: Box, style: HideStyle) -> None:
    """Hide ``box`` (frame pixels, clipped to the frame) in place."""
    height, width = frame.shape[:2]
    x1, y1, x2, y2 = box.pixels(width, height)
    if x2 <= x1 or y2 <= y1:
        return
    region = frame[y1:y2, x1:x2]
    if style is HideStyle.FILL:
        region[:] = FILL
    else:
        pixelate(region)


def fill_zones(frame: Image, mask: npt.NDArray[np.bool_] | None) -> None:
    if mask is not None:
        frame[mask] = FILL
