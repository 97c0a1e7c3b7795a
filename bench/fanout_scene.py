"""The fan-out scene: owners inside one request's area, an agency with an officer, a
moderator; the request drafted, submitted and approved through the footage service.

Owners, their preferences (email on), webhooks, cameras and one event each are inserted
in bulk with the models' own defaults (creating 10,000 accounts through argon2 would take
minutes and measure nothing here); the agency, its officer, the moderator and the
requests go through the services. The kill test builds the same scene.
"""

from __future__ import annotations

import math
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np
from h3.api import basic_int as h3_int
from sqlalchemy import insert
from sqlalchemy.orm import Session

from doorstep import geo
from doorstep.accounts import service as account_service
from doorstep.accounts.models import NotificationPreference, Role, User
from doorstep.agencies import service as agency_service
from doorstep.agencies.models import AgencyMembership, AgencyType, MemberRole
from doorstep.cameras.models import Camera, CameraKind, MotionEvent
from doorstep.db import utcnow
from doorstep.footage import service as request_service
from doorstep.footage.models import IncidentType
from doorstep.media.kinds import EventKind
from doorstep.notify.models import Webhook
from doorstep.runtime import Runtime
from doorstep.security import hash_password

# Philadelphia's centre; any place works, the jurisdiction is drawn around it.
CENTRE = (39.9526, -75.1652)
# The request's area: a square of 1,120 m a side, 0.484 sq mi (the default policy allows
# 0.5). The owners' cameras stand inside it, 20 m clear of its edge.
HALF_SIDE_M = 560.0
CAMERAS_HALF_SIDE_M = 540.0
METRES_PER_DEG_LAT = 111_320.0


@dataclass
class Scene:
    officer_id: uuid.UUID
    moderator_id: uuid.UUID
    area: dict[str, Any]
    window_start: datetime
    window_end: datetime


def square(half_side_m: float) -> dict[str, Any]:
    lat, lng = CENTRE
    dlat = half_side_m / METRES_PER_DEG_LAT
    dlng = half_side_m / (METRES_PER_DEG_LAT * math.cos(math.radians(lat)))
    ring = [
        [lng - dlng, lat - dlat],
        [lng + dlng, lat - dlat],
        [lng + dlng, lat + dlat],
        [lng - dlng, lat + dlat],
        [lng - dlng, lat - dlat],
    ]
    return {"type": "Polygon", "coordinates": [ring]}


def _insert_owners(
    session: Session, ids: Sequence[uuid.UUID], webhook_url: str, password_hash: str
) -> None:
    """Owners with email and in-app notices on for every event kind, and a webhook each."""
    session.execute(
        insert(User),
        [
            {
                "id": user_id,
                "email": f"owner-{i}@fanout.bench.invalid",
                "display_name": f"Owner {i}",
                "password_hash": password_hash,
                "role": Role.resident,
            }
            for i, user_id in enumerate(ids)
        ],
    )
    session.execute(
        insert(NotificationPreference),
        [
            {
                "user_id": user_id,
                "in_app": True,
                "email": True,
                "push": False,
                "event_kinds": [k.value for k in EventKind],
            }
            for user_id in ids
        ],
    )
    session.execute(
        insert(Webhook),
        [{"user_id": user_id, "url": webhook_url, "secret": uuid.uuid4().hex} for user_id in ids],
    )


def _insert_cameras(
    session: Session,
    ids: Sequence[uuid.UUID],
    points: Sequence[tuple[float, float]],
    event_at: datetime,
) -> None:
    """A doorbell accepting requests at each point, with one person event at ``event_at``."""
    camera_ids = [uuid.uuid4() for _ in ids]
    cells = [h3_int.latlng_to_cell(a, b, geo.INDEX_RESOLUTION) for a, b in points]
    session.execute(
        insert(Camera),
        [
            {
                "id": camera_ids[i],
                "owner_id": ids[i],
                "name": "Front door",
                "kind": CameraKind.doorbell,
                "exact_latitude": points[i][0],
                "exact_longitude": points[i][1],
                "index_cell": cells[i],
                "coarse_cell": h3_int.cell_to_parent(cells[i], geo.COARSE_RESOLUTION),
                "accepts_requests": True,
            }
            for i in range(len(ids))
        ],
    )
    session.execute(
        insert(MotionEvent),
        [
            {
                "camera_id": camera_ids[i],
                "owner_id": ids[i],
                "kind": EventKind.person,
                "started_at": event_at,
                "ended_at": event_at + timedelta(seconds=30),
                "on_device": True,
            }
            for i in range(len(ids))
        ],
    )


def _agency_and_moderator(session: Session, now: datetime) -> Scene:
    """A verified agency with a two-factor officer, an admin and a moderator."""
    applicant, admin, officer, moderator = (
        account_service.create_user(
            session=session,
            actor=None,
            email=f"{name.lower()}@fanout.bench.invalid",
            display_name=name,
            password=uuid.uuid4().hex,
        )
        for name in ("Chief", "Admin", "Officer", "Moderator")
    )
    admin.role = Role.admin
    moderator.role = Role.moderator
    # Two-factor sign-in is what the agency gate checks; its setup is tested elsewhere.
    applicant.totp_enabled = officer.totp_enabled = True
    session.flush()
    agency = agency_service.apply_for_agency(
        session=session,
        applicant=applicant,
        name="Fan-out Police Department",
        agency_type=AgencyType.police,
        city="Philadelphia",
        state="PA",
        jurisdiction=square(5_000.0),
        contact_email="records@fanout.bench.invalid",
        website="https://fanout.bench.invalid",
    )
    agency_service.change_status(
        session=session, actor=admin, agency_id=agency.id, action="verify", reason=None
    )
    officer.role = Role.agency_member
    session.add(AgencyMembership(agency_id=agency.id, user_id=officer.id, role=MemberRole.officer))
    return Scene(
        officer_id=officer.id,
        moderator_id=moderator.id,
        area=square(HALF_SIDE_M),
        window_start=now - timedelta(hours=3),
        window_end=now - timedelta(hours=1),
    )


def setup_scene(runtime: Runtime, *, owners: int, webhook_url: str, seed: int) -> Scene:
    """``owners`` owners with a camera and an event inside the request's area (their
    positions drawn from ``seed``), email on and a webhook to ``webhook_url``; the agency
    and the moderator who will ask and approve."""
    rng = np.random.default_rng(seed)
    now = utcnow()
    lat, lng = CENTRE
    dlat = CAMERAS_HALF_SIDE_M / METRES_PER_DEG_LAT
    dlng = CAMERAS_HALF_SIDE_M / (METRES_PER_DEG_LAT * math.cos(math.radians(lat)))
    lats = (lat + rng.uniform(-dlat, dlat, owners)).tolist()
    lngs = (lng + rng.uniform(-dlng, dlng, owners)).tolist()
    # One argon2 hash for all (argon2 is slow by design); nobody signs in as an owner.
    password_hash = hash_password(uuid.uuid4().hex)
    ids = [uuid.uuid4() for _ in range(owners)]
    with runtime.db.transaction() as session:
        _insert_owners(session, ids, webhook_url, password_hash)
        _insert_cameras(session, ids, list(zip(lats, lngs, strict=True)), now - timedelta(hours=2))
    with runtime.db.transaction() as session:
        return _agency_and_moderator(session, now)


def pending_review(runtime: Runtime, scene: Scene, case: int) -> uuid.UUID:
    with runtime.db.transaction() as session:
        officer = session.get(User, scene.officer_id)
        assert officer is not None
        request = request_service.draft_request(
            session=session,
            actor=officer,
            area=scene.area,
            circle=None,
            window_start=scene.window_start,
            window_end=scene.window_end,
            case_number=f"2026-FAN-{case:04d}",
            incident_type=IncidentType.burglary,
            message="A house on this block was broken into in the afternoon. Footage of "
            "people walking by may help the investigation.",
            investigator_contact="Det. Rivera, (555) 010-0000",
        )
        request_service.submit_request(session=session, actor=officer, request_id=request.id)
        return request.id


def activate(runtime: Runtime, scene: Scene, request_id: uuid.UUID) -> dict[str, float]:
    """Approve the request; the clock stops when the notices are committed."""
    started = time.perf_counter()
    with runtime.db.transaction() as session:
        moderator = session.get(User, scene.moderator_id)
        assert moderator is not None
        request_service.review_request(
            session=session, actor=moderator, request_id=request_id, approve=True, note=None
        )
        in_transaction = time.perf_counter()
    committed = time.perf_counter()
    return {
        "queued_s": committed - started,
        "commit_s": committed - in_transaction,
        "committed_at": time.time(),
    }
