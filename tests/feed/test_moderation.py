"""Reports and moderation: the queue (profiling first), hide and restore with reasons, the
author told, every action in the public audit log; and holding new posts for review."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select

from doorstep import audit
from doorstep.accounts.models import Role
from doorstep.audit import AuditRecord
from doorstep.feed.models import Category
from doorstep.notify.worker import Worker
from doorstep.runtime import Runtime
from tests.factories import (
    HTML,
    Person,
    csrf_of,
    feed_ids,
    form_error,
    make_person,
    make_post,
    notifications,
    set_home,
    sign_in,
)


def _audit(runtime: Runtime, prefix: str = "feed.") -> list[AuditRecord]:
    with runtime.db.transaction() as session:
        return list(
            session.scalars(
                select(AuditRecord)
                .where(AuditRecord.action.startswith(prefix))
                .order_by(AuditRecord.seq)
            )
        )


def _report(client: TestClient, who: Person, post_id: Any, reason: str, **extra: Any) -> Any:
    return client.post(
        f"/api/v1/posts/{post_id}/reports", headers=who.headers, json={"reason": reason, **extra}
    )


def test_report_queue_hide_notify_audit_restore(client: TestClient, runtime: Runtime) -> None:
    author = make_person(runtime)
    set_home(runtime, author)
    neighbors = [make_person(runtime) for _ in range(3)]
    for n in neighbors:
        set_home(runtime, n)
    moderator = make_person(runtime, role=Role.moderator)
    spammy = make_post(runtime, author, title="Buy my stuff", category=Category.community)
    profiled = make_post(runtime, author, title="Someone walking by")
    harsh = make_post(runtime, author, title="Rant about a neighbor")

    assert _report(client, neighbors[0], spammy.id, "spam").status_code == 201
    assert (
        _report(client, neighbors[1], harsh.id, "harassment", note="names a kid").status_code == 201
    )
    assert (
        _report(
            client, neighbors[2], profiled.id, "profiling", note="only describes his race"
        ).status_code
        == 201
    )
    assert _report(client, neighbors[0], profiled.id, "other").status_code == 201
    r = _report(client, neighbors[0], spammy.id, "spam")
    assert r.status_code == 409 and r.json()["error"]["code"] == "already_reported"
    r = _report(client, author, spammy.id, "spam")
    assert r.status_code == 400 and r.json()["error"]["code"] == "own_content"
    r = _report(client, neighbors[0], spammy.id, "rude")
    assert r.status_code == 422

    # Only moderators see the queue; profiling first, then the longest waiting.
    assert client.get("/api/v1/moderation/queue", headers=author.headers).status_code == 403
    queue = client.get("/api/v1/moderation/queue", headers=moderator.headers).json()
    assert [q["post_id"] for q in queue] == [str(profiled.id), str(spammy.id), str(harsh.id)]
    top = queue[0]
    assert top["has_profiling_report"] is True and top["report_count"] == 2
    assert top["reasons"] == {"profiling": 1, "other": 1}
    assert top["notes"] == ["only describes his race"]
    assert str(neighbors[2].user.id) not in str(queue)  # reporters are not named

    # Hiding needs a written reason, and only a moderator may.
    path = f"/api/v1/posts/{profiled.id}/hide"
    assert (
        client.post(path, headers=neighbors[0].headers, json={"reason": "nope"}).status_code == 403
    )
    assert client.post(path, headers=moderator.headers, json={"reason": ""}).status_code == 422
    r = client.post(
        path, headers=moderator.headers, json={"reason": "Describes a person by race only."}
    )
    assert r.status_code == 200 and r.json()["status"] == "hidden"
    assert str(profiled.id) not in feed_ids(client, neighbors[0])
    assert (
        client.get(f"/api/v1/posts/{profiled.id}", headers=neighbors[0].headers).status_code == 404
    )
    own = client.get(f"/api/v1/posts/{profiled.id}", headers=author.headers).json()
    assert own["status"] == "hidden" and own["status_reason"] == "Describes a person by race only."
    queue = client.get("/api/v1/moderation/queue", headers=moderator.headers).json()
    assert [q["post_id"] for q in queue] == [str(spammy.id), str(harsh.id)]

    told = [n for n in notifications(runtime, author) if n.topic == "feed_moderation"]
    assert len(told) == 1 and "Describes a person by race only." in told[0].body

    r = client.post(
        f"/api/v1/posts/{profiled.id}/restore",
        headers=moderator.headers,
        json={"reason": "The author added behaviour."},
    )
    assert r.status_code == 200 and r.json()["status"] == "published"
    assert str(profiled.id) in feed_ids(client, neighbors[0])
    r = client.post(
        f"/api/v1/posts/{profiled.id}/restore", headers=moderator.headers, json={"reason": "again"}
    )
    assert r.status_code == 409

    r = client.post(
        f"/api/v1/posts/{spammy.id}/reports/dismiss",
        headers=moderator.headers,
        json={"reason": "An ordinary sale notice."},
    )
    assert r.status_code == 204
    assert [
        q["post_id"]
        for q in client.get("/api/v1/moderation/queue", headers=moderator.headers).json()
    ] == [str(harsh.id)]

    told = [n for n in notifications(runtime, author) if n.topic == "feed_moderation"]
    assert len(told) == 2 and "The author added behaviour." in told[1].body
    records = _audit(runtime)
    assert [r.action for r in records] == [
        "feed.post_hidden",
        "feed.post_restored",
        "feed.reports_dismissed",
    ]
    assert all(r.is_public and r.actor_id == moderator.user.id for r in records)
    assert records[0].details["reason"] == "Describes a person by race only."
    assert records[0].details["reports"] == 2
    with runtime.db.transaction() as session:
        assert audit.verify_chain(session=session).ok


def test_comments_are_reported_and_hidden(client: TestClient, runtime: Runtime) -> None:
    author = make_person(runtime)
    set_home(runtime, author)
    commenter = make_person(runtime)
    moderator = make_person(runtime, role=Role.admin)
    post = make_post(runtime, author)
    comment = client.post(
        f"/api/v1/posts/{post.id}/comments",
        headers=commenter.headers,
        json={"body": "You people are all idiots"},
    ).json()
    r = client.post(
        f"/api/v1/comments/{comment['id']}/reports",
        headers=author.headers,
        json={"reason": "harassment"},
    )
    assert r.status_code == 201 and r.json()["comment_id"] == comment["id"]
    queue = client.get("/api/v1/moderation/queue", headers=moderator.headers).json()
    assert queue[0]["subject_type"] == "comment" and queue[0]["comment_id"] == comment["id"]

    r = client.post(
        f"/api/v1/comments/{comment['id']}/hide",
        headers=moderator.headers,
        json={"reason": "Insults other residents."},
    )
    assert r.status_code == 200 and r.json()["is_hidden"] is True
    listed = client.get(f"/api/v1/posts/{post.id}/comments", headers=author.headers).json()
    assert listed == []
    mine = client.get(f"/api/v1/posts/{post.id}/comments", headers=commenter.headers).json()
    assert mine[0]["is_hidden"] is True and mine[0]["hidden_reason"] == "Insults other residents."
    assert [n.topic for n in notifications(runtime, commenter)] == ["feed_moderation"]
    r = client.post(
        f"/api/v1/comments/{comment['id']}/restore",
        headers=moderator.headers,
        json={"reason": "Edited to be civil."},
    )
    assert r.status_code == 200 and r.json()["is_hidden"] is False
    assert [r.action for r in _audit(runtime)] == ["feed.comment_hidden", "feed.comment_restored"]


def test_hold_new_posts_for_review(client: TestClient, runtime: Runtime) -> None:
    admin = make_person(runtime, role=Role.admin)
    moderator = make_person(runtime, role=Role.moderator)
    author = make_person(runtime)
    set_home(runtime, author)
    neighbor = make_person(runtime)
    set_home(runtime, neighbor, alerts=[Category.safety])

    settings = client.get("/api/v1/moderation/settings", headers=moderator.headers).json()
    assert settings["hold_new_posts"] is False  # off by default
    r = client.put(
        "/api/v1/moderation/settings", headers=moderator.headers, json={"hold_new_posts": True}
    )
    assert r.status_code == 403 and r.json()["error"]["code"] == "admin_only"
    r = client.put(
        "/api/v1/moderation/settings", headers=admin.headers, json={"hold_new_posts": True}
    )
    assert r.status_code == 200 and r.json()["hold_new_posts"] is True

    older = make_post(runtime, author, title="Earlier post")  # held too
    held = client.post(
        "/api/v1/posts",
        headers=author.headers,
        json={"category": "safety", "title": "Loose wires", "body": "On 5th."},
    )
    assert held.status_code == 201 and held.json()["status"] == "pending"
    held_id = held.json()["id"]
    assert feed_ids(client, neighbor) == []
    assert client.get(f"/api/v1/posts/{held_id}", headers=neighbor.headers).status_code == 404
    mine = client.get("/api/v1/users/me/posts", headers=author.headers).json()
    assert {p["status"] for p in mine} == {"pending"}
    r = client.post(
        f"/api/v1/posts/{held_id}/comments", headers=neighbor.headers, json={"body": "hm"}
    )
    assert r.status_code == 404

    pending = client.get("/api/v1/moderation/pending", headers=moderator.headers).json()
    assert [p["id"] for p in pending] == [str(older.id), held_id]  # oldest first

    Worker(runtime, periodic=[]).drain()
    assert notifications(runtime, neighbor) == []  # no alert for a held post

    r = client.post(f"/api/v1/posts/{held_id}/approve", headers=moderator.headers, json={})
    assert r.status_code == 200 and r.json()["status"] == "published"
    r = client.post(
        f"/api/v1/posts/{older.id}/reject",
        headers=moderator.headers,
        json={"reason": "Duplicate of another post."},
    )
    assert r.status_code == 200 and r.json()["status"] == "rejected"
    r = client.post(f"/api/v1/posts/{older.id}/approve", headers=moderator.headers, json={})
    assert r.status_code == 409

    assert feed_ids(client, neighbor) == [held_id]
    assert client.get(f"/api/v1/posts/{older.id}", headers=neighbor.headers).status_code == 404
    rejected = client.get(f"/api/v1/posts/{older.id}", headers=author.headers).json()
    assert rejected["status_reason"] == "Duplicate of another post."
    Worker(runtime, periodic=[]).drain()
    assert [n.topic for n in notifications(runtime, neighbor)] == ["feed_post"]
    assert sorted(n.title for n in notifications(runtime, author)) == [
        "Your post is published",
        "Your post was not published",
    ]

    # While holding, an edit sends a published post back to review.
    r = client.patch(
        f"/api/v1/posts/{held_id}", headers=author.headers, json={"body": "On 5th and Pine."}
    )
    assert r.status_code == 200 and r.json()["status"] == "pending"
    assert feed_ids(client, neighbor) == []

    assert [r.action for r in _audit(runtime)] == [
        "feed.settings_changed",
        "feed.post_approved",
        "feed.post_rejected",
    ]
    assert all(r.is_public for r in _audit(runtime))


def test_moderation_pages(client: TestClient, runtime: Runtime) -> None:
    author = make_person(runtime)
    set_home(runtime, author)
    reporter = make_person(runtime)
    moderator = make_person(runtime, role=Role.moderator)
    first = make_post(runtime, author, title="Spam spam")
    second = make_post(runtime, author, title="Profiling post")
    _report(client, reporter, first.id, "spam")
    _report(client, reporter, second.id, "profiling")

    sign_in(client, author.user.email)
    assert client.get("/moderation", headers=HTML).status_code == 403
    client.cookies.clear()
    sign_in(client, moderator.user.email)
    page = client.get("/moderation", headers=HTML)
    assert page.status_code == 200
    assert page.text.index("Profiling post") < page.text.index("Spam spam")
    csrf = csrf_of(page.text)
    r = client.post(f"/moderation/posts/{second.id}/hide", data={"csrf_token": csrf, "reason": ""})
    assert r.status_code == 400 and "Write the reason" in form_error(r.text)
    r = client.post(
        f"/moderation/posts/{second.id}/hide",
        data={"csrf_token": csrf, "reason": "Race-only description."},
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"] == "/moderation?notice=hidden"
    page = client.get("/moderation", headers=HTML)
    assert "Profiling post" not in page.text and "Spam spam" in page.text
    post_page = client.get(f"/posts/{second.id}", headers=HTML)
    assert "Restore post" in post_page.text
    # A moderator cannot change the instance option; the page says who can.
    assert "An instance administrator can change this." in page.text
    assert (
        client.post(
            "/moderation/settings", data={"csrf_token": csrf, "hold_new_posts": "1"}
        ).status_code
        == 403
    )
