"""The public request log the HTTP benchmark reads, filled to size by bulk insert.

The generator creates no footage requests. When the log holds fewer than asked, the
missing ones are added by bulk insert (ORM ``insert`` of rows matching
:class:`~doorstep.footage.models.FootageRequest`,
:class:`~doorstep.footage.models.Recipient` and :class:`~doorstep.agencies.models.Agency`):
areas of 0.1 to 0.5 sq mi around random cameras and windows of 1 to 12 h inside the
events' span (as in the targeting benchmark), checked by
:func:`~doorstep.footage.area.parse_request_area`, public cells from
:func:`~doorstep.footage.area.public_cells` at the policy's resolution, and the owners
asked from :func:`~doorstep.footage.targeting.target_owners` (the activation's own
targeting); about 30% shared and 30% declined. The activation's side effects are not
written: no audit records, no feed post, no notice jobs. All of it is marked (the user
``http-bench@bench.invalid``, agencies "Bench HTTP police department ...", state ``ZZ``,
case numbers ``BENCH-HTTP-...``), so the rows stay for the next run and
:func:`remove_log_data` can delete them.
"""

from __future__ import annotations

import tempfile
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.orm import Session

from bench.requests import MAX_EVENT_S, TargetingRequest, camera_homes_and_span, random_requests
from doorstep.accounts import service as account_service
from doorstep.accounts.models import Role, User
from doorstep.agencies.models import Agency, AgencyMembership, AgencyStatus, AgencyType, MemberRole
from doorstep.config import Settings
from doorstep.footage import area as request_area
from doorstep.footage import policy as policy_service
from doorstep.footage.models import (
    FootageRequest,
    IncidentType,
    Recipient,
    RecipientStatus,
    RequestStatus,
)
from doorstep.footage.policy import PolicySettings
from doorstep.footage.targeting import TargetOwner, target_owners
from doorstep.runtime import Runtime

BENCH_EMAIL = "http-bench@bench.invalid"

AGENCY_PREFIX = "Bench HTTP"

CASE_PREFIX = "BENCH-HTTP-"

REQUESTS_PER_AGENCY = 25  # under the policy's default monthly cap of 30

INCIDENTS = (
    IncidentType.package_theft,
    IncidentType.burglary,
    IncidentType.vehicle_break_in,
    IncidentType.vehicle_theft,
    IncidentType.robbery,
    IncidentType.vandalism,
    IncidentType.hit_and_run,
    IncidentType.assault,
    IncidentType.missing_person,
)


def _bench_user(session: Session) -> User:
    user = session.scalar(select(User).where(User.email == BENCH_EMAIL))
    if user is None:
        user = account_service.create_user(
            session=session,
            actor=None,
            email=BENCH_EMAIL,
            display_name="HTTP benchmark officer",
            password=uuid.uuid4().hex,
            role=Role.agency_member,
        )
    return user


def _log_size(session: Session) -> int:
    return (
        session.scalar(
            select(func.count())
            .select_from(FootageRequest)
            .where(FootageRequest.activated_at.is_not(None))
        )
        or 0
    )


def _agency_row(
    *,
    agency_id: uuid.UUID,
    number: int,
    cell: tuple[int, int],
    user_id: uuid.UUID,
    joined: datetime,
) -> dict[str, Any]:
    """A verified agency whose jurisdiction is the 1-degree cell (and a margin)."""
    lat0, lon0 = cell
    ring = [
        [lon0 - 0.05, lat0 - 0.05],
        [lon0 + 1.05, lat0 - 0.05],
        [lon0 + 1.05, lat0 + 1.05],
        [lon0 - 0.05, lat0 + 1.05],
        [lon0 - 0.05, lat0 - 0.05],
    ]
    return {
        "id": agency_id,
        "name": f"{AGENCY_PREFIX} police department {number}",
        "agency_type": AgencyType.police if number % 3 else AgencyType.sheriff,
        "city": f"Bench town {lat0:+d} {lon0:+d}",
        "state": "ZZ",
        "jurisdiction": {"type": "Polygon", "coordinates": [ring]},
        "contact_email": f"agency-{number}@bench.invalid",
        "website": f"https://bench.invalid/agency-{number}",
        "status": AgencyStatus.verified,
        "applied_by": user_id,
        "applied_at": joined,
        "verified_at": joined + timedelta(days=1),
    }


def _recipient_rows(
    *,
    rng: np.random.Generator,
    owners: Sequence[TargetOwner],
    request_id: uuid.UUID,
    activated: datetime,
    now: datetime,
) -> list[dict[str, Any]]:
    """One recipient per owner asked: about 30% shared, 30% declined, the rest pending."""
    rows: list[dict[str, Any]] = []
    numbers = rng.permutation(len(owners)) + 1
    for owner, number in zip(owners, numbers, strict=True):
        draw = float(rng.random())
        status = (
            RecipientStatus.shared
            if draw < 0.3
            else RecipientStatus.declined
            if draw < 0.6
            else RecipientStatus.pending
        )
        answered = (
            None
            if status == RecipientStatus.pending
            else min(activated + timedelta(hours=float(rng.uniform(0.2, 72))), now)
        )
        rows.append(
            {
                "id": uuid.uuid4(),
                "request_id": request_id,
                "owner_id": owner.owner_id,
                "camera_ids": [str(c) for c in owner.camera_ids],
                "status": status,
                "neighbor_number": int(number),
                "reveal_identity": False,
                "answered_at": answered,
                "reminders_sent": 0,
                "next_reminder_at": None,
                "created_at": activated,
            }
        )
    return rows


@dataclass
class _LogRows:
    """The rows one fill inserts, built request by request."""

    session: Session
    rng: np.random.Generator
    user: User
    policy: PolicySettings
    span_start: datetime
    first_case: int
    taken: int
    now: datetime = field(default_factory=lambda: datetime.now(UTC))
    agency_of: dict[tuple[int, int, int], uuid.UUID] = field(default_factory=dict)
    per_cell: dict[tuple[int, int], int] = field(default_factory=dict)
    agencies: list[dict[str, Any]] = field(default_factory=list)
    requests: list[dict[str, Any]] = field(default_factory=list)
    recipients: list[dict[str, Any]] = field(default_factory=list)
    asked: list[int] = field(default_factory=list)

    def agency_for(self, planned: TargetingRequest) -> uuid.UUID:
        """One agency per 1-degree cell of the requests' centres, 25 requests each at most."""
        centre = planned.area.centroid
        cell = (int(np.floor(centre.y)), int(np.floor(centre.x)))
        slot = self.per_cell.get(cell, 0)
        self.per_cell[cell] = slot + 1
        key = (*cell, slot // REQUESTS_PER_AGENCY)
        if key not in self.agency_of:
            self.agency_of[key] = uuid.uuid4()
            self.agencies.append(
                _agency_row(
                    agency_id=self.agency_of[key],
                    number=self.taken + len(self.agencies) + 1,
                    cell=cell,
                    user_id=self.user.id,
                    joined=self.span_start - timedelta(days=60),
                )
            )
        return self.agency_of[key]

    def add(self, n: int, planned: TargetingRequest) -> None:
        """Request ``n`` of the fill: its agency, its owners asked, their answers."""
        agency_id = self.agency_for(planned)
        coordinates = [[float(x), float(y)] for x, y in planned.area.exterior.coords]
        area = request_area.parse_request_area(
            area={"type": "Polygon", "coordinates": [coordinates]}, circle=None
        )
        owners = target_owners(
            session=self.session,
            area=area.geometry,
            window_start=planned.window_start,
            window_end=planned.window_end,
            max_event_s=MAX_EVENT_S,
        )
        rng, now = self.rng, self.now
        activated = min(
            planned.window_end + timedelta(hours=float(rng.uniform(0.5, 48.0))),
            now - timedelta(minutes=1),
        )
        submitted = activated - timedelta(minutes=float(rng.uniform(1, 30)))
        closes = activated + timedelta(days=self.policy.request_open_days)
        closed = closes if closes <= now else None
        request_id = uuid.uuid4()
        self.requests.append(
            {
                "id": request_id,
                "agency_id": agency_id,
                "created_by": self.user.id,
                "case_number": f"{CASE_PREFIX}{self.first_case + n:06d}",
                "incident_type": INCIDENTS[int(rng.integers(len(INCIDENTS)))],
                "message": "Footage request added by the HTTP benchmark (bench.http_load).",
                "investigator_contact": BENCH_EMAIL,
                "area": area.geojson,
                "circle": None,
                "area_sq_mi": planned.area_sq_mi,
                "public_cells": request_area.public_cells(
                    area.geometry, self.policy.public_h3_resolution
                ),
                "window_start": planned.window_start,
                "window_end": planned.window_end,
                "status": RequestStatus.closed if closed else RequestStatus.active,
                "created_at": submitted - timedelta(minutes=float(rng.uniform(5, 60))),
                "submitted_at": submitted,
                "activated_at": activated,
                "closes_at": closes,
                "closed_at": closed,
                "close_reason": "expired" if closed else None,
                "asked_count": len(owners),
            }
        )
        self.asked.append(len(owners))
        self.recipients += _recipient_rows(
            rng=rng, owners=owners, request_id=request_id, activated=activated, now=now
        )

    def insert(self) -> None:
        if self.agencies:
            self.session.execute(insert(Agency), self.agencies)
            self.session.execute(
                insert(AgencyMembership),
                [
                    {"agency_id": a["id"], "user_id": self.user.id, "role": MemberRole.officer}
                    for a in self.agencies
                ],
            )
        self.session.execute(insert(FootageRequest), self.requests)
        if self.recipients:
            self.session.execute(insert(Recipient), self.recipients)

    def facts(self, existing: int) -> dict[str, Any]:
        asked, requests = self.asked, self.requests
        return {
            "in_log": existing + len(requests),
            "agencies_created": len(self.agencies),
            "recipients_created": len(self.recipients),
            "asked_per_request": {
                "p50": float(np.percentile(asked, 50)),
                "p99": float(np.percentile(asked, 99)),
                "max": int(max(asked)),
                "none": int(sum(1 for a in asked if a == 0)),
            },
            "active": sum(1 for r in requests if r["status"] == RequestStatus.active),
            "closed": sum(1 for r in requests if r["status"] == RequestStatus.closed),
        }


def fill_request_log(
    runtime: Runtime, count: int, rng: np.random.Generator, say: Callable[[str], None]
) -> dict[str, Any]:
    """Bulk-insert active and closed requests until the log holds ``count`` (see module)."""
    started = time.perf_counter()
    with runtime.db.transaction() as session:
        existing = _log_size(session)
        missing = count - existing
        info: dict[str, Any] = {
            "wanted": count,
            "existing_before": existing,
            "created": max(missing, 0),
            "method": (
                "bulk insert (ORM insert of footage_requests, footage_recipients, agencies,"
                " agency_memberships rows); areas via footage.area.parse_request_area,"
                " public cells via footage.area.public_cells, owners asked via"
                " footage.targeting.target_owners; no audit records, feed posts or notice jobs"
            ),
            "marked_by": {
                "user_email": BENCH_EMAIL,
                "agency_name_prefix": AGENCY_PREFIX,
                "agency_state": "ZZ",
                "case_number_prefix": CASE_PREFIX,
            },
        }
        if missing <= 0:
            info["in_log"] = existing
            return info
        say(f"adding {missing:,} footage requests to the public log (bulk insert)")
        homes, span = camera_homes_and_span(session)
        user = _bench_user(session)
        policy = policy_service.effective_policy(session=session)
        plan = random_requests(
            rng=rng, homes=homes, count=missing, span_start=span[0], span_end=span[1]
        )
        taken = session.scalar(
            select(func.count()).select_from(Agency).where(Agency.applied_by == user.id)
        )
        rows = _LogRows(
            session=session,
            rng=rng,
            user=user,
            policy=policy,
            span_start=span[0],
            first_case=existing + 1,
            taken=taken or 0,
        )
        for n, planned in enumerate(plan):
            rows.add(n, planned)
        rows.insert()
        info |= rows.facts(existing)
    info["seconds"] = round(time.perf_counter() - started, 2)
    return info


def remove_log_data(url: str) -> dict[str, int]:
    """Delete what :func:`run` added to the request log (its agencies, requests, answers);
    the benchmark user stays (audited role)."""
    runtime = Runtime(Settings(database_url=url, data_dir=Path(tempfile.mkdtemp())))
    try:
        with runtime.db.transaction() as session:
            user_id = session.scalar(select(User.id).where(User.email == BENCH_EMAIL))
            if user_id is None:
                return {"requests": 0, "agencies": 0}
            request_ids = select(FootageRequest.id).where(FootageRequest.created_by == user_id)
            session.execute(delete(Recipient).where(Recipient.request_id.in_(request_ids)))
            requests = len(
                session.scalars(
                    delete(FootageRequest)
                    .where(FootageRequest.created_by == user_id)
                    .returning(FootageRequest.id)
                ).all()
            )
            session.execute(delete(AgencyMembership).where(AgencyMembership.user_id == user_id))
            agencies = len(
                session.scalars(
                    delete(Agency).where(Agency.applied_by == user_id).returning(Agency.id)
                ).all()
            )
            session.execute(update(User).where(User.id == user_id).values(is_active=False))
        return {"requests": requests, "agencies": agencies}
    finally:
        runtime.close()
