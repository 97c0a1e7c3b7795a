"""Targeting on monthly partitions of motion events against one plain table, in one run.

    .venv/bin/python -m bench generate --db URL --cameras 100000 --events 5000000 --days 360
    .venv/bin/python -m bench.partitions --db URL [--requests 300] [--rounds 3] [--seed 7]

``URL`` is a PostgreSQL database of its own, at the latest revision, so ``motion_events``
is partitioned by month (revision 20261205_0014). The benchmark adds a schema ``flat``
holding ``flat.motion_events``: the same rows in one plain table with the same indexes
(built once, kept for later runs; ``--rebuild-flat`` builds it again). Both contestants
read the same cameras and clips in the same database and process:

- ``partitioned``: :func:`doorstep.footage.targeting.target_owners` on ``motion_events``.
- ``flat``: the same function on a connection whose ``search_path`` puts ``flat`` first,
  so the same statement reads the plain table.

Each round times every request on both, in alternating order, on warm caches, and checks
they give the same owners. Per round: p50/p90/p99 of each and their ratio; over the rounds:
min / median / max. Writes bench/results/partitions-<UTC timestamp>.json. Method and
numbers: BENCHMARKS.md section 9.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
from sqlalchemy import func, select, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.orm import Session

from bench import databases, output
from bench.machine import machine
from bench.requests import MAX_EVENT_S, TargetingRequest, camera_homes_and_span, random_requests
from bench.targeting import h3_owners
from doorstep.cameras import partitions
from doorstep.cameras.models import MotionEvent
from doorstep.db import make_engine
from doorstep.footage.targeting import area_cells, cameras_in_cells, cameras_with_footage

FLAT_SCHEMA = "flat"

# The copy is UNLOGGED: it is only read, and a read finds the same pages in the same
# buffers either way; skipping the WAL makes the copy of 100M events minutes faster. The
# index builds get a larger sort memory for the same reason (the build is not measured).
FLAT_STATEMENTS = (
    "SET LOCAL maintenance_work_mem = '1GB'",
    f"DROP SCHEMA IF EXISTS {FLAT_SCHEMA} CASCADE",
    f"CREATE SCHEMA {FLAT_SCHEMA}",
    f"CREATE UNLOGGED TABLE {FLAT_SCHEMA}.motion_events"
    " (LIKE public.motion_events INCLUDING DEFAULTS)",
    f"INSERT INTO {FLAT_SCHEMA}.motion_events SELECT * FROM public.motion_events",
    f"ALTER TABLE {FLAT_SCHEMA}.motion_events ADD PRIMARY KEY (id)",
    f"CREATE INDEX ON {FLAT_SCHEMA}.motion_events (camera_id, started_at)",
    f"CREATE INDEX ON {FLAT_SCHEMA}.motion_events (owner_id, started_at)",
)


def build_flat(engine: Engine, *, rebuild: bool, say: Callable[[str], None]) -> float | None:
    """Make ``flat.motion_events``, a plain copy of the events with the same indexes; the
    seconds it took, or None when it was there already."""
    with engine.connect() as conn:
        if not partitions.is_partitioned(conn):
            raise SystemExit("motion_events is not partitioned here: migrate to the latest")
        exists = conn.scalar(text("SELECT to_regclass(:t)"), {"t": f"{FLAT_SCHEMA}.motion_events"})
    if exists is not None and not rebuild:
        return None
    say("building flat.motion_events, the unpartitioned copy")
    started = time.perf_counter()
    with engine.begin() as conn:
        for statement in FLAT_STATEMENTS:
            conn.exec_driver_sql(statement)
    # VACUUM sets the visibility map, as the generator leaves the partitioned table.
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql(f"VACUUM ANALYZE {FLAT_SCHEMA}.motion_events")
    return round(time.perf_counter() - started, 1)


def _timed(engine: Engine, request: TargetingRequest) -> tuple[float, Any]:
    with Session(engine) as session:
        session.connection()  # checkout and BEGIN happen before the clock starts
        started = time.perf_counter()
        owners = h3_owners(session, request)
        elapsed = time.perf_counter() - started
        session.rollback()
    return elapsed, owners


def _round(
    engines: dict[str, Engine], requests: list[TargetingRequest], round_no: int
) -> dict[str, Any]:
    """Every request on both contestants, in alternating order; percentiles and ratio."""
    seconds: dict[str, list[float]] = {name: [] for name in engines}
    mismatches = 0
    names = list(engines)
    for i, request in enumerate(requests):
        order = names if (i + round_no) % 2 == 0 else names[::-1]
        answers = {}
        for name in order:
            elapsed, answers[name] = _timed(engines[name], request)
            seconds[name].append(elapsed)
        mismatches += answers["partitioned"] != answers["flat"]
    result: dict[str, Any] = {name: output.percentiles(s) for name, s in seconds.items()}
    result["ratio_partitioned_to_flat"] = {
        key: round(result["partitioned"][f"{key}_ms"] / result["flat"][f"{key}_ms"], 3)
        for key in ("p50", "p90", "p99")
    }
    result["mismatches"] = mismatches
    result["load_average"] = [round(v, 2) for v in os.getloadavg()]
    return result


def _spread(values: list[float]) -> dict[str, float]:
    return {
        "min": round(min(values), 3),
        "median": round(statistics.median(values), 3),
        "max": round(max(values), 3),
    }


def _pruning(engine: Engine, request: TargetingRequest) -> dict[str, Any]:
    """Which partitions the footage probe of one request reads, from its plan."""
    interior, boundary = area_cells(request.area)
    with Session(engine) as session:
        conn = session.connection()
        cameras = [row[0] for row in session.execute(cameras_in_cells(cells=interior | boundary))]
        statement = cameras_with_footage(
            camera_ids=cameras[:50],
            window_start=request.window_start,
            window_end=request.window_end,
            max_event_s=MAX_EVENT_S,
        )
        sql = statement.compile(dialect=conn.dialect, compile_kwargs={"literal_binds": True})
        plan = [str(row[0]) for row in conn.exec_driver_sql(f"EXPLAIN {sql}")]
        every = partitions.partitions(conn)
    read = sorted({name for name in every if any(name in line for line in plan)})
    return {"partitions": len(every), "read": read, "window_start": str(request.window_start)}


def _facts(engine: Engine, url: str) -> tuple[dict[str, Any], list[tuple[float, float]], Any]:
    with Session(engine) as session:
        events = session.scalar(select(func.count()).select_from(MotionEvent)) or 0
        homes, span = camera_homes_and_span(session)
        server = databases.server_version(session)
        names = partitions.partitions(session.connection())
    facts = {
        "url": make_url(url).render_as_string(hide_password=True),
        "server_version": server,
        "cameras": len(homes),
        "motion_events": events,
        "partitions": len(names),
        "events_from": span[0].isoformat(timespec="seconds"),
        "events_until": span[1].isoformat(timespec="seconds"),
    }
    return facts, homes, span


@output.warnings_only
def run(
    *,
    url: str,
    requests: int = 300,
    rounds: int = 3,
    seed: int = 7,
    warmup: int = 50,
    rebuild_flat: bool = False,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Run the partitions benchmark on the database at ``url``; returns the results."""
    say = progress or (lambda message: print(message, file=sys.stderr, flush=True))
    engines = {
        "partitioned": make_engine(url),
        "flat": make_engine(url, connect_args={"options": f"-c search_path={FLAT_SCHEMA},public"}),
    }
    try:
        results: dict[str, Any] = {
            "benchmark": "partitions",
            "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "machine": machine(),
        }
        results["flat_built_s"] = build_flat(engines["partitioned"], rebuild=rebuild_flat, say=say)
        results["database"], homes, (first, last) = _facts(engines["partitioned"], url)
        say(
            f"{results['database']['cameras']:,} cameras, "
            f"{results['database']['motion_events']:,} events, "
            f"{results['database']['partitions']} partitions"
        )
        rng = np.random.default_rng(seed)
        plan = random_requests(
            rng=rng, homes=homes, count=warmup + requests, span_start=first, span_end=last
        )
        for request in plan[:warmup]:
            for engine in engines.values():
                _timed(engine, request)
        measured = plan[warmup:]
        results["rounds"] = []
        for round_no in range(rounds):
            say(f"round {round_no + 1}/{rounds}: {requests} requests on both")
            results["rounds"].append(_round(engines, measured, round_no))
        results["summary"] = {
            f"{name}_{key}_ms": _spread([r[name][f"{key}_ms"] for r in results["rounds"]])
            for name in engines
            for key in ("p50", "p99")
        } | {
            f"ratio_{key}": _spread(
                [r["ratio_partitioned_to_flat"][key] for r in results["rounds"]]
            )
            for key in ("p50", "p99")
        }
        results["mismatches"] = sum(r["mismatches"] for r in results["rounds"])
        median = sorted(measured, key=lambda r: r.window_start)[len(measured) // 2]
        results["pruning_example"] = _pruning(engines["partitioned"], median)
        results["window_h"] = round(
            statistics.median(
                (r.window_end - r.window_start) / timedelta(hours=1) for r in measured
            ),
            2,
        )
        return results
    finally:
        for engine in engines.values():
            engine.dispose()


def summary(results: dict[str, Any]) -> str:
    s = results["summary"]
    lines = [
        f"{results['database']['motion_events']:,} events in "
        f"{results['database']['partitions']} partitions; "
        f"{len(results['rounds'])} rounds; min / median / max over rounds",
    ]
    for name in ("partitioned", "flat"):
        p50, p99 = s[f"{name}_p50_ms"], s[f"{name}_p99_ms"]
        lines.append(
            f"{name:<12} p50 {p50['min']} / {p50['median']} / {p50['max']} ms, "
            f"p99 {p99['min']} / {p99['median']} / {p99['max']} ms"
        )
    for key in ("p50", "p99"):
        ratio = s[f"ratio_{key}"]
        lines.append(f"partitioned/flat {key}: {ratio['min']} / {ratio['median']} / {ratio['max']}")
    example = results["pruning_example"]
    lines.append(
        f"same owners: {results['mismatches']} mismatches; one request's probe read "
        f"{len(example['read'])} of {example['partitions']} partitions: {example['read']}"
    )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--db",
        default=os.environ.get("DOORSTEP_BENCH_DB"),
        help="SQLAlchemy URL of a PostgreSQL database of its own (or DOORSTEP_BENCH_DB)",
    )
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--warmup", type=int, default=50)
    parser.add_argument("--rebuild-flat", action="store_true")
    args = output.parse_with_db(parser)
    if args.rounds < 3:
        parser.error("--rounds must be at least 3")
    results = run(
        url=args.db,
        requests=args.requests,
        rounds=args.rounds,
        seed=args.seed,
        warmup=args.warmup,
        rebuild_flat=args.rebuild_flat,
    )
    output.report(summary(results), output.write_results("partitions", results, args.out))


if __name__ == "__main__":
    main()
