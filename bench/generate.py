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
import secrets
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

import numpy as np
from h3.api import basic_int as h3_int

from bench import country
from bench.load import BulkLoader, Row, open_loader
from doorstep import geo
from doorstep.cameras.models import CameraKind, EventKind
from doorstep.feed.models import Category
from doorstep.migrate import upgrade
from doorstep.security import hash_password

DAY_S = 86_400.0
ROWS_PER_BATCH = 200_000
FEED_RADIUS_M = 1_609.344  # one mile, the feed's default
EVENT_KINDS = (
    (EventKind.motion, 0.55),
    (EventKind.person, 0.20),
    (EventKind.vehicle, 0.12),
    (EventKind.package, 0.03),
    (EventKind.ding, 0.05),
    (EventKind.other, 0.05),
)
POST_TITLES = {
    Category.crime: "Car broken into overnight",
    Category.safety: "Streetlight out at the corner",
    Category.unexpected_activity: "Someone trying door handles",
    Category.lost_found_pet: "Found a grey cat",
    Category.community: "Block party on Saturday",
}


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


class Progress:
    """Progress lines on stderr, at most one a second per table."""

    def __init__(self, stream: TextIO | None = None, every_s: float = 1.0) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.every_s = every_s
        self.label, self.total, self.done, self.started, self.shown = "", 0, 0, 0.0, 0.0

    def start(self, label: str, total: int) -> None:
        self.label, self.total, self.done = label, total, 0
        self.started = self.shown = time.perf_counter()

    def advance(self, rows: int) -> None:
        self.done += rows
        now = time.perf_counter()
        if now - self.shown >= self.every_s or self.done >= self.total:
            self.shown = now
            elapsed = max(now - self.started, 1e-9)
            share = self.done / self.total if self.total else 1.0
            print(
                f"{self.label}: {self.done:,}/{self.total:,} ({share:.0%}),"
                f" {self.done / elapsed:,.0f} rows/s, {elapsed:.0f} s",
                file=self.stream,
                flush=True,
            )

    def note(self, message: str) -> None:
        print(message, file=self.stream, flush=True)


def random_ids(rng: np.random.Generator, count: int) -> list[str]:
    """Random (version 4) UUIDs as 32 hex digits, the text both databases accept."""
    raw = rng.integers(0, 256, size=(count, 16), dtype=np.uint8)
    raw[:, 6] = (raw[:, 6] & 0x0F) | 0x40
    raw[:, 8] = (raw[:, 8] & 0x3F) | 0x80
    digits = raw.tobytes().hex()
    return [digits[i : i + 32] for i in range(0, 32 * count, 32)]


def _weighted(rng: np.random.Generator, choices: Sequence[tuple[str, float]], n: int) -> list[str]:
    names = [str(c[0]) for c in choices]
    weights = np.array([c[1] for c in choices])
    return [names[i] for i in rng.choice(len(names), size=n, p=weights / weights.sum())]


def _batches(total: int, size: int = ROWS_PER_BATCH) -> list[tuple[int, int]]:
    return [(i, min(i + size, total)) for i in range(0, total, size)]


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
    window_start = anchor - options.days * DAY_S
    seconds: dict[str, float] = {"migrate": time.perf_counter() - clock}

    # --- where people live
    clock = time.perf_counter()
    owners = max(1, math.ceil(options.cameras / (1 + options.second_camera_share)))
    second = options.cameras - owners
    towns = country.choose_towns(
        country.load_towns(country.find_towns_file(options.towns_path)),
        homes=math.ceil(owners / options.camera_share),
        rng=rng,
    )
    homes = country.place_homes(towns, owners, rng)
    progress.note(f"{len(towns):,} towns, {owners:,} owners, {options.cameras:,} cameras")

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
    seconds["place"] = time.perf_counter() - clock

    clock = time.perf_counter()
    loader = open_loader(url)
    try:
        owner_ids = random_ids(rng, owners)
        home_coarse = _load_owners(loader, rng, homes, owner_ids, anchor, progress)
        camera_ids = random_ids(rng, options.cameras)
        seconds["owners"] = time.perf_counter() - clock
        clock = time.perf_counter()
        _load_cameras(
            loader,
            rng,
            options,
            camera_ids,
            [owner_ids[i] for i in camera_owner],
            cam_lat,
            cam_lon,
            anchor,
            progress,
        )
        seconds["cameras"] = time.perf_counter() - clock
        clock = time.perf_counter()
        with loader.without_secondary_indexes("motion_events"):
            _load_events(
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
        _load_posts(
            loader, rng, options, owner_ids, home_coarse, homes.longitude, window_start, progress
        )
        seconds["posts"] = time.perf_counter() - clock
        clock = time.perf_counter()
        progress.note("analyzing")
        loader.analyze(["users", "feed_homes", "cameras", "motion_events", "feed_posts"])
        seconds["analyze"] = time.perf_counter() - clock
    finally:
        loader.close()

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
        window_start=datetime.fromtimestamp(window_start, UTC),
        window_end=datetime.fromtimestamp(anchor, UTC),
        seconds={k: round(v, 2) for k, v in seconds.items()},
    )


def _load_owners(
    loader: BulkLoader,
    rng: np.random.Generator,
    homes: country.Homes,
    owner_ids: list[str],
    anchor: float,
    progress: Progress,
) -> list[int]:
    # One argon2 hash for every owner: argon2 is slow by design (tens of milliseconds),
    # so a hash per row would take hours at a million owners and dominate the load. Its
    # password is random and thrown away: no generated owner can sign in.
    password_hash = hash_password(secrets.token_urlsafe(24))
    count = len(owner_ids)
    joined = loader.timestamps(anchor - rng.uniform(60, 400, count) * DAY_S)
    home_coarse = [
        h3_int.latlng_to_cell(lat, lon, geo.COARSE_RESOLUTION)
        for lat, lon in zip(homes.latitude.tolist(), homes.longitude.tolist(), strict=True)
    ]
    progress.start("users + feed_homes", count)
    for lo, hi in _batches(count):
        users: list[Row] = [
            (
                owner_ids[i],
                f"owner-{owner_ids[i]}@bench.invalid",
                f"Owner {i + 1}",
                password_hash,
                "resident",
                None,
                loader.false,
                None,
                loader.true,
                joined[i],
            )
            for i in range(lo, hi)
        ]
        loader.load(
            "users",
            (
                "id",
                "email",
                "display_name",
                "password_hash",
                "role",
                "totp_secret",
                "totp_enabled",
                "totp_last_step",
                "is_active",
                "created_at",
            ),
            users,
        )
        feed_homes: list[Row] = [
            (
                owner_ids[i],
                repr(float(homes.latitude[i])),
                repr(float(homes.longitude[i])),
                str(home_coarse[i]),
                repr(FEED_RADIUS_M),
                "[]",
                None,
                None,
                joined[i],
            )
            for i in range(lo, hi)
        ]
        loader.load(
            "feed_homes",
            (
                "user_id",
                "exact_latitude",
                "exact_longitude",
                "coarse_cell",
                "radius_m",
                "alert_categories",
                "last_alert_at",
                "digest_due_at",
                "updated_at",
            ),
            feed_homes,
        )
        progress.advance(hi - lo)
    return home_coarse


def _load_cameras(
    loader: BulkLoader,
    rng: np.random.Generator,
    options: GenerateOptions,
    camera_ids: list[str],
    camera_owner_ids: list[str],
    latitude: country.FloatArray,
    longitude: country.FloatArray,
    anchor: float,
    progress: Progress,
) -> None:
    count = len(camera_ids)
    kinds = _weighted(
        rng,
        ((CameraKind.doorbell, 0.5), (CameraKind.floodlight, 0.3), (CameraKind.other, 0.2)),
        count,
    )
    accepts = rng.random(count) < options.accepts_requests_share
    created = loader.timestamps(anchor - rng.uniform(40, 365, count) * DAY_S)
    lat, lon = latitude.tolist(), longitude.tolist()
    progress.start("cameras", count)
    for lo, hi in _batches(count):
        rows: list[Row] = []
        for i in range(lo, hi):
            cell = h3_int.latlng_to_cell(lat[i], lon[i], geo.INDEX_RESOLUTION)
            rows.append(
                (
                    camera_ids[i],
                    camera_owner_ids[i],
                    f"{kinds[i].title()} camera",
                    kinds[i],
                    repr(lat[i]),
                    repr(lon[i]),
                    str(cell),
                    str(h3_int.cell_to_parent(cell, geo.COARSE_RESOLUTION)),
                    loader.true if accepts[i] else loader.false,
                    "60",
                    None,
                    None,
                    None,
                    created[i],
                )
            )
        loader.load(
            "cameras",
            (
                "id",
                "owner_id",
                "name",
                "kind",
                "exact_latitude",
                "exact_longitude",
                "index_cell",
                "coarse_cell",
                "accepts_requests",
                "retention_days",
                "token_hash",
                "token_prefix",
                "token_created_at",
                "created_at",
            ),
            rows,
        )
        progress.advance(hi - lo)


def _load_events(
    loader: BulkLoader,
    rng: np.random.Generator,
    options: GenerateOptions,
    camera_ids: list[str],
    camera_owner: country.IntArray,
    owner_ids: list[str],
    camera_lon: country.FloatArray,
    window_start: float,
    progress: Progress,
) -> None:
    cameras = len(camera_ids)
    # Some cameras face a busy street, some a quiet garden: a log-normal spread of activity.
    activity = rng.lognormal(0.0, 1.0, cameras)
    remaining = rng.multinomial(options.events, activity / activity.sum())
    columns = (
        "id",
        "camera_id",
        "owner_id",
        "kind",
        "started_at",
        "ended_at",
        "on_device",
        "device_ref",
        "clip_id",
        "created_at",
    )
    progress.start("motion_events", options.events)
    for day in range(options.days):
        # Split each camera's events over the days left, so every day gets its share.
        today = rng.binomial(remaining, 1.0 / (options.days - day))
        remaining -= today
        camera = np.repeat(np.arange(cameras), today)
        started = country.event_times(rng, camera_lon[camera], window_start + day * DAY_S)
        order = np.argsort(started, kind="stable")
        camera, started = camera[order], started[order]
        for lo, hi in _batches(camera.size):
            n = hi - lo
            kinds = _weighted(rng, EVENT_KINDS, n)
            duration = np.minimum(4.0 + rng.lognormal(math.log(20.0), 0.8, n), 300.0)
            # A doorbell ring is an instant: ended_at == started_at.
            duration[np.array([k == EventKind.ding for k in kinds])] = 0.0
            start = started[lo:hi]
            start_text = loader.timestamps(start)
            end_text = loader.timestamps(start + duration)
            created = loader.timestamps(start + duration + rng.uniform(1.0, 30.0, n))
            on_device = rng.random(n) < options.on_device_share
            ids = random_ids(rng, n)
            cams = camera[lo:hi].tolist()
            rows: list[Row] = [
                (
                    ids[j],
                    camera_ids[c],
                    owner_ids[camera_owner[c]],
                    kinds[j],
                    start_text[j],
                    end_text[j],
                    loader.true if on_device[j] else loader.false,
                    None,
                    None,
                    created[j],
                )
                for j, c in enumerate(cams)
            ]
            loader.load("motion_events", columns, rows)
            progress.advance(n)


def _load_posts(
    loader: BulkLoader,
    rng: np.random.Generator,
    options: GenerateOptions,
    owner_ids: list[str],
    home_coarse: list[int],
    home_lon: country.FloatArray,
    window_start: float,
    progress: Progress,
) -> None:
    count = options.posts
    if count == 0:
        return
    columns = (
        "id",
        "author_id",
        "agency_id",
        "category",
        "title",
        "body",
        "person",
        "coarse_cell",
        "clip_id",
        "footage_request_id",
        "status",
        "status_reason",
        "created_at",
        "published_at",
        "edited_at",
    )
    categories = list(POST_TITLES)
    progress.start("feed_posts", count)
    for lo, hi in _batches(count):
        n = hi - lo
        author = rng.integers(0, len(owner_ids), n)
        day = rng.integers(0, options.days, n)
        published = _post_times(rng, home_lon[author], window_start, day)
        published_text = loader.timestamps(published)
        created_text = loader.timestamps(published - rng.uniform(0.0, 60.0, n))
        category = rng.integers(0, len(categories), n).tolist()
        ids = random_ids(rng, n)
        rows: list[Row] = []
        for j, a in enumerate(author.tolist()):
            kind = categories[category[j]]
            rows.append(
                (
                    ids[j],
                    owner_ids[a],
                    None,
                    kind.value,
                    POST_TITLES[kind],
                    f"{POST_TITLES[kind]}. Posted by a neighbor (synthetic data).",
                    None,
                    str(home_coarse[a]),
                    None,
                    None,
                    "published",
                    None,
                    created_text[j],
                    published_text[j],
                    None,
                )
            )
        loader.load("feed_posts", columns, rows)
        progress.advance(n)


def _post_times(
    rng: np.random.Generator,
    longitude: country.FloatArray,
    window_start: float,
    day: country.IntArray,
) -> country.FloatArray:
    """Posts follow the same daily rhythm as motion, on the given day of the window."""
    first_day = country.event_times(rng, longitude, window_start)
    result: country.FloatArray = first_day + day * DAY_S
    return result
