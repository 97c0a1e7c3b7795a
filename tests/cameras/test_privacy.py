"""Privacy: a camera's exact position and its clips are the owner's alone."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient
from tests.factories import make_camera, make_person, sample_clip, upload_clip

from doorstep.accounts.models import Role
from doorstep.runtime import Runtime

LAT, LNG = 39.951234567, -75.163456789


def _leaks_position(text: str) -> bool:
    needles = [
        str(LAT),
        str(LNG),
        f"{LAT:.6f}",
        f"{LNG:.6f}",
        f"{LAT:.5f}",
        f"{LNG:.5f}",
        f"{LAT:.4f}",
        f"{LNG:.4f}",
    ]
    return any(n in text for n in needles)


def test_owner_sees_exact_position_and_nobody_else_does(
    client: TestClient, runtime: Runtime, tmp_path: Path
) -> None:
    owner = make_person(runtime)
    cam = make_camera(runtime, owner.user, latitude=LAT, longitude=LNG)
    clip = upload_clip(client, cam, sample_clip(tmp_path)).json()["clip"]
    event = client.get("/api/v1/events", headers=owner.headers).json()["events"][0]

    mine = client.get(f"/api/v1/cameras/{cam.camera.id}", headers=owner.headers)
    assert mine.json()["latitude"] == LAT and mine.json()["longitude"] == LNG

    for role in (Role.resident, Role.agency_member, Role.moderator, Role.admin):
        other = make_person(runtime, role=role)
        paths = [
            f"/api/v1/cameras/{cam.camera.id}",
            f"/api/v1/events/{event['id']}",
            f"/api/v1/clips/{clip['id']}",
            f"/media/clips/{clip['id']}.mp4",
            f"/media/clips/{clip['id']}.jpg",
        ]
        for path in paths:
            r = client.get(path, headers=other.headers)
            assert r.status_code == 404, (role, path, r.status_code)
            assert not _leaks_position(r.text)
        for path in (
            "/api/v1/cameras",
            "/api/v1/events",
            "/api/v1/notifications",
            "/api/v1/users/me",
        ):
            r = client.get(path, headers=other.headers)
            assert r.status_code == 200
            assert not _leaks_position(r.text), (role, path)
            assert str(cam.camera.id) not in r.text
        # Another user can neither change nor delete it.
        assert (
            client.patch(
                f"/api/v1/cameras/{cam.camera.id}",
                headers=other.headers,
                json={"accepts_requests": False},
            ).status_code
            == 404
        )
        assert (
            client.delete(f"/api/v1/clips/{clip['id']}", headers=other.headers).status_code == 404
        )
        assert (
            client.post(
                f"/api/v1/cameras/{cam.camera.id}/token/rotate", headers=other.headers
            ).status_code
            == 404
        )
    assert client.get(f"/media/clips/{clip['id']}.mp4").status_code == 401
    assert client.get(f"/media/clips/{clip['id']}.mp4", headers=owner.headers).status_code == 200


def test_alert_text_carries_no_position(
    client: TestClient, runtime: Runtime, tmp_path: Path
) -> None:
    owner = make_person(runtime)
    cam = make_camera(runtime, owner.user, latitude=LAT, longitude=LNG)
    upload_clip(client, cam, sample_clip(tmp_path))
    notes = client.get("/api/v1/notifications", headers=owner.headers)
    assert len(notes.json()) == 1 and not _leaks_position(notes.text)


def test_openapi_has_position_only_in_owner_schemas(client: TestClient) -> None:
    spec = client.get("/api/v1/openapi.json").json()
    with_position = sorted(
        name
        for name, schema in spec["components"]["schemas"].items()
        if "latitude" in schema.get("properties", {})
    )
    # The camera and home schemas are the owner's own view or his input; Circle is a
    # request's drawn area; PostCreate is the author's input (stored only as a coarse cell).
    assert with_position == [
        "CameraCreate",
        "CameraIssued",
        "CameraRead",
        "CameraUpdate",
        "Circle",
        "HomeRead",
        "HomeUpdate",
        "PostCreate",
    ]
