"""``python -m bench generate``: fill a database with a synthetic country.

Owners (users) live in homes placed along the streets of real towns
(:mod:`bench.country`); each has a camera at home, some a second one a few
metres away; cameras record motion events over the last ``days`` days with a daily
rhythm and a busy/quiet spread between cameras; residents publish feed posts in their
home's coarse cell. Every owner also gets a feed home, as a resident would.

Rows are written with the database's bulk path (:mod:`bench.load`), events in
time order, day by day, as a live instance would have appended them. The same seed on
an empty database gives the same rows (ids included); to add more data to a database,
use another seed.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from sqlalchemy.orm import Session

from bench import country
from bench.country_rows import DAY_S, load_cameras, load_events, load_owners, load_posts, random_ids
from bench.load import BulkLoader, open_loader
from bench.progress import Progress
from doorstep.cameras import partitions
from doorstep.db import make_engine
from doorstep.migrate import upgrade


@dataclass(frozen=True)
class GenerateOptions:
    cameras: int
    events: int
    posts: int
    seed: int = 1
    days: int = 30
    # Share of homes with a camera: sets how many homes (and so towns) the cameras
    # spread over. Homes without a camera are not stored: a random share of homes drawn
    # from the towns is itself a draw from the towns, so only the owners' are placed.
    camera_share: float = 0.15
    second_camera_share: float = 0.2
    accepts_requests_share: float = 0.85
    # Events whose clip stays on the device (footage exists); the rest kept none.
    on_device_share: float = 0.95
    towns_path: Path | None = None
    anchor: datetime | None = None


@dataclass
class GenerateSummary:
    database: str
    seed: int
    towns: int
    largest_towns: list[str]
    owners: int
    cameras: int
    events: int
    posts: int
    window_start: datetime
    window_end: datetime
    seconds: dict[str, float] = field(default_factory=dict)


def _place_owners(
    options: GenerateOptions, rng: np.random.Generator, progress: Progress
) -> tuple[list[country.Town], country.Homes, int]:
    """The towns, the owners' homes along their streets, and the number of owners."""
    owners = max(1, math.ceil(options.cameras / (1 + options.second_camera_share)))
    towns = country.choose_towns(
        country.load_towns(country.find_towns_file(options.towns_path)),
        homes=math.ceil(owners / options.camera_share),
        rng=rng,
    )
    homes = country.place_homes(towns, owners, rng)
    progress.note(f"{len(towns):,} towns, {owners:,} owners, {options.cameras:,} cameras")
    return towns, homes, owners


def _place_cameras(
    rng: np.random.Generator, homes: country.Homes, owners: int, cameras: int
) -> tuple[country.IntArray, country.FloatArray, country.FloatArray]:
    """Each camera's owner (index), latitude and longitude: one at every home, the rest a
    second camera at a random owner's."""
    second = cameras - owners
    camera_owner = np.concatenate(
        [np.arange(owners), np.sort(rng.choice(owners, size=second, replace=False))]
    )
    # A second camera stands 3 to 10 m from the first (the back door, the driveway).
    nudge_m = rng.uniform(3.0, 10.0, second)
    bearing = rng.uniform(0.0, 2 * math.pi, second)
    cam_lat = homes.latitude[camera_owner].copy()
    cam_lon = homes.longitude[camera_owner].copy()
    cam_lat[owners:] += nudge_m * np.cos(bearing) / country.METRES_PER_DEG_LAT
    cam_lon[owners:] += (
        nudge_m
        * np.sin(bearing)
        / (country.METRES_PER_DEG_LAT * np.cos(np.radians(cam_lat[owners:])))
    )
    return camera_owner, cam_lat, cam_lon


def _load_tables(
    loader: BulkLoader,
    rng: np.random.Generator,
    options: GenerateOptions,
    homes: country.Homes,
    cameras: tuple[country.IntArray, country.FloatArray, country.FloatArray],
    anchor: float,
    progress: Progress,
) -> dict[str, float]:
    """Every table in turn, then ANALYZE; the seconds each took."""
    camera_owner, cam_lat, cam_lon = cameras
    window_start = anchor - options.days * DAY_S
    seconds: dict[str, float] = {}
    clock = time.perf_counter()
    owner_ids = random_ids(rng, len(homes.latitude))
    home_coarse = load_owners(loader, rng, homes, owner_ids, anchor, progress)
    camera_ids = random_ids(rng, options.cameras)
    seconds["owners"] = time.perf_counter() - clock
    clock = time.perf_counter()
    owner_of_camera = [owner_ids[i] for i in camera_owner]
    load_cameras(
        loader, rng, options, camera_ids, owner_of_camera, cam_lat, cam_lon, anchor, progress
    )
    seconds["cameras"] = time.perf_counter() - clock
    clock = time.perf_counter()
    with loader.without_secondary_indexes("motion_events"):
        load_events(
            loader,
            rng,
            options,
            camera_ids,
            camera_owner,
            owner_ids,
            cam_lon,
            window_start,
            progress,
        )
        progress.note("motion_events: building indexes")
    seconds["events"] = time.perf_counter() - clock
    clock = time.perf_counter()
    load_posts(
        loader, rng, options, owner_ids, home_coarse, homes.longitude, window_start, progress
    )
    seconds["posts"] = time.perf_counter() - clock
    clock = time.perf_counter()
    progress.note("analyzing")
    loader.analyze(["users", "feed_homes", "cameras", "motion_events", "feed_posts"])
    seconds["analyze"] = time.perf_counter() - clock
    return seconds


def _make_event_months(url: str, first: float, last: float) -> None:
    """On PostgreSQL, the monthly partitions of the events' window (the migration made only
    the months from now on): each event lands in its month, not in the default partition."""
    engine = make_engine(url)
    try:
        with Session(engine) as session, session.begin():
            partitions.ensure_months(
                session=session,
                first=datetime.fromtimestamp(first, UTC),
                last=datetime.fromtimestamp(last, UTC),
            )
    finally:
        engine.dispose()


def _name_event_indexes(url: str) -> None:
    """The events' indexes were dropped for the load and built again on the partitioned
    parent, which names each partition's own after the partition: back to the migration's
    names (PostgreSQL)."""
    engine = make_engine(url)
    try:
        with engine.begin() as connection:
            if partitions.is_partitioned(connection):
                partitions.name_partition_indexes(connection)
    finally:
        engine.dispose()


def generate(
    *, url: str, options: GenerateOptions, progress: Progress | None = None
) -> GenerateSummary:
    """Migrate ``url`` to the latest revision, then load the synthetic country into it."""
    if options.cameras < 1 or options.events < 0 or options.posts < 0 or options.days < 1:
        raise ValueError("cameras must be at least 1; events, posts and days not negative")
    progress = progress or Progress()
    clock = time.perf_counter()
    upgrade(url)
    rng = np.random.default_rng(options.seed)
    anchor = (options.anchor or datetime.now(UTC)).timestamp()
    _make_event_months(url, anchor - options.days * DAY_S, anchor)
    seconds: dict[str, float] = {"migrate": time.perf_counter() - clock}

    clock = time.perf_counter()
    towns, homes, owners = _place_owners(options, rng, progress)
    cameras = _place_cameras(rng, homes, owners, options.cameras)
    seconds["place"] = time.perf_counter() - clock

    loader = open_loader(url)
    try:
        seconds |= _load_tables(loader, rng, options, homes, cameras, anchor, progress)
    finally:
        loader.close()
    _name_event_indexes(url)

    sizes = np.bincount(homes.town, minlength=len(towns))
    largest = [
        f"{towns[i].name}, {towns[i].state} ({sizes[i]:,} owners)" for i in np.argsort(-sizes)[:5]
    ]
    return GenerateSummary(
        database=loader.dialect,
        seed=options.seed,
        towns=len(towns),
        largest_towns=largest,
        owners=owners,
        cameras=options.cameras,
        events=options.events,
        posts=options.posts,
        window_start=datetime.fromtimestamp(anchor - options.days * DAY_S, UTC),
        window_end=datetime.fromtimestamp(anchor, UTC),
        seconds={k: round(v, 2) for k, v in seconds.items()},
    )
