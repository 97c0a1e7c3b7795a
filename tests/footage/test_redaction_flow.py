"""Redacted sharing end to end, through the API and the worker's jobs: the agency gets a
copy without faces, zones or tags, only once it exists; the bundle's manifest verifies
and tampering is caught; failures and withdrawals share nothing."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update
from tests.factories import notifications, run_jobs
from tests.media.haar import haar_sees
from tests.redaction_support import (
    LOCATION,
    TAGS,
    ZONE_DRAWN,
    Scene,
    frames_of,
    on_a_label,
    scene,
    tags_of,
    write_tagged_clip,
    zone_mask,
)

from doorstep.audit import AuditRecord
from doorstep.cameras.models import Camera, Clip
from doorstep.footage import redaction as redaction_job
from doorstep.footage.evidence import verify_bundle
from doorstep.footage.models import Evidence, EvidenceStatus
from doorstep.footage.redaction import staged_key
from doorstep.media.redaction import Box, RedactionOptions, build_detectors
from doorstep.runtime import Runtime

Truth = list[tuple[Box, ...]]


@pytest.fixture(scope="module")
def face_clip(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Truth]:
    path = tmp_path_factory.mktemp("redaction-flow") / "faces.mp4"
    return path, write_tagged_clip(path)


@pytest.fixture(scope="module")
def face_detector() -> Any:
    return build_detectors(RedactionOptions(text=False))[0]


def _share(client: TestClient, s: Scene, redaction: dict[str, Any] | None = None) -> None:
    body: dict[str, Any] = {"event_ids": [s.event["id"]]}
    if redaction is not None:
        body["redaction"] = redaction
    r = client.post(
        f"/api/v1/inbox/requests/{s.request_id}/share", headers=s.owner.headers, json=body
    )
    assert r.status_code in (200, 201), r.text


def _counts(client: TestClient, s: Scene) -> dict[str, int]:
    view = client.get(f"/api/v1/requests/{s.request_id}", headers=s.officer.headers).json()
    return dict(view["counts"])


def _agency_copy(client: TestClient, s: Scene, tmp_path: Path, name: str) -> tuple[Path, Any]:
    [item] = client.get(
        f"/api/v1/requests/{s.request_id}/evidence", headers=s.officer.headers
    ).json()
    video = client.get(item["video_url"], headers=s.officer.headers)
    assert video.status_code == 200
    path = tmp_path / name
    path.write_bytes(video.content)
    return path, item


def _evidence(runtime: Runtime) -> list[Evidence]:
    with runtime.db.transaction() as session:
        return list(session.scalars(select(Evidence).order_by(Evidence.shared_at)))


def _set_zones(runtime: Runtime, s: Scene) -> None:
    with runtime.db.transaction() as session:
        session.execute(
            update(Camera).where(Camera.id == s.cam.camera.id).values(privacy_zones=ZONE_DRAWN)
        )


def _faces_on_labels(detector: Any, path: Path, truth: Truth) -> list[int]:
    return [
        len(on_a_label([d.box for d in detector.detect(f)], truth[i]))
        for i, f in enumerate(frames_of(path))
    ]


def test_agency_copy_has_no_face_zone_or_tag(
    client: TestClient,
    runtime: Runtime,
    tmp_path: Path,
    face_clip: tuple[Path, Truth],
    face_detector: Any,
) -> None:
    source, truth = face_clip
    s = scene(client, runtime, source)
    _set_zones(runtime, s)
    with runtime.db.transaction() as session:
        clip = session.get(Clip, uuid.UUID(s.event["clip"]["id"]))
        assert clip is not None and clip.storage_key
        clip_key = clip.storage_key
    owner_bytes = runtime.storage.read_bytes(clip_key)
    before = _counts(client, s)
    _share(client, s)
    # Before the job: the agency sees nothing, and the share does not count yet.
    assert (
        client.get(f"/api/v1/requests/{s.request_id}/evidence", headers=s.officer.headers).json()
        == []
    )
    assert _counts(client, s) == before and before["shared"] == 0
    [item] = _evidence(runtime)
    assert item.status == EvidenceStatus.redacting
    assert runtime.storage.exists(staged_key(item.id))
    run_jobs(runtime)

    assert _counts(client, s)["shared"] == 1
    copy, entry = _agency_copy(client, s, tmp_path, "copy.mp4")
    assert entry["original_sha256"] == hashlib.sha256(source.read_bytes()).hexdigest()
    # The same detector (CenterFace) finds the faces in the original, none in the copy.
    found_before = _faces_on_labels(face_detector, source, truth)
    found_after = _faces_on_labels(face_detector, copy, truth)
    assert len(found_after) == len(found_before) == len(truth)
    assert sum(found_before) >= 0.9 * sum(len(t) for t in truth)
    assert found_after == [0] * len(truth)
    # The independent Haar evaluator: it sees faces in the original, none in the copy.
    haar_before = [sum(haar_sees(f, b) for b in truth[i]) for i, f in enumerate(frames_of(source))]
    haar_after = [sum(haar_sees(f, b) for b in truth[i]) for i, f in enumerate(frames_of(copy))]
    assert sum(haar_before) > 0 and haar_after == [0] * len(truth)
    # The camera's privacy zone is solid in every frame.
    inside = zone_mask(640, 480)
    for frame in frames_of(copy):
        pixels = frame[inside]
        assert int(pixels.max()) <= 12 and float(pixels.mean()) < 2.0
    # No tag survives.
    _assert_no_tags(source, copy)
    # The owner's clip is untouched; the staged original is gone.
    assert runtime.storage.read_bytes(clip_key) == owner_bytes
    assert runtime.storage.keys(prefix="redaction/") == []
    assert len(runtime.storage.keys(prefix="evidence/")) == 1


def _assert_no_tags(source: Path, copy: Path) -> None:
    container, streams = tags_of(source)
    assert {k: container.get(k) for k in TAGS} == TAGS  # the source has them
    assert any("Jane" in v for tags in streams for v in tags.values())
    container, streams = tags_of(copy)
    written = set(TAGS) | {"handler_name"}
    values = " ".join([*container.values(), *(v for tags in streams for v in tags.values())])
    assert not (set(container) & set(TAGS)), container
    assert "Jane" not in values and "Elm" not in values and "+39.95" not in values
    assert all(not (set(tags) & written) or "Jane" not in str(tags) for tags in streams)


def test_unredacted_share_still_loses_its_tags(
    client: TestClient, runtime: Runtime, tmp_path: Path, face_clip: tuple[Path, Truth]
) -> None:
    located = tmp_path / "located.mp4"
    write_tagged_clip(located, location=True)
    # An upload with a location tag is refused outright.
    refused = scene(client, runtime, located, expect=400)
    assert refused.event["error"]["code"] == "location_metadata"
    s = scene(client, runtime, face_clip[0])
    _share(client, s, {"unredacted": True})
    # The staged original carries a location too (as a device's file might): it goes.
    [item] = _evidence(runtime)
    runtime.storage.put_file(staged_key(item.id), located, "video/mp4")
    run_jobs(runtime)
    copy, entry = _agency_copy(client, s, tmp_path, "unredacted.mp4")
    assert entry["redaction"]["choices"]["unredacted"] is True
    _assert_no_tags(face_clip[0], copy)
    container, _streams = tags_of(located)
    assert container.get("location") == LOCATION["location"]
    assert "location" not in tags_of(copy)[0]


def _bundle(client: TestClient, s: Scene, tmp_path: Path) -> Path:
    r = client.post(f"/api/v1/requests/{s.request_id}/export", headers=s.officer.headers)
    assert r.status_code == 200
    bundle = tmp_path / "bundle.zip"
    bundle.write_bytes(r.content)
    return bundle


def _rewrite(bundle: Path, dst: Path, change: Any) -> Path:
    """A copy of ``bundle`` with ``change(name, data)`` applied to each member."""
    with zipfile.ZipFile(bundle) as src, zipfile.ZipFile(dst, "w") as out:
        for name in src.namelist():
            out.writestr(name, change(name, src.read(name)))
    return dst


def _cli_verify(bundle: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "doorstep", "evidence", "verify", str(bundle)],
        capture_output=True,
        text=True,
        check=False,
    )


def _edit_manifest(where: str, field: str) -> Any:
    """Change one hash of the bundle's manifest: in the file's entry or in its
    redaction manifest. (Changing every copy of the original's hash alike cannot be
    caught offline: the bundle carries no signature.)"""

    def change(name: str, data: bytes) -> bytes:
        if name != "manifest.json":
            return data
        doc = json.loads(data)
        entry = doc["files"][0]
        target = entry["redaction"] if where == "redaction" else entry
        target[field] = "0" * 64
        return json.dumps(doc).encode()

    return change


def _edit_clip(name: str, data: bytes) -> bytes:
    if name.startswith("clips/"):
        middle = len(data) // 2
        return data[:middle] + bytes([data[middle] ^ 0xFF]) + data[middle + 1 :]
    return data


def test_bundle_manifest_verifies_and_tampering_is_caught(
    client: TestClient, runtime: Runtime, tmp_path: Path, face_clip: tuple[Path, Truth]
) -> None:
    s = scene(client, runtime, face_clip[0])
    _share(client, s)
    run_jobs(runtime)
    bundle = _bundle(client, s, tmp_path)
    assert verify_bundle(bundle).ok
    cli = _cli_verify(bundle)
    assert cli.returncode == 0, cli.stdout + cli.stderr
    with zipfile.ZipFile(bundle) as zf:
        [entry] = json.loads(zf.read("manifest.json"))["files"]
    assert entry["redaction"]["redacted_sha256"] == entry["sha256"]
    assert entry["redaction"]["original_sha256"] == entry["original_sha256"]
    cases = {
        "redaction.redacted_sha256": _edit_manifest("redaction", "redacted_sha256"),
        "redaction.original_sha256": _edit_manifest("redaction", "original_sha256"),
        "entry original_sha256": _edit_manifest("entry", "original_sha256"),
        "clip byte": _edit_clip,
    }
    for label, change in cases.items():
        tampered = _rewrite(bundle, tmp_path / f"{label}.zip", change)
        check = verify_bundle(tampered)
        assert not check.ok, label
        assert any("SHA-256" in p or "redact" in p for p in check.problems), check.problems
        cli = _cli_verify(tampered)
        assert cli.returncode == 1 and "FAIL" in cli.stderr, (label, cli.stdout, cli.stderr)


# A manual box over a textured part of the second photo (frames 10-19), far from its
# faces, hidden from 1.2 s to 1.6 s only.
MANUAL_BOX = [100.0, 345.0, 180.0, 420.0]


def _region_change(a: Path, b: Path) -> list[float]:
    """Per frame, the mean absolute difference of two clips inside MANUAL_BOX."""
    x1, y1, x2, y2 = (int(v) for v in MANUAL_BOX)
    return [
        float(np.abs(fa[y1:y2, x1:x2].astype(int) - fb[y1:y2, x1:x2].astype(int)).mean())
        for fa, fb in zip(frames_of(a), frames_of(b), strict=True)
    ]


def test_manual_box_hides_its_span_only_and_a_removed_track_stays_visible(
    client: TestClient,
    runtime: Runtime,
    tmp_path: Path,
    face_clip: tuple[Path, Truth],
    face_detector: Any,
) -> None:
    source, truth = face_clip
    s = scene(client, runtime, source)
    _share(client, s)
    run_jobs(runtime)
    # The first copy's tracks, from its manifest: the agency has not opened it, so the
    # owner can still take it back, and then share again with his edits.
    [item] = _evidence(runtime)
    assert item.redaction
    faces = [t for t in item.redaction["tracks"] if t["kind"] == "face"]
    track = max(faces, key=lambda t: t["detections"])
    span = range(track["first_frame"], track["last_seen_frame"] + 1)
    r = client.post(f"/api/v1/shared/{item.id}/withdraw", headers=s.owner.headers)
    assert r.status_code == 204, r.text
    # Text off: the text detector's regions also cover parts of these photos, faces
    # included, and would hide the face whose track is taken back.
    edits = {
        "text": False,
        "manual_boxes": [{"box": MANUAL_BOX, "start_s": 1.2, "end_s": 1.6}],
        "removals": [{"track_id": track["track_id"]}],
    }
    _share(client, s, edits)
    run_jobs(runtime)
    second, _entry = _agency_copy(client, s, tmp_path, "second.mp4")
    # The removed track's face shows again in its frames; no other face does.
    found = _faces_on_labels(face_detector, second, truth)
    assert sum(found[i] for i in span) >= len(span) // 2
    assert [found[i] for i in range(len(truth)) if i not in span] == [0] * (len(truth) - len(span))
    # The box is hidden in 1.2-1.6 s (frames 12-16) and nowhere else. Outside its span
    # the region differs from the original by re-encoding alone, plus, on the frames
    # where a held face box grows toward it (35% margins), a few grey levels more.
    change = _region_change(source, second)
    inside, outside = change[13:16], change[:11] + change[18:]
    assert min(inside) > 8.0, change
    assert max(outside) < 6.0 and min(inside) > 2 * max(outside), change


def test_a_copy_that_cannot_be_made_shares_nothing_and_tells_the_owner(
    client: TestClient, runtime: Runtime, tmp_path: Path, face_clip: tuple[Path, Truth]
) -> None:
    s = scene(client, runtime, face_clip[0])
    before = _counts(client, s)
    _share(client, s)
    [item] = _evidence(runtime)
    runtime.storage.put_bytes(staged_key(item.id), b"this is not a video" * 100, "video/mp4")
    run_jobs(runtime)
    [item] = _evidence(runtime)
    assert item.status == EvidenceStatus.redaction_failed
    assert item.redaction_error == "the clip's file could not be read as video"
    assert item.storage_key is None or not runtime.storage.exists(item.storage_key)
    alerts = [n for n in notifications(runtime, s.owner) if "could not be prepared" in n.title]
    assert len(alerts) == 1 and "could not be read as video" in alerts[0].body
    assert (
        client.get(f"/api/v1/requests/{s.request_id}/evidence", headers=s.officer.headers).json()
        == []
    )
    assert _counts(client, s) == before
    assert runtime.storage.keys(prefix="redaction/") == []
    assert runtime.storage.keys(prefix="evidence/") == []
    # The owner shares the clip again; this time the copy is made.
    _share(client, s)
    run_jobs(runtime)
    assert [e.status for e in _evidence(runtime)] == [
        EvidenceStatus.redaction_failed,
        EvidenceStatus.available,
    ]
    assert _counts(client, s)["shared"] == 1


def test_withdrawn_while_redacting_leaves_no_copy(
    client: TestClient,
    runtime: Runtime,
    face_clip: tuple[Path, Truth],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The owner takes the clip back while the job is making its copy: the job finishes
    but records nothing and leaves no file. The job is held after its first progress
    write (which it really makes) until the withdrawal is answered, so the withdrawal
    falls inside the copy however fast the machine is."""
    first_written, withdrawn = threading.Event(), threading.Event()
    real_writer = redaction_job._progress_writer

    def held_after_first_write(ctx: Any, evidence_id: uuid.UUID) -> Any:
        write = real_writer(ctx, evidence_id)

        def progress(share: float) -> None:
            write(share)
            if not first_written.is_set():
                first_written.set()
                withdrawn.wait(60)

        return progress

    monkeypatch.setattr(redaction_job, "_progress_writer", held_after_first_write)
    # Progress is written at most once a second: a quiet machine copies this clip in less.
    monkeypatch.setattr(redaction_job, "_PROGRESS_EVERY_S", 0.0)
    s = scene(client, runtime, face_clip[0])
    _share(client, s)
    [item] = _evidence(runtime)
    done: list[int] = []
    worker = threading.Thread(target=lambda: done.append(run_jobs(runtime)))
    worker.start()
    try:
        assert first_written.wait(60)
        [item] = _evidence(runtime)
        assert item.status == EvidenceStatus.redacting and (item.redaction_progress or 0) > 0
        r = client.post(f"/api/v1/shared/{item.id}/withdraw", headers=s.owner.headers)
        assert r.status_code == 204, r.text
    finally:
        withdrawn.set()
    worker.join(120)
    assert done and not worker.is_alive()
    [item] = _evidence(runtime)
    assert item.status == EvidenceStatus.withdrawn
    assert item.storage_key is None and item.redaction is None
    assert runtime.storage.keys(prefix="evidence/") == []
    assert runtime.storage.keys(prefix="redaction/") == []
    assert _counts(client, s)["shared"] == 0
    with runtime.db.transaction() as session:
        actions = list(session.scalars(select(AuditRecord.action)))
    assert "evidence.redacted" not in actions


def _worker(runtime: Runtime, log: Path) -> subprocess.Popen[bytes]:
    """A real ``doorstep worker`` process on the test's database and storage, with a
    short lease so that a killed worker's job is taken over within seconds."""
    settings = runtime.settings
    env = {
        **os.environ,
        "DOORSTEP_DATA_DIR": str(settings.data_dir),
        "DOORSTEP_DATABASE_URL": settings.resolved_database_url(),
        "DOORSTEP_MEDIA_URL": str(settings.media_url),
        "DOORSTEP_WORKER_POLL_S": "0.1",
        "DOORSTEP_WORKER_LEASE_S": "3",
        "DOORSTEP_WORKER_BACKOFF_BASE_S": "0",
        "DOORSTEP_WORKER_BACKOFF_MAX_S": "0",
    }
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "doorstep", "worker"], env=env, stdout=out, stderr=out
        )


def _wait_for(runtime: Runtime, done: Any, seconds: float) -> Evidence:
    deadline = time.monotonic() + seconds
    while True:
        [item] = _evidence(runtime)
        if done(item) or time.monotonic() > deadline:
            return item
        time.sleep(0.1)


def test_a_worker_killed_during_redaction_is_taken_over_and_shares_once(
    client: TestClient, runtime: Runtime, tmp_path: Path
) -> None:
    long_clip = tmp_path / "long.mp4"
    write_tagged_clip(long_clip, total=100)  # 10 s at 640x480
    s = scene(client, runtime, long_clip)
    _share(client, s)
    log = tmp_path / "worker.log"
    first = _worker(runtime, log)
    try:
        item = _wait_for(runtime, lambda e: (e.redaction_progress or 0) > 0, 180)
        assert item.status == EvidenceStatus.redacting and (item.redaction_progress or 0) > 0
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=30)
    finally:
        if first.poll() is None:
            first.kill()
    second = _worker(runtime, log)
    try:
        item = _wait_for(runtime, lambda e: e.status != EvidenceStatus.redacting, 240)
    finally:
        second.terminate()
        second.wait(timeout=60)
    assert item.status == EvidenceStatus.available, log.read_text()[-3000:]
    assert runtime.storage.keys(prefix="evidence/") == [item.storage_key]
    assert runtime.storage.keys(prefix="redaction/") == []
    with runtime.db.transaction() as session:
        actions = list(session.scalars(select(AuditRecord.action)))
    assert actions.count("evidence.redacted") == 1
    assert _counts(client, s)["shared"] == 1
    [entry] = client.get(
        f"/api/v1/requests/{s.request_id}/evidence", headers=s.officer.headers
    ).json()
    assert entry["sha256"] == item.sha256 and entry["redaction"]["frames"] == 100
