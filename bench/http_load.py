"""HTTP load: the feed and the public request log under wrk, against a bare FastAPI endpoint.

    .venv/bin/python -m bench.http_load --db URL [--connections 1,16,64] [--duration 15] \\
        [--workers 1] [--residents 1000] [--log-requests 1000]

URL is a PostgreSQL database made by `python -m bench generate`. The benchmark issues API
tokens to random residents (revoked at the end), adds footage requests to the public log
if it holds fewer than --log-requests (kept, marked BENCH-HTTP-), serves the app with
uvicorn in separate processes with a bare endpoint mounted in the same app as the
ceiling, and runs wrk on each endpoint at each level of connections. Writes
bench/results/http-<UTC timestamp>.json and prints a table. Method and numbers:
BENCHMARKS.md.

The server (:mod:`bench.servers`) is :func:`doorstep.app.create_app` served by uvicorn
on 127.0.0.1 in ``workers`` processes (one by default) sharing one port, with two bare
endpoints added to the same app as the ceiling. The endpoints measured (each with the
same levels of connections):

- ``bare`` and ``bare-sync``: ``GET /bench/bare`` (``async def``) and
  ``GET /bench/bare-sync`` (a plain ``def``, through the threadpool like every doorstep
  route), returning ``{"ok": true}``.
- ``feed``: ``GET /api/v1/feed`` (first page, 30 posts) with ``Authorization: Bearer``
  of a random resident on every request, drawn from ``residents`` residents with a feed
  home, each given an API token for the run (:mod:`bench.viewers`). Every token is used
  once before the timed runs (this checks each answers 200), so the token's
  ``last_used_at`` write of its first use is not timed; later it is written at most every
  5 minutes per token, as in production.
- ``log-html``: the public request log page ``/transparency/requests``, signed out.
- ``log-json``: its machine form ``/api/v1/transparency/requests`` (100 a page).

Both log endpoints rotate through the first page, pages 2 to 5 and the first page sorted
by ``asked`` and by ``shared`` (:data:`LOG_HTML_PATHS`, :data:`LOG_JSON_PATHS`). The log
is filled to ``log_requests`` requests first (:mod:`bench.request_log`); the feed and
targeting benchmarks read none of its tables.

The load (:mod:`bench.wrk`): wrk (``wrk -t2``, fewer threads than connections never)
with a Lua script written at run time. Each endpoint gets a warm-up at the middle level,
then the levels run in turn, all endpoints at one level before the next level. Between
runs the benchmark waits until the requests wrk left behind are done: the workers idle
and a ``def`` route answering (threads blocked on the database pool use no CPU). A
server that does not get there within ``drain_cap_s`` is restarted, so the next run
starts clean; the result says so. Each run records the unhandled errors (500s) logged
during and after it, wrk's view included or not (a request wrk gave up on is not in its
counts). The results and the table: :mod:`bench.http_report`.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import func, select, text
from sqlalchemy.engine import make_url

from bench import output
from bench.http_endpoints import ENDPOINTS, check_once
from bench.http_report import endpoint_facts, load_tool_facts, server_facts, summary, write_results
from bench.machine import machine
from bench.request_log import fill_request_log, remove_log_data
from bench.servers import DOORSTEP, Servers
from bench.viewers import TOKEN_NAME, issue_tokens, pick_residents, revoke_tokens
from bench.wrk import (
    Endpoint,
    after_run,
    measured_run,
    run_wrk,
    write_script,
    wrk_binary,
    wrk_version,
)
from doorstep.cameras.models import Camera
from doorstep.config import Settings
from doorstep.feed.models import Home, Post, PostStatus
from doorstep.runtime import Runtime

__all__ = [
    "ENDPOINTS",
    "TOKEN_NAME",
    "main",
    "remove_log_data",
    "run",
    "summary",
    "write_results",
]


@dataclass(frozen=True)
class Load:
    """How wrk drives every run: its binary, threads, seconds, timeout, and the cap on
    the wait for the server to drain afterwards."""

    binary: str
    threads: int
    duration_s: int
    warmup_s: int
    timeout_s: int
    drain_cap_s: float
    seed: int
    rounds: int


def _chosen_endpoints(
    url: str, endpoints: Sequence[str], duration_s: int, rounds: int
) -> list[Endpoint]:
    """The endpoints asked for, once the arguments are known to make sense."""
    if make_url(url).get_backend_name() != "postgresql":
        raise ValueError("the HTTP benchmark needs PostgreSQL (several server processes)")
    unknown = [name for name in endpoints if name not in ENDPOINTS]
    if unknown:
        raise ValueError(f"unknown endpoints {unknown}; known: {', '.join(ENDPOINTS)}")
    if duration_s < 1:
        raise ValueError("wrk runs for whole seconds: duration_s >= 1")
    if rounds < 1:
        raise ValueError("rounds >= 1")
    return [ENDPOINTS[name] for name in endpoints]


def _database_facts(runtime: Runtime, url: str) -> dict[str, Any]:
    with runtime.db.transaction() as session:
        return {
            "dialect": "postgresql",
            "server_version": session.scalar(text("SHOW server_version")),
            "url": make_url(url).render_as_string(hide_password=True),
            "residents_with_home": session.scalar(select(func.count()).select_from(Home)),
            "published_posts": session.scalar(
                select(func.count()).select_from(Post).where(Post.status == PostStatus.published)
            ),
            "cameras": session.scalar(select(func.count()).select_from(Camera)),
        }


def _begin(
    runtime: Runtime, url: str, residents: int, rng: np.random.Generator, say: Callable[[str], None]
) -> tuple[dict[str, Any], list[uuid.UUID]]:
    """The results' header (machine, database) and the residents whose feed is read."""
    results: dict[str, Any] = {
        "benchmark": "http",
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "database": _database_facts(runtime, url),
    }
    with runtime.db.transaction() as session:
        viewers = pick_residents(session, rng, residents)
    say(
        f"{results['database']['residents_with_home']:,} residents,"
        f" {results['database']['published_posts']:,} posts"
    )
    return results, viewers


def _issue(
    runtime: Runtime, viewers: Sequence[uuid.UUID], stamp: str, say: Callable[[str], None]
) -> tuple[list[str], dict[str, Any]]:
    """An API token for each of ``viewers``, and what the results say of them."""
    say(f"issuing API tokens to {len(viewers):,} random residents")
    started = time.perf_counter()
    tokens = issue_tokens(runtime, viewers, stamp)
    return tokens, {
        "residents": len(tokens),
        "issued_with": "doorstep.accounts.api_tokens.create_api_token (audited)",
        "name": f"{TOKEN_NAME} {stamp}",
        "seconds": round(time.perf_counter() - started, 2),
    }


def _warm_up(
    servers: dict[str, Servers],
    load: Load,
    chosen: Sequence[Endpoint],
    scripts: dict[str, Path],
    connections: int,
    say: Callable[[str], None],
) -> None:
    for endpoint in chosen:
        server = servers[endpoint.server]
        say(f"warm-up: {endpoint.name}, {connections} connections, {load.warmup_s} s")
        run_wrk(
            binary=load.binary,
            base=server.base,
            script=scripts[endpoint.name],
            connections=connections,
            threads=load.threads,
            duration_s=load.warmup_s,
            timeout_s=load.timeout_s,
            seed=load.seed,
        )
        warm = after_run(server, load.drain_cap_s)
        if not warm["drained"] or warm["server_unhandled_errors"]:
            say(f"  warm-up left the server busy or failing: {warm}")


def _spread(values: Sequence[float]) -> dict[str, float]:
    return {
        "min": round(min(values), 4),
        "median": round(float(np.median(values)), 4),
        "max": round(max(values), 4),
    }


def _rounds_summary(chosen: Sequence[Endpoint], rounds: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Per endpoint over the rounds: its rate, its latency and its ratio to its baseline
    (each round's rate over the baseline's rate in the same round), min / median / max."""
    summary: dict[str, Any] = {}
    for e in chosen:
        runs = [r[e.name] for r in rounds]
        ratios = [r["rate_vs_baseline"] for r in runs if r["rate_vs_baseline"] is not None]
        summary[e.name] = {
            "requests_per_s": _spread([r["requests_per_s"] for r in runs]),
            "p50_ms": _spread([r["latency"]["p50_ms"] for r in runs]),
            "p99_ms": _spread([r["latency"]["p99_ms"] for r in runs]),
            "baseline": e.baseline if ratios else None,
            "rate_vs_baseline": _spread(ratios) if ratios else None,
            "server_cores": _spread(
                [r["cpu_s"]["server_processes"] / r["seconds"] for r in runs if r["seconds"]]
                or [0.0]
            ),
            "bytes_per_response": runs[0]["bytes_per_response"],
        }
    return summary


def _level(
    servers: dict[str, Servers],
    load: Load,
    chosen: Sequence[Endpoint],
    scripts: dict[str, Path],
    connections: int,
    seed: int,
    say: Callable[[str], None],
) -> dict[str, Any]:
    """Every endpoint at one level of connections, ``load.rounds`` times in turn; each
    rate also against its baseline's rate in the same round."""
    rounds: list[dict[str, Any]] = []
    for number in range(load.rounds):
        measured: dict[str, Any] = {}
        for e in chosen:
            result = measured_run(
                servers[e.server],
                load.binary,
                scripts[e.name],
                connections,
                load.threads,
                load.duration_s,
                load.timeout_s,
                seed + 1000 * number,
                load.drain_cap_s,
            )
            measured[e.name] = result
            say(
                f"round {number + 1}, {e.name:>12}, {connections:>3} connections:"
                f" {result['requests_per_s']:>9,.1f} req/s, p50 {result['latency']['p50_ms']} ms,"
                f" p99 {result['latency']['p99_ms']} ms, non-2xx {result['non_2xx']},"
                f" drained in {result['after_wrk']['drain_s']} s"
            )
        for e in chosen:
            ceiling = measured.get(e.baseline or "", {}).get("requests_per_s")
            rate = measured[e.name]["requests_per_s"]
            measured[e.name]["rate_vs_baseline"] = round(rate / ceiling, 4) if ceiling else None
        rounds.append(measured)
    return {
        "connections": connections,
        "threads": min(load.threads, connections),
        "rounds": rounds,
        "endpoints": _rounds_summary(chosen, rounds),
    }


def _all_ok(levels: Sequence[dict[str, Any]]) -> bool:
    """Every response 2xx with a body, no socket error, no 500 logged, the server drained."""
    return all(
        r["non_2xx"] == 0
        and r["socket_errors"] == 0
        and r["empty_bodies"] == 0
        and r["responses"] == r["requests"] > 0
        and r["after_wrk"]["server_unhandled_errors"] == 0
        and r["after_wrk"]["drained"]
        for level_result in levels
        for measured in level_result["rounds"]
        for r in measured.values()
    )


def _load_levels(
    servers: dict[str, Servers],
    load: Load,
    chosen: Sequence[Endpoint],
    tokens: Sequence[str],
    connections: Sequence[int],
    say: Callable[[str], None],
) -> list[dict[str, Any]]:
    """The warm-up at the middle level, then every level in turn."""
    folder = Path(servers[DOORSTEP].data_dir) / "wrk"
    folder.mkdir()
    scripts = {e.name: write_script(folder, e, tokens) for e in chosen}
    if load.warmup_s > 0:
        middle = sorted(connections)[len(connections) // 2]
        _warm_up(servers, load, chosen, scripts, middle, say)
    return [
        _level(servers, load, chosen, scripts, level, load.seed + n + 1, say)
        for n, level in enumerate(connections)
    ]


@output.warnings_only
def run(
    *,
    url: str,
    connections: Sequence[int] = (1, 16, 64),
    duration_s: int = 15,
    warmup_s: int = 3,
    rounds: int = 3,
    threads: int = 2,
    workers: int = 1,
    residents: int = 1_000,
    log_requests: int = 1_000,
    endpoints: Sequence[str] = tuple(ENDPOINTS),
    timeout_s: int = 30,
    drain_cap_s: float = 60.0,
    seed: int = 7,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Run the HTTP benchmark against the database at ``url`` (PostgreSQL)."""
    say = progress or (lambda message: print(message, file=sys.stderr, flush=True))
    chosen = _chosen_endpoints(url, endpoints, duration_s, rounds)
    load = Load(wrk_binary(), threads, duration_s, warmup_s, timeout_s, drain_cap_s, seed, rounds)
    rng = np.random.default_rng(seed)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    data_dir = tempfile.mkdtemp(prefix="doorstep-bench-http-")
    runtime = Runtime(Settings(database_url=url, data_dir=Path(data_dir)))
    servers: dict[str, Servers] = {}
    issued = False
    try:
        results, viewers = _begin(runtime, url, residents, rng, say)
        setup: dict[str, Any] = {}
        if any(e.name.startswith("log") for e in chosen):
            setup["request_log"] = fill_request_log(runtime, log_requests, rng, say)
        tokens: list[str] = []
        if any(e.authenticated for e in chosen):
            issued = True
            tokens, setup["tokens"] = _issue(runtime, viewers, stamp, say)
        results["server"] = server_facts(runtime, workers)
        say(f"starting {workers} uvicorn worker(s) of each app")
        for kind in dict.fromkeys((DOORSTEP, *(e.server for e in chosen))):
            servers[kind] = Servers(url, data_dir, workers, kind)
        say("checking every token and log page once")
        setup["checks"] = check_once(servers[DOORSTEP], tokens, chosen)
        results["setup"] = setup
        results["load_tool"] = load_tool_facts(
            wrk_version(load.binary), threads, duration_s, warmup_s, timeout_s, drain_cap_s
        ) | {"rounds": rounds}
        results["endpoints"] = endpoint_facts(chosen, len(tokens))
        results["levels"] = _load_levels(servers, load, chosen, tokens, connections, say)
        results["all_ok"] = _all_ok(results["levels"])
        return results
    finally:
        for server in servers.values():
            server.stop()
        if issued:
            revoked = revoke_tokens(runtime, stamp)
            say(f"revoked {revoked:,} API tokens")
        runtime.close()
        shutil.rmtree(data_dir, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--db",
        default=os.environ.get("DOORSTEP_BENCH_DB"),
        help="SQLAlchemy URL of the generated PostgreSQL database (or DOORSTEP_BENCH_DB)",
    )
    parser.add_argument("--connections", default="1,16,64", help="levels, comma-separated")
    parser.add_argument("--duration", type=int, default=15, help="seconds per level and endpoint")
    parser.add_argument("--warmup", type=int, default=3, help="seconds per endpoint, 0 for none")
    parser.add_argument(
        "--rounds", type=int, default=3, help="runs of every endpoint at each level, in turn"
    )
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    parser.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")
    parser.add_argument("--residents", type=int, default=1_000, help="residents given tokens")
    parser.add_argument(
        "--log-requests", type=int, default=1_000, help="requests the public log should hold"
    )
    parser.add_argument("--endpoints", default=",".join(ENDPOINTS), help="comma-separated subset")
    parser.add_argument("--timeout", type=int, default=30, help="wrk's request timeout, seconds")
    parser.add_argument(
        "--drain-cap",
        type=float,
        default=60.0,
        help="seconds to wait for the server to go idle after a run, then restart it",
    )
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--remove-log-data",
        action="store_true",
        help="only delete the requests and agencies an earlier run added, then exit",
    )
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    args = parser.parse_args()
    if not args.db:
        parser.error("--db URL is required (or set DOORSTEP_BENCH_DB)")
    if args.remove_log_data:
        print(remove_log_data(args.db))
        return
    results = run(
        url=args.db,
        connections=[int(c) for c in args.connections.split(",")],
        duration_s=args.duration,
        warmup_s=args.warmup,
        rounds=args.rounds,
        threads=args.threads,
        workers=args.workers,
        residents=args.residents,
        log_requests=args.log_requests,
        endpoints=[e.strip() for e in args.endpoints.split(",") if e.strip()],
        timeout_s=args.timeout,
        drain_cap_s=args.drain_cap,
        seed=args.seed,
    )
    path = write_results(results, args.out)
    print(summary(results))
    print(f"results: {path}")


if __name__ == "__main__":
    main()
