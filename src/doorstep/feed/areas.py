"""The feed's geography: radii in miles, and the coarse cells a radius reaches.

A post is *in a resident's area* when the centre of its coarse cell lies within
his radius of his home (great-circle distance). Deciding on the cell's centre,
never on a finer position, keeps the answer the same for everyone who knows
only the cell, so moving one's home and radius around cannot narrow a post
down to less than its cell.
"""

from __future__ import annotations

import functools
import math

import h3
from h3.api import basic_int as h3_int

from doorstep import geo

METRES_PER_MILE = 1609.344
MIN_RADIUS_MI = 0.5
MAX_RADIUS_MI = 5.0
DEFAULT_RADIUS_MI = 1.0
MAX_RADIUS_M = MAX_RADIUS_MI * METRES_PER_MILE

# Neighbouring centres at the coarse resolution are at least ~640 m apart anywhere on
# Earth (measured over the pentagons and 3,000 random cells), so each ring of a grid
# disk moves at least ~550 m outwards. Half the average spacing (~460 m) leaves room.
_SPACING_M = math.sqrt(3) * float(h3.average_hexagon_edge_length(geo.COARSE_RESOLUTION, "m"))
_RING_STEP_M = 0.5 * _SPACING_M
# No point of a coarse cell is farther than ~590 m from its centre (same measurement).
CELL_REACH_M = 0.75 * _SPACING_M


def miles_to_m(miles: float) -> float:
    return miles * METRES_PER_MILE


def m_to_miles(metres: float) -> float:
    return metres / METRES_PER_MILE


def cells_within(latitude: float, longitude: float, radius_m: float) -> list[int]:
    """Every coarse cell whose centre lies within ``radius_m`` of the point, sorted.

    Exact on the cell centres (haversine); the grid disk only bounds the search.
    """
    origin = geo.cell_of(latitude, longitude, geo.COARSE_RESOLUTION)
    rings = math.ceil(radius_m / _RING_STEP_M) + 2
    found = []
    for cell in h3_int.grid_disk(origin, rings):
        lat, lng = h3_int.cell_to_latlng(cell)
        if geo.haversine_m(latitude, longitude, lat, lng) <= radius_m:
            found.append(int(cell))
    return sorted(found)


# Each resident's cells, kept while his home and radius stay as they are (the key):
# about 12 cells for a mile, 300 for five; 4,096 homes hold a few megabytes at most.
@functools.lru_cache(maxsize=4096)
def home_cells(latitude: float, longitude: float, radius_m: float) -> tuple[int, ...]:
    """:func:`cells_within`, remembered: a resident reads his feed page after page."""
    return tuple(cells_within(latitude, longitude, radius_m))


def centre_distance_m(latitude: float, longitude: float, cell: int) -> float:
    """Distance from a point to a coarse cell's centre, in metres."""
    lat, lng = geo.cell_center(cell)
    return geo.haversine_m(latitude, longitude, lat, lng)


def cell_label(cell: int) -> str:
    """The cell as H3's hexadecimal string, as shown in responses."""
    return str(h3.int_to_str(cell))
