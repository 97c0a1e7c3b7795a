"""Privacy zones: polygons in frame pixels that are filled solid on every frame.

``validate_zones`` refuses a bad polygon with an ``InvalidInput`` whose code names the
fault, so an API turns it into a 400 the owner can act on.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np
import numpy.typing as npt
from shapely.geometry import Polygon
from shapely.validation import explain_validity

from doorstep.errors import InvalidInput

Point = tuple[float, float]

MAX_ZONES = 16
MAX_POINTS = 64
MIN_POINTS = 3


def _refuse(message: str, code: str, index: int) -> InvalidInput:
    return InvalidInput(f"Privacy zone {index + 1}: {message}", code=code, zone=index)


def _check_zone(points: Sequence[Point], index: int, width: int, height: int) -> None:
    if len(points) < MIN_POINTS:
        raise _refuse(f"a zone needs at least {MIN_POINTS} points.", "zone_too_few_points", index)
    if len(points) > MAX_POINTS:
        raise _refuse(
            f"a zone has at most {MAX_POINTS} points; this one has {len(points)}.",
            "zone_too_many_points",
            index,
        )
    for x, y in points:
        if not (np.isfinite(x) and np.isfinite(y)) or not (0 <= x <= width and 0 <= y <= height):
            raise _refuse(
                f"the point ({x:g}, {y:g}) is outside the {width}x{height} frame.",
                "zone_outside_frame",
                index,
            )
    polygon = Polygon(points)
    if polygon.convex_hull.area < 1.0:
        raise _refuse("the zone covers no area.", "zone_empty", index)
    if not polygon.is_valid:
        raise _refuse(
            f"the outline crosses itself ({explain_validity(polygon)}).",
            "zone_self_intersecting",
            index,
        )


def validate_zones(zones: Sequence[Sequence[Point]], width: int, height: int) -> None:
    """Raise ``InvalidInput`` (codes ``zone_too_many``, ``zone_too_few_points``,
    ``zone_too_many_points``, ``zone_outside_frame``, ``zone_self_intersecting``,
    ``zone_empty``) for the first bad zone."""
    if len(zones) > MAX_ZONES:
        raise InvalidInput(
            f"A camera has at most {MAX_ZONES} privacy zones; {len(zones)} were given.",
            code="zone_too_many",
        )
    for index, points in enumerate(zones):
        _check_zone(points, index, width, height)


def zone_mask(
    zones: Sequence[Sequence[Point]], width: int, height: int
) -> npt.NDArray[np.bool_] | None:
    """The frame's pixels inside any zone (``None`` when there are none)."""
    if not zones:
        return None
    mask = np.zeros((height, width), dtype=np.uint8)
    polygons = [np.round(np.array(points, dtype=np.float64)).astype(np.int32) for points in zones]
    for polygon in polygons:
        cv2.fillPoly(mask, [polygon], 1)
    return mask.astype(bool)
