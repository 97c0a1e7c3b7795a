"""The partitions benchmark on a tiny country: both contestants give the same owners, the
flat copy holds every event, and a request's probe reads only its window's months."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy import create_engine, text

from bench import partitions as bench


@pytest.mark.postgres
@pytest.mark.parametrize("db_backend", ["postgres"])
def test_partitioned_and_flat_agree_request_by_request(
    fresh_url: str, db_backend: str, tiny_country: Callable[..., None]
) -> None:
    tiny_country(fresh_url, cameras=300, events=30_000, days=150)
    messages: list[str] = []
    results = bench.run(url=fresh_url, requests=30, rounds=3, warmup=2, progress=messages.append)
    assert results["flat_built_s"] is not None
    assert results["mismatches"] == 0
    assert len(results["rounds"]) == 3
    # 150 days back from November 2026: June to November, and the months ahead of now.
    assert results["database"]["partitions"] >= 7
    example = results["pruning_example"]
    assert 1 <= len(example["read"]) <= 2, example
    assert "partitioned/flat p50" in bench.summary(results)
    engine = create_engine(fresh_url)
    try:
        with engine.connect() as conn:
            counts = conn.execute(
                text(
                    "SELECT (SELECT count(*) FROM motion_events),"
                    " (SELECT count(*) FROM flat.motion_events)"
                )
            ).one()
    finally:
        engine.dispose()
    assert counts[0] == counts[1] == results["database"]["motion_events"] > 0
    again = bench.run(url=fresh_url, requests=5, rounds=3, warmup=0, progress=messages.append)
    assert again["flat_built_s"] is None
