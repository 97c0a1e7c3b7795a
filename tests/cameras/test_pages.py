"""The owner's camera, timeline and event pages, driven through their HTML forms."""

from __future__ import annotations

import re
from datetime import UTC, datetime, time, timedelta
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import select
from tests.factories import (
    HTML,
    csrf_of,
    form_error,
    make_camera,
    make_person,
    sample_clip,
    sign_in,
    upload_clip,
)

from doorstep.cameras.models import Camera
from doorstep.runtime import Runtime

LAT, LNG = 39.951234567, -75.163456789


def kinds_listed(html: str) -> list[str]:
    return re.findall(r'class="event-kind">(\w+)<', html)


def leaks_position(text: str) -> bool:
    needles = [str(LAT), str(LNG)]
    needles += [f"{v:.{digits}f}" for v in (LAT, LNG) for digits in (4, 5, 6)]
    return any(n in text for n in needles)


def camera_form(csrf: str, **overrides: str) -> dict[str, str]:
    values = {
        "csrf_token": csrf,
        "name": "Front door",
        "kind": "doorbell",
        "latitude": "39.9526",
        "longitude": "-75.1652",
        "accepts_requests": "1",
        "retention_days": "30",
    }
    values.update(overrides)
    return {k: v for k, v in values.items() if v is not None}


def test_add_camera_shows_token_once_then_lists_it(client: TestClient, runtime: Runtime) -> None:
    person = make_person(runtime)
    sign_in(client, person.user.email)
    page = client.get("/cameras/new", headers=HTML)
    assert page.status_code == 200
    assert 'id="camera-map"' in page.text and 'src="/vendor/leaflet/leaflet.js"' in page.text
    assert f'data-tile-url="{runtime.settings.tile_url}"' in page.text
    assert 'name="latitude"' in page.text and 'name="longitude"' in page.text
    assert 'name="retention_days" value="60"' in page.text

    r = client.post("/cameras/new", data=camera_form(csrf_of(page.text)), headers=HTML)
    assert r.status_code == 200 and r.headers["cache-control"] == "no-store"
    token = re.search(r'id="ingest-token">(dsc_[^<]+)<', r.text).group(1)  # type: ignore[union-attr]
    with runtime.db.transaction() as session:
        camera = session.scalar(select(Camera).where(Camera.owner_id == person.user.id))
        assert camera is not None
    upload_url = f"https://testserver/api/v1/cameras/{camera.id}/clips"
    assert f'id="upload-url">{upload_url}<' in r.text
    assert (
        f'curl -H "Authorization: Bearer {token}" -F file=@clip.mp4 '
        f"-F started_at=2026-11-29T12:00:00Z -F kind=motion {upload_url}"
    ) in r.text.replace("&#34;", '"')
    assert (camera.name, camera.retention_days, camera.accepts_requests) == ("Front door", 30, True)

    listing = client.get("/cameras", headers=HTML)
    assert "Front door" in listing.text and token not in listing.text
    assert f'href="/cameras/{camera.id}"' in listing.text
    assert "39.9526" not in listing.text  # the list shows the coarse area only
    r = client.get(f"/api/v1/cameras/{camera.id}", headers=person.headers)
    # The coarse area in words, not by the cell's H3 id (which the API keeps for machines).
    assert r.json()["coarse_cell"] not in listing.text
    assert "an area of about 0.7 km²" in listing.text

    with sample_clip(Path(runtime.settings.data_dir) / "s").open("rb") as fh:
        r = client.post(
            upload_url,
            headers={"Authorization": f"Bearer {token}"},
            data={"started_at": (datetime.now(UTC) - timedelta(minutes=1)).isoformat()},
            files={"file": ("clip.mp4", fh, "video/mp4")},
        )
    assert r.status_code == 201, r.text


def test_add_camera_refusals_are_shown_on_the_form(client: TestClient, runtime: Runtime) -> None:
    person = make_person(runtime)
    csrf = sign_in(client, person.user.email)
    r = client.post("/cameras/new", data=camera_form(csrf, latitude="", longitude=""))
    assert r.status_code == 400 and "Place the camera on the map" in form_error(r.text)
    assert 'value="Front door"' in r.text  # what was typed stays
    r = client.post("/cameras/new", data=camera_form(csrf, latitude="95"))
    assert r.status_code == 400 and form_error(r.text).startswith("Latitude")
    r = client.post("/cameras/new", data=camera_form(csrf, retention_days="0"))
    assert r.status_code == 400 and form_error(r.text).startswith("Retention")
    r = client.post("/cameras/new", data=camera_form(csrf, kind="satellite"))
    assert r.status_code == 400 and form_error(r.text).startswith("Kind")
    r = client.post("/cameras/new", data=camera_form(csrf, name=" "))
    assert r.status_code == 400 and form_error(r.text).startswith("Name")
    assert client.get("/api/v1/cameras", headers=person.headers).json() == []


def test_edit_rotate_revoke_and_delete_a_camera(
    client: TestClient, runtime: Runtime, tmp_path: Path
) -> None:
    person = make_person(runtime)
    cam = make_camera(runtime, person.user, latitude=LAT, longitude=LNG)
    csrf = sign_in(client, person.user.email)
    page = client.get(f"/cameras/{cam.camera.id}", headers=HTML)
    assert page.status_code == 200
    assert f'value="{LAT}"' in page.text and f'value="{LNG}"' in page.text  # the owner's page
    assert 'name="accepts_requests" value="1" checked' in page.text

    r = client.post(
        f"/cameras/{cam.camera.id}",
        data=camera_form(
            csrf,
            name="Back yard",
            kind="floodlight",
            latitude="39.95",
            longitude="-75.17",
            retention_days="7",
            accepts_requests=None,  # type: ignore[arg-type]
        ),
        follow_redirects=False,
    )
    assert r.status_code == 303
    assert r.headers["location"] == f"/cameras/{cam.camera.id}?notice=camera_saved"
    saved = client.get(f"/api/v1/cameras/{cam.camera.id}", headers=person.headers).json()
    assert saved["name"] == "Back yard" and saved["kind"] == "floodlight"
    assert (saved["latitude"], saved["longitude"]) == (39.95, -75.17)
    assert saved["retention_days"] == 7 and saved["accepts_requests"] is False
    assert "Camera settings saved." in client.get(r.headers["location"], headers=HTML).text

    # A refused edit changes nothing.
    r = client.post(f"/cameras/{cam.camera.id}", data=camera_form(csrf, retention_days="400"))
    assert r.status_code == 400 and form_error(r.text).startswith("Retention")
    assert 'value="400"' in r.text
    unchanged = client.get(f"/api/v1/cameras/{cam.camera.id}", headers=person.headers).json()
    assert unchanged == saved

    clip = sample_clip(tmp_path)
    r = client.post(f"/cameras/{cam.camera.id}/token/rotate", data={"csrf_token": csrf})
    assert r.status_code == 200 and "The old token stopped working" in r.text
    new_token = re.search(r'id="ingest-token">(dsc_[^<]+)<', r.text).group(1)  # type: ignore[union-attr]
    assert upload_clip(client, cam, clip).status_code == 401
    assert upload_clip(client, cam, clip, token=new_token).status_code == 201

    r = client.post(
        f"/cameras/{cam.camera.id}/token/revoke",
        data={"csrf_token": csrf},
        follow_redirects=False,
    )
    assert r.headers["location"] == f"/cameras/{cam.camera.id}?notice=token_revoked"
    assert "revoked" in client.get(r.headers["location"], headers=HTML).text
    assert upload_clip(client, cam, clip, token=new_token).status_code == 401

    confirm = client.get(f"/cameras/{cam.camera.id}/delete", headers=HTML)
    assert confirm.status_code == 200 and "cannot be undone" in confirm.text
    assert runtime.storage.keys(f"clips/{cam.camera.id}/")
    r = client.post(
        f"/cameras/{cam.camera.id}/delete", data={"csrf_token": csrf}, follow_redirects=False
    )
    assert r.status_code == 303 and r.headers["location"] == "/cameras?notice=camera_deleted"
    assert runtime.storage.keys(f"clips/{cam.camera.id}/") == []
    assert runtime.storage.keys(f"thumbnails/{cam.camera.id}/") == []
    assert client.get(f"/cameras/{cam.camera.id}", headers=HTML).status_code == 404
    assert "Back yard" not in client.get("/cameras", headers=HTML).text


def _at_noon(days_ago: int) -> datetime:
    today = datetime.combine(datetime.now(UTC).date(), time.min, UTC)
    return today - timedelta(days=days_ago) + timedelta(hours=12)


def test_timeline_lists_newest_first_and_filters(
    client: TestClient, runtime: Runtime, tmp_path: Path
) -> None:
    person = make_person(runtime)
    yard = make_camera(runtime, person.user, name="Yard")
    porch = make_camera(runtime, person.user, name="Porch")
    clip = sample_clip(tmp_path)
    vehicle = upload_clip(client, yard, clip, started_at=_at_noon(1), kind="vehicle").json()
    upload_clip(client, porch, clip, started_at=_at_noon(2), kind="person")
    upload_clip(client, yard, clip, started_at=_at_noon(3), kind="motion")
    r = client.post(
        f"/api/v1/cameras/{porch.camera.id}/events",
        headers=porch.headers,
        json={"kind": "ding", "started_at": _at_noon(4).isoformat(), "device_ref": "sd:1"},
    )
    assert r.status_code == 201, r.text
    sign_in(client, person.user.email)

    page = client.get("/timeline", headers=HTML)
    assert page.status_code == 200
    assert kinds_listed(page.text) == ["vehicle", "person", "motion", "ding"]
    assert f'src="/media/clips/{vehicle["clip"]["id"]}.jpg"' in page.text
    assert f'href="/events/{vehicle["id"]}"' in page.text
    assert page.text.count(">on device</span>") == 2  # the placeholder and the badge
    thumb = client.get(f"/media/clips/{vehicle['clip']['id']}.jpg")
    assert thumb.status_code == 200 and thumb.headers["content-type"] == "image/jpeg"

    by_camera = client.get(f"/timeline?camera={yard.camera.id}", headers=HTML)
    assert kinds_listed(by_camera.text) == ["vehicle", "motion"]
    assert f'<option value="{yard.camera.id}" selected>' in by_camera.text
    by_kind = client.get("/timeline?kind=person&kind=ding", headers=HTML)
    assert kinds_listed(by_kind.text) == ["person", "ding"]
    window = f"from={_at_noon(2).date()}&to={_at_noon(1).date()}"
    assert kinds_listed(client.get(f"/timeline?{window}", headers=HTML).text) == [
        "vehicle",
        "person",
    ]
    assert kinds_listed(client.get(f"/timeline?{window}&kind=vehicle").text) == ["vehicle"]

    for bad, message in [
        ("camera=not-a-camera", "Choose a camera"),
        ("kind=explosion", "Choose event kinds"),
        ("from=2026-13-40", "From is not a date"),
        ("cursor=garbage", "cursor is not valid"),
    ]:
        r = client.get(f"/timeline?{bad}", headers=HTML)
        assert r.status_code == 400 and message in form_error(r.text), bad


def test_timeline_pages_with_an_older_link(client: TestClient, runtime: Runtime) -> None:
    person = make_person(runtime)
    cam = make_camera(runtime, person.user)
    now = datetime.now(UTC)
    for minutes in range(1, 36):
        r = client.post(
            f"/api/v1/cameras/{cam.camera.id}/events",
            headers=cam.headers,
            json={"kind": "ding", "started_at": (now - timedelta(minutes=minutes)).isoformat()},
        )
        assert r.status_code == 201
    sign_in(client, person.user.email)
    first = client.get("/timeline?kind=ding", headers=HTML)
    assert len(kinds_listed(first.text)) == 30
    older = re.search(r'href="([^"]+)" rel="next"', first.text).group(1).replace("&amp;", "&")  # type: ignore[union-attr]
    assert older.startswith("/timeline?kind=ding&cursor=")
    second = client.get(older, headers=HTML)
    assert len(kinds_listed(second.text)) == 5 and 'rel="next"' not in second.text


def test_event_page_has_a_player_and_deleting_removes_the_file(
    client: TestClient, runtime: Runtime, tmp_path: Path
) -> None:
    person = make_person(runtime)
    cam = make_camera(runtime, person.user, name="Porch")
    event = upload_clip(client, cam, sample_clip(tmp_path), kind="person").json()
    clip = event["clip"]
    sign_in(client, person.user.email)

    page = client.get(f"/events/{event['id']}", headers=HTML)
    assert page.status_code == 200
    video = re.search(r"<video[^>]*>", page.text).group(0)  # type: ignore[union-attr]
    assert f'src="/media/clips/{clip["id"]}.mp4"' in video
    assert "controls" in video and 'preload="metadata"' in video
    assert clip["sha256"] in page.text and "320\N{MULTIPLICATION SIGN}240" in page.text
    assert "Person at Porch" in page.text
    r = client.get(f"/media/clips/{clip['id']}.mp4", headers={"Range": "bytes=0-99"})
    assert r.status_code == 206 and len(r.content) == 100

    keys = runtime.storage.keys(f"clips/{cam.camera.id}/")
    keys += runtime.storage.keys(f"thumbnails/{cam.camera.id}/")
    assert len(keys) == 2
    r = client.post(
        f"/events/{event['id']}/delete",
        data={"csrf_token": csrf_of(page.text)},
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"] == "/timeline?notice=event_deleted"
    assert not any(runtime.storage.exists(key) for key in keys)
    after = client.get(r.headers["location"], headers=HTML)
    assert "its clip file is gone from storage" in after.text and kinds_listed(after.text) == []
    assert client.get(f"/events/{event['id']}", headers=HTML).status_code == 404
    assert client.get(f"/media/clips/{clip['id']}.mp4").status_code == 404


def test_local_first_event_page_says_on_device(client: TestClient, runtime: Runtime) -> None:
    person = make_person(runtime)
    cam = make_camera(runtime, person.user)
    started = (datetime.now(UTC) - timedelta(minutes=2)).isoformat()
    event = client.post(
        f"/api/v1/cameras/{cam.camera.id}/events",
        headers=cam.headers,
        json={"kind": "motion", "started_at": started},
    ).json()
    sign_in(client, person.user.email)
    page = client.get(f"/events/{event['id']}", headers=HTML)
    assert page.status_code == 200 and "<video" not in page.text
    assert "stays on your camera or device" in page.text


def test_someone_elses_camera_event_and_clip_are_404_and_never_leak_the_position(
    client: TestClient, runtime: Runtime, tmp_path: Path
) -> None:
    owner = make_person(runtime)
    cam = make_camera(runtime, owner.user, name="Zebra gate", latitude=LAT, longitude=LNG)
    event = upload_clip(client, cam, sample_clip(tmp_path)).json()
    clip_id = event["clip"]["id"]
    stranger = make_person(runtime)
    csrf = sign_in(client, stranger.user.email)

    responses = [
        client.get(f"/cameras/{cam.camera.id}", headers=HTML),
        client.get(f"/cameras/{cam.camera.id}/delete", headers=HTML),
        client.get(f"/events/{event['id']}", headers=HTML),
        client.get(f"/media/clips/{clip_id}.mp4", headers=HTML),
        client.get(f"/media/clips/{clip_id}.mp4", headers={"Range": "bytes=0-99"}),
        client.get(f"/media/clips/{clip_id}.jpg"),
        client.post(f"/cameras/{cam.camera.id}", data=camera_form(csrf, name="Mine now")),
        client.post(f"/cameras/{cam.camera.id}/token/rotate", data={"csrf_token": csrf}),
        client.post(f"/cameras/{cam.camera.id}/token/revoke", data={"csrf_token": csrf}),
        client.post(f"/cameras/{cam.camera.id}/delete", data={"csrf_token": csrf}),
        client.post(f"/events/{event['id']}/delete", data={"csrf_token": csrf}),
    ]
    for r in responses:
        assert r.status_code == 404, (r.request.method, r.request.url, r.status_code)
        assert not leaks_position(r.text)
        assert "Zebra gate" not in r.text
    for path in ("/cameras", "/timeline", "/notifications", f"/timeline?camera={cam.camera.id}"):
        r = client.get(path, headers=HTML)
        assert r.status_code == 200 and not leaks_position(r.text)
        assert "Zebra gate" not in r.text

    # Nothing changed: the owner's camera, token, event and clip are all still there.
    mine = client.get(f"/api/v1/cameras/{cam.camera.id}", headers=owner.headers).json()
    assert mine["name"] == "Zebra gate" and mine["token_active"] is True
    assert client.get(f"/api/v1/events/{event['id']}", headers=owner.headers).status_code == 200
    assert upload_clip(client, cam, sample_clip(tmp_path, "b.mp4")).status_code == 201


def test_owner_pages_show_the_position_only_on_the_camera_page(
    client: TestClient, runtime: Runtime, tmp_path: Path
) -> None:
    owner = make_person(runtime)
    cam = make_camera(runtime, owner.user, latitude=LAT, longitude=LNG)
    event = upload_clip(client, cam, sample_clip(tmp_path)).json()
    sign_in(client, owner.user.email)
    assert leaks_position(client.get(f"/cameras/{cam.camera.id}", headers=HTML).text)
    for path in ("/cameras", "/timeline", f"/events/{event['id']}", "/notifications"):
        assert not leaks_position(client.get(path, headers=HTML).text), path
