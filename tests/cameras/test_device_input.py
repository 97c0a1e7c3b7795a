"""What a device sends, however it sends it: one device_ref rule (JSON, batch, multipart),
no clip or event older than its camera keeps them, and the multipart bodies documented."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from tests.factories import CameraWithToken, make_camera, make_person, sample_clip, upload_clip

from doorstep.cameras import clips as camera_clips
from doorstep.cameras import events as camera_events
from doorstep.cameras.models import Camera, Clip, MotionEvent
from doorstep.db import utcnow
from doorstep.errors import InvalidInput
from doorstep.media.kinds import EventKind
from doorstep.media.video import ClipLimits
from doorstep.runtime import Runtime


def _counts(runtime: Runtime) -> tuple[int, int, list[str]]:
    with runtime.db.transaction() as session:
        clips = session.scalar(select(func.count()).select_from(Clip)) or 0
        events = session.scalar(select(func.count()).select_from(MotionEvent)) or 0
    return clips, events, runtime.storage.keys()


def _send_clip(client: TestClient, cam: CameraWithToken, clip: Path, **fields: str) -> Any:
    data = {"started_at": (utcnow() - timedelta(minutes=5)).isoformat(), "kind": "motion"}
    data.update(fields)
    with clip.open("rb") as fh:
        return client.post(
            f"/api/v1/cameras/{cam.camera.id}/clips",
            headers=cam.headers,
            data=data,
            files={"file": (clip.name, fh, "video/mp4")},
        )


def _event(device_ref: str | None, **over: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "kind": "ding",
        "started_at": (utcnow() - timedelta(minutes=5)).isoformat(),
        **over,
    }
    if device_ref is not None:
        body["device_ref"] = device_ref
    return body


def _assert_device_ref_refused(r: Any) -> dict[str, Any]:
    assert r.status_code == 422, r.text
    error = r.json()["error"]
    assert error["code"] == "validation_failed"
    assert error["message"].startswith("device_ref: ")
    assert [p["field"] for p in error["details"]["problems"]] == ["device_ref"]
    return dict(error)


# ---------------------------------------------------------------- device_ref


BAD_REFS = {
    "empty": "",
    "blank": "   ",
    "too long": "x" * 201,
    "edge spaces": " sd:/0001.mp4",
    "two lines": "sd:/0001.mp4\nsd:/0002.mp4",
}


@pytest.mark.parametrize("ref", BAD_REFS.values(), ids=BAD_REFS.keys())
def test_bad_device_ref_refused_alike_in_json_batch_and_multipart(
    client: TestClient, runtime: Runtime, tmp_path: Path, ref: str
) -> None:
    """The same reference gets the same 422 however the device sends it, and nothing is
    stored. (An empty one used to be stored, and its second send answered 500; a
    1,000,000-character one was stored from a multipart upload on SQLite.)"""
    cam = make_camera(runtime, make_person(runtime).user)
    single = client.post(
        f"/api/v1/cameras/{cam.camera.id}/events", headers=cam.headers, json=_event(ref)
    )
    json_error = _assert_device_ref_refused(single)
    batch = client.post(
        f"/api/v1/cameras/{cam.camera.id}/events/batch",
        headers=cam.headers,
        json={"events": [_event("fine-1"), _event(ref)]},
    )
    assert batch.status_code == 422, batch.text
    assert batch.json()["error"]["code"] == "validation_failed"
    assert "device_ref" in batch.json()["error"]["message"]
    form_error = _assert_device_ref_refused(
        _send_clip(client, cam, sample_clip(tmp_path), device_ref=ref)
    )
    assert form_error["message"] == json_error["message"]
    assert _counts(runtime) == (0, 0, [])


def test_a_million_character_device_ref_is_refused_unstored(
    client: TestClient, runtime: Runtime, tmp_path: Path
) -> None:
    cam = make_camera(runtime, make_person(runtime).user)
    r = _send_clip(client, cam, sample_clip(tmp_path), device_ref="r" * 1_000_000)
    error = _assert_device_ref_refused(r)
    assert "200" in error["message"]
    assert _counts(runtime) == (0, 0, [])


def test_longest_device_ref_is_one_event_however_it_is_sent(
    client: TestClient, runtime: Runtime, tmp_path: Path
) -> None:
    cam = make_camera(runtime, make_person(runtime).user)
    longest = "d" * 200
    clip = sample_clip(tmp_path)
    first, again = (_send_clip(client, cam, clip, device_ref=longest) for _ in range(2))
    assert (first.status_code, again.status_code) == (201, 200), again.text
    assert first.json()["id"] == again.json()["id"]
    url = f"/api/v1/cameras/{cam.camera.id}/events"
    body = _event("e" * 200)
    a = client.post(url, headers=cam.headers, json=body)
    b = client.post(url, headers=cam.headers, json=body)
    assert (a.status_code, b.status_code) == (201, 200)
    batch = client.post(
        f"{url}/batch", headers=cam.headers, json={"events": [body, _event("f" * 200), body]}
    )
    assert batch.status_code == 201 and batch.json() == {"created": 1, "duplicates": 2}
    assert _counts(runtime)[:2] == (1, 3)


def test_service_refuses_an_empty_device_ref_and_repeats_are_one_event(
    runtime: Runtime,
) -> None:
    """Callers that skip the schemas (the demo, scripts) meet the same rule in the service:
    an empty reference is refused (it used to be stored, then its repeat was a 500), and a
    repeated one, in a batch or across calls, is one event."""
    cam = make_camera(runtime, make_person(runtime).user).camera
    start = utcnow() - timedelta(minutes=10)

    def spec(ref: str | None) -> camera_events.DeviceEventSpec:
        return camera_events.DeviceEventSpec(EventKind.motion, start, None, ref)

    for bad in ("", " x", "y" * 201):
        with pytest.raises(InvalidInput) as refused, runtime.db.transaction() as session:
            camera_events.report_device_event(
                session=session,
                camera=session.get_one(Camera, cam.id),
                kind=EventKind.motion,
                started_at=start,
                ended_at=None,
                device_ref=bad,
                max_duration_s=600,
                alert_window_s=30,
            )
        assert refused.value.code == "invalid_device_ref"
        with pytest.raises(InvalidInput) as refused, runtime.db.transaction() as session:
            camera_events.record_device_events(
                session=session,
                camera=session.get_one(Camera, cam.id),
                events=[spec("ok"), spec(bad)],
                max_duration_s=600,
                alert_window_s=30,
            )
        assert refused.value.code == "invalid_device_ref" and "Event 1" in refused.value.message
    assert _counts(runtime)[1] == 0

    with runtime.db.transaction() as session:
        camera = session.get_one(Camera, cam.id)
        result = camera_events.record_device_events(
            session=session,
            camera=camera,
            events=[spec("a"), spec("a"), spec(None), spec(None), spec("b")],
            max_duration_s=600,
            alert_window_s=30,
        )
        assert (result.created, result.duplicates) == (4, 1)
        first = camera_events.report_device_event(
            session=session,
            camera=camera,
            kind=EventKind.motion,
            started_at=start,
            ended_at=None,
            device_ref="a",
            max_duration_s=600,
            alert_window_s=30,
        )
        assert first.created is False
    with runtime.db.transaction() as session:
        again = camera_events.record_device_events(
            session=session,
            camera=session.get_one(Camera, cam.id),
            events=[spec("a"), spec("b"), spec("c")],
            max_duration_s=600,
            alert_window_s=30,
        )
        assert (again.created, again.duplicates) == (1, 2)
    assert _counts(runtime)[1] == 5


# ---------------------------------------------------------------- clip and event times


def test_clip_dated_1970_refused(client: TestClient, runtime: Runtime, tmp_path: Path) -> None:
    cam = make_camera(runtime, make_person(runtime).user)
    r = upload_clip(client, cam, sample_clip(tmp_path), started_at=datetime(1970, 1, 1, tzinfo=UTC))
    assert r.status_code == 400, r.text
    error = r.json()["error"]
    assert error["code"] == "clip_too_old"
    assert "60 days" in error["message"] and "1970-01-01" in error["message"]
    assert error["details"] == {"max_age_days": 60}
    assert _counts(runtime) == (0, 0, [])


def test_clip_age_follows_the_camera_retention(
    client: TestClient, runtime: Runtime, tmp_path: Path
) -> None:
    cam = make_camera(runtime, make_person(runtime).user, retention_days=7)
    clip = sample_clip(tmp_path)
    old = upload_clip(client, cam, clip, started_at=utcnow() - timedelta(days=7, hours=1))
    assert old.status_code == 400 and old.json()["error"]["code"] == "clip_too_old"
    assert "7 days" in old.json()["error"]["message"]
    assert _counts(runtime) == (0, 0, [])
    within = upload_clip(client, cam, clip, started_at=utcnow() - timedelta(days=6, hours=23))
    assert within.status_code == 201, within.text


def test_max_clip_age_setting_shortens_the_limit_never_lengthens_it(
    client: TestClient, runtime: Runtime, tmp_path: Path
) -> None:
    owner = make_person(runtime)
    cam = make_camera(runtime, owner.user, retention_days=30)
    clip = sample_clip(tmp_path)
    runtime.settings.max_clip_age_days = 2
    r = upload_clip(client, cam, clip, started_at=utcnow() - timedelta(days=3))
    assert r.status_code == 400 and r.json()["error"]["code"] == "clip_too_old"
    assert "2 days" in r.json()["error"]["message"]
    event = client.post(
        f"/api/v1/cameras/{cam.camera.id}/events",
        headers=cam.headers,
        json=_event("sd:/3", started_at=(utcnow() - timedelta(days=3)).isoformat()),
    )
    assert event.status_code == 400 and event.json()["error"]["code"] == "event_too_old"
    # A longer setting cannot take in what the camera's retention would delete at once.
    runtime.settings.max_clip_age_days = 365
    r = upload_clip(client, cam, clip, started_at=utcnow() - timedelta(days=31))
    assert r.status_code == 400 and "30 days" in r.json()["error"]["message"]
    assert _counts(runtime) == (0, 0, [])
    assert (
        upload_clip(client, cam, clip, started_at=utcnow() - timedelta(days=29)).status_code == 201
    )


def test_events_older_than_retention_refused_single_and_batch(
    client: TestClient, runtime: Runtime
) -> None:
    cam = make_camera(runtime, make_person(runtime).user, retention_days=10)
    url = f"/api/v1/cameras/{cam.camera.id}/events"
    old = (utcnow() - timedelta(days=11)).isoformat()
    r = client.post(url, headers=cam.headers, json=_event("sd:/1", started_at=old))
    assert r.status_code == 400 and r.json()["error"]["code"] == "event_too_old"
    assert "10 days" in r.json()["error"]["message"]
    r = client.post(
        f"{url}/batch",
        headers=cam.headers,
        json={"events": [_event("sd:/2"), _event("sd:/3", started_at=old)]},
    )
    assert r.status_code == 400, r.text
    error = r.json()["error"]
    assert error["code"] == "event_too_old" and error["message"].startswith("Event 1: ")
    assert error["details"]["index"] == 1
    assert _counts(runtime)[1] == 0
    recent = (utcnow() - timedelta(days=9)).isoformat()
    assert (
        client.post(url, headers=cam.headers, json=_event("sd:/4", started_at=recent)).status_code
        == 201
    )


def test_ingest_clip_service_applies_the_age_rule(runtime: Runtime, tmp_path: Path) -> None:
    cam = make_camera(runtime, make_person(runtime).user).camera
    with pytest.raises(InvalidInput) as refused, runtime.db.transaction() as session:
        camera_clips.ingest_clip(
            session=session,
            storage=runtime.storage,
            limits=ClipLimits.from_settings(runtime.settings),
            camera=session.get_one(Camera, cam.id),
            file_path=sample_clip(tmp_path),
            started_at=utcnow() - timedelta(days=61),
            kind=EventKind.motion,
        )
    assert refused.value.code == "clip_too_old"
    assert _counts(runtime) == (0, 0, [])


# ---------------------------------------------------------------- OpenAPI


def test_openapi_describes_the_multipart_uploads(client: TestClient) -> None:
    doc = client.get("/api/v1/openapi.json").json()

    def multipart(path: str) -> dict[str, Any]:
        body = doc["paths"][path]["post"]["requestBody"]
        assert body["required"] is True
        return dict(body["content"]["multipart/form-data"]["schema"])

    clip = multipart("/api/v1/cameras/{camera_id}/clips")
    fields = clip["properties"]
    assert set(clip["required"]) == {"file", "started_at"}
    assert (fields["file"]["type"], fields["file"]["format"]) == ("string", "binary")
    assert (fields["started_at"]["type"], fields["started_at"]["format"]) == (
        "string",
        "date-time",
    )
    assert fields["kind"]["enum"] == [k.value for k in EventKind]
    assert fields["kind"]["default"] == "motion"
    assert fields["device_ref"]["type"] == "string"
    assert (fields["device_ref"]["minLength"], fields["device_ref"]["maxLength"]) == (1, 200)

    upload = multipart("/api/v1/cameras/{camera_id}/uploads/{evidence_id}")
    assert upload["required"] == ["file"]
    assert upload["properties"]["file"]["format"] == "binary"
