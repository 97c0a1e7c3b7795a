"""Targeting at scale: target_owners against a PostGIS baseline, in one run.

    .venv/bin/python -m bench generate --db URL --cameras 100000 --events 2000000
    .venv/bin/python -m bench.targeting --db URL [--requests 1000] [--seed 7] [--rounds 3]

Times 1,000 random requests (circles and squares of 0.1-0.5 sq mi around random homes,
windows of 1-12 h in the data's last 30 days) from the request's input to the owner
list, with the PostGIS baseline (GiST on the camera points) timed on the same data in
the same run, and checks both give the same owners. Writes
bench/results/targeting-<UTC timestamp>.json and prints a summary. Method and numbers:
BENCHMARKS.md. Without PostGIS on the server the baseline is reported as missing.

For random requests (circles and squares of 0.1 to 0.5 square miles around random
camera homes, windows of 1 to 12 hours inside the data's event span) it times the path
from an activated request's input (area, window) to the list of owners to notify:

- ``h3``: :func:`doorstep.footage.targeting.target_owners` on its H3 path (what SQLite and
  PostgreSQL without PostGIS run).
- ``postgis_path``: ``target_owners`` on its PostGIS path (what PostgreSQL with PostGIS
  runs; migration 20261205_0012's index, which the setup builds where it is missing).
- ``postgis`` (PostgreSQL with the extension only): a copy of the camera points in a
  ``geometry(Point, 4326)`` column with a GiST index, ``ST_Covers`` (the edge counts as
  inside, as in targeting; ``ST_Within`` would drop points on the edge) plus
  ``accepts_requests`` and an ``EXISTS`` on the window's events through the same
  ``(camera_id, started_at)`` index, grouped into the same owner list.

All run in the same process, in rotating order, on warm caches, each inside an open
read transaction (connection checkout is not timed), over ``--rounds`` passes of the
same requests; the ratios to the baseline are given per round with min / median / max.
Every answer is compared with the H3 path's. Where PostGIS is missing, the result says
so and carries no ratio.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections import defaultdict
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
    TargetingMethod,
    area_cells,
    cameras_in_cells,
    cameras_with_footage,
    covered_cameras_with_footage,
    target_owners,
)
from doorstep.footage.targeting_postgis import has_position_index

__all__ = [
    "OwnerList",
    "TargetingRequest",
    "h3_owners",
    "postgis_owners",
    "postgis_path_owners",
    "random_requests",
    "run",
    "summary",
    "write_results",
]


# ---------------------------------------------------------------- the two answers


def _owners(session: Session, request: TargetingRequest, method: TargetingMethod) -> OwnerList:
    return [
        (owner.owner_id, owner.camera_ids)
        for owner in target_owners(
            session=session,
            area=request.area,
            window_start=request.window_start,
            window_end=request.window_end,
            max_event_s=MAX_EVENT_S,
            method=method,
        )
    ]


def h3_owners(session: Session, request: TargetingRequest) -> OwnerList:
    """``target_owners`` on its H3 path (cells, exact check in Python), on any database."""
    return _owners(session, request, "h3")


def postgis_path_owners(session: Session, request: TargetingRequest) -> OwnerList:
    """``target_owners`` on its PostGIS path (one statement), where the index is there."""
    return _owners(session, request, "postgis")


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
    if has_position_index(connection):
        statement = covered_cameras_with_footage(
            area=request.area,
            window_start=request.window_start,
            window_end=request.window_end,
            max_event_s=MAX_EVENT_S,
        )
        compiled = statement.compile(dialect=dialect)
        postgis_path_plan = connection.exec_driver_sql(
            f"EXPLAIN (ANALYZE, BUFFERS) {compiled}", compiled.construct_params()
        ).scalars()
        plans["postgis_path"] = [str(line) for line in postgis_path_plan]
    return plans


@output.warnings_only
def run(
    *,
    url: str,
    requests: int = 1_000,
    seed: int = 7,
    warmup: int = 50,
    rounds: int = 3,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Run the targeting benchmark on the database at ``url``; returns the results."""
    say = progress or (lambda message: print(message, file=sys.stderr, flush=True))
    engine = make_engine(url)
    try:
        return _measure(
            engine=engine,
            url=url,
            requests=requests,
            seed=seed,
            warmup=warmup,
            rounds=rounds,
            say=say,
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


Contestant = Callable[[Session, TargetingRequest], OwnerList]


@dataclass
class _Timings:
    """Seconds per request of each contestant (by name) and of the area's cells, the
    owners found, and the requests where a contestant disagreed with the H3 path."""

    seconds: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    cells_s: list[float] = field(default_factory=list)
    owners_found: list[int] = field(default_factory=list)
    mismatches: list[dict[str, Any]] = field(default_factory=list)


def _mismatch(
    i: int, request: TargetingRequest, name: str, h3: OwnerList, other: OwnerList
) -> dict[str, Any]:
    h3_set = {o for o, _ in h3}
    other_set = {o for o, _ in other}
    return {
        "request": i,
        "shape": request.shape,
        "contestant": name,
        "only_h3": len(h3_set - other_set),
        "only_other": len(other_set - h3_set),
        "same_owners_other_cameras": h3_set == other_set,
    }


def _time_requests(
    engine: Engine,
    measured: Sequence[TargetingRequest],
    contestants: dict[str, Contestant],
    say: Callable[[str], None],
) -> _Timings:
    """Every contestant on every request, the order rotating from one request to the
    next; each answer compared with the H3 path's."""
    timings = _Timings()
    names = list(contestants)
    for i, request in enumerate(measured):
        started = time.perf_counter()
        area_cells(request.area)
        timings.cells_s.append(time.perf_counter() - started)
        shift = i % len(names)
        answers: dict[str, OwnerList] = {}
        for name in names[shift:] + names[:shift]:
            elapsed, answers[name] = _timed(engine, contestants[name], request)
            timings.seconds[name].append(elapsed)
        timings.owners_found.append(len(answers["h3"]))
        timings.mismatches.extend(
            _mismatch(i, request, name, answers["h3"], owners)
            for name, owners in answers.items()
            if owners != answers["h3"]
        )
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


def _ratios(ms: dict[str, dict[str, float]], name: str) -> dict[str, float]:
    return {
        key: round(ms[name][f"{key}_ms"] / ms["postgis"][f"{key}_ms"], 2)
        for key in ("p50", "p90", "p99")
    }


def _spread(values: Sequence[float]) -> dict[str, float]:
    return {"min": min(values), "median": statistics.median(values), "max": max(values)}


def _compare(results: dict[str, Any], rounds: Sequence[_Timings], baseline: bool) -> None:
    """Into ``results``: each contestant's percentiles over all rounds, their ratios to the
    PostGIS baseline per round with min / median / max, and their agreement."""
    names = list(rounds[0].seconds)
    every = {name: [s for r in rounds for s in r.seconds[name]] for name in names}
    cells = [s for r in rounds for s in r.cells_s]
    results["h3"] = output.percentiles(every["h3"]) | {
        "area_cells_p50_ms": output.percentiles(cells)["p50_ms"]
    }
    if "postgis_path" in every:
        results["postgis_path"] = output.percentiles(every["postgis_path"])
    if not baseline:
        results["ratio_h3_to_postgis"] = None
        results["agreement"] = None
        return
    results["postgis"] |= output.percentiles(every["postgis"])
    per_round = [{name: output.percentiles(r.seconds[name]) for name in names} for r in rounds]
    results["rounds"] = [
        {name: {k: ms[name][k] for k in ("p50_ms", "p99_ms")} for name in names}
        | {f"ratio_{name}_to_postgis": _ratios(ms, name) for name in names if name != "postgis"}
        for ms in per_round
    ]
    for name in names:
        if name == "postgis":
            continue
        results[f"ratio_{name}_to_postgis"] = _ratios(
            {name: results[name], "postgis": results["postgis"]}, name
        )
        results[f"ratio_{name}_to_postgis_rounds"] = {
            key: _spread([_ratios(ms, name)[key] for ms in per_round]) for key in ("p50", "p99")
        }
    compared = sum(len(r.owners_found) for r in rounds)
    mismatches = [m for r in rounds for m in r.mismatches]
    results["agreement"] = {
        "compared": compared * (len(names) - 1),
        "identical": compared * (len(names) - 1) - len(mismatches),
        "mismatches": mismatches[:20],
    }


def _measure(
    *,
    engine: Engine,
    url: str,
    requests: int,
    seed: int,
    warmup: int,
    rounds: int,
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
    contestants: dict[str, Contestant] = {"h3": h3_owners}
    if baseline["available"]:
        with engine.connect() as conn:
            if has_position_index(conn):
                contestants["postgis_path"] = postgis_path_owners
        contestants["postgis"] = postgis_owners
    for request in warm:
        for answer in contestants.values():
            _timed(engine, answer, request)

    timed_rounds = []
    for round_number in range(1, rounds + 1):
        say(f"round {round_number}/{rounds}: timing {requests:,} requests")
        timed_rounds.append(_time_requests(engine, measured, contestants, say))
    results["requests"] = _request_facts(measured, warmup, seed, timed_rounds[0].owners_found) | {
        "rounds": rounds
    }
    _compare(results, timed_rounds, baseline["available"])
    best = "postgis_path" if "postgis_path" in results else "h3"
    results["goals"] = {
        "p99_under_20ms": results[best]["p99_ms"] < 20.0,
        "no_slower_than_postgis_p50_p99": (
            results[best]["p50_ms"] <= results["postgis"]["p50_ms"]
            and results[best]["p99_ms"] <= results["postgis"]["p99_ms"]
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
    lines = []
    for name, label in (("h3", "h3 path"), ("postgis_path", "postgis path")):
        if name in results:
            ms = results[name]
            lines.append(f"{label + ':':20}p50 {ms['p50_ms']} ms, p99 {ms['p99_ms']} ms")
    if not results["postgis"]["available"]:
        lines.append(f"postgis baseline:   NOT MEASURED ({results['postgis']['reason']})")
        return "\n".join(lines)
    pg, agree = results["postgis"], results["agreement"]
    lines.append(f"postgis baseline:   p50 {pg['p50_ms']} ms, p99 {pg['p99_ms']} ms")
    for name in ("h3", "postgis_path"):
        spread = results.get(f"ratio_{name}_to_postgis_rounds")
        if spread:
            lines.append(
                f"ratio {name}/baseline over {len(results['rounds'])} rounds (min/median/max):"
                f" p50 {spread['p50']['min']}/{spread['p50']['median']}/{spread['p50']['max']}x,"
                f" p99 {spread['p99']['min']}/{spread['p99']['median']}/{spread['p99']['max']}x"
            )
    lines.append(f"same owners:        {agree['identical']}/{agree['compared']} answers")
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
    parser.add_argument("--rounds", type=int, default=3, help="times over the same requests")
    args = output.parse_with_db(parser)
    results = run(
        url=args.db,
        requests=args.requests,
        seed=args.seed,
        warmup=args.warmup,
        rounds=args.rounds,
    )
    output.report(summary(results), write_results(results, args.out))


if __name__ == "__main__":
    main()
