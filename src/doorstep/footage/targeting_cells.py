"""The cells a targeting search reads: an area's H3 cover, split into interior and
boundary cells, and the checks every targeting path makes of an area first."""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from itertools import pairwise

import h3
import shapely
from h3.api import basic_int as h3_int
from shapely.geometry import MultiPolygon, Polygon
from shapely.geometry.base import BaseGeometry
from shapely.validation import explain_validity

from doorstep import geo
from doorstep.errors import InvalidInput

# How far (in degrees) the cell search reaches past the area's edge, and how far inside it
# a cell must stay to skip the exact check. What it absorbs: H3 cell edges are geodesic
# while shapely's are straight in lon/lat, and latlng_to_cell rounds near edges. At
# resolution 9 both are under a millimetre; 1e-5° (about 1 m of latitude, 0.3 m of
# longitude even at 72°) leaves a wide margin and costs only a few more exact checks.
SAFETY_MARGIN_DEG = 1e-5
# Policy keeps requests far smaller (half a square mile by default); this bound only stops
# a mistake upstream from asking H3 for millions of cells and pinning a worker for minutes.
# 10,000 km² is about 95,000 cells, a second or two of work; a 50 km circle fits.
MAX_AREA_KM2 = 10_000.0


def check_area(area: BaseGeometry) -> None:
    """Refuses (``InvalidInput``) what targeting cannot search: see ``area_cells``."""
    if not isinstance(area, Polygon | MultiPolygon):
        raise InvalidInput("The area must be a polygon or multipolygon.", code="invalid_geometry")
    if area.is_empty or not area.is_valid:
        raise InvalidInput(
            f"The area is not a valid shape: {explain_validity(area)}.", code="invalid_geometry"
        )
    # shapely reads an edge from 179° to -179° as crossing the globe, H3 as crossing the
    # antimeridian (it does so for any edge spanning more than 180° of longitude): they
    # would disagree on what is inside. Like the rest of doorstep, targeting takes the
    # planar reading and refuses the edges H3 would read otherwise.
    # Both checks below cost a loop over the vertices or a projection (a fifth of a
    # millisecond, as much as the PostGIS path's whole query); the bounding box settles
    # them at once for any area of a sensible size.
    min_lng, min_lat, max_lng, max_lat = area.bounds
    if max_lng - min_lng >= 180.0:
        for ring in _rings(area):
            if any(abs(b[0] - a[0]) >= 180.0 for a, b in pairwise(ring)):
                raise InvalidInput(
                    "The area may not cross the antimeridian or span half the globe.",
                    code="area_too_large",
                )
    # On the sphere a lon/lat box covers at most R²·Δλ·Δφ; twice that leaves room for the
    # projection area_m2 measures in. Only areas near the bound are measured.
    box_bound_m2 = (
        2
        * geo.EARTH_RADIUS_M**2
        * math.radians(max_lng - min_lng)
        * math.radians(max_lat - min_lat)
    )
    if box_bound_m2 > MAX_AREA_KM2 * 1e6 and geo.area_m2(area) > MAX_AREA_KM2 * 1e6:
        raise InvalidInput(
            f"The area is larger than {MAX_AREA_KM2:,.0f} km².", code="area_too_large"
        )


def _rings(area: BaseGeometry) -> Iterator[Sequence[tuple[float, float]]]:
    polygons = area.geoms if isinstance(area, MultiPolygon) else [area]
    for polygon in polygons:
        yield polygon.exterior.coords
        for hole in polygon.interiors:
            yield hole.coords


def _cell_polygons(cells: Sequence[int]) -> list[BaseGeometry]:
    """Cells as planar lon/lat polygons, built in one vectorized call."""
    coords: list[tuple[float, float]] = []
    indices: list[int] = []
    for i, cell in enumerate(cells):
        # Most cells have 6 vertices; those crossing an icosahedron edge have more.
        for lat, lng in h3_int.cell_to_boundary(cell):
            coords.append((lng, lat))
            indices.append(i)
    rings = shapely.linearrings(coords, indices=indices)
    return list(shapely.polygons(rings))


def area_cells(area: BaseGeometry) -> tuple[set[int], set[int]]:
    """The index cells (``geo.INDEX_RESOLUTION``, as integers) a search of ``area`` must read.

    Returns ``(interior, boundary)``, disjoint. The guarantees targeting rests on:

    - Nothing is missed: every point the area covers lies in a cell of one of the two
      sets. The search uses H3's "overlap" containment on the area grown by
      ``SAFETY_MARGIN_DEG``, so a point on the area's edge, or one that
      ``latlng_to_cell`` rounds into the neighbouring cell, is still found; the cells of
      the area's own vertices are added too, because H3 calls that mode experimental.
    - Interior cells need no exact check: each cell's polygon is covered by the area
      shrunk by the same margin, so any point H3 files under it is inside the area. Cells
      that are not exactly nested in their parents or that wrap the antimeridian simply
      fail that test and land in ``boundary``: a wrong guess only costs an exact check.
    - Boundary cells may hold points outside the area (and some may hold none inside);
      their cameras must be checked with shapely.

    Edges are straight lines in lon/lat, as for shapely and ``geo.contains_point``; H3's
    polygon fill reads them the same way (not as great circles, which at 60° latitude
    would bow ~85 m off a 50 km edge). Refuses (``InvalidInput``) what is not a valid
    polygon, has an edge spanning 180° of longitude or more, or exceeds ``MAX_AREA_KM2``.
    """
    check_area(area)
    # Mitred joins keep the vertex count of the area; outwards they still reach every
    # point within the margin, inwards they stay at least the margin inside.
    grown = area.buffer(SAFETY_MARGIN_DEG, join_style="mitre")
    cells = set(
        h3_int.h3shape_to_cells_experimental(
            h3.geo_to_h3shape(grown), geo.INDEX_RESOLUTION, contain="overlap"
        )
    )
    for ring in _rings(area):
        for lng, lat in ring:
            cells.add(geo.cell_of(lat, lng, geo.INDEX_RESOLUTION))

    shrunk = area.buffer(-SAFETY_MARGIN_DEG, join_style="mitre")
    if shrunk.is_empty:
        return set(), cells
    ordered = sorted(cells)
    shapely.prepare(shrunk)
    covered = shapely.covers(shrunk, _cell_polygons(ordered))
    interior = {cell for cell, inside in zip(ordered, covered, strict=True) if inside}
    return interior, cells - interior
