"""Feed at scale: the first page and a later page of the feed for random residents.

    .venv/bin/python -m doorstep bench generate --db URL --cameras 1000000 --posts 1000000 ...
    .venv/bin/python bench/feed.py --db URL [--residents 1000] [--seed 7]

Times doorstep.feed.service.feed for 1,000 random residents with a feed home: the first
page, then follows next_cursor three times and times the fourth page. Writes
bench/results/feed-<UTC timestamp>.json and prints p50/p99 of both. Method and numbers:
BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from doorstep.bench import feed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--db",
        default=os.environ.get("DOORSTEP_BENCH_DB"),
        help="SQLAlchemy URL (or DOORSTEP_BENCH_DB)",
    )
    parser.add_argument("--residents", type=int, default=1_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--warmup", type=int, default=50)
    parser.add_argument("--limit", type=int, default=30, help="posts per page")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    args = parser.parse_args()
    if not args.db:
        parser.error("--db URL is required (or set DOORSTEP_BENCH_DB)")
    results = feed.run(
        url=args.db, residents=args.residents, seed=args.seed, warmup=args.warmup, limit=args.limit
    )
    path = feed.write_results(results, args.out)
    print(feed.summary(results))
    print(f"results: {path}")


if __name__ == "__main__":
    main()
