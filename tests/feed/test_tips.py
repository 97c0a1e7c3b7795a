"""Tips to agencies: private, and when anonymous, with no trace of the sender's account."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select

from doorstep.audit import AuditRecord
from doorstep.feed.models import Tip
from doorstep.notify.models import OutboxJob
from doorstep.runtime import Runtime
from tests.factories import HTML, Person, make_agency, make_person, notifications, set_home, sign_in


def _official_post(client: TestClient, officer: Person) -> dict[str, Any]:
    r = client.post(
        "/api/v1/posts",
        headers=officer.headers,
        json={
            "category": "crime",
            "title": "Bike thefts on Pine St",
            "body": "Seen anything?",
            "official": True,
        },
    )
    assert r.status_code == 201, r.text
    return dict(r.json())


def test_anonymous_tip_reveals_no_account(client: TestClient, runtime: Runtime) -> None:
    officer = make_person(runtime)
    agency = make_agency(runtime, applicant=officer)
    set_home(runtime, officer)
    post = _official_post(client, officer)
    resident = make_person(runtime, email="resident.with.a.name@example.org")
    set_home(runtime, resident)

    with runtime.db.transaction() as session:
        audit_before = len(session.scalars(select(AuditRecord)).all())
        jobs_before = len(session.scalars(select(OutboxJob)).all())

    r = client.post(
        f"/api/v1/agencies/{agency.id}/tips",
        headers=resident.headers,
        json={
            "body": "The bikes go into the blue garage at night.",
            "post_id": post["id"],
            "anonymous": True,
        },
    )
    assert r.status_code == 201 and r.json()["anonymous"] is True
    named = client.post(
        f"/api/v1/agencies/{agency.id}/tips",
        headers=resident.headers,
        json={"body": "I can show you my clip, call me.", "post_id": post["id"]},
    )
    assert named.status_code == 201

    # The row itself: no account reference at all.
    with runtime.db.transaction() as session:
        anonymous = session.get(Tip, uuid.UUID(r.json()["id"]))
        assert anonymous is not None
        assert anonymous.sender_id is None
        values = {c.name: getattr(anonymous, c.key) for c in Tip.__table__.columns}
        assert str(resident.user.id) not in str(values)
        # ... nor in anything else the tip wrote: no audit record, no job naming him.
        new_audit = session.scalars(select(AuditRecord)).all()[audit_before:]
        new_jobs = session.scalars(select(OutboxJob)).all()[jobs_before:]
        assert all(
            str(resident.user.id) not in str(a.details) and a.actor_id != resident.user.id
            for a in new_audit
        )
        assert all(str(resident.user.id) not in str(j.payload) for j in new_jobs)

    tips = client.get(f"/api/v1/agencies/{agency.id}/tips", headers=officer.headers)
    assert tips.status_code == 200
    by_body = {t["body"]: t for t in tips.json()}
    anon = by_body["The bikes go into the blue garage at night."]
    assert anon["anonymous"] is True and anon["sender_name"] is None
    assert anon["sender_email"] is None
    text_of_anon = str(anon)
    for trace in (str(resident.user.id), resident.user.email, resident.user.display_name):
        assert trace not in text_of_anon
    assert by_body["I can show you my clip, call me."]["sender_email"] == resident.user.email

    # The officer is told a tip arrived, never by whom.
    alerts = [n for n in notifications(runtime, officer) if n.topic == "feed_tip"]
    assert len(alerts) == 2
    assert all(resident.user.display_name not in n.body + n.title for n in alerts)

    # Only the agency's members read its tips.
    assert (
        client.get(f"/api/v1/agencies/{agency.id}/tips", headers=resident.headers).status_code
        == 403
    )

    # The page shows the same.
    sign_in(client, officer.user.email, runtime)
    page = client.get("/feed/tips", headers=HTML)
    assert page.status_code == 200
    assert "anonymous" in page.text and "The bikes go into the blue garage" in page.text


def test_tip_through_the_post_page(client: TestClient, runtime: Runtime) -> None:
    officer = make_person(runtime)
    make_agency(runtime, applicant=officer)
    set_home(runtime, officer)
    post = _official_post(client, officer)
    resident = make_person(runtime)
    set_home(runtime, resident)
    csrf = sign_in(client, resident.user.email)
    page = client.get(f"/posts/{post['id']}", headers=HTML)
    assert "Send a tip to" in page.text and 'name="anonymous"' in page.text
    r = client.post(
        f"/posts/{post['id']}/tip",
        data={"csrf_token": csrf, "body": "Saw a van there at 2am", "anonymous": "1"},
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"].endswith("notice=tip_sent_anonymous")
    with runtime.db.transaction() as session:
        tip = session.scalar(select(Tip))
        assert tip is not None and tip.sender_id is None


def test_tips_need_a_verified_agency(client: TestClient, runtime: Runtime) -> None:
    applicant = make_person(runtime)
    pending = make_agency(runtime, applicant=applicant, verify=False)
    resident = make_person(runtime)
    r = client.post(
        f"/api/v1/agencies/{pending.id}/tips",
        headers=resident.headers,
        json={"body": "hello there"},
    )
    assert r.status_code == 409 and r.json()["error"]["code"] == "agency_not_active"
