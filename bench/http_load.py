"""HTTP load: the feed and the public request log under wrk, against a bare FastAPI endpoint.

    .venv/bin/python bench/http_load.py --db URL [--connections 1,16,64] [--duration 15] \\
        [--workers 1] [--residents 1000] [--log-requests 1000]

URL is a PostgreSQL database made by `doorstep bench generate`. The benchmark issues API
tokens to random residents (revoked at the end), adds footage requests to the public log
if it holds fewer than --log-requests (kept, marked BENCH-HTTP-), serves the app with
uvicorn in separate processes with a bare endpoint mounted in the same app as the
ceiling, and runs wrk on each endpoint at each level of connections. Writes
bench/results/http-<UTC timestamp>.json and prints a table. Method and numbers:
BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from doorstep.bench import http


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
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    parser.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")
    parser.add_argument("--residents", type=int, default=1_000, help="residents given tokens")
    parser.add_argument(
        "--log-requests", type=int, default=1_000, help="requests the public log should hold"
    )
    parser.add_argument(
        "--endpoints", default=",".join(http.ENDPOINTS), help="comma-separated subset"
    )
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
        print(http.remove_log_data(args.db))
        return
    results = http.run(
        url=args.db,
        connections=[int(c) for c in args.connections.split(",")],
        duration_s=args.duration,
        warmup_s=args.warmup,
        threads=args.threads,
        workers=args.workers,
        residents=args.residents,
        log_requests=args.log_requests,
        endpoints=[e.strip() for e in args.endpoints.split(",") if e.strip()],
        timeout_s=args.timeout,
        drain_cap_s=args.drain_cap,
        seed=args.seed,
    )
    path = http.write_results(results, args.out)
    print(http.summary(results))
    print(f"results: {path}")


if __name__ == "__main__":
    main()
