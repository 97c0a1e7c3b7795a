"""What an operator watches: /healthz, /readyz and /metrics, scraped as Prometheus would."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from pydantic import ValidationError

from doorstep.app import create_app
from doorstep.cameras import registry as camera_registry
from doorstep.db import utcnow
from doorstep.jobs import job_registry
from doorstep.migrate import upgrade
from doorstep.notify import outbox
from doorstep.notify.handlers import JobContext, JobRegistry
from doorstep.notify.worker import Worker
from doorstep.runtime import Runtime
from tests.conftest import make_settings
from tests.factories import make_camera, make_person, sample_clip, upload_clip

LOCAL = ("127.0.0.1", 50000)


@pytest.fixture
def local_client(runtime: Runtime) -> Iterator[TestClient]:
    """A client on this machine: the default allowlist lets it read /metrics."""
    with TestClient(create_app(runtime), base_url="https://testserver", client=LOCAL) as c:
        yield c


def scrape(
    client: TestClient, **headers: str
) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    r = client.get("/metrics", headers=headers)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/plain")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(r.text)
        for sample in family.samples
    }


def value(
    figures: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str, **labels: str
) -> float:
    return figures.get((name, tuple(sorted(labels.items()))), 0.0)


def test_healthz_and_readyz_answer_for_a_working_instance(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    r = client.get("/readyz")
    assert r.status_code == 200
    assert r.json() == {"status": "ready", "checks": {"database": "ok", "storage": "ok"}}


def test_readyz_names_an_unreachable_database_while_healthz_still_answers(tmp_path: Path) -> None:
    # A SQLite file in a folder that does not exist cannot be opened.
    settings = make_settings(tmp_path, f"sqlite:///{tmp_path / 'gone' / 'doorstep.db'}")
    runtime = Runtime(settings)
    try:
        with TestClient(create_app(runtime), base_url="https://testserver") as c:
            assert c.get("/healthz").status_code == 200
            r = c.get("/readyz")
            assert r.status_code == 503
            assert r.json()["status"] == "not_ready"
            assert r.json()["checks"]["database"] == "unreachable (OperationalError)"
            assert r.json()["checks"]["storage"] == "ok"
    finally:
        runtime.close()


def test_metrics_are_refused_to_other_networks_without_the_token(
    tmp_path: Path, database_url: str
) -> None:
    runtime = Runtime(make_settings(tmp_path, database_url, metrics_token="s3cret-token"))
    try:
        # TestClient's default peer is "testclient", which is in no allowed network.
        with TestClient(create_app(runtime), base_url="https://testserver") as c:
            before = scrape(c, Authorization="Bearer s3cret-token")
            r = c.get("/metrics")
            assert r.status_code == 403 and r.json()["error"]["code"] == "metrics_forbidden"
            r = c.get("/metrics", headers={"Authorization": "Bearer wrong"})
            assert r.status_code == 403
            after = scrape(c, Authorization="Bearer s3cret-token")
            count = "doorstep_http_request_duration_seconds_count"
            refused = {"method": "GET", "route": "/metrics", "status": "403"}
            assert value(after, count, **refused) - value(before, count, **refused) == 2
    finally:
        runtime.close()


def test_an_allowlist_setting_replaces_the_default(tmp_path: Path, database_url: str) -> None:
    runtime = Runtime(make_settings(tmp_path, database_url, metrics_allowed_networks="10.0.0.0/8"))
    try:
        with TestClient(create_app(runtime), base_url="https://testserver", client=LOCAL) as c:
            assert c.get("/metrics").status_code == 403
        with TestClient(
            create_app(runtime), base_url="https://testserver", client=("10.2.3.4", 1234)
        ) as c:
            assert c.get("/metrics").status_code == 200
    finally:
        runtime.close()


def test_request_latency_is_counted_per_route_template(
    local_client: TestClient, runtime: Runtime, tmp_path: Path
) -> None:
    owner = make_person(runtime)
    cam = make_camera(runtime, owner.user)
    route = "/api/v1/cameras/{camera_id}/clips"
    before = scrape(local_client)
    for n in range(2):
        r = upload_clip(local_client, cam, sample_clip(tmp_path, f"clip{n}.mp4"))
        assert r.status_code == 201, r.text
    after = scrape(local_client)
    count = "doorstep_http_request_duration_seconds_count"
    labels = {"method": "POST", "route": route, "status": "201"}
    assert value(after, count, **labels) - value(before, count, **labels) == 2
    # A path that matches no route is one series, whatever the path.
    local_client.get("/no-such-page-1")
    local_client.get("/no-such-page-2")
    figures = scrape(local_client)
    unmatched = {"method": "GET", "route": "unmatched", "status": "404"}
    assert value(figures, count, **unmatched) - value(after, count, **unmatched) == 2


def test_outbox_depth_age_failures_and_job_figures_move_as_the_worker_works(
    local_client: TestClient, runtime: Runtime
) -> None:
    ran: list[int] = []

    def handle(ctx: JobContext, payload: dict[str, object]) -> None:
        ran.append(ctx.job_id)

    with runtime.db.transaction() as session:
        for _ in range(3):
            outbox.enqueue(session=session, kind="test.ok", payload={})
        outbox.enqueue(session=session, kind="test.unknown", payload={})
    figures = scrape(local_client)
    assert value(figures, "doorstep_outbox_depth", kind="test.ok") == 3
    assert value(figures, "doorstep_outbox_depth", kind="test.unknown") == 1
    assert value(figures, "doorstep_outbox_oldest_age_seconds", kind="test.ok") >= 0
    assert ("doorstep_outbox_oldest_age_seconds", (("kind", "test.ok"),)) in figures

    jobs = JobRegistry()
    jobs.add("test.ok", handle)
    Worker(runtime, jobs).drain()
    assert len(ran) == 3
    after = scrape(local_client)
    assert value(after, "doorstep_outbox_depth", kind="test.ok") == 0
    assert ("doorstep_outbox_oldest_age_seconds", (("kind", "test.ok"),)) not in after
    # A kind with no handler fails for good at once.
    assert value(after, "doorstep_outbox_failed_jobs", kind="test.unknown") == 1
    done = "doorstep_jobs_done_total"
    assert value(after, done, kind="test.ok") - value(figures, done, kind="test.ok") == 3
    seconds = "doorstep_job_duration_seconds_count"
    assert value(after, seconds, kind="test.ok") - value(figures, seconds, kind="test.ok") == 3
    failures = "doorstep_job_failures_total"
    permanent = {"kind": "test.unknown", "permanent": "yes"}
    assert value(after, failures, **permanent) - value(figures, failures, **permanent) == 1


def test_the_retention_sweep_reports_its_progress(
    local_client: TestClient, runtime: Runtime, tmp_path: Path
) -> None:
    owner = make_person(runtime)
    cam = make_camera(runtime, owner.user, retention_days=30)
    for n in range(2):
        started = utcnow() - timedelta(days=3, minutes=n)
        r = upload_clip(local_client, cam, sample_clip(tmp_path, f"old{n}.mp4"), started_at=started)
        assert r.status_code == 201, r.text
    with runtime.db.transaction() as session:
        camera_registry.update_camera(
            session=session, owner=owner.user, camera_id=cam.camera.id, retention_days=1
        )
    before = scrape(local_client)
    Worker(runtime, job_registry(runtime.settings)).run_periodic(force=True)
    after = scrape(local_client)
    deleted = "doorstep_retention_clips_deleted_total"
    assert value(after, deleted) - value(before, deleted) == 2
    assert value(after, "doorstep_retention_sweep_running") == 0
    finished = "doorstep_retention_sweep_last_finished_timestamp_seconds"
    assert value(after, finished) > value(before, finished)
    assert value(after, finished) >= utcnow().timestamp() - 60


def test_a_metrics_allowlist_entry_that_is_no_network_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match=r"'metrics\.lan' is not a network"):
        make_settings(tmp_path, "sqlite://", metrics_allowed_networks="10.0.0.0/8,metrics.lan")


def test_a_worker_process_serves_its_job_metrics(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, f"sqlite:///{tmp_path / 'doorstep.db'}")
    upgrade(settings.resolved_database_url())
    runtime = Runtime(settings)
    try:
        with runtime.db.transaction() as session:
            outbox.enqueue(session=session, kind="test.unknown", payload={})
    finally:
        runtime.close()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {
        **os.environ,
        "DOORSTEP_DATA_DIR": str(settings.data_dir),
        "DOORSTEP_DATABASE_URL": settings.resolved_database_url(),
        "DOORSTEP_WORKER_POLL_S": "0.1",
    }
    worker = subprocess.Popen(
        [sys.executable, "-m", "doorstep", "worker", "--metrics-port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    failures = 'doorstep_job_failures_total{kind="test.unknown",permanent="yes"} 1.0'
    try:
        deadline = time.monotonic() + 60
        text = ""
        while failures not in text and time.monotonic() < deadline:
            time.sleep(0.2)
            try:
                text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=2).text
            except httpx.TransportError:
                continue  # not listening yet
        assert failures in text
        assert "doorstep_retention_sweep_last_finished_timestamp_seconds" in text
    finally:
        worker.terminate()
        worker.wait(timeout=30)
