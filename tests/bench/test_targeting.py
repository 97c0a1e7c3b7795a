"""The targeting benchmark's H3 side on a tiny country, against a brute-force oracle.

The PostGIS side is compared in the benchmark run itself (every request, both answers);
the suite stays runnable without PostGIS.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
from shapely.geometry import Point
from sqlalchemy import select

from bench import targeting as bench
from bench.generate import GenerateOptions, generate
from bench.progress import Progress
from doorstep.cameras.models import Camera, MotionEvent
from doorstep.db import Database

ANCHOR = datetime(2026, 11, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def tiny_country(tmp_path_factory: pytest.TempPathFactory, towns_file: Path) -> str:
    folder = tmp_path_factory.mktemp("bench")
    url = f"sqlite:///{folder / 'tiny.db'}"
    with open(folder / "progress.txt", "w") as stream:
        generate(
            url=url,
            options=GenerateOptions(cameras=400, events=40_000, posts=0, seed=11, anchor=ANCHOR),
            progress=Progress(stream=stream),
        )
    return url


def oracle(
    cameras: list[Camera],
    events: dict[uuid.UUID, list[MotionEvent]],
    request: bench.TargetingRequest,
) -> bench.OwnerList:
    found: dict[uuid.UUID, list[uuid.UUID]] = defaultdict(list)
    for camera in cameras:
        if not camera.accepts_requests:
            continue
        if not request.area.covers(Point(camera.exact_longitude, camera.exact_latitude)):
            continue
        if any(
            e.on_device
            and e.clip_id is None
            and e.started_at < request.window_end
            and (e.ended_at > request.window_start or e.started_at == request.window_start)
            for e in events[camera.id]
        ):
            found[camera.owner_id].append(camera.id)
    return [(owner, tuple(sorted(ids))) for owner, ids in sorted(found.items())]


def test_h3_answers_match_the_oracle(tiny_country: str) -> None:
    database = Database(tiny_country)
    with database.transaction() as session:
        cameras = list(session.scalars(select(Camera)))
        events: dict[uuid.UUID, list[MotionEvent]] = defaultdict(list)
        for event in session.scalars(select(MotionEvent)):
            events[event.camera_id].append(event)
        span = [min(e.started_at for es in events.values() for e in es), ANCHOR]
        requests = bench.random_requests(
            rng=np.random.default_rng(1),
            homes=[(c.exact_latitude, c.exact_longitude) for c in cameras],
            count=60,
            span_start=span[0],
            span_end=span[1],
        )
        reached = 0
        for request in requests:
            assert 0.09 < request.area_sq_mi < 0.51
            answer = bench.h3_owners(session, request)
            assert answer == oracle(cameras, events, request)
            reached += bool(answer)
        assert reached > 20  # the requests land where the cameras are
    database.dispose()


def test_run_without_postgis_says_so(tiny_country: str, tmp_path: Path) -> None:
    messages: list[str] = []
    results = bench.run(url=tiny_country, requests=40, warmup=2, progress=messages.append)
    assert results["postgis"]["available"] is False
    assert "PostGIS" in results["postgis"]["reason"]
    assert results["ratio_h3_to_postgis"] is None
    assert any("NOT measured" in m for m in messages)
    assert "NOT MEASURED" in bench.summary(results)
    assert results["h3"]["p50_ms"] <= results["h3"]["p99_ms"]
    assert results["requests"]["count"] == 40
    path = bench.write_results(results, tmp_path)
    assert path.name.startswith("targeting-") and path.suffix == ".json"
