"""The online-move benchmark on a tiny country: both ways keep every event and every insert
made while they run, and the swap is timed apart from the copy."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy import create_engine, text

from bench import online_partitions as bench


@pytest.mark.postgres
@pytest.mark.parametrize("db_backend", ["postgres"])
def test_both_moves_keep_every_event_and_every_write(
    fresh_url: str, db_backend: str, tiny_country: Callable[..., None]
) -> None:
    tiny_country(fresh_url, cameras=100, events=3_000, days=120)
    messages: list[str] = []
    results = bench.run(url=fresh_url, rounds=1, batch=400, every_s=0.01, progress=messages.append)
    (round_,) = results["rounds"]
    assert round_["every_write_kept"] is True
    assert round_["events"] >= 3_000
    assert round_["plain"]["inserts"] > 0 and round_["online"]["during_prepare"]["inserts"] > 0
    # 120 days back from November 2026: July to November, and the months ahead of now.
    assert round_["online"]["months"] >= 5
    assert 0 < round_["online"]["swap_s"] < round_["online"]["prepare_s"]
    engine = create_engine(fresh_url)
    try:
        with engine.connect() as conn:
            kind = conn.scalar(
                text("SELECT relkind::text FROM pg_class WHERE relname = 'motion_events'")
            )
    finally:
        engine.dispose()
    assert kind == "p"  # left at the latest revision
