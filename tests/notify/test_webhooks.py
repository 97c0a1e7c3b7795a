"""Webhook registration refuses internal targets; the worker refuses them again at delivery."""

from __future__ import annotations

import socket
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from tests.factories import make_person
from tests.notify.receivers import receiver

from doorstep.db import utcnow
from doorstep.jobs import job_registry
from doorstep.notify import outbox
from doorstep.notify import service as notify_service
from doorstep.notify.channels.webhook import WEBHOOK_JOB
from doorstep.notify.models import JobStatus, OutboxJob, Webhook
from doorstep.notify.worker import Worker
from doorstep.runtime import Runtime


def _webhook_count(runtime: Runtime) -> int:
    with runtime.db.transaction() as session:
        return int(session.scalar(select(func.count()).select_from(Webhook)) or 0)


@pytest.mark.parametrize(
    ("url", "reason", "says"),
    [
        ("http://hooks.example.org/doorstep", "scheme", "https://"),
        ("ftp://hooks.example.org/doorstep", "scheme", "https://"),
        ("https:///doorstep", "url", "host name"),
        ("https://hooks.example.org:99999/x", "url", "port"),
        ("https://127.0.0.1:8000/admin", "address", "loopback"),
        ("https://localhost/x", "address", "'localhost' resolves to 127.0.0.1"),
        ("https://[::1]/x", "address", "loopback"),
        ("https://[::ffff:127.0.0.1]/x", "address", "loopback"),
        ("https://0.0.0.0/x", "address", "unspecified"),
        ("https://10.20.30.40/x", "address", "private"),
        ("https://192.168.1.10/x", "address", "private"),
        ("https://169.254.169.254/latest/meta-data", "address", "link-local"),
        ("https://nowhere.invalid/x", "unresolvable", "does not resolve"),
    ],
)
def test_registration_refuses_with_the_reason(
    client: TestClient, runtime: Runtime, url: str, reason: str, says: str
) -> None:
    owner = make_person(runtime)

    r = client.post("/api/v1/webhooks", headers=owner.headers, json={"url": url})

    assert r.status_code == 400, r.text
    error = r.json()["error"]
    assert error["code"] == "webhook_target_refused"
    assert error["details"] == {"reason": reason}
    assert says in error["message"]
    assert _webhook_count(runtime) == 0


def test_registration_accepts_a_public_https_address(client: TestClient, runtime: Runtime) -> None:
    owner = make_person(runtime)

    # A public address literal needs no DNS; registration does not contact it.
    r = client.post("/api/v1/webhooks", headers=owner.headers, json={"url": "https://8.8.8.8/hook"})

    assert r.status_code == 201, r.text
    assert _webhook_count(runtime) == 1


def test_registration_accepts_an_allowlisted_on_premises_target(
    client: TestClient, runtime: Runtime
) -> None:
    runtime.settings.webhook_allow_http = True
    runtime.settings.webhook_allowed_networks = ["192.168.1.0/24", "localhost"]
    owner = make_person(runtime)

    for url in ("http://192.168.1.10:8123/api/webhook/x", "http://localhost:9000/hook"):
        r = client.post("/api/v1/webhooks", headers=owner.headers, json={"url": url})
        assert r.status_code == 201, r.text
    r = client.post(
        "/api/v1/webhooks", headers=owner.headers, json={"url": "http://192.168.2.10/hook"}
    )
    assert r.status_code == 400
    assert _webhook_count(runtime) == 2


def test_a_target_refused_at_delivery_fails_its_job_for_good(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The name pointed outside when registered and points at the server itself now
    # (DNS rebinding, or an address that changed): delivery checks again, sends
    # nothing and gives the job up instead of retrying it forever.
    runtime.settings.webhook_allow_http = True
    runtime.settings.worker_max_attempts = 5
    real = socket.getaddrinfo
    answers = iter(["8.8.8.8"])

    with receiver("127.0.0.1") as internal:

        def fake(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
            if host != "rebind.test":
                return real(host, port, *args, **kwargs)
            address = next(answers, "127.0.0.1")
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, int(port)))]

        monkeypatch.setattr(socket, "getaddrinfo", fake)
        owner = make_person(runtime)
        with runtime.db.transaction() as session:
            notify_service.add_webhook(
                session=session,
                settings=runtime.settings,
                user_id=owner.user.id,
                url=internal.url("rebind.test"),
            )
            notify_service.alert_user(
                session=session, user_id=owner.user.id, topic="t", title="Hello", body="Body"
            )

        Worker(runtime, job_registry(runtime.settings, periodic=False)).drain()

    assert internal.arrivals == []
    with runtime.db.transaction() as session:
        [job] = session.scalars(select(OutboxJob).where(OutboxJob.kind == WEBHOOK_JOB)).all()
        assert job.status == JobStatus.failed
        assert job.attempts == 1
        assert "resolves to 127.0.0.1, a loopback address" in (job.last_error or "")


@pytest.mark.parametrize("endpoints", [1, 3], ids=["one_by_one", "batch"])
def test_a_busy_receivers_retry_after_is_the_least_wait(
    local_webhooks: Runtime, endpoints: int
) -> None:
    # The backoff alone would retry within seconds; the receiver asked for an hour.
    runtime = local_webhooks
    runtime.settings.worker_backoff_base_s = 1.0
    runtime.settings.worker_backoff_max_s = 10.0
    with receiver("127.0.0.1") as busy:
        busy.status = 503
        busy.reply_headers = {"Retry-After": "3600"}
        owner = make_person(runtime)
        with runtime.db.transaction() as session:
            for n in range(endpoints):
                notify_service.add_webhook(
                    session=session,
                    settings=runtime.settings,
                    user_id=owner.user.id,
                    url=busy.url(path=f"/hook/{n}"),
                )
            notify_service.alert_user(
                session=session, user_id=owner.user.id, topic="t", title="Hello", body="Body"
            )
        before = utcnow()

        Worker(runtime, job_registry(runtime.settings, periodic=False)).drain()

    assert len(busy.arrivals) == endpoints
    with runtime.db.transaction() as session:
        jobs = session.scalars(select(OutboxJob).where(OutboxJob.kind == WEBHOOK_JOB)).all()
        assert len(jobs) == endpoints
        for job in jobs:
            assert job.status == JobStatus.pending and job.attempts == 1
            assert "503" in (job.last_error or "")
            assert job.run_after >= before + timedelta(seconds=3600)


def test_a_retry_after_past_the_cap_waits_one_day(local_webhooks: Runtime) -> None:
    runtime = local_webhooks
    with receiver("127.0.0.1") as busy:
        busy.status = 429
        busy.reply_headers = {"Retry-After": str(10**12)}  # past year 9999 if honoured
        owner = make_person(runtime)
        with runtime.db.transaction() as session:
            notify_service.add_webhook(
                session=session, settings=runtime.settings, user_id=owner.user.id, url=busy.url()
            )
            notify_service.alert_user(
                session=session, user_id=owner.user.id, topic="t", title="Hello", body="Body"
            )
        before = utcnow()

        Worker(runtime, job_registry(runtime.settings, periodic=False)).drain()

    with runtime.db.transaction() as session:
        [job] = session.scalars(select(OutboxJob).where(OutboxJob.kind == WEBHOOK_JOB)).all()
        assert job.status == JobStatus.pending and job.attempts == 1
        wait = job.run_after - before
        assert timedelta(seconds=outbox.RETRY_AFTER_CAP_S) <= wait
        assert wait < timedelta(seconds=outbox.RETRY_AFTER_CAP_S + 60)
