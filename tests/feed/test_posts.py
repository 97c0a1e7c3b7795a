"""Posts and comments through the API: clips shared in posts, edits marked, deletions,
official posts by verified agency members."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import h3
from fastapi.testclient import TestClient
from sqlalchemy import select

from doorstep import geo
from doorstep.agencies import service as agency_service
from doorstep.agencies.models import MemberRole
from doorstep.audit import AuditRecord
from doorstep.feed.models import Comment, Post
from doorstep.jobs import job_registry
from doorstep.notify.worker import Worker
from doorstep.runtime import Runtime
from tests.factories import (
    HOME_LAT,
    HOME_LNG,
    Person,
    enable_totp,
    feed_ids,
    make_agency,
    make_camera,
    make_person,
    sample_clip,
    set_home,
    upload_clip,
)


def _post(client: TestClient, who: Person, **body: Any) -> Any:
    payload: dict[str, Any] = {
        "category": "safety",
        "title": "Pothole on the corner",
        "body": "Deep one.",
    }
    payload.update(body)
    return client.post("/api/v1/posts", headers=who.headers, json=payload)


def test_post_with_own_clip_is_watchable_until_the_owner_deletes_it(
    client: TestClient, runtime: Runtime, tmp_path: Path
) -> None:
    owner = make_person(runtime)
    set_home(runtime, owner)
    cam = make_camera(runtime, owner.user, latitude=HOME_LAT, longitude=HOME_LNG)
    clip = upload_clip(client, cam, sample_clip(tmp_path)).json()["clip"]

    r = _post(
        client,
        owner,
        category="crime",
        title="Package taken",
        body="Watch the clip.",
        clip_id=clip["id"],
        person={
            "behavior": "Walked up and took the package off the porch.",
            "clothing": "red hoodie",
            "shoes": "white sneakers",
        },
    )
    assert r.status_code == 201, r.text
    assert r.json()["clip"] is None and r.json()["clip_status"] == "processing"
    Worker(runtime, job_registry(runtime.settings, periodic=False)).drain()  # its copy
    r = client.get(f"/api/v1/posts/{r.json()['id']}", headers=owner.headers)
    post = r.json()
    assert post["clip"]["video_url"] == f"/media/posts/{post['id']}/clip.mp4"
    assert "camera_id" not in post["clip"] and clip["id"] not in r.text

    neighbor = make_person(runtime)
    set_home(runtime, neighbor)
    assert feed_ids(client, neighbor) == [post["id"]]
    video = client.get(post["clip"]["video_url"], headers=neighbor.headers)
    assert video.status_code == 200 and video.headers["content-type"] == "video/mp4"
    ranged = client.get(
        post["clip"]["video_url"], headers={**neighbor.headers, "range": "bytes=0-99"}
    )
    assert ranged.status_code == 206
    thumb = client.get(post["clip"]["thumbnail_url"], headers=neighbor.headers)
    assert thumb.status_code == 200 and thumb.headers["content-type"] == "image/jpeg"
    # The neighbor still cannot reach the clip by its own (owner-only) link.
    assert client.get(f"/media/clips/{clip['id']}.mp4", headers=neighbor.headers).status_code == 404
    assert client.get(post["clip"]["video_url"]).status_code == 401

    assert client.delete(f"/api/v1/clips/{clip['id']}", headers=owner.headers).status_code == 204
    assert client.get(post["clip"]["video_url"], headers=neighbor.headers).status_code == 404
    assert client.get(post["clip"]["thumbnail_url"], headers=owner.headers).status_code == 404
    again = client.get(f"/api/v1/posts/{post['id']}", headers=neighbor.headers).json()
    assert again["clip"] is None


def test_only_own_clips_can_be_shared(client: TestClient, runtime: Runtime, tmp_path: Path) -> None:
    owner = make_person(runtime)
    cam = make_camera(runtime, owner.user)
    clip = upload_clip(client, cam, sample_clip(tmp_path)).json()["clip"]
    other = make_person(runtime)
    set_home(runtime, other)
    r = _post(client, other, clip_id=clip["id"])
    assert r.status_code == 404 and r.json()["error"]["code"] == "clip_not_found"


def test_author_edits_and_deletes_posts_and_comments(client: TestClient, runtime: Runtime) -> None:
    author = make_person(runtime)
    set_home(runtime, author)
    reader = make_person(runtime)
    set_home(runtime, reader)
    post = _post(client, author).json()
    assert post["edited_at"] is None and post["is_mine"] is True

    r = client.patch(f"/api/v1/posts/{post['id']}", headers=reader.headers, json={"title": "Mine"})
    assert r.status_code == 403 and r.json()["error"]["code"] == "not_author"
    r = client.patch(
        f"/api/v1/posts/{post['id']}",
        headers=author.headers,
        json={"title": "Pothole fixed", "body": "The city filled it."},
    )
    assert r.status_code == 200 and r.json()["edited_at"] is not None
    assert r.json()["title"] == "Pothole fixed"

    c = client.post(
        f"/api/v1/posts/{post['id']}/comments",
        headers=reader.headers,
        json={"body": "Thanks for the heads-up"},
    )
    assert c.status_code == 201 and c.json()["edited_at"] is None
    comment = c.json()
    r = client.patch(
        f"/api/v1/comments/{comment['id']}", headers=author.headers, json={"body": "hijack"}
    )
    assert r.status_code == 403
    r = client.patch(
        f"/api/v1/comments/{comment['id']}", headers=reader.headers, json={"body": "Thanks!"}
    )
    assert r.status_code == 200 and r.json()["edited_at"] is not None
    listed = client.get(f"/api/v1/posts/{post['id']}/comments", headers=author.headers).json()
    assert [x["body"] for x in listed] == ["Thanks!"] and listed[0]["is_mine"] is False
    assert (
        client.get(f"/api/v1/posts/{post['id']}", headers=reader.headers).json()["comment_count"]
        == 1
    )

    assert (
        client.delete(f"/api/v1/comments/{comment['id']}", headers=author.headers).status_code
        == 403
    )
    assert (
        client.delete(f"/api/v1/comments/{comment['id']}", headers=reader.headers).status_code
        == 204
    )
    assert client.delete(f"/api/v1/posts/{post['id']}", headers=reader.headers).status_code == 403
    assert client.delete(f"/api/v1/posts/{post['id']}", headers=author.headers).status_code == 204
    assert client.get(f"/api/v1/posts/{post['id']}", headers=author.headers).status_code == 404
    with runtime.db.transaction() as session:
        assert session.scalar(select(Post)) is None and session.scalar(select(Comment)) is None


def test_post_needs_an_area(client: TestClient, runtime: Runtime) -> None:
    person = make_person(runtime)
    r = _post(client, person)
    assert r.status_code == 409 and r.json()["error"]["code"] == "home_required"
    r = _post(client, person, latitude=HOME_LAT)
    assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_position"
    r = _post(client, person, latitude=HOME_LAT, longitude=HOME_LNG)
    assert r.status_code == 201
    assert r.json()["coarse_cell"] == h3.int_to_str(
        geo.cell_of(HOME_LAT, HOME_LNG, geo.COARSE_RESOLUTION)
    )
    with runtime.db.transaction() as session:
        row = session.scalar(select(Post))
        assert row is not None
        assert row.coarse_cell == geo.cell_of(HOME_LAT, HOME_LNG, geo.COARSE_RESOLUTION)


def test_official_posts_come_from_verified_members_with_two_factor(
    client: TestClient, runtime: Runtime
) -> None:
    officer = make_person(runtime)
    agency = make_agency(runtime, applicant=officer)
    set_home(runtime, officer)
    resident = make_person(runtime)
    set_home(runtime, resident)

    r = _post(client, resident, official=True)
    assert r.status_code == 403 and r.json()["error"]["code"] == "not_agency_member"
    r = _post(
        client,
        officer,
        official=True,
        title="Road closed for repairs",
        body="Main Street is closed until Friday.",
    )
    assert r.status_code == 201, r.text
    post = r.json()
    assert post["official"] is True and post["agency"]["name"] == agency.name
    assert post["author_name"] == agency.name
    seen = client.get(f"/api/v1/posts/{post['id']}", headers=resident.headers).json()
    assert seen["official"] is True and seen["agency"]["id"] == str(agency.id)
    with runtime.db.transaction() as session:
        record = session.scalar(
            select(AuditRecord).where(AuditRecord.action == "feed.official_post")
        )
        assert record is not None and record.is_public

    r = _post(client, officer, official=True, latitude=10.0, longitude=10.0)
    assert r.status_code == 400 and r.json()["error"]["code"] == "outside_jurisdiction"

    # Without two-factor sign-in no member acts for the agency.
    member = make_person(runtime)
    with runtime.db.transaction() as session:
        invitation, _link = agency_service.invite_member(
            session=session,
            actor=session.merge(officer.user),
            agency_id=agency.id,
            email=member.user.email,
            role=MemberRole.officer,
        )
        issued = agency_service.issue_invitation_token(session=session, invitation_id=invitation.id)
        assert issued is not None
        agency_service.accept_invitation(
            session=session, user=session.merge(member.user), token=issued[2]
        )
    set_home(runtime, member)
    r = _post(client, member, official=True)
    assert r.status_code == 403 and r.json()["error"]["code"] == "two_factor_required"
    enable_totp(runtime, member)
    assert _post(client, member, official=True).status_code == 201
