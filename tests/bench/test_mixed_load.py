"""The mixed-load benchmark at tiny scale, on SQLite and PostgreSQL: readers poll through a
real uvicorn server while a camera uploads real clips; every read and upload is answered
without a 5xx."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench import mixed_load


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def test_reads_and_uploads_are_answered_under_mixed_load(backend: str, tmp_path: Path) -> None:
    results = mixed_load.run(
        db=backend, readers=2, uploaders=1, duration_s=2.0, clip_seconds=2.0, data_dir=tmp_path
    )

    idle, loaded = results["idle"], results["under_upload"]
    assert idle["reads"]["requests"] > 0 and loaded["reads"]["requests"] > 0
    assert "uploads" not in idle
    # every upload was stored, every read answered 200, and the server logged no error
    assert loaded["uploads"]["requests"] > 0
    assert loaded["uploads"]["statuses"] == {"201": loaded["uploads"]["requests"]}
    for phase in (idle, loaded):
        assert phase["reads"]["statuses"] == {"200": phase["reads"]["requests"]}
        assert phase["reads"]["transport_errors"] == {}
        assert 0 < phase["reads"]["p50_ms"] <= phase["reads"]["p99_ms"]
    assert results["server_errors"] == 0 and results["server_unhandled_errors"] == 0
    assert results["goals"]["no_5xx"] is True
    assert results["p99_ratio"] == round(loaded["reads"]["p99_ms"] / idle["reads"]["p99_ms"], 2)
    written = json.loads(mixed_load.write_results(results, tmp_path).read_text())
    assert written["database"] == backend
    assert "p99 ratio" in mixed_load.summary(results)
