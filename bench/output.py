"""What every benchmark shares: where it writes its JSON
(``<folder>/<name>-<UTC timestamp>.json``), its quiet logging and its latency percentiles."""

from __future__ import annotations

import argparse
import functools
import json
import logging
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

import numpy as np
import structlog

P = ParamSpec("P")
R = TypeVar("R")


RESULTS_DIR = Path(__file__).parent / "results"


def parse_with_db(parser: argparse.ArgumentParser) -> argparse.Namespace:
    """Add the ``--out`` folder every benchmark writes its results to, parse the command
    line, and refuse it without a ``--db`` URL."""
    parser.add_argument("--out", type=Path, default=RESULTS_DIR)
    args = parser.parse_args()
    if not args.db:
        parser.error("--db URL is required (or set DOORSTEP_BENCH_DB)")
    return args


def report(text: str, path: Path) -> None:
    """Print a run's summary ``text`` and the file its results were written to."""
    print(text)
    print(f"results: {path}")


def write_results(name: str, results: dict[str, Any], folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = folder / f"{name}-{stamp}.json"
    path.write_text(json.dumps(results, indent=2, default=str) + "\n")
    return path


def warnings_only(run: Callable[P, R]) -> Callable[P, R]:
    """Run a benchmark with structlog filtered to warnings (the product logs a line per
    call, noise at thousands of calls); the caller's set-up comes back afterwards."""

    @functools.wraps(run)
    def quiet(*args: P.args, **kwargs: P.kwargs) -> R:
        previous = structlog.get_config()
        structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
        try:
            return run(*args, **kwargs)
        finally:
            structlog.configure(**previous)

    return quiet


def percentiles(seconds: Sequence[float]) -> dict[str, float]:
    """p50, p90, p99, max and mean of ``seconds``, in milliseconds, as every benchmark
    reports its latencies."""
    ms = np.array(seconds) * 1000.0
    return {
        "p50_ms": round(float(np.percentile(ms, 50)), 3),
        "p90_ms": round(float(np.percentile(ms, 90)), 3),
        "p99_ms": round(float(np.percentile(ms, 99)), 3),
        "max_ms": round(float(ms.max()), 3),
        "mean_ms": round(float(ms.mean()), 3),
    }
