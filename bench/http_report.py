"""What the HTTP benchmark writes: its JSON file and the table it prints."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench import output
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
        "bare_endpoints": {
            BARE_PATH: "async def, returns {'ok': true}",
            BARE_SYNC_PATH: "def (runs in the threadpool), returns {'ok': true}",
            "passes_through": (
                "uvicorn (HTTP parsing, event loop), Starlette ServerErrorMiddleware,"
                " doorstep's security-headers middleware (BaseHTTPMiddleware),"
                " ExceptionMiddleware, FastAPI routing and JSON response"
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


def summary(results: dict[str, Any]) -> str:
    tool, server = results["load_tool"], results["server"]
    log = results["setup"].get("request_log")
    tokens = results["setup"].get("tokens")
    head = (
        f"wrk -t{tool['threads']}, {tool['duration_s_per_level']} s a level,"
        f" {server['uvicorn_workers']} uvicorn worker(s)"
    )
    if tokens:
        head += f", feed: {tokens['residents']:,} residents' tokens"
    if log:
        head += f", log: {log['in_log']:,} requests"
    header = (
        f"{'endpoint':<17} {'conns':>5} {'req/s':>9} {'vs bare':>7} {'p50 ms':>8}"
        f" {'p90 ms':>8} {'p99 ms':>8} {'max ms':>8} {'non-2xx':>7} {'errors':>6}"
        f" {'KB/s':>8} {'server CPU':>10} {'500s':>5} {'drain s':>7}"
    )
    lines = [head, "", header, "-" * len(header)]
    names = list(results["endpoints"])
    for name in names:
        label = results["endpoints"][name]["label"]
        for level in results["levels"]:
            r = level["endpoints"][name]
            ratio = r["rate_vs_bare"]
            lat = r["latency"]
            cores = r["cpu_s"]["server_processes"] / r["seconds"] if r["seconds"] else 0.0
            restarted = "R" if r["after_wrk"]["server_restarted"] else " "
            lines.append(
                f"{label:<17} {level['connections']:>5} {r['requests_per_s']:>9,.1f}"
                f" {'' if ratio is None else f'{ratio:.3f}':>7} {lat['p50_ms']:>8.2f}"
                f" {lat['p90_ms']:>8.2f} {lat['p99_ms']:>8.2f} {lat['max_ms']:>8.1f}"
                f" {r['non_2xx']:>7} {r['socket_errors']:>6} {r['bytes_per_s'] / 1024:>8.1f}"
                f" {cores:>7.2f} cores {r['after_wrk']['server_unhandled_errors']:>5}"
                f" {r['after_wrk']['drain_s']:>6.1f}{restarted}"
            )
        lines.append("")
    lines.append(
        "non-2xx: answers wrk saw; errors: wrk's socket errors and timeouts; 500s: unhandled"
        " errors the server logged (also after wrk stopped); drain: seconds until the server"
        " was idle after wrk stopped (R: not within the cap, so it was restarted)"
    )
    lines.append(
        "all responses 2xx with a body, no errors, no 500s, server drained: "
        + ("yes" if results["all_ok"] else "NO (see the JSON)")
    )
    return "\n".join(lines)
