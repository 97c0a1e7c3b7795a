"""The feed benchmark end to end at tiny scale: two databases with the same residents,
one with ten times the posts, measured round by round in one run."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from bench import feed as feed_bench
from bench.feed_report import spreads, summary
from bench.generate import GenerateOptions, generate
from bench.progress import Progress

ANCHOR = datetime(2026, 11, 1, tzinfo=UTC)


def _generated(tmp_path: Path, name: str, posts: int, seed: int = 5) -> str:
    url = f"sqlite:///{tmp_path / name}.db"
    with (tmp_path / f"{name}.txt").open("w") as stream:
        generate(
            url=url,
            options=GenerateOptions(cameras=300, events=0, posts=posts, seed=seed, anchor=ANCHOR),
            progress=Progress(stream=stream),
        )
    return url


def test_the_dense_database_is_measured_beside_the_plain_one(
    tmp_path: Path, towns_file: Path
) -> None:
    plain = _generated(tmp_path, "plain", 40)
    dense = _generated(tmp_path, "dense", 400)
    results = feed_bench.run(
        url=plain, dense_url=dense, rounds=2, residents=20, warmup=2, progress=lambda _: None
    )
    assert len(results["rounds"]) == 2
    posts = {label: facts["published_posts"] for label, facts in results["databases"].items()}
    assert posts == {"plain": 40, "dense": 400}
    for figures in results["rounds"]:
        for label in ("plain", "dense"):
            assert figures[label]["first_page"]["p99_ms"] > 0
            assert set(figures[label]["keys"]) == {"keyset"}  # SQLite has no merge
        # Ten times the posts in the same cells: the same residents read further.
        assert figures["dense"]["with_later_page"] > figures["plain"]["with_later_page"]
    ratios = spreads(results)["dense_vs_plain"]["page 1"]["p99_ms"]
    assert 0 < ratios["min"] <= ratios["median"] <= ratios["max"]
    assert "dense / plain, page 1" in summary(results)


def test_databases_with_other_residents_are_refused(tmp_path: Path, towns_file: Path) -> None:
    plain = _generated(tmp_path, "plain", 100)
    other = _generated(tmp_path, "other", 100, seed=6)
    with pytest.raises(ValueError, match="different residents"):
        feed_bench.run(url=plain, dense_url=other, rounds=1, residents=5, warmup=1)
