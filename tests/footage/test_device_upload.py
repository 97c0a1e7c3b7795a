"""A device's upload of a shared local-first clip: decoded outside any transaction, so a
share withdrawn meanwhile is checked again and never becomes evidence, and a refused
upload leaves no file. The files of evidence go only once their deletion commits."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from tests.factories import (
    CameraWithToken,
    Person,
    make_agency,
    make_camera,
    make_officer,
    make_person,
    run_jobs,
    sample_clip,
    send_request,
    set_policy,
)

from doorstep.cameras import registry as camera_registry
from doorstep.db import utcnow
from doorstep.footage import answers as answer_service
from doorstep.footage import evidence as evidence_service
from doorstep.footage import uploads as upload_service
from doorstep.footage.models import Evidence, EvidenceStatus
from doorstep.runtime import Runtime

LAT, LNG = 39.9526, -75.1652


def _pending_upload(
    client: TestClient, runtime: Runtime
) -> tuple[Person, CameraWithToken, dict[str, Any]]:
    """An owner who shared an event his device kept: the device's pending upload."""
    officer = make_officer(runtime, make_agency(runtime, lat=LAT, lng=LNG))
    owner = make_person(runtime)
    cam = make_camera(runtime, owner.user, latitude=LAT, longitude=LNG)
    event = client.post(
        f"/api/v1/cameras/{cam.camera.id}/events",
        headers=cam.headers,
        json={
            "kind": "motion",
            "started_at": (utcnow() - timedelta(hours=2)).isoformat(),
            "device_ref": "sd:/7.mp4",
        },
    ).json()
    set_policy(runtime, moderator_review=False)
    request_id, _ = send_request(client, officer, lat=LAT, lng=LNG)
    r = client.post(
        f"/api/v1/inbox/requests/{request_id}/share",
        headers=owner.headers,
        json={"event_ids": [event["id"]]},
    )
    assert r.status_code == 200, r.text
    [pending] = client.get(f"/api/v1/cameras/{cam.camera.id}/uploads", headers=cam.headers).json()
    return owner, cam, pending


def _send(client: TestClient, cam: CameraWithToken, pending: dict[str, Any], clip: Path) -> Any:
    with clip.open("rb") as fh:
        return client.post(
            f"/api/v1/cameras/{cam.camera.id}/uploads/{pending['evidence_id']}",
            headers=cam.headers,
            files={"file": ("c.mp4", fh, "video/mp4")},
        )


def _meanwhile(
    monkeypatch: pytest.MonkeyPatch, step: Callable[[upload_service.StoredUpload], None]
) -> None:
    """Run ``step`` once the clip is stored, before the upload's write transaction."""
    store_upload = upload_service.store_upload

    def store_then_step(**kwargs: Any) -> upload_service.StoredUpload:
        stored = store_upload(**kwargs)
        step(stored)
        return stored

    monkeypatch.setattr(upload_service, "store_upload", store_then_step)


def test_share_withdrawn_while_the_clip_decodes_never_becomes_evidence(
    client: TestClient, runtime: Runtime, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    owner, cam, pending = _pending_upload(client, runtime)

    def withdraw(stored: upload_service.StoredUpload) -> None:
        assert runtime.storage.keys(prefix="evidence/") == [stored.storage_key]
        with runtime.db.transaction() as session:  # the owner takes it back meanwhile
            answer_service.withdraw_share(
                session=session,
                storage=runtime.storage,
                owner=owner.user,
                evidence_id=stored.evidence_id,
            )

    _meanwhile(monkeypatch, withdraw)
    r = _send(client, cam, pending, sample_clip(tmp_path))
    assert r.status_code == 404 and r.json()["error"]["code"] == "upload_not_pending"
    assert runtime.storage.keys(prefix="evidence/") == []
    with runtime.db.read_only() as session:
        item = session.get_one(Evidence, uuid.UUID(pending["evidence_id"]))
        assert item.status != EvidenceStatus.available and item.storage_key is None


def test_a_token_revoked_while_the_clip_decodes_leaves_no_file(
    client: TestClient, runtime: Runtime, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The write transaction refuses the device before anything is recorded: the stored
    # file still goes with its rollback.
    owner, cam, pending = _pending_upload(client, runtime)

    def revoke(_stored: upload_service.StoredUpload) -> None:
        with runtime.db.transaction() as session:
            camera_registry.revoke_camera_token(
                session=session, owner=owner.user, camera_id=cam.camera.id
            )

    _meanwhile(monkeypatch, revoke)
    r = _send(client, cam, pending, sample_clip(tmp_path))
    assert r.status_code == 401 and r.json()["error"]["code"] == "invalid_camera_token"
    assert runtime.storage.keys(prefix="evidence/") == []
    with runtime.db.read_only() as session:
        item = session.get_one(Evidence, uuid.UUID(pending["evidence_id"]))
        assert item.status == EvidenceStatus.pending_upload and item.storage_key is None


def test_evidence_files_go_only_when_their_deletion_commits(
    client: TestClient, runtime: Runtime, tmp_path: Path
) -> None:
    owner, cam, pending = _pending_upload(client, runtime)
    assert _send(client, cam, pending, sample_clip(tmp_path)).status_code == 201
    run_jobs(runtime)  # the redacted copy: what the agency gets
    evidence_id = uuid.UUID(pending["evidence_id"])
    [key] = runtime.storage.keys(prefix="evidence/")

    with pytest.raises(RuntimeError), runtime.db.transaction() as session:
        answer_service.withdraw_share(
            session=session, storage=runtime.storage, owner=owner.user, evidence_id=evidence_id
        )
        assert runtime.storage.keys(prefix="evidence/") == [key]  # not before the commit
        raise RuntimeError("the withdrawal's transaction fails")
    assert runtime.storage.keys(prefix="evidence/") == [key]

    with runtime.db.transaction() as session:
        item = session.get_one(Evidence, evidence_id)
        item.delete_after = utcnow() - timedelta(days=1)
    with pytest.raises(RuntimeError), runtime.db.transaction() as session:
        assert evidence_service.sweep_evidence_retention(session=session, storage=runtime.storage)
        raise RuntimeError("the sweep's transaction fails")
    assert runtime.storage.keys(prefix="evidence/") == [key]
    with runtime.db.read_only() as session:
        assert session.get_one(Evidence, evidence_id).status == EvidenceStatus.available

    with runtime.db.transaction() as session:
        answer_service.withdraw_share(
            session=session, storage=runtime.storage, owner=owner.user, evidence_id=evidence_id
        )
    assert runtime.storage.keys(prefix="evidence/") == []
