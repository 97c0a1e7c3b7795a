"""Targeting at scale: target_owners against a PostGIS baseline, in one run.

    .venv/bin/python -m doorstep bench generate --db URL --cameras 100000 --events 2000000
    .venv/bin/python bench/targeting.py --db URL [--requests 1000] [--seed 7]

Times 1,000 random requests (circles and squares of 0.1-0.5 sq mi around random homes,
windows of 1-12 h in the data's last 30 days) from the request's input to the owner
list, with the PostGIS baseline (GiST on the camera points) timed on the same data in
the same run, and checks both give the same owners. Writes
bench/results/targeting-<UTC timestamp>.json and prints a summary. Method and numbers:
BENCHMARKS.md. Without PostGIS on the server the baseline is reported as missing.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from doorstep.bench import targeting


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
    results = targeting.run(url=args.db, requests=args.requests, seed=args.seed, warmup=args.warmup)
    path = targeting.write_results(results, args.out)
    print(targeting.summary(results))
    print(f"results: {path}")


if __name__ == "__main__":
    main()
