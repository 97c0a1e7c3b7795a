"""The synthetic country's rows, table by table: owners and their feed homes, cameras,
motion events (day by day, in time order), feed posts; written in batches through the
database's bulk path (:mod:`bench.load`)."""

from __future__ import annotations

import math
import secrets
from collections.abc import Sequence
from typing import Protocol

import numpy as np
from h3.api import basic_int as h3_int

from bench import country
from bench.load import BulkLoader, Row
from bench.progress import Progress
from doorstep import geo
from doorstep.cameras.models import CameraKind
from doorstep.feed.models import Category
from doorstep.media.kinds import EventKind
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

USER_COLUMNS = (
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
)

HOME_COLUMNS = (
    "user_id",
    "exact_latitude",
    "exact_longitude",
    "coarse_cell",
    "radius_m",
    "alert_categories",
    "last_alert_at",
    "digest_due_at",
    "updated_at",
)

CAMERA_COLUMNS = (
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
)

EVENT_COLUMNS = (
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

POST_COLUMNS = (
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


class Sizes(Protocol):
    """What the loaders read of the generator's options."""

    @property
    def events(self) -> int: ...
    @property
    def posts(self) -> int: ...
    @property
    def days(self) -> int: ...
    @property
    def accepts_requests_share(self) -> float: ...
    @property
    def on_device_share(self) -> float: ...


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


def _unusable_password_hash() -> str:
    """One argon2 hash for every owner: argon2 is slow by design (tens of milliseconds),
    so a hash per row would take hours at a million owners and dominate the load. Its
    password is random and thrown away: no generated owner can sign in."""
    return hash_password(secrets.token_urlsafe(24))


def load_owners(
    loader: BulkLoader,
    rng: np.random.Generator,
    homes: country.Homes,
    owner_ids: list[str],
    anchor: float,
    progress: Progress,
) -> list[int]:
    password_hash = _unusable_password_hash()
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
            USER_COLUMNS,
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
            HOME_COLUMNS,
            feed_homes,
        )
        progress.advance(hi - lo)
    return home_coarse


def load_cameras(
    loader: BulkLoader,
    rng: np.random.Generator,
    options: Sizes,
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
            CAMERA_COLUMNS,
            rows,
        )
        progress.advance(hi - lo)


def load_events(
    loader: BulkLoader,
    rng: np.random.Generator,
    options: Sizes,
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
            loader.load("motion_events", EVENT_COLUMNS, rows)
            progress.advance(n)


def load_posts(
    loader: BulkLoader,
    rng: np.random.Generator,
    options: Sizes,
    owner_ids: list[str],
    home_coarse: list[int],
    home_lon: country.FloatArray,
    window_start: float,
    progress: Progress,
) -> None:
    count = options.posts
    if count == 0:
        return
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
        loader.load("feed_posts", POST_COLUMNS, rows)
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
