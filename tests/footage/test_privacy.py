"""Privacy on the request paths: nobody reaches another person's clips, agencies see
totals only, and nothing is shared without the owner's own action."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import func, select
from tests.factories import (
    make_agency,
    make_camera,
    make_officer,
    make_person,
    run_jobs,
    sample_clip,
    send_request,
    set_policy,
    upload_clip,
)

from doorstep.db import utcnow
from doorstep.footage.models import Evidence
from doorstep.runtime import Runtime

LAT, LNG = 39.9526, -75.1652


def test_no_request_path_reaches_another_residents_clips(
    client: TestClient, runtime: Runtime, tmp_path: Path
) -> None:
    agency = make_agency(runtime, lat=LAT, lng=LNG)
    officer = make_officer(runtime, agency)
    alice = make_person(runtime)
    cam_a = make_camera(runtime, alice.user, latitude=LAT, longitude=LNG)
    event_a = upload_clip(
        client, cam_a, sample_clip(tmp_path), started_at=utcnow() - timedelta(hours=2)
    ).json()
    mallory = make_person(runtime)  # asked too, with her own camera
    cam_m = make_camera(runtime, mallory.user, latitude=LAT + 0.0003, longitude=LNG)
    upload_clip(
        client,
        cam_m,
        sample_clip(tmp_path, "m.mp4", seed=2),
        started_at=utcnow() - timedelta(hours=2),
    )
    outsider = make_person(runtime)  # not asked at all
    set_policy(runtime, moderator_review=False)
    request_id, _ = send_request(client, officer, lat=LAT, lng=LNG)

    # Mallory's view of the request lists only her own events.
    mine = client.get(f"/api/v1/inbox/requests/{request_id}", headers=mallory.headers).json()
    assert event_a["id"] not in str(mine)
    # She cannot share Alice's event, by id, into the request.
    r = client.post(
        f"/api/v1/inbox/requests/{request_id}/share",
        headers=mallory.headers,
        json={"event_ids": [event_a["id"]]},
    )
    assert r.status_code == 400 and r.json()["error"]["code"] == "clip_not_eligible"
    # Someone not asked sees nothing of the request from the owner side.
    assert (
        client.get(f"/api/v1/inbox/requests/{request_id}", headers=outsider.headers).status_code
        == 404
    )
    assert (
        client.post(
            f"/api/v1/inbox/requests/{request_id}/share",
            headers=outsider.headers,
            json={"event_ids": [event_a["id"]]},
        ).status_code
        == 404
    )
    # The officer cannot reach the clip through media or evidence paths before Alice shares.
    clip_id = event_a["clip"]["id"]
    for path in (
        f"/media/clips/{clip_id}.mp4",
        f"/api/v1/clips/{clip_id}",
        f"/api/v1/events/{event_a['id']}",
        f"/api/v1/evidence/{clip_id}/video",
    ):
        assert client.get(path, headers=officer.headers).status_code == 404, path
    assert (
        client.get(f"/api/v1/requests/{request_id}/evidence", headers=officer.headers).json() == []
    )
    with runtime.db.transaction() as session:
        assert session.scalar(select(func.count()).select_from(Evidence)) == 0
    # Alice shares; Mallory still cannot open Alice's evidence or withdraw it.
    client.post(
        f"/api/v1/inbox/requests/{request_id}/share",
        headers=alice.headers,
        json={"event_ids": [event_a["id"]]},
    )
    run_jobs(runtime)
    [item] = client.get(f"/api/v1/requests/{request_id}/evidence", headers=officer.headers).json()
    assert client.get(item["video_url"], headers=mallory.headers).status_code == 403
    assert (
        client.post(f"/api/v1/shared/{item['id']}/withdraw", headers=mallory.headers).status_code
        == 404
    )
    assert client.get("/api/v1/shared", headers=mallory.headers).json() == []


def test_declines_are_only_totals_and_withdrawal_before_opening(
    client: TestClient, runtime: Runtime, tmp_path: Path
) -> None:
    agency = make_agency(runtime, lat=LAT, lng=LNG)
    officer = make_officer(runtime, agency)
    owners = []
    for i in range(3):
        person = make_person(runtime)
        cam = make_camera(runtime, person.user, latitude=LAT + 0.0002 * i, longitude=LNG)
        event = upload_clip(
            client,
            cam,
            sample_clip(tmp_path, f"{i}.mp4", seed=i),
            started_at=utcnow() - timedelta(hours=2),
        ).json()
        owners.append((person, event))
    set_policy(runtime, moderator_review=False)
    request_id, _ = send_request(client, officer, lat=LAT, lng=LNG)
    (p0, e0), (p1, _e1), _ = owners
    client.post(
        f"/api/v1/inbox/requests/{request_id}/share",
        headers=p0.headers,
        json={"event_ids": [e0["id"]]},
    )
    run_jobs(runtime)  # the share counts once its redacted copy exists
    assert (
        client.post(f"/api/v1/inbox/requests/{request_id}/decline", headers=p1.headers).status_code
        == 204
    )
    view = client.get(f"/api/v1/requests/{request_id}", headers=officer.headers).json()
    assert view["counts"] == {"asked": 3, "shared": 1, "declined": 1, "no_answer": 1}
    for person, _e in owners:
        assert str(person.user.id) not in str(view) and person.user.email not in str(view)
    # Before the agency opens it, the owner can take the clip back; the copy is deleted.
    [shared] = client.get("/api/v1/shared", headers=p0.headers).json()
    with runtime.db.transaction() as session:
        key = session.get(Evidence, __import__("uuid").UUID(shared["id"])).storage_key
    assert key in list(runtime.storage.keys())
    assert (
        client.post(f"/api/v1/shared/{shared['id']}/withdraw", headers=p0.headers).status_code
        == 204
    )
    assert key not in list(runtime.storage.keys())
    assert (
        client.get(f"/api/v1/requests/{request_id}/evidence", headers=officer.headers).json() == []
    )


def test_failed_commit_leaves_no_evidence_copy(
    client: TestClient, runtime: Runtime, tmp_path: Path
) -> None:
    """A share whose transaction fails leaves no copy behind (nothing outlives its row)."""
    import pytest

    from doorstep.footage import answers

    agency = make_agency(runtime, lat=LAT, lng=LNG)
    officer = make_officer(runtime, agency)
    owner = make_person(runtime)
    cam = make_camera(runtime, owner.user, latitude=LAT, longitude=LNG)
    event = upload_clip(
        client, cam, sample_clip(tmp_path), started_at=utcnow() - timedelta(hours=2)
    ).json()
    set_policy(runtime, moderator_review=False)
    request_id, _ = send_request(client, officer, lat=LAT, lng=LNG)
    before = sorted(runtime.storage.keys())
    with pytest.raises(RuntimeError), runtime.db.transaction() as session:
        answers.share(
            session=session,
            storage=runtime.storage,
            owner=session.merge(owner.user),
            request_id=__import__("uuid").UUID(request_id),
            event_ids=[__import__("uuid").UUID(event["id"])],
            reveal_identity=False,
        )
        assert runtime.storage.keys(prefix="redaction/")  # the original, staged
        raise RuntimeError("the commit fails")
    assert sorted(runtime.storage.keys()) == before


def test_pending_uploads_belong_to_their_camera_and_end_with_withdrawal(
    client: TestClient, runtime: Runtime, tmp_path: Path
) -> None:
    agency = make_agency(runtime, lat=LAT, lng=LNG)
    officer = make_officer(runtime, agency)
    owner = make_person(runtime)
    cam = make_camera(runtime, owner.user, latitude=LAT, longitude=LNG)
    other = make_camera(runtime, make_person(runtime).user, latitude=LAT, longitude=LNG + 0.01)
    start = utcnow() - timedelta(hours=2)
    event = client.post(
        f"/api/v1/cameras/{cam.camera.id}/events",
        headers=cam.headers,
        json={"kind": "motion", "started_at": start.isoformat(), "device_ref": "sd:/1.mp4"},
    ).json()
    set_policy(runtime, moderator_review=False)
    request_id, _ = send_request(client, officer, lat=LAT, lng=LNG)
    client.post(
        f"/api/v1/inbox/requests/{request_id}/share",
        headers=owner.headers,
        json={"event_ids": [event["id"]]},
    )
    [pending] = client.get(f"/api/v1/cameras/{cam.camera.id}/uploads", headers=cam.headers).json()
    clip = sample_clip(tmp_path)

    def send(camera: object, camera_id: object) -> int:
        with clip.open("rb") as fh:
            return client.post(
                f"/api/v1/cameras/{camera_id}/uploads/{pending['evidence_id']}",
                headers=camera.headers,  # type: ignore[attr-defined]
                files={"file": ("c.mp4", fh, "video/mp4")},
            ).status_code

    # Another camera cannot fulfil it, with its own id or with this camera's.
    assert send(other, other.camera.id) == 404
    assert send(other, cam.camera.id) == 401
    assert (
        client.get(f"/api/v1/cameras/{other.camera.id}/uploads", headers=other.headers).json() == []
    )
    # The owner takes it back: the device can no longer send it.
    [shared] = client.get("/api/v1/shared", headers=owner.headers).json()
    assert (
        client.post(f"/api/v1/shared/{shared['id']}/withdraw", headers=owner.headers).status_code
        == 204
    )
    assert send(cam, cam.camera.id) == 404
    assert client.get(f"/api/v1/cameras/{cam.camera.id}/uploads", headers=cam.headers).json() == []
    assert runtime.storage.keys(prefix="evidence/") == []
