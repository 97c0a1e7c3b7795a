"""A footage-request alert in an owner's inbox, made the real way: a camera with an event
in the window, a request the policy lets out at once, and the worker's delivery. Shared
by the alert tests here and the browser tests."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta

import httpx
from tests.factories import (
    Person,
    active_request,
    make_agency,
    make_camera,
    make_officer,
    make_person,
    report_event,
    set_policy,
)

from doorstep.db import utcnow
from doorstep.jobs import job_registry
from doorstep.notify.worker import Worker
from doorstep.runtime import Runtime

LAT, LNG = 39.9526, -75.1652
AGENCY = "Alertville PD"


@dataclass(frozen=True)
class FootageAlert:
    owner: Person
    request_id: uuid.UUID

    @property
    def link(self) -> str:
        return f"/requests/{self.request_id}/answer"


def footage_alert(runtime: Runtime, client: httpx.Client) -> FootageAlert:
    """An owner asked for footage by a verified agency, his alert delivered."""
    set_policy(runtime, moderator_review=False)
    agency = make_agency(runtime, name=AGENCY, lat=LAT, lng=LNG)
    officer = make_officer(runtime, agency)
    owner = make_person(runtime)
    cam = make_camera(runtime, owner.user, latitude=LAT + 0.0005, longitude=LNG)
    report_event(client, cam, utcnow() - timedelta(hours=2))
    request_id = active_request(runtime, officer, lat=LAT, lng=LNG)
    Worker(runtime, job_registry(runtime.settings, periodic=False)).drain()
    return FootageAlert(owner=owner, request_id=request_id)
