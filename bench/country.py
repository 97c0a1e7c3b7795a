"""A synthetic country: real town centres, homes along streets, a daily rhythm of events.

Towns come from ``../shared/data/us_zip_centroids.csv`` (GeoNames, CC BY: see that
folder's README). The file has no population column, so a town's size is the number of
ZIP codes it spans: a ZIP code serves a roughly similar number of people, and a city
with 100 of them is a big city. Pure numpy, no database: the loader is ``generate``.
"""

from __future__ import annotations

import csv
import math
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

METRES_PER_DEG_LAT = 111_320.0
TOWNS_FILE = "us_zip_centroids.csv"
# Homes one ZIP code's worth of town holds. About 4,000 households is typical of a US ZIP
# code; with a Gaussian spread of TOWN_SPREAD_M per sqrt(ZIP code) that puts ~1,300 homes
# per km² (~3,400 per square mile) at every town's centre, a dense suburb, thinning out
# to the edges; on blocks of 80-160 m that is a home every 25 m or so along each side of
# a street near the centre.
HOMES_PER_ZIP = 4_000
TOWN_SPREAD_M = 700.0
# Streets: a rotated grid per town (blocks of 80 to 160 m), homes on both sides of the
# street, 10 to 25 m back from its centre line.
BLOCK_M = (80.0, 160.0)
SETBACK_M = (10.0, 25.0)
# Local hour of day (0-23) -> relative motion: quiet at night, busy around the evening.
HOURLY_WEIGHTS = np.array(
    [2, 1, 1, 1, 1, 2, 4, 6, 6, 5, 5, 5, 6, 6, 6, 7, 9, 11, 12, 12, 10, 7, 5, 3],
    dtype=np.float64,
)


@dataclass(frozen=True)
class Town:
    name: str
    state: str
    latitude: float
    longitude: float
    zip_codes: int


@dataclass(frozen=True)
class Homes:
    """Positions of homes, the town each is in, and its place in the town's street grid."""

    latitude: FloatArray
    longitude: FloatArray
    town: IntArray  # index into ``towns``
    towns: list[Town]
    # Per town: the grid's rotation (radians) and block size (metres).
    street_angle: FloatArray
    block_m: FloatArray


def find_towns_file(explicit: Path | None = None) -> Path:
    """The towns file: ``explicit``, else ``../shared/data`` from here or from the repo."""
    candidates = (
        [explicit]
        if explicit is not None
        else [
            Path.cwd().parent / "shared" / "data" / TOWNS_FILE,
            Path(__file__).resolve().parents[1].parent / "shared" / "data" / TOWNS_FILE,
        ]
    )
    for path in candidates:
        if path.is_file():
            return path
    raise FileNotFoundError(
        f"{TOWNS_FILE} not found (looked at {', '.join(map(str, candidates))}); pass --towns PATH"
    )


def load_towns(path: Path) -> list[Town]:
    """Towns as (city, state) with the mean of their ZIP centroids, largest first."""
    points: dict[tuple[str, str], list[tuple[float, float]]] = defaultdict(list)
    with path.open(newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            try:
                lat, lon = float(row["lat"]), float(row["lon"])
            except (TypeError, ValueError):
                continue
            if not (math.isfinite(lat) and math.isfinite(lon)) or (lat == 0 and lon == 0):
                continue
            points[(row["city"].strip().title(), row["state"].strip())].append((lat, lon))
    towns = [
        Town(
            name=city,
            state=state,
            latitude=sum(p[0] for p in pts) / len(pts),
            longitude=sum(p[1] for p in pts) / len(pts),
            zip_codes=len(pts),
        )
        for (city, state), pts in points.items()
    ]
    towns.sort(key=lambda t: (-t.zip_codes, t.state, t.name))
    return towns


def choose_towns(
    towns: list[Town], homes: int, rng: np.random.Generator, homes_per_zip: int = HOMES_PER_ZIP
) -> list[Town]:
    """Towns drawn by size (without replacement) until they hold ``homes`` homes."""
    weights = np.array([t.zip_codes for t in towns], dtype=np.float64)
    order = rng.choice(len(towns), size=len(towns), replace=False, p=weights / weights.sum())
    capacity = np.cumsum(weights[order]) * homes_per_zip
    needed = int(np.searchsorted(capacity, homes)) + 1
    return [towns[i] for i in order[:needed]]


def place_homes(
    towns: list[Town], count: int, rng: np.random.Generator, spread_m: float = TOWN_SPREAD_M
) -> Homes:
    """``count`` homes in ``towns`` (shared by size), dense at each centre, on streets.

    Each home is drawn around its town's centre, then moved onto the nearest street of the
    town's grid (streets run both ways) and set back from it on one side: homes line up in
    rows along streets, as on a map, rather than filling the plane as noise would.
    """
    sizes = np.array([t.zip_codes for t in towns], dtype=np.float64)
    per_town = rng.multinomial(count, sizes / sizes.sum())
    town = np.repeat(np.arange(len(towns), dtype=np.int64), per_town)
    n = town.size

    street_angle = rng.uniform(0.0, math.pi / 2, len(towns))
    block_m = rng.uniform(*BLOCK_M, len(towns))
    sigma = spread_m * np.sqrt(sizes)

    # Position in the town's own frame (u along one set of streets, v along the other).
    u = rng.normal(0.0, 1.0, n) * sigma[town]
    v = rng.normal(0.0, 1.0, n) * sigma[town]
    block = block_m[town]
    setback = rng.uniform(*SETBACK_M, n) * rng.choice([-1.0, 1.0], n)
    on_u_street = rng.random(n) < 0.5
    # A street along u has constant v: snap v to the street, then step back from it.
    v = np.where(on_u_street, np.round(v / block) * block + setback, v)
    u = np.where(on_u_street, u, np.round(u / block) * block + setback)

    angle = street_angle[town]
    x = u * np.cos(angle) - v * np.sin(angle)
    y = u * np.sin(angle) + v * np.cos(angle)
    lat0 = np.array([t.latitude for t in towns])[town]
    lon0 = np.array([t.longitude for t in towns])[town]
    latitude = lat0 + y / METRES_PER_DEG_LAT
    longitude = lon0 + x / (METRES_PER_DEG_LAT * np.cos(np.radians(lat0)))
    return Homes(
        latitude=latitude,
        longitude=longitude,
        town=town,
        towns=towns,
        street_angle=street_angle,
        block_m=block_m,
    )


def street_offsets_m(homes: Homes) -> FloatArray:
    """Each home's distance (metres) to the nearest street line of its town's grid."""
    lat0 = np.array([t.latitude for t in homes.towns])[homes.town]
    lon0 = np.array([t.longitude for t in homes.towns])[homes.town]
    y = (homes.latitude - lat0) * METRES_PER_DEG_LAT
    x = (homes.longitude - lon0) * METRES_PER_DEG_LAT * np.cos(np.radians(lat0))
    angle = homes.street_angle[homes.town]
    u = x * np.cos(angle) + y * np.sin(angle)
    v = -x * np.sin(angle) + y * np.cos(angle)
    block = homes.block_m[homes.town]
    off_u = np.abs(u - np.round(u / block) * block)
    off_v = np.abs(v - np.round(v / block) * block)
    result: FloatArray = np.minimum(off_u, off_v)
    return result


def utc_offset_h(longitude: FloatArray) -> FloatArray:
    """Solar time zone, in hours: good enough for a daily rhythm (no DST)."""
    result: FloatArray = np.round(longitude / 15.0)
    return result


def event_times(rng: np.random.Generator, longitude: FloatArray, day_start_s: float) -> FloatArray:
    """One start time (epoch seconds) per entry of ``longitude``, in the 24 hours from
    ``day_start_s``, at a local hour drawn by ``HOURLY_WEIGHTS``."""
    n = longitude.size
    hour = rng.choice(24, size=n, p=HOURLY_WEIGHTS / HOURLY_WEIGHTS.sum())
    local_s = (hour + rng.random(n)) * 3600.0
    utc_time_of_day = (local_s - utc_offset_h(longitude) * 3600.0) % 86_400.0
    result: FloatArray = day_start_s + (utc_time_of_day - day_start_s % 86_400.0) % 86_400.0
    return result
