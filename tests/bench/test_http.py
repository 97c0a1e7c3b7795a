"""The HTTP load benchmark end to end at tiny scale: a generated country on PostgreSQL,
uvicorn in a separate process, wrk against every endpoint."""

from __future__ import annotations

import io
import json
import os
import shutil
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bench import http_load as bench
from bench.generate import GenerateOptions, generate
from bench.progress import Progress
from doorstep.accounts.models import ApiToken
from doorstep.db import Database
from doorstep.footage.models import FootageRequest, Recipient


@pytest.fixture
def wrk() -> str:
    """wrk's path; missing, CI fails (it installs the Debian package), a laptop skips."""
    found = shutil.which("wrk")
    if found is None:
        message = "wrk is not installed (apt-get install wrk)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return found


@pytest.mark.parametrize("db_backend", [pytest.param("postgres", marks=pytest.mark.postgres)])
def test_every_endpoint_answers_every_wrk_request(
    wrk: str, database_url: str, towns_file: Path, tmp_path: Path
) -> None:
    generate(
        url=database_url,
        options=GenerateOptions(cameras=300, events=20_000, posts=3_000, seed=5),
        progress=Progress(stream=io.StringIO()),
    )
    results = bench.run(
        url=database_url,
        connections=(2,),
        duration_s=1,
        warmup_s=0,
        rounds=2,
        residents=20,
        log_requests=60,
        seed=3,
        progress=lambda _message: None,
    )

    assert results["all_ok"] is True
    assert [(level["connections"], level["threads"]) for level in results["levels"]] == [(2, 2)]
    for level in results["levels"]:
        assert len(level["rounds"]) == 2
        for measured in level["rounds"]:
            assert set(measured) == set(bench.ENDPOINTS)
            for name, r in measured.items():
                # every request wrk made was answered 200 with a body
                assert r["requests"] > 0, name
                assert r["responses"] == r["requests"], name
                assert r["statuses"] == {"200": r["requests"]}, name
                assert r["non_2xx"] == 0 and r["socket_errors"] == 0 and r["empty_bodies"] == 0
                assert r["requests_per_s"] > 0 and r["bytes_per_s"] > 0
                lat = r["latency"]
                assert 0 < lat["p50_ms"] <= lat["p99_ms"] <= lat["max_ms"]
                assert r["cpu_s"]["server_processes"] > 0
                # nothing failed after wrk stopped either, and the server went idle
                assert r["after_wrk"]["server_unhandled_errors"] == 0 and r["after_wrk"]["drained"]
            # each ratio is against the baseline measured in the same round
            for name, baseline in (("bare", "plain"), ("feed", "plain-select")):
                expected = measured[name]["requests_per_s"] / measured[baseline]["requests_per_s"]
                assert measured[name]["rate_vs_baseline"] == pytest.approx(expected, abs=1e-4)
            assert measured["plain"]["rate_vs_baseline"] is None
        spread = level["endpoints"]
        assert spread["bare"]["baseline"] == "plain"
        assert spread["log-json"]["baseline"] == "plain-select"
        ratio = spread["feed"]["rate_vs_baseline"]
        assert 0 < ratio["min"] <= ratio["median"] <= ratio["max"]
        # the pages are bigger than the bare answer
        assert spread["feed"]["bytes_per_response"] > spread["bare"]["bytes_per_response"]

    checks = results["setup"]["checks"]
    assert checks["feed"]["statuses"] == {"200": 20}
    assert checks["feed"]["posts_per_page"]["max"] > 0
    log = results["setup"]["request_log"]
    assert log["created"] == 60 and log["in_log"] == 60
    assert checks["log"]["/api/v1/transparency/requests"]["total"] == 60
    assert checks["log"]["/transparency/requests"]["case_number_mentions"] > 0
    assert results["server"]["uvicorn_workers"] == 1
    assert results["load_tool"]["name"] == "wrk"
    assert results["machine"]["cpus"]

    db = Database(database_url)
    try:
        with db.transaction() as session:
            # the tokens were revoked at the end; the log's rows are marked and consistent
            tokens = session.scalars(
                select(ApiToken).where(ApiToken.name.startswith(bench.TOKEN_NAME))
            ).all()
            assert len(tokens) == 20 and all(t.revoked_at is not None for t in tokens)
            requests = session.scalars(select(FootageRequest)).all()
            assert all(r.case_number and r.case_number.startswith("BENCH-HTTP-") for r in requests)
            asked = sum(r.asked_count for r in requests)
            assert session.scalar(select(func.count()).select_from(Recipient)) == asked
    finally:
        db.dispose()

    written = json.loads(bench.write_results(results, tmp_path).read_text())
    assert written["levels"][0]["endpoints"]["feed"]["p99_ms"]["median"] > 0
    table = bench.summary(results)
    assert "feed API" in table and "log page" in table and "plain 20-row SELECT" in table
    assert "of plain-select" in table
