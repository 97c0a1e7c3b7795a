"""Fan-out: a footage request reaching 10,000 owners, queued and delivered.

    .venv/bin/python bench/fanout.py --db postgresql+psycopg://postgres@127.0.0.1:5432/postgres \
        [--owners 10000] [--workers 2] [--rounds 3]

Makes its own database (doorstep_bench_fanout) on that server, 10,000 owners with a
camera, an event, email on and a webhook inside one request's area, a local SMTP sink and
a local webhook sink, and two `doorstep worker` processes. Times the approval that queues
every notice, then the delivery of one email and one webhook per owner. Writes
bench/results/fanout-<UTC timestamp>.json. Method and numbers: BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from doorstep.bench import fanout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--db",
        default=os.environ.get("DOORSTEP_BENCH_DB"),
        help="SQLAlchemy URL of any database on the PostgreSQL server (or DOORSTEP_BENCH_DB)",
    )
    parser.add_argument("--owners", type=int, default=10_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--keep", action="store_true", help="keep the benchmark's database")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    args = parser.parse_args()
    if not args.db:
        parser.error("--db URL is required (or set DOORSTEP_BENCH_DB)")
    results = fanout.run(
        url=args.db,
        owners=args.owners,
        workers=args.workers,
        rounds=args.rounds,
        seed=args.seed,
        keep=args.keep,
    )
    path = fanout.write_results(results, args.out)
    print(fanout.summary(results))
    print(f"results: {path}")


if __name__ == "__main__":
    main()
