"""The area a footage request covers: a drawn polygon or a circle, its shape checked so
that it cannot single out a house, and the coarse H3 cells the public sees of it."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import h3
from shapely.geometry import mapping
from shapely.geometry.base import BaseGeometry

from doorstep import geo
from doorstep.errors import InvalidInput
from doorstep.footage.policy import PolicyViolation


@dataclass(frozen=True)
class Area:
    geometry: BaseGeometry
    geojson: dict[str, Any]
    circle: dict[str, Any] | None


def parse_request_area(*, area: dict[str, Any] | None, circle: dict[str, Any] | None) -> Area:
    """A drawn polygon (GeoJSON) or a circle {latitude, longitude, radius_m}."""
    if area is None and circle is None:
        raise InvalidInput(
            "Give the area the request covers: a GeoJSON polygon in 'area', or a circle "
            "{latitude, longitude, radius_m} in 'circle'.",
            code="area_required",
        )
    if area is not None and circle is not None:
        raise InvalidInput(
            "Give the area as a GeoJSON polygon or as a circle, not both.", code="invalid_geometry"
        )
    if circle is not None:
        try:
            lat, lng = float(circle["latitude"]), float(circle["longitude"])
            radius_m = float(circle["radius_m"])
        except (KeyError, TypeError, ValueError) as exc:
            raise InvalidInput(
                "A circle needs latitude, longitude and radius_m.", code="invalid_geometry"
            ) from exc
        geometry = geo.circle(lat, lng, radius_m)
        return Area(
            geometry,
            dict(mapping(geometry)) | {"coordinates": _coords(geometry)},
            {"latitude": lat, "longitude": lng, "radius_m": radius_m},
        )
    assert area is not None
    geometry = geo.parse_area(area)
    _check_shape(geometry)
    return Area(geometry, area, None)


# A circle scores 1, a square 0.79, a 10:1 strip along a street 0.26. Slivers, rings and
# shapes that hug single houses score far lower.
MIN_COMPACTNESS = 0.2


def _check_shape(geometry: BaseGeometry) -> None:
    """One simple polygon of reasonable shape: a MultiPolygon, a hole or a sliver could
    single out one house inside an area of allowed size, and with the counts tell the
    agency who was asked and who declined."""
    if geometry.geom_type != "Polygon":
        raise InvalidInput(
            "The area is one polygon (or a circle), not several.", code="invalid_geometry"
        )
    if list(geometry.interiors):
        raise InvalidInput("The area cannot have holes.", code="invalid_geometry")
    local = geo.to_local_metres(geometry)
    compactness = 4 * math.pi * local.area / (local.length**2) if local.length else 0.0
    if compactness < MIN_COMPACTNESS:
        raise PolicyViolation(
            f"The area is too thin or irregular (compactness {compactness:.2f}; the minimum "
            f"is {MIN_COMPACTNESS}). Draw the area the incident covers.",
            code="area_not_compact",
            limit=MIN_COMPACTNESS,
        )


def _coords(geometry: BaseGeometry) -> list[list[list[float]]]:
    ring = [[float(x), float(y)] for x, y in geometry.exterior.coords]
    return [ring]


def public_cells(geometry: BaseGeometry, resolution: int) -> list[str]:
    """The coarse H3 cells covering an area: the only outline of it the public sees."""
    shape = h3.geo_to_h3shape(mapping(geometry))
    cells = set(h3.h3shape_to_cells_experimental(shape, resolution, contain="overlap"))
    return sorted(cells)
