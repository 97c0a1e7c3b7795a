"""The feed benchmark's report: min / median / max over the rounds of each page's p50
and p99, and per round the ratio of the dense database to the plain one."""

from __future__ import annotations

import argparse
import statistics
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from bench import output

# Ten times the posts in the same cells may cost the first page's p99 this much (issue 16).
DENSITY_GOAL = 1.2

# What the report lists: a name, and where its percentiles sit in a round's figures.
_SERIES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("page 1", ("first_page",)),
    ("page 4", ("later_page",)),
    ("keys, keyset query", ("keys", "keyset")),
    ("keys, per-cell merge", ("keys", "merge")),
)


def _at(figures: dict[str, Any], path: tuple[str, ...]) -> dict[str, float] | None:
    found: Any = figures
    for key in path:
        found = found.get(key) if isinstance(found, dict) else None
    return found if isinstance(found, dict) else None


def _spread(values: list[float]) -> dict[str, float]:
    return {
        "min": round(min(values), 3),
        "median": round(statistics.median(values), 3),
        "max": round(max(values), 3),
    }


def _series(results: dict[str, Any]) -> Iterator[tuple[str, str, str, list[float]]]:
    """(database, series, percentile, its value in each round) for every figure measured."""
    labels = list(results["databases"])
    for label in labels:
        for name, path in _SERIES:
            for percentile in ("p50_ms", "p99_ms"):
                values = [_at(r[label], path) for r in results["rounds"]]
                if all(v is not None for v in values):
                    yield label, name, percentile, [v[percentile] for v in values if v]


def spreads(results: dict[str, Any]) -> dict[str, Any]:
    """Min / median / max over the rounds, and the dense/plain ratios per round."""
    found: dict[str, Any] = {}
    by_round: dict[tuple[str, str, str], list[float]] = {}
    for label, name, percentile, values in _series(results):
        found.setdefault(label, {}).setdefault(name, {})[percentile] = _spread(values)
        by_round[(label, name, percentile)] = values
    for (label, name, percentile), dense in by_round.items():
        plain = by_round.get(("plain", name, percentile))
        if label == "dense" and plain:
            ratios = [d / p for d, p in zip(dense, plain, strict=True)]
            found.setdefault("dense_vs_plain", {}).setdefault(name, {})[percentile] = _spread(
                ratios
            )
    return found


def write_results(results: dict[str, Any], folder: Path) -> Path:
    results["spreads"] = spreads(results)
    return output.write_results("feed", results, folder)


def summary(results: dict[str, Any]) -> str:
    found = results.get("spreads") or spreads(results)
    rounds = len(results["rounds"])
    lines = [f"{rounds} rounds, min / median / max of each round's p50 and p99 (ms)"]
    for label in results["databases"]:
        posts = results["databases"][label]["published_posts"]
        lines.append(f"{label} ({posts:,} published posts):")
        for name, figures in found.get(label, {}).items():
            p50, p99 = figures["p50_ms"], figures["p99_ms"]
            lines.append(
                f"  {name:22} p50 {p50['min']} / {p50['median']} / {p50['max']}"
                f"   p99 {p99['min']} / {p99['median']} / {p99['max']}"
            )
    for name, figures in found.get("dense_vs_plain", {}).items():
        p50, p99 = figures["p50_ms"], figures["p99_ms"]
        lines.append(
            f"dense / plain, {name:22} p50 x{p50['min']} / {p50['median']} / {p50['max']}"
            f"   p99 x{p99['min']} / {p99['median']} / {p99['max']}"
        )
    ratio = found.get("dense_vs_plain", {}).get("page 1", {}).get("p99_ms")
    if ratio is not None:
        met = "met" if ratio["median"] <= DENSITY_GOAL else "NOT met"
        lines.append(f"goal: page 1 p99 dense / plain <= {DENSITY_GOAL} (median): {met}")
    return "\n".join(lines)


def main_with(parser: argparse.ArgumentParser, run: Callable[..., dict[str, Any]]) -> None:
    """Parse the feed benchmark's options, run it, write and print its results."""
    args = output.parse_with_db(parser)
    results = run(
        url=args.db,
        dense_url=args.dense_db,
        rounds=args.rounds,
        residents=args.residents,
        seed=args.seed,
        warmup=args.warmup,
        limit=args.limit,
    )
    output.report(summary(results), write_results(results, args.out))
