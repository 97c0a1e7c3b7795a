"""What the HTTP benchmark writes: its JSON file and the table it prints."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench import output
from bench.plain_app import PLAIN_BARE_PATH, PLAIN_SELECT_PATH
from bench.servers import BARE_PATH, BARE_SYNC_PATH, uvicorn_setup
from bench.wrk import Endpoint
from doorstep.runtime import Runtime

ANYIO_THREADPOOL_TOKENS = 40  # anyio's default, the threadpool of every ``def`` route


def server_facts(runtime: Runtime, workers: int) -> dict[str, Any]:
    """How the app is served, and what the bare endpoints pass through and bypass."""
    pool = runtime.db.engine.pool
    return {
        "uvicorn_workers": workers,
        "process": "separate processes (spawn), one port shared with SO_REUSEPORT",
        "host": "127.0.0.1",
        **uvicorn_setup(),
        "threadpool_tokens_per_worker": ANYIO_THREADPOOL_TOKENS,
        "db_pool_per_worker": {
            "size": getattr(pool, "size", lambda: None)(),
            "max_overflow": getattr(pool, "_max_overflow", None),
        },
        "baselines": {
            PLAIN_BARE_PATH: "plain FastAPI app in its own process, async def, {'ok': true}",
            PLAIN_SELECT_PATH: (
                "the same plain app, def (threadpool): one 20-row SELECT through a"
                " SQLAlchemy engine (default options) on the same database, as JSON"
            ),
        },
        "bare_endpoints": {
            BARE_PATH: "async def, returns {'ok': true}",
            BARE_SYNC_PATH: "def (runs in the threadpool), returns {'ok': true}",
            "passes_through": (
                "uvicorn (HTTP parsing, event loop), Starlette ServerErrorMiddleware,"
                " doorstep's pure-ASGI middleware (security headers, request ids, request"
                " timer, connection gate), ExceptionMiddleware, doorstep's routing and the"
                " JSON response"
            ),
            "bypasses": (
                "the DB session dependency and its transaction (pool checkout, BEGIN,"
                " COMMIT), authentication (token hash lookup, user load), the service's"
                " queries, pydantic response models, Jinja templates"
            ),
        },
    }


def endpoint_facts(chosen: Sequence[Endpoint], tokens: int) -> dict[str, Any]:
    """Each endpoint's label, paths, ``Accept`` header and authentication."""
    return {
        e.name: {
            "label": e.label,
            "paths": list(e.paths),
            "accept": e.accept,
            "auth": f"Bearer, {tokens} residents" if e.authenticated else "none",
        }
        for e in chosen
    }


def load_tool_facts(
    version: str,
    threads: int,
    duration_s: int,
    warmup_s: int,
    timeout_s: int,
    drain_cap_s: float,
) -> dict[str, Any]:
    """How wrk was run, between runs included."""
    return {
        "name": "wrk",
        "version": version,
        "threads": threads,
        "duration_s_per_level": duration_s,
        "warmup_s": warmup_s,
        "timeout_s": timeout_s,
        "between_runs": (
            f"wait until the server processes are idle (under 5% of a core) and a def route"
            f" (GET {BARE_SYNC_PATH}, it needs a threadpool thread) answers, at most"
            f" {drain_cap_s:.0f} s, else the server is restarted: requests wrk left behind"
            " finish before the next run"
        ),
        "script": (
            "Lua written at run time: one pre-formatted request per (path, token), a"
            " random one per request; counts statuses and empty bodies; percentiles from"
            " wrk's latency histogram"
        ),
    }


def write_results(results: dict[str, Any], folder: Path) -> Path:
    return output.write_results("http", results, folder)


def _spread(values: dict[str, float], digits: int) -> str:
    return f"{values['median']:.{digits}f} ({values['min']:.{digits}f}-{values['max']:.{digits}f})"


def summary(results: dict[str, Any]) -> str:
    tool, server = results["load_tool"], results["server"]
    log = results["setup"].get("request_log")
    tokens = results["setup"].get("tokens")
    head = (
        f"wrk -t{tool['threads']}, {tool['duration_s_per_level']} s a run,"
        f" {tool.get('rounds', 1)} rounds, {server['uvicorn_workers']} uvicorn worker(s)"
    )
    if tokens:
        head += f", feed: {tokens['residents']:,} residents' tokens"
    if log:
        head += f", log: {log['in_log']:,} requests"
    header = (
        f"{'endpoint':<20} {'conns':>5} {'req/s median (min-max)':>26}"
        f" {'vs baseline median (min-max)':>34} {'p50 ms':>8} {'p99 ms':>8} {'server CPU':>10}"
    )
    lines = [head, "", header, "-" * len(header)]
    for name, facts in results["endpoints"].items():
        for level in results["levels"]:
            r = level["endpoints"][name]
            ratio = r["rate_vs_baseline"]
            against = "" if ratio is None else f"{_spread(ratio, 3)} of {r['baseline']}"
            lines.append(
                f"{facts['label']:<20} {level['connections']:>5}"
                f" {_spread(r['requests_per_s'], 1):>26} {against:>34}"
                f" {r['p50_ms']['median']:>8.2f} {r['p99_ms']['median']:>8.2f}"
                f" {r['server_cores']['median']:>5.2f} cores"
            )
        lines.append("")
    lines.append(
        "each ratio: the endpoint's rate over its baseline's rate in the same round; the"
        " baselines are a plain FastAPI app in its own process (same uvicorn and wrk settings)"
    )
    lines.append(
        "all responses 2xx with a body, no errors, no 500s, server drained: "
        + ("yes" if results["all_ok"] else "NO (see the JSON)")
    )
    return "\n".join(lines)
