"""Every request has an id, sent back in ``X-Request-ID``; the jobs it queues keep it and
the worker's log lines for them name it; the logs are JSON lines."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import structlog
from fastapi.testclient import TestClient
from sqlalchemy import select

from doorstep import logs
from doorstep.notify.models import OutboxJob
from doorstep.runtime import Runtime
from tests.factories import asked_owners, run_jobs


@pytest.fixture
def captured() -> Iterator[structlog.testing.LogCapture]:
    capture = structlog.testing.LogCapture()
    structlog.configure(processors=[structlog.contextvars.merge_contextvars, capture])
    try:
        yield capture
    finally:
        structlog.reset_defaults()


def test_a_request_id_is_sent_back_and_a_bad_one_replaced(client: TestClient) -> None:
    r = client.get("/healthz", headers={"X-Request-ID": "trace-7.a:b"})
    assert r.headers["x-request-id"] == "trace-7.a:b"
    for bad in ("has spaces", "x" * 65, 'quote"d'):
        r = client.get("/healthz", headers={"X-Request-ID": bad})
        assert re.fullmatch(r"[0-9a-f]{32}", r.headers["x-request-id"]), bad
    first, second = (client.get("/healthz").headers["x-request-id"] for _ in range(2))
    assert first != second


def test_the_jobs_a_request_queues_log_its_id(
    client: TestClient,
    runtime: Runtime,
    tmp_path: Path,
    captured: structlog.testing.LogCapture,
) -> None:
    asked = asked_owners(client, runtime, tmp_path)
    [(owner, event)] = asked.owners
    r = client.post(
        f"/api/v1/inbox/requests/{asked.request_id}/share",
        headers={**owner.headers, "X-Request-ID": "share-42"},
        json={"event_ids": [event["id"]]},
    )
    assert r.status_code == 200 and r.headers["x-request-id"] == "share-42"
    with runtime.db.read_only() as session:
        queued = session.scalars(
            select(OutboxJob).where(OutboxJob.kind == "footage.redaction")
        ).one()
        assert queued.request_id == "share-42"
    captured.entries.clear()
    run_jobs(runtime)
    done = [e for e in captured.entries if e.get("job_kind") == "footage.redaction"]
    assert done and all(e["request_id"] == "share-42" for e in done)
    assert any(e["event"] == "outbox.job_done" for e in done)
    # Jobs queued by the worker itself, outside any request, name none.
    assert logs.current_request_id() is None


def test_log_lines_are_json_with_their_context(caplog: pytest.LogCaptureFixture) -> None:
    logs.configure(log_format="json")
    try:
        with caplog.at_level(logging.INFO), logs.bound(request_id="r-1", job_id=None):
            structlog.get_logger("doorstep.test").info("thing.done", items=3)
        line = json.loads(caplog.records[-1].getMessage())
        assert line["event"] == "thing.done" and line["items"] == 3
        assert line["request_id"] == "r-1" and "job_id" not in line
        assert line["level"] == "info" and line["timestamp"].endswith("Z")
    finally:
        structlog.reset_defaults()
