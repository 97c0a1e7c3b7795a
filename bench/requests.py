"""Random footage requests for the targeting benchmark, and the answer's shape."""

from __future__ import annotations

import math
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
from shapely.geometry import Polygon
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from doorstep import geo
from doorstep.cameras.models import Camera, MotionEvent

METRES_PER_DEG_LAT = 111_320.0
MAX_EVENT_S = 600.0  # target_owners' default (Settings.max_clip_duration_s)
# What both contestants answer: (owner id, his qualifying camera ids sorted), by owner.
OwnerList = list[tuple[uuid.UUID, tuple[uuid.UUID, ...]]]


@dataclass(frozen=True)
class TargetingRequest:
    shape: str  # "circle" or "square"
    area: Polygon
    area_sq_mi: float
    window_start: datetime
    window_end: datetime


def _square(latitude: float, longitude: float, side_m: float) -> Polygon:
    half_lat = side_m / 2 / METRES_PER_DEG_LAT
    half_lon = side_m / 2 / (METRES_PER_DEG_LAT * math.cos(math.radians(latitude)))
    return Polygon(
        [
            (longitude - half_lon, latitude - half_lat),
            (longitude + half_lon, latitude - half_lat),
            (longitude + half_lon, latitude + half_lat),
            (longitude - half_lon, latitude + half_lat),
        ]
    )


def random_requests(
    *,
    rng: np.random.Generator,
    homes: Sequence[tuple[float, float]],
    count: int,
    span_start: datetime,
    span_end: datetime,
    area_sq_mi: tuple[float, float] = (0.1, 0.5),
    window_h: tuple[float, float] = (1.0, 12.0),
) -> list[TargetingRequest]:
    """``count`` requests around random ``homes`` (lat, lon), windows inside the span."""
    requests = []
    span_s = (span_end - span_start).total_seconds()
    for _ in range(count):
        latitude, longitude = homes[int(rng.integers(0, len(homes)))]
        target_m2 = float(rng.uniform(*area_sq_mi)) * geo.SQ_M_PER_SQ_MILE
        if rng.random() < 0.5:
            shape = "circle"
            area = geo.circle(latitude, longitude, math.sqrt(target_m2 / math.pi), segments=64)
        else:
            shape = "square"
            area = _square(latitude, longitude, math.sqrt(target_m2))
        hours = float(rng.uniform(*window_h))
        start = span_start + timedelta(seconds=float(rng.uniform(0, span_s - hours * 3600)))
        requests.append(
            TargetingRequest(
                shape=shape,
                area=area,
                area_sq_mi=geo.area_m2(area) / geo.SQ_M_PER_SQ_MILE,
                window_start=start,
                window_end=start + timedelta(hours=hours),
            )
        )
    return requests


def camera_homes_and_span(
    session: Session,
) -> tuple[list[tuple[float, float]], tuple[datetime, datetime]]:
    """Every camera's (lat, lon), in id order, and the events' (first, last) start; a
    database without cameras or events is refused (``ValueError``)."""
    first, last = session.execute(
        select(func.min(MotionEvent.started_at), func.max(MotionEvent.started_at))
    ).one()
    homes = [
        (float(lat), float(lon))
        for lat, lon in session.execute(
            select(Camera.exact_latitude, Camera.exact_longitude).order_by(Camera.id)
        )
    ]
    if not homes or first is None or last is None:
        raise ValueError("the database has no cameras or no events: run `bench generate` first")
    return homes, (first, last)
