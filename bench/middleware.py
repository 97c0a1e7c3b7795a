"""What each of doorstep's ASGI middlewares costs a request, in process.

    .venv/bin/python -m bench.middleware [--requests 20000] [--rounds 5]

Each middleware (request ids, the request timer, the security headers, the connection
gate) wraps an ASGI app that answers a constant at once; the cost is the time per
request through the wrapped app less the time through the bare one, measured in the
same round, over ``rounds`` rounds (min / median / max, microseconds). No server, no
socket: what wrk measures in :mod:`bench.http_load` includes uvicorn's parsing and the
event loop's I/O, this isolates the middleware. Prints a table and writes
bench/results/middleware-<UTC timestamp>.json.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bench import output
from bench.machine import machine
from doorstep.app import ConnectionGate
from doorstep.headers import SecurityHeaders
from doorstep.operations import RequestIds, RequestTimer

HEADERS = {"Content-Security-Policy": "default-src 'self'", "X-Frame-Options": "DENY"}

MIDDLEWARES: dict[str, Callable[[ASGIApp], ASGIApp]] = {
    "request_ids": RequestIds,
    "request_timer": RequestTimer,
    "security_headers": lambda app: SecurityHeaders(app, headers=HEADERS),
    "connection_gate": lambda app: ConnectionGate(app, limit=15),
}


async def constant(_scope: Scope, _receive: Receive, send: Send) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b'{"ok":true}'})


def _scope() -> Scope:
    return {
        "type": "http",
        "method": "GET",
        "path": "/bench/bare",
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"127.0.0.1"), (b"accept", b"application/json")],
    }


async def _per_request_us(app: ASGIApp, requests: int) -> float:
    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(_message: Message) -> None:
        return None

    for _ in range(requests // 10):  # warm
        await app(_scope(), receive, send)
    started = time.perf_counter()
    for _ in range(requests):
        await app(_scope(), receive, send)
    return (time.perf_counter() - started) / requests * 1e6


async def _round(requests: int) -> dict[str, float]:
    bare = await _per_request_us(constant, requests)
    costs = {"bare_app_us": bare}
    for name, wrap in MIDDLEWARES.items():
        costs[name] = await _per_request_us(wrap(constant), requests) - bare
    return costs


@output.warnings_only
def run(*, requests: int = 20_000, rounds: int = 5) -> dict[str, Any]:
    """Microseconds per request each middleware adds, over ``rounds`` rounds."""
    if requests < 1 or rounds < 1:
        raise ValueError("requests and rounds must be at least 1")
    measured = [asyncio.run(_round(requests)) for _ in range(rounds)]
    return {
        "benchmark": "middleware",
        "machine": machine(),
        "requests_per_round": requests,
        "rounds": measured,
        "us_per_request": {
            name: {
                "min": round(min(r[name] for r in measured), 2),
                "median": round(float(np.median([r[name] for r in measured])), 2),
                "max": round(max(r[name] for r in measured), 2),
            }
            for name in measured[0]
        },
    }


def summary(results: dict[str, Any]) -> str:
    lines = [f"{'middleware':<18} {'us/request median (min-max)':>28}"]
    for name, spread in results["us_per_request"].items():
        lines.append(
            f"{name:<18} {spread['median']:>12.2f} ({spread['min']:.2f}-{spread['max']:.2f})"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=20_000, help="requests per round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    args = parser.parse_args()
    results = run(requests=args.requests, rounds=args.rounds)
    print(summary(results))
    print(f"results: {output.write_results('middleware', results, args.out)}")


if __name__ == "__main__":
    main()
