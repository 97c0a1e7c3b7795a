"""Read replicas, on a primary and a streaming replica started for these tests.

Reads of the public portal, the feed and timelines go to the replica; a caller's reads
after his own write stay on the primary until the replica has replayed it; a replica
that is down or lagging past the setting is skipped and counted; ``/metrics`` shows its
lag and ``/readyz`` reports it without failing on it.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from pydantic import ValidationError
from sqlalchemy import create_engine, text
from structlog.testing import capture_logs

from doorstep.app import create_app
from doorstep.migrate import upgrade
from doorstep.replicas import FENCE_COOKIE
from doorstep.runtime import Runtime
from tests.conftest import make_settings
from tests.factories import (
    Person,
    feed_ids,
    make_camera,
    make_person,
    make_post,
    set_home,
    sign_in,
)
from tests.pg_cluster_support import PgCluster, start_cluster

pytestmark = pytest.mark.postgres

DATABASE = "doorstep_replicas"
METRICS_TOKEN = "replica-tests"


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[PgCluster]:
    """A primary and its streaming replica, with doorstep's schema on both."""
    cluster = start_cluster()
    try:
        cluster.create_database(DATABASE)
        upgrade(cluster.primary_url(DATABASE))
        cluster.wait_for_replay()
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
def cluster(pg_cluster: PgCluster) -> Iterator[PgCluster]:
    """The cluster with empty tables, the replica running, caught up and replaying."""
    engine = create_engine(pg_cluster.primary_url(DATABASE))
    with engine.begin() as conn:
        tables = conn.scalars(
            text(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
                " AND tablename <> 'alembic_version'"
            )
        ).all()
        conn.execute(text("TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " CASCADE"))
    engine.dispose()
    pg_cluster.wait_for_replay()
    yield pg_cluster
    if not (pg_cluster.replica_dir / "postmaster.pid").exists():
        pg_cluster.start_replica()
    pg_cluster.resume_replay()


def _runtime(tmp_path: Path, cluster: PgCluster, **overrides: object) -> Runtime:
    values: dict[str, object] = {
        "database_replica_urls": cluster.replica_url(DATABASE),
        "replica_max_lag_s": 60.0,
        "replica_retry_s": 0.0,
        "metrics_token": METRICS_TOKEN,
    }
    values.update(overrides)
    return Runtime(make_settings(tmp_path, cluster.primary_url(DATABASE), **values))


@pytest.fixture
def runtime(tmp_path: Path, cluster: PgCluster) -> Iterator[Runtime]:
    rt = _runtime(tmp_path, cluster)
    yield rt
    rt.close()


def _client(runtime: Runtime) -> TestClient:
    return TestClient(create_app(runtime), base_url="https://testserver")


def _metric(client: TestClient, name: str, **labels: str) -> float:
    """One sample of /metrics (0 when the series is absent)."""
    r = client.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
    assert r.status_code == 200, r.text
    for family in text_string_to_metric_families(r.text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return float(sample.value)
    return 0.0


@contextmanager
def _adds(client: TestClient, count: int, name: str, **labels: str) -> Iterator[None]:
    """Asserts that the ``with`` block adds ``count`` to the series ``name`` of /metrics."""
    before = _metric(client, name, **labels)
    yield
    assert _metric(client, name, **labels) == before + count


def _neighbours(runtime: Runtime, cluster: PgCluster) -> tuple[Person, Person]:
    reader, author = make_person(runtime), make_person(runtime)
    set_home(runtime, reader)
    set_home(runtime, author)
    cluster.wait_for_replay()
    return reader, author


def _replica_name(cluster: PgCluster) -> str:
    return f"127.0.0.1:{cluster.replica_port}/{DATABASE}"


def test_the_feed_is_read_from_the_replica(runtime: Runtime, cluster: PgCluster) -> None:
    reader, author = _neighbours(runtime, cluster)
    with _client(runtime) as client:
        cluster.pause_replay()
        post = make_post(runtime, author)  # on the primary, not replayed yet

        with _adds(client, 2, "doorstep_read_sessions_total", target="replica"):
            assert str(post.id) not in feed_ids(client, reader)
            got = client.get(f"/api/v1/posts/{post.id}", headers=reader.headers)
            assert got.status_code == 404

        cluster.resume_replay()
        cluster.wait_for_replay()
        assert str(post.id) in feed_ids(client, reader)


def test_the_portal_the_request_log_and_timelines_are_read_from_the_replica(
    runtime: Runtime, cluster: PgCluster
) -> None:
    owner = make_person(runtime)
    make_camera(runtime, owner.user)
    cluster.wait_for_replay()
    reads = [
        ("/api/v1/events", owner.headers),
        ("/api/v1/transparency/requests", {}),
        ("/api/v1/transparency/agencies", {}),
        ("/api/v1/transparency/audit/head", {}),
        ("/api/v1/policy", {}),
        ("/transparency/requests", {}),
        ("/transparency/agencies.csv", {}),
        ("/transparency/policy", {}),
    ]
    with _client(runtime) as client:
        with _adds(client, len(reads), "doorstep_read_sessions_total", target="replica"):
            for path, headers in reads:
                assert client.get(path, headers=headers).status_code == 200, path
        sign_in(client, owner, runtime)
        cluster.wait_for_replay()
        with _adds(client, 1, "doorstep_read_sessions_total", target="replica"):
            assert client.get("/timeline").status_code == 200


def test_the_callers_reads_after_his_write_stay_on_the_primary_until_replayed(
    runtime: Runtime, cluster: PgCluster
) -> None:
    reader, author = _neighbours(runtime, cluster)
    with _client(runtime) as writer_client, _client(runtime) as other_client:
        cluster.pause_replay()
        r = writer_client.post(
            "/api/v1/posts",
            headers=author.headers,
            json={"category": "safety", "title": "Pothole on the corner", "body": "Deep one."},
        )
        assert r.status_code == 201, r.text
        post_id = r.json()["id"]
        assert writer_client.cookies.get(FENCE_COOKIE)

        # The writer sees his post at once, from the primary, though the replica is paused...
        skips = {"replica": _replica_name(cluster), "reason": "behind_own_write"}
        with _adds(writer_client, 2, "doorstep_replica_skips_total", **skips):
            assert post_id in feed_ids(writer_client, author)
            mine = writer_client.get("/api/v1/users/me/posts", headers=author.headers)
            assert [p["id"] for p in mine.json()] == [post_id]
        # ...while another caller still reads the replica, which has not replayed it.
        assert post_id not in feed_ids(other_client, reader)

        cluster.resume_replay()
        cluster.wait_for_replay()
        # Replayed: the writer's reads go back to the replica, and everyone sees the post.
        with _adds(writer_client, 2, "doorstep_read_sessions_total", target="replica"):
            assert post_id in feed_ids(writer_client, author)
            assert post_id in feed_ids(other_client, reader)


def test_a_page_read_from_the_replica_still_shows_the_signed_in_layout(
    runtime: Runtime, cluster: PgCluster
) -> None:
    reader, author = _neighbours(runtime, cluster)
    make_post(runtime, author, title="Loose dog near the school")
    with _client(runtime) as client:
        sign_in(client, reader, runtime)
        cluster.wait_for_replay()
        with _adds(client, 2, "doorstep_read_sessions_total", target="replica"):
            page = client.get("/feed")
            assert page.status_code == 200
            assert "Loose dog near the school" in page.text
            assert client.get("/transparency").status_code == 200


def test_a_stopped_replica_is_skipped_counted_and_reported(
    runtime: Runtime, cluster: PgCluster
) -> None:
    reader, author = _neighbours(runtime, cluster)
    post = make_post(runtime, author)
    cluster.wait_for_replay()
    name = _replica_name(cluster)
    with _client(runtime) as client:
        assert _metric(client, "doorstep_replica_up", replica=name) == 1
        cluster.stop_replica()

        with (
            capture_logs() as logs,
            _adds(client, 2, "doorstep_replica_skips_total", replica=name, reason="down"),
        ):
            assert str(post.id) in feed_ids(client, reader)  # from the primary
            assert client.get("/api/v1/transparency/agencies").status_code == 200
        skipped = [e for e in logs if e["event"] == "replica.skipped"]
        assert [(e["replica"], e["reason"]) for e in skipped] == [(name, "down")]  # once
        assert _metric(client, "doorstep_replica_up", replica=name) == 0

        ready = client.get("/readyz")
        assert ready.status_code == 200
        assert ready.json()["status"] == "ready"
        assert ready.json()["replicas"] == {name: "unreachable"}

        cluster.start_replica()
        cluster.wait_for_replay()
        assert client.get("/readyz").json()["replicas"] == {name: "ok"}
        with _adds(client, 1, "doorstep_read_sessions_total", target="replica"):
            assert str(post.id) in feed_ids(client, reader)


def test_a_replica_lagging_past_the_setting_is_skipped(tmp_path: Path, cluster: PgCluster) -> None:
    runtime = _runtime(tmp_path, cluster, replica_max_lag_s=0.5)
    try:
        reader, author = _neighbours(runtime, cluster)
        name = _replica_name(cluster)
        with _client(runtime) as client:
            assert _metric(client, "doorstep_replica_lag_seconds", replica=name) < 0.5
            cluster.pause_replay()
            post = make_post(runtime, author)
            deadline = time.monotonic() + 30
            while runtime.replicas.replicas[0].state().lag_s <= 0.5:
                assert time.monotonic() < deadline, "the paused replica never lagged"
                time.sleep(0.1)

            # A caller with no write of his own gets the post: the lagging replica is skipped.
            with _adds(client, 1, "doorstep_replica_skips_total", replica=name, reason="lagging"):
                assert str(post.id) in feed_ids(client, reader)
            assert _metric(client, "doorstep_replica_lag_seconds", replica=name) > 0.5
            ready = client.get("/readyz")
            assert ready.status_code == 200
            assert ready.json()["replicas"][name].startswith("lagging (")
    finally:
        runtime.close()


def test_replica_settings_are_postgresql_urls_and_need_a_postgresql_primary(
    tmp_path: Path,
) -> None:
    with pytest.raises(ValidationError, match="a replica is a PostgreSQL URL"):
        make_settings(tmp_path, "sqlite://", database_replica_urls="sqlite:///other.db")
    settings = make_settings(
        tmp_path,
        f"sqlite:///{tmp_path / 'doorstep.db'}",
        database_replica_urls="postgresql+psycopg://reader@replica1/doorstep, ",
    )
    assert settings.database_replica_urls == ["postgresql+psycopg://reader@replica1/doorstep"]
    with pytest.raises(ValueError, match="needs a PostgreSQL primary"):
        Runtime(settings)
