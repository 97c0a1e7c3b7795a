"""The owner's alerts for local-first events: one per window and camera, naming the count,
sent through the outbox after the window (so nothing is lost to a crash after the commit)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update
from sqlalchemy.orm.attributes import set_committed_value
from tests.factories import CameraWithToken, Person, make_camera, make_person, report_event

from doorstep.accounts.models import User
from doorstep.cameras import event_alerts
from doorstep.cameras import events as camera_events
from doorstep.cameras.models import Camera
from doorstep.db import utcnow
from doorstep.jobs import job_registry
from doorstep.notify import outbox
from doorstep.notify.models import JobStatus, OutboxJob
from doorstep.notify.worker import Worker
from doorstep.runtime import Runtime

WINDOW_S = 30


def _owner_and_camera(
    client: TestClient, runtime: Runtime, **prefs: Any
) -> tuple[Person, CameraWithToken]:
    owner = make_person(runtime)
    r = client.patch(
        "/api/v1/users/me/notification-preferences",
        headers=owner.headers,
        json={"email": False, "in_app": True, **prefs},
    )
    assert r.status_code == 200, r.text
    return owner, make_camera(runtime, owner.user, name="Front door")


def _report(
    client: TestClient, cam: CameraWithToken, ref: str, kind: str = "motion", ago_s: float = 60
) -> None:
    report_event(client, cam, utcnow() - timedelta(seconds=ago_s), kind=kind, device_ref=ref)


def _alert_jobs(runtime: Runtime) -> list[OutboxJob]:
    with runtime.db.transaction() as session:
        return list(
            session.scalars(
                select(OutboxJob)
                .where(OutboxJob.kind == event_alerts.EVENT_ALERT_JOB)
                .order_by(OutboxJob.id)
            )
        )


def _after_the_window(runtime: Runtime) -> int:
    """Make the queued alerts due now, as if their window had passed, and run the worker."""
    with runtime.db.transaction() as session:
        session.execute(
            update(OutboxJob)
            .where(OutboxJob.kind == event_alerts.EVENT_ALERT_JOB)
            .values(run_after=utcnow() - timedelta(seconds=1))
        )
    return Worker(runtime, job_registry(runtime.settings, periodic=False)).drain()


def _titles(client: TestClient, owner: Person) -> list[str]:
    notes = client.get("/api/v1/notifications", headers=owner.headers).json()
    return sorted(n["title"] for n in notes)


def _shift_clock(monkeypatch: pytest.MonkeyPatch, by: timedelta) -> None:
    real = camera_events.utcnow
    monkeypatch.setattr(camera_events, "utcnow", lambda: real() + by)


def test_a_burst_is_one_alert_naming_the_count(client: TestClient, runtime: Runtime) -> None:
    owner, cam = _owner_and_camera(client, runtime)
    for i in range(3):
        _report(client, cam, f"e{i}")
    # The events are recorded at once; the alert waits for the window to close.
    jobs = _alert_jobs(runtime)
    assert len(jobs) == 1
    assert jobs[0].run_after >= utcnow() + timedelta(seconds=runtime.settings.event_alert_window_s)
    assert _titles(client, owner) == []
    _after_the_window(runtime)
    assert _titles(client, owner) == ["3 motion events at Front door"]
    notes = client.get("/api/v1/notifications", headers=owner.headers).json()
    assert notes[0]["link"] == f"/timeline?camera={cam.camera.id}"
    assert "3 motion" in notes[0]["body"] and "kept on your device" in notes[0]["body"]
    # A retried event (same device_ref) is not counted again, and opens no window.
    _report_again = client.post(
        f"/api/v1/cameras/{cam.camera.id}/events",
        headers=cam.headers,
        json={"kind": "motion", "device_ref": "e0", "started_at": utcnow().isoformat()},
    )
    assert _report_again.status_code == 200
    assert len(_alert_jobs(runtime)) == 1


def test_an_event_after_the_window_is_a_new_alert(
    client: TestClient, runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    owner, cam = _owner_and_camera(client, runtime)
    _report(client, cam, "a")
    _report(client, cam, "b", kind="person")
    _after_the_window(runtime)
    assert _titles(client, owner) == ["2 events at Front door"]
    _shift_clock(monkeypatch, timedelta(seconds=WINDOW_S + 1))
    _report(client, cam, "c", kind="vehicle")
    assert len(_alert_jobs(runtime)) == 2
    _after_the_window(runtime)
    assert _titles(client, owner) == ["2 events at Front door", "Vehicle at Front door"]
    notes = client.get("/api/v1/notifications", headers=owner.headers).json()
    alone = next(n for n in notes if n["title"] == "Vehicle at Front door")
    event = client.get("/api/v1/events", headers=owner.headers).json()["events"]
    vehicle = next(e for e in event if e["kind"] == "vehicle")
    assert alone["link"] == f"/events/{vehicle['id']}"


def test_a_crash_after_the_commit_loses_no_alert(client: TestClient, runtime: Runtime) -> None:
    owner, cam = _owner_and_camera(client, runtime)
    _report(client, cam, "a")
    _report(client, cam, "b")
    # The alert was committed with the first event. A worker takes it and dies.
    with runtime.db.transaction() as session:
        session.execute(update(OutboxJob).values(run_after=utcnow() - timedelta(seconds=1)))
        taken = outbox.claim_jobs(session=session, worker_id="crashed", limit=10, lease_s=0)
    assert [j.kind for j in taken] == [event_alerts.EVENT_ALERT_JOB]
    assert _titles(client, owner) == []
    # Its lease runs out; the next worker sends the alert, once.
    _after_the_window(runtime)
    assert _titles(client, owner) == ["2 motion events at Front door"]
    assert [j.status for j in _alert_jobs(runtime)] == [JobStatus.done]
    _after_the_window(runtime)
    assert _titles(client, owner) == ["2 motion events at Front door"]


def test_only_the_kinds_the_owner_wants_are_counted(client: TestClient, runtime: Runtime) -> None:
    owner, cam = _owner_and_camera(client, runtime, event_kinds=["person"])
    _report(client, cam, "a")
    _report(client, cam, "b", kind="person")
    _report(client, cam, "c")
    _after_the_window(runtime)
    assert _titles(client, owner) == ["Person at Front door"]
    other, quiet = _owner_and_camera(client, runtime, event_kinds=["person"])
    _report(client, quiet, "m")
    _after_the_window(runtime)
    assert _titles(client, other) == []


def test_batches_and_single_events_share_the_window(client: TestClient, runtime: Runtime) -> None:
    owner, cam = _owner_and_camera(client, runtime)
    _report(client, cam, "single")
    start = utcnow() - timedelta(minutes=5)
    r = client.post(
        f"/api/v1/cameras/{cam.camera.id}/events/batch",
        headers=cam.headers,
        json={
            "events": [
                {"kind": "motion", "device_ref": f"b{i}", "started_at": start.isoformat()}
                for i in range(4)
            ]
        },
    )
    assert r.status_code == 201 and r.json() == {"created": 4, "duplicates": 0}
    assert len(_alert_jobs(runtime)) == 1
    _after_the_window(runtime)
    assert _titles(client, owner) == ["5 motion events at Front door"]


def test_an_event_that_lost_the_race_to_open_the_window_is_covered(
    runtime: Runtime, client: TestClient
) -> None:
    """Two events of one camera at once: the one whose camera row was read before the other
    opened the window loses the compare-and-set, reads the winner's end and queues
    nothing; the winner's window reaches back over it."""
    _owner, cam = _owner_and_camera(client, runtime)
    _report(client, cam, "winner")
    (job,) = _alert_jobs(runtime)
    with runtime.db.transaction() as session:
        stale = session.get_one(Camera, cam.camera.id)
        set_committed_value(stale, "alerted_until", None)  # as read before the winner
        now = utcnow()
        event_alerts.queue_event_alert(session=session, camera=stale, now=now, window_s=WINDOW_S)
    assert len(_alert_jobs(runtime)) == 1
    since = datetime.fromisoformat(job.payload["since"])
    until = datetime.fromisoformat(job.payload["until"])
    assert since < now < until


def test_alert_times_are_in_the_owners_zone(client: TestClient, runtime: Runtime) -> None:
    owner, cam = _owner_and_camera(client, runtime)
    neighbour, other_cam = _owner_and_camera(client, runtime)
    with runtime.db.transaction() as session:
        user = session.get(User, owner.user.id)
        assert user is not None
        user.time_zone = "Asia/Tokyo"  # UTC+9 all year
    _report(client, cam, "a", ago_s=120)
    _report(client, cam, "b", ago_s=60)
    _report(client, other_cam, "c", ago_s=60)
    _after_the_window(runtime)
    (burst,) = client.get("/api/v1/notifications", headers=owner.headers).json()
    first = (utcnow() - timedelta(seconds=120)).astimezone(ZoneInfo("Asia/Tokyo"))
    assert f"between {first:%Y-%m-%d %H:}" in burst["body"]
    assert burst["body"].endswith(" JST, kept on your device.") and "UTC" not in burst["body"]
    (single,) = client.get("/api/v1/notifications", headers=neighbour.headers).json()
    # No preference: the instance's zone (UTC in the tests).
    assert single["body"].endswith(" UTC (kept on your device).")
