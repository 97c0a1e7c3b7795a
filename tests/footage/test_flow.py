"""The core flow, from a drawn area to a verified evidence bundle, through the API."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import zipfile
from datetime import timedelta
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select
from tests.factories import (
    make_agency,
    make_camera,
    make_officer,
    make_person,
    report_event,
    request_body,
    run_jobs,
    sample_clip,
    submit_sign_in,
    upload_clip,
)

from doorstep.accounts.models import Role
from doorstep.audit import AuditRecord
from doorstep.db import utcnow
from doorstep.footage.evidence import verify_bundle
from doorstep.footage.models import Evidence
from doorstep.footage.notice import NO_CONSEQUENCE, VOLUNTARY, WHAT_AGENCY_RECEIVES
from doorstep.jobs import job_registry
from doorstep.notify.models import Notification
from doorstep.notify.worker import Worker
from doorstep.runtime import Runtime

LAT, LNG = 39.9526, -75.1652


def _event_at(client: TestClient, cam: Any, hours_ago: float, **extra: Any) -> dict[str, Any]:
    return report_event(client, cam, utcnow() - timedelta(hours=hours_ago), **extra)


def test_full_flow_draft_to_verified_bundle(
    client: TestClient, runtime: Runtime, tmp_path: Path
) -> None:
    agency = make_agency(runtime, lat=LAT, lng=LNG)
    officer = make_officer(runtime, agency)
    moderator = make_person(runtime, role=Role.moderator)

    # Owners around the incident.
    alice = make_person(runtime)  # stored clip in the window
    cam_a = make_camera(runtime, alice.user, latitude=LAT + 0.0005, longitude=LNG)
    clip_path = sample_clip(tmp_path)
    r = upload_clip(client, cam_a, clip_path, started_at=utcnow() - timedelta(hours=2))
    alice_event = r.json()["id"]
    bob = make_person(runtime)  # local-first event in the window
    cam_b = make_camera(runtime, bob.user, latitude=LAT - 0.0005, longitude=LNG + 0.0005)
    bob_event = _event_at(client, cam_b, 2.0, device_ref="sd:/0042.mp4")["id"]
    carol = make_person(runtime)  # opted out of all requests
    _event_at(client, make_camera(runtime, carol.user, latitude=LAT, longitude=LNG), 2.0)
    client.put("/api/v1/users/me/request-settings", headers=carol.headers, json={"opted_out": True})
    dave = make_person(runtime)  # muted this agency
    _event_at(client, make_camera(runtime, dave.user, latitude=LAT, longitude=LNG + 0.001), 2.0)
    assert client.put(f"/api/v1/agencies/{agency.id}/mute", headers=dave.headers).status_code == 204
    erin = make_person(runtime)  # does not accept requests
    _event_at(
        client,
        make_camera(runtime, erin.user, latitude=LAT, longitude=LNG, accepts_requests=False),
        2.0,
    )
    frank = make_person(runtime)  # outside the area
    _event_at(client, make_camera(runtime, frank.user, latitude=LAT + 0.02, longitude=LNG), 2.0)
    gina = make_person(runtime)  # events only outside the window
    _event_at(client, make_camera(runtime, gina.user, latitude=LAT, longitude=LNG), 10.0)

    r = client.post("/api/v1/requests", headers=officer.headers, json=request_body(LAT, LNG))
    assert r.status_code == 201, r.text
    request_id = r.json()["id"]
    assert r.json()["status"] == "draft"
    r = client.post(f"/api/v1/requests/{request_id}/submit", headers=officer.headers)
    assert r.json()["status"] == "pending_review"
    queue = client.get("/api/v1/review-queue", headers=moderator.headers).json()
    assert [q["id"] for q in queue] == [request_id]
    r = client.post(
        f"/api/v1/requests/{request_id}/review",
        headers=moderator.headers,
        json={"approve": True, "note": "Meets the guidelines"},
    )
    assert r.status_code == 200 and r.json()["status"] == "active"
    assert r.json()["counts"] == {"asked": 2, "shared": 0, "declined": 0, "no_answer": 2}
    # the agency's view carries no owner or camera identity
    agency_view = client.get(f"/api/v1/requests/{request_id}", headers=officer.headers).text
    for secret in (
        alice.user.id,
        bob.user.id,
        cam_a.camera.id,
        cam_b.camera.id,
        alice.user.email,
        f"{LAT + 0.0005:.4f}",
    ):
        assert str(secret) not in agency_view

    Worker(runtime, job_registry(runtime.settings, periodic=False)).drain()
    with runtime.db.transaction() as session:
        notes = {
            n.user_id: n
            for n in session.scalars(
                select(Notification).where(Notification.topic == "footage_request")
            )
        }
    assert set(notes) == {alice.user.id, bob.user.id}
    body = notes[alice.user.id].body
    assert VOLUNTARY in body and NO_CONSEQUENCE in body and WHAT_AGENCY_RECEIVES in body
    assert agency.name in body and "2026-001234" in body

    # Alice sees her own clip and shares it.
    mine = client.get(f"/api/v1/inbox/requests/{request_id}", headers=alice.headers).json()
    assert [e["id"] for e in mine["my_events"]] == [alice_event]
    r = client.post(
        f"/api/v1/inbox/requests/{request_id}/share",
        headers=alice.headers,
        json={"event_ids": [alice_event]},
    )
    assert r.status_code == 200, r.text
    # Bob shares his on-device event: the device uploads it.
    r = client.post(
        f"/api/v1/inbox/requests/{request_id}/share",
        headers=bob.headers,
        json={"event_ids": [bob_event], "reveal_identity": True},
    )
    assert r.json()[0]["status"] == "pending_upload"
    uploads = client.get(f"/api/v1/cameras/{cam_b.camera.id}/uploads", headers=cam_b.headers).json()
    assert [u["device_ref"] for u in uploads] == ["sd:/0042.mp4"]
    assert (
        client.get(f"/api/v1/cameras/{cam_b.camera.id}/uploads", headers=bob.headers).status_code
        == 401
    )
    bob_clip = sample_clip(tmp_path, "bob.mp4", seed=5)
    with bob_clip.open("rb") as fh:
        r = client.post(
            f"/api/v1/cameras/{cam_b.camera.id}/uploads/{uploads[0]['evidence_id']}",
            headers=cam_b.headers,
            files={"file": ("bob.mp4", fh, "video/mp4")},
        )
    assert r.status_code == 201, r.text
    # Nothing reaches the agency before its redacted copy exists.
    before = client.get(f"/api/v1/requests/{request_id}/evidence", headers=officer.headers)
    assert before.json() == []
    assert run_jobs(runtime) >= 2

    counts = client.get(f"/api/v1/requests/{request_id}", headers=officer.headers).json()
    assert counts["counts"] == {"asked": 2, "shared": 2, "declined": 0, "no_answer": 0}
    evidence = client.get(f"/api/v1/requests/{request_id}/evidence", headers=officer.headers).json()
    names = {e["shared_by"] for e in evidence}
    # Alice stays a pseudonym; Bob chose to show his name and contact.
    bob_label = f"{bob.user.display_name} <{bob.user.email}>"
    assert bob_label in names
    assert (names - {bob_label}) <= {"Neighbor 1", "Neighbor 2"}
    assert alice.user.email not in str(evidence)
    by_owner = {e["shared_by"].startswith("Neighbor"): e for e in evidence}
    video = client.get(by_owner[True]["video_url"], headers=officer.headers)
    original_sha256 = hashlib.sha256(clip_path.read_bytes()).hexdigest()
    # The agency gets the redacted copy; the manifest names both hashes.
    assert video.status_code == 200 and video.content != clip_path.read_bytes()
    assert hashlib.sha256(video.content).hexdigest() == by_owner[True]["sha256"]
    assert by_owner[True]["original_sha256"] == original_sha256
    assert by_owner[True]["redaction"]["redacted_sha256"] == by_owner[True]["sha256"]
    # opened: Alice can no longer withdraw
    shared = client.get("/api/v1/shared", headers=alice.headers).json()
    assert (
        client.post(f"/api/v1/shared/{shared[0]['id']}/withdraw", headers=alice.headers).status_code
        == 409
    )

    # Export and verify the bundle, in process and with the CLI.
    r = client.post(f"/api/v1/requests/{request_id}/export", headers=officer.headers)
    assert r.status_code == 200 and r.headers["content-type"] == "application/zip"
    bundle = tmp_path / "bundle.zip"
    bundle.write_bytes(r.content)
    assert verify_bundle(bundle).ok
    cli = subprocess.run(
        [sys.executable, "-m", "doorstep", "evidence", "verify", str(bundle)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert cli.returncode == 0 and "ok: 2 clips" in cli.stdout
    with zipfile.ZipFile(bundle) as zf:
        manifest = json.loads(zf.read("manifest.json"))
        custody = json.loads(zf.read("custody.json"))
        request_doc = json.loads(zf.read("request.json"))
    assert original_sha256 in {f["original_sha256"] for f in manifest["files"]}
    assert original_sha256 not in {f["sha256"] for f in manifest["files"]}
    assert request_doc["counts"]["shared"] == 2 and request_doc["case_number"] == "2026-001234"
    assert all(any(e["event"] == "exported" for e in log) for log in custody.values())
    tampered = tmp_path / "tampered.zip"
    with zipfile.ZipFile(bundle) as src, zipfile.ZipFile(tampered, "w") as dst:
        for name in src.namelist():
            data = src.read(name)
            if name.startswith("clips/"):
                data = data[:-10] + b"0123456789"
            dst.writestr(name, data)
    check = verify_bundle(tampered)
    assert not check.ok and any("SHA-256" in p for p in check.problems)
    cli = subprocess.run(
        [sys.executable, "-m", "doorstep", "evidence", "verify", str(tampered)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert cli.returncode == 1 and "FAIL" in cli.stderr

    # The owners see every access of the agency.
    history = client.get("/api/v1/shared", headers=alice.headers).json()
    assert [a["action"] for a in history[0]["accesses"]] == ["viewed", "exported"]
    with runtime.db.transaction() as session:
        public = list(session.scalars(select(AuditRecord.action).where(AuditRecord.is_public)))
    for action in (
        "request.drafted",
        "request.submitted",
        "request.review_approved",
        "request.activated",
        "evidence.viewed",
        "evidence.exported",
    ):
        assert action in public

    r = client.post(f"/api/v1/requests/{request_id}/close", headers=officer.headers, json={})
    assert r.json()["status"] == "closed" and r.json()["close_reason"] == "resolved"
    assert (
        client.post(
            f"/api/v1/inbox/requests/{request_id}/share",
            headers=alice.headers,
            json={"event_ids": [alice_event]},
        ).status_code
        == 409
    )


def test_modified_evidence_file_is_refused(
    client: TestClient, runtime: Runtime, tmp_path: Path
) -> None:
    agency = make_agency(runtime, lat=LAT, lng=LNG)
    officer = make_officer(runtime, agency)
    runtime_policy(client, runtime, moderator_review=False)
    owner = make_person(runtime)
    cam = make_camera(runtime, owner.user, latitude=LAT, longitude=LNG)
    event = upload_clip(
        client, cam, sample_clip(tmp_path), started_at=utcnow() - timedelta(hours=2)
    ).json()["id"]
    request_id = client.post(
        "/api/v1/requests", headers=officer.headers, json=request_body(LAT, LNG)
    ).json()["id"]
    assert (
        client.post(f"/api/v1/requests/{request_id}/submit", headers=officer.headers).json()[
            "status"
        ]
        == "active"
    )
    client.post(
        f"/api/v1/inbox/requests/{request_id}/share",
        headers=owner.headers,
        json={"event_ids": [event]},
    )
    run_jobs(runtime)
    with runtime.db.transaction() as session:
        item = session.scalars(select(Evidence)).one()
    data = runtime.storage.read_bytes(item.storage_key)
    runtime.storage.put_bytes(item.storage_key, data[:-1] + b"\x00", "video/mp4")
    r = client.get(f"/api/v1/evidence/{item.id}/video", headers=officer.headers)
    assert r.status_code == 409 and r.json()["error"]["code"] == "evidence_hash_mismatch"
    r = client.post(f"/api/v1/requests/{request_id}/export", headers=officer.headers)
    assert r.status_code == 409


def runtime_policy(client: TestClient, runtime: Runtime, **changes: Any) -> None:
    admin = make_person(runtime, role=Role.admin)
    r = client.patch(
        "/api/v1/policy", headers=admin.headers, json={"changes": changes, "reason": "test setup"}
    )
    assert r.status_code == 200, r.text


def test_active_request_is_published_in_the_feed(
    client: TestClient, runtime: Runtime, tmp_path: Path
) -> None:
    agency = make_agency(runtime, lat=LAT, lng=LNG)
    officer = make_officer(runtime, agency)
    runtime_policy(client, runtime, moderator_review=False)
    neighbor = make_person(runtime)  # no camera at all
    r = client.put(
        "/api/v1/feed/home",
        headers=neighbor.headers,
        json={"latitude": LAT + 0.001, "longitude": LNG, "radius_mi": 1.0},
    )
    assert r.status_code == 200, r.text
    request_id = client.post(
        "/api/v1/requests", headers=officer.headers, json=request_body(LAT, LNG)
    ).json()["id"]
    assert client.get("/api/v1/feed", headers=neighbor.headers).json()["posts"] == []
    client.post(f"/api/v1/requests/{request_id}/submit", headers=officer.headers)
    [post] = client.get("/api/v1/feed", headers=neighbor.headers).json()["posts"]
    assert post["footage_request_id"] == request_id
    assert post["agency"]["name"] == agency.name and post["official"] is True
    assert VOLUNTARY in post["body"] and NO_CONSEQUENCE in post["body"]
    submit_sign_in(client, neighbor.user.email)
    page = client.get("/feed")
    assert page.status_code == 200 and f"Footage request · {agency.name}" in page.text


def test_every_reader_of_evidence_is_logged_and_request_posts_are_fixed(
    client: TestClient, runtime: Runtime, tmp_path: Path
) -> None:
    agency = make_agency(runtime, lat=LAT, lng=LNG)
    officer = make_officer(runtime, agency)
    colleague = make_officer(runtime, agency)
    runtime_policy(client, runtime, moderator_review=False)
    owner = make_person(runtime)
    cam = make_camera(runtime, owner.user, latitude=LAT, longitude=LNG)
    event = upload_clip(
        client, cam, sample_clip(tmp_path), started_at=utcnow() - timedelta(hours=2)
    ).json()["id"]
    request_id = client.post(
        "/api/v1/requests", headers=officer.headers, json=request_body(LAT, LNG)
    ).json()["id"]
    client.post(f"/api/v1/requests/{request_id}/submit", headers=officer.headers)
    client.post(
        f"/api/v1/inbox/requests/{request_id}/share",
        headers=owner.headers,
        json={"event_ids": [event]},
    )
    run_jobs(runtime)
    [item] = client.get(f"/api/v1/requests/{request_id}/evidence", headers=officer.headers).json()
    assert client.get(item["video_url"], headers=officer.headers).status_code == 200
    # A colleague reading the whole file with a suffix range is a view of his own.
    r = client.get(item["video_url"], headers={**colleague.headers, "Range": "bytes=-100000000"})
    assert r.status_code == 206
    # The same person's follow-up range reads belong to his view.
    client.get(item["video_url"], headers={**officer.headers, "Range": "bytes=100-"})
    [shared] = client.get("/api/v1/shared", headers=owner.headers).json()
    assert [a["action"] for a in shared["accesses"]] == ["viewed", "viewed"]
    with runtime.db.transaction() as session:
        readers = set(
            session.scalars(
                select(AuditRecord.actor_id).where(AuditRecord.action == "evidence.viewed")
            )
        )
    assert readers == {officer.user.id, colleague.user.id}
    # The request's feed post carries the fixed notice: its author cannot change it.
    with runtime.db.transaction() as session:
        from doorstep.feed.models import Post

        post_id = session.scalars(
            select(Post.id).where(Post.footage_request_id == __import__("uuid").UUID(request_id))
        ).one()
    r = client.patch(
        f"/api/v1/posts/{post_id}", headers=officer.headers, json={"body": "Please share."}
    )
    assert r.status_code == 409 and r.json()["error"]["code"] == "footage_request_post"
    assert client.delete(f"/api/v1/posts/{post_id}", headers=officer.headers).status_code == 409
