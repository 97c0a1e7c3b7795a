"""Builders for the portal's tests: agencies, owners with events, requests sent and
answered, all through the API and the services."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient
from tests import factories
from tests.factories import (
    Person,
    make_agency,
    make_camera,
    make_officer,
    make_person,
    report_event,
    request_body,
)

from doorstep.accounts.models import Role
from doorstep.db import utcnow
from doorstep.runtime import Runtime

LAT, LNG = 39.9526, -75.1652


def set_policy(client: TestClient, runtime: Runtime, agency_id: Any = None, **changes: Any) -> None:
    admin = make_person(runtime, role=Role.admin)
    path = f"/api/v1/agencies/{agency_id}/policy" if agency_id else "/api/v1/policy"
    r = client.patch(path, headers=admin.headers, json={"changes": changes, "reason": "test"})
    assert r.status_code == 200, r.text


@dataclass
class Owner:
    person: Person
    camera: Any
    event_id: str


def owner_with_event(
    client: TestClient, runtime: Runtime, *, lat: float = LAT, lng: float = LNG, **camera: Any
) -> Owner:
    """A resident with a camera and a local-first motion event two hours ago."""
    person = make_person(runtime)
    cam = make_camera(runtime, person.user, latitude=lat, longitude=lng, **camera)
    event = report_event(
        client, cam, utcnow() - timedelta(hours=2), device_ref=f"sd:/{person.user.id}.mp4"
    )
    return Owner(person=person, camera=cam, event_id=event["id"])


@dataclass
class SentRequest:
    id: str
    body: dict[str, Any]
    owners: list[Owner] = field(default_factory=list)


def send_request(
    client: TestClient, officer: Person, *, lat: float = LAT, lng: float = LNG, **over: Any
) -> SentRequest:
    """Draft and submit a request; with moderator review off it goes out at once."""
    request_id, body = factories.send_request(client, officer, lat=lat, lng=lng, **over)
    return SentRequest(id=request_id, body=body)


def share(client: TestClient, request_id: str, owner: Owner) -> None:
    r = client.post(
        f"/api/v1/inbox/requests/{request_id}/share",
        headers=owner.person.headers,
        json={"event_ids": [owner.event_id]},
    )
    assert r.status_code == 200, r.text


def decline(client: TestClient, request_id: str, owner: Owner) -> None:
    r = client.post(f"/api/v1/inbox/requests/{request_id}/decline", headers=owner.person.headers)
    assert r.status_code in (200, 204), r.text


def agency_with_officer(runtime: Runtime, **kwargs: Any) -> tuple[Any, Person]:
    agency = make_agency(runtime, **kwargs)
    return agency, make_officer(runtime, agency)


def make_public_agency(
    runtime: Runtime,
    *,
    name: str,
    state: str = "PA",
    lat: float = 40.4,
    lng: float = -79.9,
    agency_type: str = "police",
    actions: tuple[str, ...] = ("verify",),
) -> Any:
    """An agency applied for and taken through status ``actions`` (verify, suspend, end...)
    by an instance admin, through the agencies service."""
    from tests.factories import square

    from doorstep.agencies import service as agency_service
    from doorstep.agencies.models import AgencyType

    applicant = make_person(runtime)
    admin = make_person(runtime, role=Role.admin)
    with runtime.db.transaction() as session:
        agency = agency_service.apply_for_agency(
            session=session,
            applicant=session.merge(applicant.user),
            name=name,
            agency_type=AgencyType(agency_type),
            city=f"{name.split()[0]}",
            state=state,
            jurisdiction=square(lat, lng, 3000),
            contact_email="records@example.org",
            website="https://agency.example.org",
        )
        for action in actions:
            agency_service.change_status(
                session=session,
                actor=session.merge(admin.user),
                agency_id=agency.id,
                action=action,
                reason=None if action in ("verify", "reinstate") else "test",
            )
    return agency


@dataclass
class World:
    """A small, known dataset (see ``build_world``)."""

    agency: Any
    officer: Person
    r1: SentRequest
    r2: SentRequest
    draft_id: str
    owners: dict[str, Owner]


# Camera positions with six distinct decimals: none may appear in any public view.
O1 = (39.953123, -75.165234)
O2 = (39.952087, -75.164611)
O3 = (39.972419, -75.165187)
O4 = (39.952703, -75.165801)
O5 = (40.061337, -75.165299)


def build_world(client: TestClient, runtime: Runtime) -> World:
    """Agency "Testville PD" (PA, 10 km square around LAT/LNG) with its officer;
    owners o1, o2 inside R1's area (o1 shares, o2 declines); o3 in the jurisdiction,
    inside R2's area (no answer); o4 beside R1 but not accepting requests; o5 outside
    the jurisdiction. R1 and R2 went out; a third request stays a draft."""
    set_policy(client, runtime, moderator_review=False)
    agency, officer = agency_with_officer(runtime, lat=LAT, lng=LNG)
    owners = {
        "o1": owner_with_event(client, runtime, lat=O1[0], lng=O1[1]),
        "o2": owner_with_event(client, runtime, lat=O2[0], lng=O2[1]),
        "o3": owner_with_event(client, runtime, lat=O3[0], lng=O3[1]),
        "o4": owner_with_event(client, runtime, lat=O4[0], lng=O4[1], accepts_requests=False),
        "o5": owner_with_event(client, runtime, lat=O5[0], lng=O5[1]),
    }
    r1 = send_request(client, officer, case_number="2026-000101", incident_type="burglary")
    r2 = send_request(
        client,
        officer,
        lat=O3[0],
        lng=O3[1],
        case_number="2026-000102",
        incident_type="vehicle_theft",
    )
    share(client, r1.id, owners["o1"])
    decline(client, r1.id, owners["o2"])
    draft = client.post(
        "/api/v1/requests",
        headers=officer.headers,
        json=request_body(LAT, LNG, case_number="2026-000103"),
    )
    assert draft.status_code == 201, draft.text
    return World(
        agency=agency, officer=officer, r1=r1, r2=r2, draft_id=draft.json()["id"], owners=owners
    )


def secrets_of(world: World) -> list[str]:
    """What no public view may contain: owners, cameras, exact positions, the message."""
    found: list[str] = []
    for owner in world.owners.values():
        user = owner.person.user
        found += [str(user.id), user.email, user.display_name, str(owner.camera.camera.id)]
    found += [f"{lat:.6f}" for lat, _ in (O1, O2, O3, O4, O5)]
    found += [f"{lng:.6f}" for _, lng in (O1, O2, O3, O4, O5)]
    found += ["Det. Rivera", "broken into in the afternoon", str(world.officer.user.id)]
    return found
