"""Ingest at scale: motion events per second through the HTTP API, against a bulk COPY.

    .venv/bin/python bench/ingest.py --db URL [--concurrency 1,8,32] [--max-events 6000]

URL is any database on the PostgreSQL server; the benchmark creates (and at the end
drops) its own database doorstep_bench_ingest there, registers its own cameras (their
ingest tokens are needed), serves the app with uvicorn in a separate process and sends
local-first events (POST /api/v1/cameras/{id}/events, one event per request: the API has
no batch endpoint) with N concurrent httpx clients, each level bounded in events and
seconds. Then the same rows go in with one COPY. Writes
bench/results/ingest-<UTC timestamp>.json and prints a summary. Method and numbers:
BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from doorstep.bench import ingest


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--db",
        default=os.environ.get("DOORSTEP_BENCH_DB"),
        help="SQLAlchemy URL of a PostgreSQL database on the server (or DOORSTEP_BENCH_DB)",
    )
    parser.add_argument("--concurrency", default="1,8,32", help="client counts, comma-separated")
    parser.add_argument("--max-events", type=int, default=6_000, help="per concurrency level")
    parser.add_argument("--max-s", type=float, default=20.0, help="per concurrency level")
    parser.add_argument("--owners", type=int, default=20)
    parser.add_argument("--cameras", type=int, default=300)
    parser.add_argument("--in-process", type=int, default=1_000, help="events without HTTP")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--keep", action="store_true", help="keep doorstep_bench_ingest")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    args = parser.parse_args()
    if not args.db:
        parser.error("--db URL is required (or set DOORSTEP_BENCH_DB)")
    results = ingest.run(
        url=args.db,
        concurrency=[int(c) for c in args.concurrency.split(",")],
        max_events=args.max_events,
        max_s=args.max_s,
        owners=args.owners,
        cameras=args.cameras,
        in_process=args.in_process,
        seed=args.seed,
        keep=args.keep,
    )
    path = ingest.write_results(results, args.out)
    print(ingest.summary(results))
    print(f"results: {path}")


if __name__ == "__main__":
    main()
