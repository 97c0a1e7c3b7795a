"""Privacy: no feed response, JSON or page, carries an author's exact home, the place he
posted from, or a camera's position; only coarse cells."""

from __future__ import annotations

import json
from pathlib import Path

from fastapi.testclient import TestClient

from doorstep import geo
from doorstep.accounts.models import Role
from doorstep.feed.models import Category
from doorstep.notify.worker import Worker
from doorstep.runtime import Runtime
from doorstep.web import render
from tests.factories import (
    HTML,
    make_camera,
    make_person,
    sample_clip,
    set_home,
    sign_in,
    upload_clip,
)

HOME = (39.952817263, -75.163492817)
CAMERA = (39.951876543, -75.162123456)
PLACE = (39.954321987, -75.164987654)


def _leaks(text: str) -> list[str]:
    needles = []
    for lat, lng in (HOME, CAMERA, PLACE):
        needles += [str(lat), str(lng)]
        needles += [f"{v:.{d}f}" for v in (lat, lng) for d in (4, 5, 6)]
    return [n for n in needles if n in text]


def test_the_needles_are_not_in_the_public_cells() -> None:
    """The positions are chosen so no digit run of theirs occurs in the coarse cells' own
    (public) coordinates; a match below is then a leak, not a coincidence."""
    for point in (HOME, CAMERA, PLACE):
        cell = geo.cell_of(*point, geo.COARSE_RESOLUTION)
        public = json.dumps(geo.cell_geojson(cell)) + str(geo.cell_center(cell))
        public += json.dumps(render._cell_boundary(cell))
        assert not _leaks(public), point


def test_no_feed_response_carries_a_home_place_or_camera_position(
    client: TestClient, runtime: Runtime, tmp_path: Path
) -> None:
    author = make_person(runtime)
    set_home(runtime, author, lat=HOME[0], lng=HOME[1])
    cam = make_camera(runtime, author.user, latitude=CAMERA[0], longitude=CAMERA[1])
    clip = upload_clip(client, cam, sample_clip(tmp_path)).json()["clip"]
    from_home = client.post(
        "/api/v1/posts",
        headers=author.headers,
        json={
            "category": "crime",
            "title": "Package taken",
            "body": "See the clip.",
            "clip_id": clip["id"],
        },
    ).json()
    from_place = client.post(
        "/api/v1/posts",
        headers=author.headers,
        json={
            "category": "safety",
            "title": "Tree down",
            "body": "Blocking the road.",
            "latitude": PLACE[0],
            "longitude": PLACE[1],
        },
    ).json()
    # Even the author's own post views carry no position.
    assert not _leaks(str(from_home)) and not _leaks(str(from_place))

    mine = client.get("/api/v1/feed/home", headers=author.headers).json()
    assert (mine["latitude"], mine["longitude"]) == HOME  # his own view, and only his

    viewers = []
    for role in (Role.resident, Role.agency_member, Role.moderator, Role.admin):
        viewer = make_person(runtime, role=role)
        set_home(runtime, viewer, alerts=list(Category))
        viewers.append(viewer)
    commenter = viewers[0]
    comment = client.post(
        f"/api/v1/posts/{from_home['id']}/comments",
        headers=commenter.headers,
        json={"body": "Thanks"},
    ).json()
    client.post(
        f"/api/v1/posts/{from_home['id']}/reports",
        headers=commenter.headers,
        json={"reason": "other", "note": "check"},
    )
    Worker(runtime, periodic=[]).drain()  # the area alerts

    for viewer in viewers:
        paths = [
            "/api/v1/feed",
            "/api/v1/feed/map",
            f"/api/v1/posts/{from_home['id']}",
            f"/api/v1/posts/{from_place['id']}",
            f"/api/v1/posts/{from_home['id']}/comments",
            "/api/v1/notifications",
        ]
        if viewer.user.role in (Role.moderator, Role.admin):
            paths += ["/api/v1/moderation/queue", "/api/v1/moderation/pending"]
        for path in paths:
            r = client.get(path, headers=viewer.headers)
            assert r.status_code == 200, (path, r.text)
            assert not _leaks(r.text), (viewer.user.role, path, _leaks(r.text))
        assert client.get("/api/v1/feed", headers=viewer.headers).json()["posts"]
        assert (
            client.get(f"/media/clips/{clip['id']}.mp4", headers=viewer.headers).status_code == 404
        )

        client.cookies.clear()
        sign_in(client, viewer.user.email)
        pages = ["/feed", "/feed/map", f"/posts/{from_home['id']}", f"/posts/{from_place['id']}"]
        if viewer.user.role in (Role.moderator, Role.admin):
            pages.append("/moderation")
        for path in pages:
            r = client.get(path, headers=HTML)
            assert r.status_code == 200, (path, r.text[:500])
            assert not _leaks(r.text), (viewer.user.role, path, _leaks(r.text))
        client.cookies.clear()
    assert comment["body"] == "Thanks"


def test_openapi_has_positions_only_in_the_residents_own_home_and_in_inputs(
    client: TestClient,
) -> None:
    spec = client.get("/api/v1/openapi.json").json()
    with_position = sorted(
        name
        for name, schema in spec["components"]["schemas"].items()
        if "latitude" in schema.get("properties", {})
    )
    # PostCreate takes a place in; nothing the feed sends out has one except HomeRead.
    feed_schemas = {"HomeRead", "HomeUpdate", "PostCreate"}
    assert feed_schemas <= set(with_position)
    read_schemas = {"PostRead", "FeedPage", "FeedMap", "CommentRead", "QueueItem", "TipRead"}
    assert not read_schemas & set(with_position)
