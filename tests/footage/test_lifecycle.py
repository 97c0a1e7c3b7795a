"""Reminders, closing after the open period, evidence retention and holds for a case."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import select, update
from tests.factories import (
    make_agency,
    make_camera,
    make_officer,
    make_person,
    request_body,
    sample_clip,
    upload_clip,
)

from doorstep.accounts.models import Role
from doorstep.db import utcnow
from doorstep.footage.models import Evidence, EvidenceStatus, FootageRequest, Recipient
from doorstep.jobs import job_registry
from doorstep.notify.models import Notification
from doorstep.notify.worker import Worker
from doorstep.runtime import Runtime

LAT, LNG = 39.9526, -75.1652


def _setup(client: TestClient, runtime: Runtime, tmp_path: Path, owners: int = 2):  # type: ignore[no-untyped-def]
    agency = make_agency(runtime, lat=LAT, lng=LNG)
    officer = make_officer(runtime, agency)
    admin = make_person(runtime, role=Role.admin)
    client.patch(
        "/api/v1/policy",
        headers=admin.headers,
        json={"changes": {"moderator_review": False}, "reason": "test"},
    )
    people = []
    for i in range(owners):
        person = make_person(runtime)
        cam = make_camera(runtime, person.user, latitude=LAT + 0.0002 * i, longitude=LNG)
        event = upload_clip(
            client,
            cam,
            sample_clip(tmp_path, f"{i}.mp4", seed=i),
            started_at=utcnow() - timedelta(hours=2),
        ).json()
        people.append((person, event))
    request_id = client.post(
        "/api/v1/requests", headers=officer.headers, json=request_body(LAT, LNG)
    ).json()["id"]
    client.post(f"/api/v1/requests/{request_id}/submit", headers=officer.headers)
    Worker(runtime, job_registry(runtime.settings, periodic=False)).drain()
    return officer, people, request_id


def _titles(runtime: Runtime, user_id: object) -> list[str]:
    with runtime.db.transaction() as session:
        return list(
            session.scalars(
                select(Notification.title)
                .where(Notification.user_id == user_id, Notification.topic == "footage_request")
                .order_by(Notification.created_at)
            )
        )


def _advance(runtime: Runtime, days: float) -> None:
    """Move the request and its reminders back in time, as if ``days`` had passed."""
    delta = timedelta(days=days)
    with runtime.db.transaction() as session:
        for request in session.scalars(select(FootageRequest)):
            assert request.activated_at and request.closes_at
            request.activated_at -= delta
            request.closes_at -= delta
        for recipient in session.scalars(select(Recipient)):
            if recipient.next_reminder_at is not None:
                recipient.next_reminder_at -= delta


def test_reminders_after_one_and_three_days_unless_answered_or_off(
    client: TestClient, runtime: Runtime, tmp_path: Path
) -> None:
    _officer, people, _request_id = _setup(client, runtime, tmp_path, owners=3)
    (quiet, _), (answered, _e1), (reminded, _) = people
    client.put(
        "/api/v1/users/me/request-settings", headers=quiet.headers, json={"reminders": False}
    )
    client.post(f"/api/v1/inbox/requests/{_request_id}/decline", headers=answered.headers)
    worker = Worker(runtime, job_registry(runtime.settings))
    _advance(runtime, 1.01)
    worker.run_periodic(force=True)
    worker.drain()
    assert len(_titles(runtime, reminded.user.id)) == 2
    assert _titles(runtime, reminded.user.id)[1].startswith("Reminder:")
    _advance(runtime, 2.0)
    worker.run_periodic(force=True)
    worker.drain()
    assert len(_titles(runtime, reminded.user.id)) == 3
    _advance(runtime, 2.0)
    worker.run_periodic(force=True)
    worker.drain()
    assert len(_titles(runtime, reminded.user.id)) == 3, "only the policy's reminder days"
    assert len(_titles(runtime, quiet.user.id)) == 1
    assert len(_titles(runtime, answered.user.id)) == 1


def test_request_closes_after_seven_days(
    client: TestClient, runtime: Runtime, tmp_path: Path
) -> None:
    officer, _people, request_id = _setup(client, runtime, tmp_path, owners=1)
    worker = Worker(runtime, job_registry(runtime.settings))
    _advance(runtime, 6.9)
    worker.run_periodic(force=True)
    assert (
        client.get(f"/api/v1/requests/{request_id}", headers=officer.headers).json()["status"]
        == "active"
    )
    _advance(runtime, 0.2)
    worker.run_periodic(force=True)
    r = client.get(f"/api/v1/requests/{request_id}", headers=officer.headers).json()
    assert r["status"] == "closed" and r["close_reason"] == "expired"


def test_evidence_deleted_after_retention_unless_held(
    client: TestClient, runtime: Runtime, tmp_path: Path
) -> None:
    officer, people, request_id = _setup(client, runtime, tmp_path, owners=1)
    ((person, event),) = people
    client.post(
        f"/api/v1/inbox/requests/{request_id}/share",
        headers=person.headers,
        json={"event_ids": [event["id"]]},
    )
    Worker(runtime, job_registry(runtime.settings, periodic=False)).drain()  # its copy
    assert client.post(
        f"/api/v1/requests/{request_id}/hold", headers=officer.headers, json={"held": True}
    ).json() == {"items": 1}
    with runtime.db.transaction() as session:
        session.execute(update(Evidence).values(delete_after=utcnow() - timedelta(days=1)))
        key = session.scalars(select(Evidence.storage_key)).one()
    worker = Worker(runtime, job_registry(runtime.settings))
    worker.run_periodic(force=True)
    assert key in list(runtime.storage.keys()), "held evidence is kept past the retention"
    client.post(
        f"/api/v1/requests/{request_id}/hold", headers=officer.headers, json={"held": False}
    )
    worker.run_periodic(force=True)
    assert key not in list(runtime.storage.keys())
    with runtime.db.transaction() as session:
        item = session.scalars(select(Evidence)).one()
        assert item.status == EvidenceStatus.deleted and item.deleted_at is not None
