"""Alerts end to end: a new clip reaches the owner on the channels he chose, and only those."""

from __future__ import annotations

import json
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import select
from tests.factories import make_camera, make_person, sample_clip, upload_clip
from tests.servers import LocalHTTPReceiver, Subscriber

from doorstep.accounts import service as account_service
from doorstep.accounts.models import PushSubscription
from doorstep.jobs import job_registry
from doorstep.notify.channels.webhook import verify_webhook_signature
from doorstep.notify.models import JobStatus, Notification, OutboxJob
from doorstep.notify.worker import Worker
from doorstep.runtime import Runtime


def test_push_and_webhook_delivered_by_worker(
    client: TestClient,
    local_webhooks: Runtime,
    tmp_path: Path,
    push_service: LocalHTTPReceiver,
    subscriber: Subscriber,
) -> None:
    runtime = local_webhooks
    owner = make_person(runtime)
    client.patch(
        "/api/v1/users/me/notification-preferences",
        headers=owner.headers,
        json={"push": True, "email": False},
    )
    with runtime.db.transaction() as session:
        account_service.add_push_subscription(
            session=session,
            user=session.merge(owner.user),
            endpoint=f"{push_service.url}/push/abc",
            p256dh=subscriber.p256dh,
            auth=subscriber.auth,
        )
    registered = client.post(
        "/api/v1/webhooks", headers=owner.headers, json={"url": f"{push_service.url}/hook"}
    )
    assert registered.status_code == 201, registered.text
    hook = registered.json()
    cam = make_camera(runtime, owner.user, name="Garage")
    assert upload_clip(client, cam, sample_clip(tmp_path), kind="vehicle").status_code == 201

    Worker(runtime, job_registry(runtime.settings, periodic=False)).drain()

    by_path = {r.path: r for r in push_service.received}
    assert set(by_path) == {"/push/abc", "/hook"}
    pushed = subscriber.decrypt(by_path["/push/abc"].body)
    assert pushed["title"] == "Vehicle at Garage" and pushed["url"].startswith("/events/")
    hook_req = by_path["/hook"]
    assert verify_webhook_signature(
        hook["secret"], hook_req.body, hook_req.headers["x-doorstep-signature"]
    )
    assert json.loads(hook_req.body)["data"]["title"] == "Vehicle at Garage"
    with runtime.db.transaction() as session:
        assert {j.status for j in session.scalars(select(OutboxJob))} == {JobStatus.done}


def test_gone_push_subscription_is_forgotten(
    client: TestClient,
    runtime: Runtime,
    tmp_path: Path,
    push_service: LocalHTTPReceiver,
    subscriber: Subscriber,
) -> None:
    push_service.status = 410
    owner = make_person(runtime)
    with runtime.db.transaction() as session:
        user = session.merge(owner.user)
        account_service.update_preferences(session=session, user=user, push=True, email=False)
        account_service.add_push_subscription(
            session=session,
            user=user,
            endpoint=f"{push_service.url}/gone",
            p256dh=subscriber.p256dh,
            auth=subscriber.auth,
        )
    upload_clip(client, make_camera(runtime, owner.user), sample_clip(tmp_path))
    Worker(runtime, job_registry(runtime.settings, periodic=False)).drain()
    with runtime.db.transaction() as session:
        assert session.scalars(select(PushSubscription)).all() == []
        assert {j.status for j in session.scalars(select(OutboxJob))} == {JobStatus.done}


def test_muted_kinds_and_channels_send_nothing(
    client: TestClient, runtime: Runtime, tmp_path: Path
) -> None:
    owner = make_person(runtime)
    client.patch(
        "/api/v1/users/me/notification-preferences",
        headers=owner.headers,
        json={"event_kinds": ["person"], "email": False, "in_app": True},
    )
    cam = make_camera(runtime, owner.user)
    upload_clip(client, cam, sample_clip(tmp_path), kind="motion")
    with runtime.db.transaction() as session:
        assert session.scalars(select(Notification)).all() == []
        assert session.scalars(select(OutboxJob)).all() == []
    upload_clip(client, cam, sample_clip(tmp_path), kind="person")
    with runtime.db.transaction() as session:
        assert len(session.scalars(select(Notification)).all()) == 1
        assert session.scalars(select(OutboxJob)).all() == []
    inbox = client.get("/api/v1/notifications", headers=owner.headers).json()
    assert [n["title"] for n in inbox] == ["Person at Front door"]
    r = client.post(f"/api/v1/notifications/{inbox[0]['id']}/read", headers=owner.headers)
    assert r.status_code == 204
    assert (
        client.get("/api/v1/notifications", headers=owner.headers, params={"unread": True}).json()
        == []
    )


def test_unexpected_error_is_json_without_trace(runtime: Runtime) -> None:
    from doorstep.app import create_app

    app = create_app(runtime)

    @app.get("/api/v1/boom")
    def boom() -> None:
        raise ZeroDivisionError("secret internals")

    with TestClient(app, base_url="https://testserver", raise_server_exceptions=False) as c:
        r = c.get("/api/v1/boom")
    assert r.status_code == 500
    assert r.json() == {
        "error": {"code": "internal_error", "message": "Something went wrong on our side."}
    }
    assert "secret internals" not in r.text and "Traceback" not in r.text
