"""A populated instance for the adversarial suite: every kind of principal, and a second
resident and a second agency whose objects nobody else may touch.

Everything is made through the services (tests/factories.py) or through the API with the
owner's own token, so the objects are the ones production would hold."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select

from doorstep.accounts.models import Role
from doorstep.agencies import identity
from doorstep.agencies import service as agency_service
from doorstep.agencies.models import IdentifierScheme, MemberRole
from doorstep.db import utcnow
from doorstep.feed import service as feed_service
from doorstep.footage.previews import digest_of
from doorstep.jobs import job_registry
from doorstep.media.redaction import Choices
from doorstep.notify.models import Notification
from doorstep.notify.worker import Worker
from doorstep.runtime import Runtime
from doorstep.transparency import records
from doorstep.transparency.records.presets import AgencyRef, IncidentRow
from tests.factories import (
    CameraWithToken,
    Person,
    make_agency,
    make_camera,
    make_officer,
    make_person,
    make_post,
    request_body,
    sample_clip,
    set_home,
    upload_clip,
)

# Philadelphia; the stranger's camera stands inside the other agency's request area.
LAT, LNG = 39.9526, -75.1652

# The principals the API is exercised as. "camera" is a device's ingest token, sent only to
# the device endpoints (DEVICE_PATHS); the others call every operation.
PEOPLE = ("anonymous", "resident", "officer", "moderator", "admin")
DEVICE_PATHS = (
    "/api/v1/cameras/{camera_id}/clips",
    "/api/v1/cameras/{camera_id}/events",
    "/api/v1/cameras/{camera_id}/events/batch",
    "/api/v1/cameras/{camera_id}/uploads",
    "/api/v1/cameras/{camera_id}/uploads/{evidence_id}",
)


@dataclass
class World:
    runtime: Runtime
    client: TestClient
    headers: dict[str, dict[str, str]]
    # The resident's own camera, the one the "camera" principal's token belongs to.
    own_camera_id: uuid.UUID
    # Path parameter name -> an id of an object owned by the stranger or the other agency.
    foreign: dict[str, str] = field(default_factory=dict)
    people: dict[str, Person] = field(default_factory=dict)


def _created(response: Any) -> Any:
    assert response.status_code in (200, 201), response.text
    return response.json()


def _event(client: TestClient, cam: CameraWithToken, hours_ago: float, ref: str) -> str:
    start = utcnow() - timedelta(hours=hours_ago)
    body = {
        "kind": "motion",
        "started_at": start.isoformat(),
        "ended_at": (start + timedelta(seconds=30)).isoformat(),
        "device_ref": ref,
    }
    return str(
        _created(
            client.post(f"/api/v1/cameras/{cam.camera.id}/events", headers=cam.headers, json=body)
        )["id"]
    )


ACCOUNTABILITY_KIND = "fatal-police-shootings"


def _accountability(runtime: Runtime, agency_id: uuid.UUID) -> tuple[uuid.UUID, uuid.UUID]:
    """A release of one incident and an alias of the agency: (release id, identifier id)."""
    row = IncidentRow(1, "1", "2024-05-01", "PA", (AgencyRef("Other PD", "PA"),))
    with runtime.db.transaction() as session:
        result = records.import_release(
            session=session,
            rows=[row],
            release=records.ReleaseInfo(kind=ACCOUNTABILITY_KIND, source="fuzz.csv"),
        )
        alias = identity.add_identifier(
            session=session,
            actor=None,
            agency_id=agency_id,
            scheme=IdentifierScheme.alias,
            value="Other PD",
        )
        return result.release.id, alias.id


def build_world(runtime: Runtime, client: TestClient, tmp_path: Path) -> World:
    """The principals, each with something of his own, and a stranger's full set of objects."""
    resident = make_person(runtime)
    set_home(runtime, resident)
    own_camera = make_camera(runtime, resident.user, latitude=LAT + 0.03, longitude=LNG)
    _event(client, own_camera, 2.0, "own:1")
    moderator = make_person(runtime, role=Role.moderator)
    admin = make_person(runtime, role=Role.admin)
    agency = make_agency(runtime, name="Own Police Department", lat=LAT, lng=LNG)
    officer = make_officer(runtime, agency)

    # The stranger: a resident and an agency none of the principals belongs to.
    stranger = make_person(runtime)
    set_home(runtime, stranger)
    other_admin = make_person(runtime)
    other_agency = make_agency(
        runtime, applicant=other_admin, name="Other Police Department", lat=LAT, lng=LNG
    )
    with runtime.db.transaction() as session:
        invitation, _link = agency_service.invite_member(
            session=session,
            actor=session.merge(other_admin.user),
            agency_id=other_agency.id,
            email="new.officer@other.example.org",
            role=MemberRole.officer,
        )
    other_officer = make_officer(runtime, other_agency)
    cam = make_camera(runtime, stranger.user, latitude=LAT + 0.0005, longitude=LNG)
    clip = upload_clip(client, cam, sample_clip(tmp_path), started_at=utcnow() - timedelta(hours=2))
    assert clip.status_code == 201, clip.text
    clip_event = clip.json()
    device_event = _event(client, cam, 2.5, "sd:/0001.mp4")

    post = make_post(runtime, stranger)
    with runtime.db.transaction() as session:
        feed_service.mark_published(session=session, post=session.merge(post))
    comment = _created(
        client.post(
            f"/api/v1/posts/{post.id}/comments",
            headers=stranger.headers,
            json={"body": "I saw the boards this morning."},
        )
    )
    tokens = client.get("/api/v1/tokens", headers=stranger.headers).json()

    # The other agency's request reaches the stranger, who shares his clip: evidence.
    request = _created(
        client.post("/api/v1/requests", headers=other_officer.headers, json=request_body(LAT, LNG))
    )
    _created(client.post(f"/api/v1/requests/{request['id']}/submit", headers=other_officer.headers))
    _created(
        client.post(
            f"/api/v1/requests/{request['id']}/review",
            headers=moderator.headers,
            json={"approve": True, "note": "Meets the guidelines"},
        )
    )
    Worker(runtime, job_registry(runtime.settings, periodic=False)).drain()
    shared = _created(
        client.post(
            f"/api/v1/inbox/requests/{request['id']}/share",
            headers=stranger.headers,
            json={"event_ids": [clip_event["id"]]},
        )
    )
    # Added after the drain: its deliveries would only retry against a host that is not there.
    webhook = _created(
        client.post(
            "/api/v1/webhooks",
            headers=stranger.headers,
            json={"url": "https://192.0.2.10/doorstep"},
        )
    )
    with runtime.db.transaction() as session:
        notification = session.scalars(
            select(Notification.id).where(Notification.user_id == stranger.user.id)
        ).first()
    assert notification is not None
    release_id, identifier_id = _accountability(runtime, other_agency.id)

    foreign = {
        "user_id": str(stranger.user.id),
        "token_id": str(tokens[0]["id"]),
        "agency_id": str(other_agency.id),
        "camera_id": str(cam.camera.id),
        "event_id": device_event,
        "clip_id": str(clip_event["clip"]["id"]),
        "post_id": str(post.id),
        "comment_id": str(comment["id"]),
        "request_id": str(request["id"]),
        "evidence_id": str(shared[0]["id"]),
        # The name the stranger's preview with the default choices would have.
        "preview_id": digest_of(Choices()),
        "notification_id": str(notification),
        "webhook_id": str(webhook["id"]),
        "invitation_id": str(invitation.id),
        "kind": ACCOUNTABILITY_KIND,
        "release_id": str(release_id),
        "identifier_id": str(identifier_id),
    }
    people = {
        "resident": resident,
        "officer": officer,
        "moderator": moderator,
        "admin": admin,
        "stranger": stranger,
    }
    headers = {name: p.headers for name, p in people.items()}
    headers["anonymous"] = {}
    headers["camera"] = own_camera.headers
    return World(
        runtime=runtime,
        client=client,
        headers=headers,
        own_camera_id=own_camera.camera.id,
        foreign=foreign,
        people=people,
    )
