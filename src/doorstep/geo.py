"""Geography: H3 cells as integers, coarse positions, GeoJSON areas and containment."""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from typing import Any

import h3
import numpy as np
import numpy.typing as npt
import shapely
from shapely.geometry import Point, Polygon, shape
from shapely.geometry.base import BaseGeometry
from shapely.validation import explain_validity

from doorstep.errors import InvalidInput

EARTH_RADIUS_M = 6_371_008.8
SQ_M_PER_SQ_MILE = 2_589_988.110336
METRES_PER_MILE = 1609.344
# Cells at this resolution (~0.1 km²) index positions for lookups; never shown to anyone.
INDEX_RESOLUTION = 9
# Cells at this resolution (~0.7 km², a few hundred homes) are all that other people,
# agencies and the public ever see of a private position.
COARSE_RESOLUTION = 8


def check_position(latitude: float, longitude: float) -> None:
    if not (math.isfinite(latitude) and math.isfinite(longitude)):
        raise InvalidInput("Position must be finite numbers.", code="invalid_position")
    if not (-90.0 <= latitude <= 90.0 and -180.0 <= longitude <= 180.0):
        raise InvalidInput(
            "Latitude must be within ±90 and longitude within ±180.", code="invalid_position"
        )


def cell_of(latitude: float, longitude: float, resolution: int) -> int:
    """The H3 cell holding a point, as a 64-bit integer (indexable on any database)."""
    return int(h3.str_to_int(h3.latlng_to_cell(latitude, longitude, resolution)))


def parent_cell(cell: int, resolution: int) -> int:
    return int(h3.str_to_int(h3.cell_to_parent(h3.int_to_str(cell), resolution)))


def cell_center(cell: int) -> tuple[float, float]:
    lat, lng = h3.cell_to_latlng(h3.int_to_str(cell))
    return float(lat), float(lng)


def cell_geojson(cell: int) -> dict[str, Any]:
    """A cell as a GeoJSON polygon ([lng, lat] order, closed ring)."""
    ring = [[lng, lat] for lat, lng in h3.cell_to_boundary(h3.int_to_str(cell))]
    ring.append(ring[0])
    return {"type": "Polygon", "coordinates": [ring]}


def haversine_m(lat1: float, lng1: float, lat2: float, lng2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lng2 - lng1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(math.sqrt(a))


def parse_area(geojson: dict[str, Any]) -> BaseGeometry:
    """A GeoJSON Polygon or MultiPolygon, refused with a clear error when invalid.

    Each refusal says what is wrong and what a valid area looks like; the code is
    ``invalid_geometry``, or ``crosses_antimeridian`` for an area that spans ±180°.
    """
    kind = geojson.get("type") if isinstance(geojson, dict) else None
    if kind not in ("Polygon", "MultiPolygon"):
        raise InvalidInput(
            "The area must be a GeoJSON Polygon or MultiPolygon.", code="invalid_geometry"
        )
    for ring in _rings(geojson):
        _check_ring(ring)
    try:
        geom = shape(geojson)
    except Exception as exc:
        raise InvalidInput(
            f"The area is not valid GeoJSON: {exc}.", code="invalid_geometry"
        ) from exc
    if geom.is_empty:
        raise InvalidInput(_EMPTY_AREA, code="invalid_geometry")
    if not geom.is_valid:
        raise InvalidInput(
            f"The area is not a valid shape: {explain_validity(geom)}. Draw an outline "
            "that does not cross or touch itself.",
            code="invalid_geometry",
        )
    return geom


_EMPTY_AREA = (
    "The area has no points. Give at least one ring of four or more [longitude, latitude] "
    "positions, the last repeating the first."
)


def _rings(geojson: dict[str, Any]) -> list[list[Any]]:
    """Every ring of a Polygon's or MultiPolygon's coordinates, each checked to be a list."""
    coords = geojson.get("coordinates")
    if not isinstance(coords, list) or not coords:
        raise InvalidInput(_EMPTY_AREA, code="invalid_geometry")
    polygons = coords if geojson["type"] == "MultiPolygon" else [coords]
    rings: list[list[Any]] = []
    for polygon in polygons:
        if not isinstance(polygon, list) or not polygon:
            raise InvalidInput(_EMPTY_AREA, code="invalid_geometry")
        for ring in polygon:
            if not isinstance(ring, list):
                raise InvalidInput(
                    "Each ring of the area is a list of [longitude, latitude] positions.",
                    code="invalid_geometry",
                )
            rings.append(ring)
    return rings


def _check_ring(ring: list[Any]) -> None:
    if len(ring) < 4:
        raise InvalidInput(
            f"A ring of the area has {len(ring)} positions; each needs at least four, "
            "the last repeating the first.",
            code="invalid_geometry",
        )
    for position in ring:
        if not (
            isinstance(position, list)
            and len(position) in (2, 3)
            and all(isinstance(c, int | float) and not isinstance(c, bool) for c in position)
        ):
            raise InvalidInput(
                "Each position of the area is [longitude, latitude] in numbers; "
                f"{str(position)[:40]} is not.",
                code="invalid_geometry",
            )
        # A whole number of hundreds of digits has no float: it is out of range anyway.
        lng, lat = (float(c) if abs(c) <= 1e300 else math.inf for c in position[:2])
        check_position(lat, lng)
    if ring[0] != ring[-1]:
        raise InvalidInput(
            "Each ring of the area must be closed (first point = last).",
            code="invalid_geometry",
        )
    _check_antimeridian(ring)


def _check_antimeridian(ring: list[Any]) -> None:
    """Refuse an outline with an edge over half the globe's width: that is an area drawn
    across ±180° longitude, which GeoJSON reads as a band around the rest of the world."""
    if any(abs(float(a[0]) - float(b[0])) > 180 for a, b in itertools.pairwise(ring)):
        raise _crosses_antimeridian()


def _crosses_antimeridian() -> InvalidInput:
    return InvalidInput(
        "The area crosses the antimeridian (longitude ±180°), which doorstep cannot "
        "handle. Draw it on one side of that line, with a second request for the rest.",
        code="crosses_antimeridian",
    )


def circle(latitude: float, longitude: float, radius_m: float, segments: int = 64) -> Polygon:
    """A circle as a polygon of ``segments`` points on the sphere."""
    check_position(latitude, longitude)
    if not (0 < radius_m <= 50_000):
        raise InvalidInput("A circle's radius must be between 0 and 50 km.", code="invalid_radius")
    points = []
    d = radius_m / EARTH_RADIUS_M
    lat1, lng1 = math.radians(latitude), math.radians(longitude)
    for i in range(segments):
        bearing = 2 * math.pi * i / segments
        lat2 = math.asin(
            math.sin(lat1) * math.cos(d) + math.cos(lat1) * math.sin(d) * math.cos(bearing)
        )
        lng2 = lng1 + math.atan2(
            math.sin(bearing) * math.sin(d) * math.cos(lat1),
            math.cos(d) - math.sin(lat1) * math.sin(lat2),
        )
        points.append((math.degrees(lng2), math.degrees(lat2)))
    # A point past ±180° means the circle spans the antimeridian.
    if any(abs(lng) > 180 for lng, _lat in points):
        raise _crosses_antimeridian()
    return Polygon(points)


def to_local_metres(geom: BaseGeometry) -> BaseGeometry:
    """Project lon/lat onto a Lambert azimuthal equal-area plane centred on the shape.

    On the sphere this projection keeps areas exact, which is all area checks need.
    """
    centre = geom.centroid
    lat0, lng0 = np.radians(centre.y), np.radians(centre.x)

    def project(coords: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        lng, lat = np.radians(coords[:, 0]), np.radians(coords[:, 1])
        cos_c = np.sin(lat0) * np.sin(lat) + np.cos(lat0) * np.cos(lat) * np.cos(lng - lng0)
        k = np.sqrt(2 / (1 + cos_c))
        x = EARTH_RADIUS_M * k * np.cos(lat) * np.sin(lng - lng0)
        y = (
            EARTH_RADIUS_M
            * k
            * (np.cos(lat0) * np.sin(lat) - np.sin(lat0) * np.cos(lat) * np.cos(lng - lng0))
        )
        return np.column_stack([x, y])

    return shapely.transform(geom, project)


def area_m2(geom: BaseGeometry) -> float:
    """Area of a lon/lat geometry on the sphere, in square metres."""
    return float(to_local_metres(geom).area)


def contains_point(geom: BaseGeometry, latitude: float, longitude: float) -> bool:
    return bool(geom.covers(Point(longitude, latitude)))


# ---------------------------------------------------------------- places people read

# How far from a coarse cell's centre a configured place name may be to name the cell.
DEFAULT_PLACE_REACH_M = 1500.0
SQ_KM_PER_SQ_MILE = SQ_M_PER_SQ_MILE / 1e6

# A named place of the instance (a neighbourhood, a street): name, latitude, longitude.
NamedPlace = tuple[str, float, float]


def cell_int(cell: int | str) -> int:
    """A cell given as H3's hexadecimal string or as its integer, as the integer."""
    return cell if isinstance(cell, int) else int(h3.str_to_int(cell))


def cell_area_km2(cell: int | str) -> float:
    return float(h3.cell_area(h3.int_to_str(cell_int(cell)), "km^2"))


def place_of(
    cell: int | str, places: Sequence[NamedPlace], reach_m: float = DEFAULT_PLACE_REACH_M
) -> str | None:
    """The name of the configured place nearest the cell's centre, if one lies within
    ``reach_m`` of it. Decided on the centre alone: every position in the cell gets the
    same name, so the name tells no more than the cell does."""
    lat, lng = cell_center(cell_int(cell))
    best: tuple[float, str] | None = None
    for name, place_lat, place_lng in places:
        distance = haversine_m(lat, lng, place_lat, place_lng)
        if distance <= reach_m and (best is None or distance < best[0]):
            best = (distance, name)
    return best[1] if best else None


_COMPASS = (
    "north",
    "north-east",
    "east",
    "south-east",
    "south",
    "south-west",
    "west",
    "north-west",
)


def compass_direction(lat1: float, lng1: float, lat2: float, lng2: float) -> str:
    """The initial great-circle bearing from the first point to the second, as one of the
    eight compass directions ("north-east")."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dl = math.radians(lng2 - lng1)
    x = math.sin(dl) * math.cos(p2)
    y = math.cos(p1) * math.sin(p2) - math.sin(p1) * math.cos(p2) * math.cos(dl)
    bearing = math.degrees(math.atan2(x, y)) % 360
    return _COMPASS[round(bearing / 45) % 8]


def describe_cell(
    cell: int | str,
    places: Sequence[NamedPlace] = (),
    reach_m: float = DEFAULT_PLACE_REACH_M,
    home: tuple[float, float] | None = None,
) -> str:
    """A coarse cell in words a person reads, never its H3 id: "an area of about 0.7 km²
    (0.3 sq mi) around Fishtown", the name only where the instance configured one near;
    else, for a viewer who gave his own ``home`` (latitude, longitude), where the area
    lies from it: "..., its centre about 0.8 mi north-east of your home". Only the cell
    and the viewer's own position go in, so the words tell no more than the cell."""
    cell = cell_int(cell)
    km2 = cell_area_km2(cell)
    size = f"an area of about {km2:.1f} km² ({km2 / SQ_KM_PER_SQ_MILE:.1f} sq mi)"
    name = place_of(cell, places, reach_m)
    if name:
        return f"{size} around {name}"
    if home is None:
        return size
    if cell_of(*home, COARSE_RESOLUTION) == cell:
        return f"{size} that includes your home"
    lat, lng = cell_center(cell)
    miles = haversine_m(*home, lat, lng) / METRES_PER_MILE
    direction = compass_direction(*home, lat, lng)
    return f"{size}, its centre about {miles:.1f} mi {direction} of your home"
