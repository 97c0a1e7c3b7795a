"""Targeting at scale: target_owners against a PostGIS baseline, in one run.

    .venv/bin/python -m bench generate --db URL --cameras 100000 --events 2000000
    .venv/bin/python -m bench.targeting --db URL [--requests 1000] [--seed 7]

Times 1,000 random requests (circles and squares of 0.1-0.5 sq mi around random homes,
windows of 1-12 h in the data's last 30 days) from the request's input to the owner
list, with the PostGIS baseline (GiST on the camera points) timed on the same data in
the same run, and checks both give the same owners. Writes
bench/results/targeting-<UTC timestamp>.json and prints a summary. Method and numbers:
BENCHMARKS.md. Without PostGIS on the server the baseline is reported as missing.

For random requests (circles and squares of 0.1 to 0.5 square miles around random
camera homes, windows of 1 to 12 hours inside the data's event span) it times the path
from an activated request's input (area, window) to the list of owners to notify:

- ``h3``: :func:`doorstep.footage.targeting.target_owners`, as the product runs it.
- ``postgis`` (PostgreSQL with the extension only): a copy of the camera points in a
  ``geometry(Point, 4326)`` column with a GiST index, ``ST_Covers`` (the edge counts as
  inside, as in targeting; ``ST_Within`` would drop points on the edge) plus
  ``accepts_requests`` and an ``EXISTS`` on the window's events through the same
  ``(camera_id, started_at)`` index, grouped into the same owner list.

Both run in the same process, in alternating order, on warm caches, each inside an
open read transaction (connection checkout is not timed). Every request's two answers
are compared. Where PostGIS is missing, the result says so and carries no ratio.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import shapely
from sqlalchemy import func, select, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.orm import Session

from bench import databases, output
from bench.machine import machine
from bench.postgis import BASELINE_QUERY, postgis_owners, setup_postgis
from bench.requests import (
    MAX_EVENT_S,
    OwnerList,
    TargetingRequest,
    camera_homes_and_span,
    random_requests,
)
from doorstep.cameras.models import Camera, MotionEvent
from doorstep.db import make_engine
from doorstep.footage.targeting import (
    area_cells,
    cameras_in_cells,
    cameras_with_footage,
    target_owners,
)

__all__ = [
    "OwnerList",
    "TargetingRequest",
    "h3_owners",
    "postgis_owners",
    "random_requests",
    "run",
    "summary",
    "write_results",
]


# ---------------------------------------------------------------- the two answers


def h3_owners(session: Session, request: TargetingRequest) -> OwnerList:
    return [
        (owner.owner_id, owner.camera_ids)
        for owner in target_owners(
            session=session,
            area=request.area,
            window_start=request.window_start,
            window_end=request.window_end,
            max_event_s=MAX_EVENT_S,
        )
    ]


# ---------------------------------------------------------------- measuring


def _timed(
    engine: Engine,
    answer: Callable[[Session, TargetingRequest], OwnerList],
    request: TargetingRequest,
) -> tuple[float, OwnerList]:
    with Session(engine) as session:
        session.connection()  # checkout and BEGIN happen before the clock starts
        started = time.perf_counter()
        owners = answer(session, request)
        elapsed = time.perf_counter() - started
        session.rollback()
    return elapsed, owners


def _explain(session: Session, request: TargetingRequest) -> dict[str, list[str]]:
    """The PostgreSQL plans of both contestants' queries for one request, run for real
    (ANALYZE). The H3 path runs two: the cameras in the cells, then the event probes for
    the cameras inside the area."""
    interior, boundary = area_cells(request.area)
    dialect = session.get_bind().dialect
    connection = session.connection()

    def explain(statement: Any) -> list[str]:
        sql = statement.compile(dialect=dialect, compile_kwargs={"literal_binds": True})
        plan = connection.exec_driver_sql(f"EXPLAIN (ANALYZE, BUFFERS) {sql}").scalars()
        return [str(line) for line in plan]

    inside = [
        row[0]
        for row in session.execute(cameras_in_cells(cells=interior | boundary))
        if request.area.covers(shapely.Point(row[3], row[4]))
    ]
    plans = {
        "h3_cells": explain(cameras_in_cells(cells=interior | boundary)),
        "h3_footage": explain(
            cameras_with_footage(
                camera_ids=inside,
                window_start=request.window_start,
                window_end=request.window_end,
                max_event_s=MAX_EVENT_S,
            )
        ),
    }
    postgis_plan = session.execute(
        text("EXPLAIN (ANALYZE, BUFFERS) " + str(BASELINE_QUERY.text)),
        {
            "area": shapely.to_wkb(request.area),
            "earliest_start": request.window_start - timedelta(seconds=MAX_EVENT_S),
            "window_start": request.window_start,
            "window_end": request.window_end,
        },
    ).scalars()
    plans["postgis"] = [str(line) for line in postgis_plan]
    return plans


@output.warnings_only
def run(
    *,
    url: str,
    requests: int = 1_000,
    seed: int = 7,
    warmup: int = 50,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Run the targeting benchmark on the database at ``url``; returns the results."""
    say = progress or (lambda message: print(message, file=sys.stderr, flush=True))
    engine = make_engine(url)
    try:
        return _measure(
            engine=engine, url=url, requests=requests, seed=seed, warmup=warmup, say=say
        )
    finally:
        engine.dispose()


def _database_facts(
    engine: Engine, url: str
) -> tuple[dict[str, Any], list[tuple[float, float]], tuple[datetime, datetime]]:
    """What the database holds, its camera homes and the events' span."""
    with Session(engine) as session:
        cameras = session.scalar(select(func.count()).select_from(Camera)) or 0
        accepting = (
            session.scalar(
                select(func.count()).select_from(Camera).where(Camera.accepts_requests.is_(True))
            )
            or 0
        )
        events = session.scalar(select(func.count()).select_from(MotionEvent)) or 0
        homes, span = camera_homes_and_span(session)
        server = databases.server_version(session)
    facts = {
        "dialect": engine.dialect.name,
        "server_version": server,
        "url": make_url(url).render_as_string(hide_password=True),
        "cameras": cameras,
        "cameras_accepting_requests": accepting,
        "motion_events": events,
        "events_from": span[0].isoformat(timespec="seconds"),
        "events_until": span[1].isoformat(timespec="seconds"),
    }
    return facts, homes, span


@dataclass
class _Timings:
    """Seconds per request of each contestant and of the area's cells, the owners found,
    and the requests where the two disagreed."""

    h3_s: list[float] = field(default_factory=list)
    postgis_s: list[float] = field(default_factory=list)
    cells_s: list[float] = field(default_factory=list)
    owners_found: list[int] = field(default_factory=list)
    mismatches: list[dict[str, Any]] = field(default_factory=list)


def _mismatch(
    i: int, request: TargetingRequest, h3: OwnerList, postgis: OwnerList
) -> dict[str, Any]:
    h3_set = {o for o, _ in h3}
    pg_set = {o for o, _ in postgis}
    return {
        "request": i,
        "shape": request.shape,
        "only_h3": len(h3_set - pg_set),
        "only_postgis": len(pg_set - h3_set),
        "same_owners_other_cameras": h3_set == pg_set,
    }


def _time_requests(
    engine: Engine,
    measured: Sequence[TargetingRequest],
    baseline: bool,
    say: Callable[[str], None],
) -> _Timings:
    """Both contestants on every request, in alternating order; their answers compared."""
    timings = _Timings()
    for i, request in enumerate(measured):
        started = time.perf_counter()
        area_cells(request.area)
        timings.cells_s.append(time.perf_counter() - started)
        order = [h3_owners, postgis_owners] if baseline else [h3_owners]
        if i % 2:
            order.reverse()
        answers: dict[str, OwnerList] = {}
        for answer in order:
            elapsed, owners = _timed(engine, answer, request)
            (timings.h3_s if answer is h3_owners else timings.postgis_s).append(elapsed)
            answers["h3" if answer is h3_owners else "postgis"] = owners
        timings.owners_found.append(len(answers["h3"]))
        if "postgis" in answers and answers["postgis"] != answers["h3"]:
            timings.mismatches.append(_mismatch(i, request, answers["h3"], answers["postgis"]))
        if (i + 1) % 200 == 0:
            say(f"  {i + 1:,}/{len(measured):,}")
    return timings


def _request_facts(
    measured: Sequence[TargetingRequest], warmup: int, seed: int, owners_found: Sequence[int]
) -> dict[str, Any]:
    """The requests timed: shapes, areas, windows, owners found."""
    requests = len(measured)
    areas = [r.area_sq_mi for r in measured]
    hours = [(r.window_end - r.window_start).total_seconds() / 3600 for r in measured]
    return {
        "count": requests,
        "warmup": warmup,
        "seed": seed,
        "circles": sum(r.shape == "circle" for r in measured),
        "squares": sum(r.shape == "square" for r in measured),
        "area_sq_mi": [round(min(areas), 3), round(max(areas), 3)],
        "window_h": [round(min(hours), 2), round(max(hours), 2)],
        "owners_per_request": {
            "p50": statistics.median(owners_found),
            "p99": float(np.percentile(owners_found, 99)),
            "max": max(owners_found),
            "none_share": round(sum(n == 0 for n in owners_found) / requests, 3),
        },
    }


def _compare(results: dict[str, Any], timings: _Timings, baseline: bool) -> None:
    """Into ``results``: both contestants' percentiles, their ratio, their agreement."""
    results["h3"] = output.percentiles(timings.h3_s) | {
        "area_cells_p50_ms": output.percentiles(timings.cells_s)["p50_ms"]
    }
    if not baseline:
        results["ratio_h3_to_postgis"] = None
        results["agreement"] = None
        return
    results["postgis"] |= output.percentiles(timings.postgis_s)
    results["ratio_h3_to_postgis"] = {
        key: round(results["h3"][f"{key}_ms"] / results["postgis"][f"{key}_ms"], 2)
        for key in ("p50", "p90", "p99")
    }
    compared = len(timings.owners_found)
    results["agreement"] = {
        "compared": compared,
        "identical": compared - len(timings.mismatches),
        "mismatches": timings.mismatches[:20],
    }


def _measure(
    *,
    engine: Engine,
    url: str,
    requests: int,
    seed: int,
    warmup: int,
    say: Callable[[str], None],
) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    results: dict[str, Any] = {
        "benchmark": "targeting",
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
    }
    results["database"], homes, (span_start, span_end) = _database_facts(engine, url)
    cameras, events = results["database"]["cameras"], results["database"]["motion_events"]
    server = results["database"]["server_version"]
    say(f"{cameras:,} cameras, {events:,} events ({engine.dialect.name} {server})")

    say("setting up the PostGIS baseline")
    baseline = setup_postgis(engine)
    results["postgis"] = baseline
    if not baseline["available"]:
        say(f"PostGIS baseline NOT measured: {baseline['reason']}")

    plan = random_requests(
        rng=rng, homes=homes, count=warmup + requests, span_start=span_start, span_end=span_end
    )
    warm, measured = plan[:warmup], plan[warmup:]
    for request in warm:
        _timed(engine, h3_owners, request)
        if baseline["available"]:
            _timed(engine, postgis_owners, request)

    say(f"timing {requests:,} requests")
    timings = _time_requests(engine, measured, baseline["available"], say)
    results["requests"] = _request_facts(measured, warmup, seed, timings.owners_found)
    _compare(results, timings, baseline["available"])
    results["goals"] = {
        "p99_under_20ms": results["h3"]["p99_ms"] < 20.0,
        "no_slower_than_postgis_p99": (
            results["h3"]["p99_ms"] <= results["postgis"]["p99_ms"]
            if baseline["available"]
            else None
        ),
        "scale": f"measured at {cameras:,} cameras and {events:,} events;"
        " the issue's goal is stated at 1,000,000 cameras and 100,000,000 events",
    }
    if baseline["available"]:
        median = sorted(measured, key=lambda r: r.area_sq_mi)[len(measured) // 2]
        with Session(engine) as session:
            results["plans"] = _explain(session, median)
    return results


def write_results(results: dict[str, Any], folder: Path) -> Path:
    return output.write_results("targeting", results, folder)


def summary(results: dict[str, Any]) -> str:
    h3 = results["h3"]
    lines = [
        f"h3 (target_owners): p50 {h3['p50_ms']} ms, p99 {h3['p99_ms']} ms",
    ]
    if results["postgis"]["available"]:
        pg, ratio, agree = results["postgis"], results["ratio_h3_to_postgis"], results["agreement"]
        lines.append(f"postgis baseline:   p50 {pg['p50_ms']} ms, p99 {pg['p99_ms']} ms")
        lines.append(f"ratio h3/postgis:   p50 {ratio['p50']}x, p99 {ratio['p99']}x")
        lines.append(f"same owners:        {agree['identical']}/{agree['compared']} requests")
    else:
        lines.append(f"postgis baseline:   NOT MEASURED ({results['postgis']['reason']})")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--db",
        default=os.environ.get("DOORSTEP_BENCH_DB"),
        help="SQLAlchemy URL (or DOORSTEP_BENCH_DB)",
    )
    parser.add_argument("--requests", type=int, default=1_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--warmup", type=int, default=50)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    args = parser.parse_args()
    if not args.db:
        parser.error("--db URL is required (or set DOORSTEP_BENCH_DB)")
    results = run(url=args.db, requests=args.requests, seed=args.seed, warmup=args.warmup)
    path = write_results(results, args.out)
    print(summary(results))
    print(f"results: {path}")


if __name__ == "__main__":
    main()
