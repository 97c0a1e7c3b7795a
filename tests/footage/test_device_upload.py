"""A device's upload of a shared local-first clip: decoded outside any transaction, so a
share withdrawn meanwhile is checked again and never becomes evidence."""

from __future__ import annotations

import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from tests.factories import (
    make_agency,
    make_camera,
    make_officer,
    make_person,
    sample_clip,
    send_request,
    set_policy,
)

from doorstep.db import utcnow
from doorstep.footage import answers as answer_service
from doorstep.footage import evidence as evidence_service
from doorstep.footage.models import Evidence, EvidenceStatus
from doorstep.runtime import Runtime

LAT, LNG = 39.9526, -75.1652


def test_share_withdrawn_while_the_clip_decodes_never_becomes_evidence(
    client: TestClient, runtime: Runtime, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
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
    store_upload = evidence_service.store_upload

    def store_then_withdraw(**kwargs: Any) -> evidence_service.StoredUpload:
        stored = store_upload(**kwargs)
        assert runtime.storage.keys(prefix="evidence/") == [stored.storage_key]
        with runtime.db.transaction() as session:  # the owner takes it back meanwhile
            answer_service.withdraw_share(
                session=session,
                storage=runtime.storage,
                owner=owner.user,
                evidence_id=stored.evidence_id,
            )
        return stored

    monkeypatch.setattr(evidence_service, "store_upload", store_then_withdraw)
    with sample_clip(tmp_path).open("rb") as fh:
        r = client.post(
            f"/api/v1/cameras/{cam.camera.id}/uploads/{pending['evidence_id']}",
            headers=cam.headers,
            files={"file": ("c.mp4", fh, "video/mp4")},
        )
    assert r.status_code == 404 and r.json()["error"]["code"] == "upload_not_pending"
    assert runtime.storage.keys(prefix="evidence/") == []
    with runtime.db.read_only() as session:
        item = session.get_one(Evidence, uuid.UUID(pending["evidence_id"]))
        assert item.status != EvidenceStatus.available and item.storage_key is None
