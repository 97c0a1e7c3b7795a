"""HTML routes for footage requests on the agency's side: drafting on a map, the request
page (counts, notice, evidence, export, hold) and its lifecycle actions. Every page
here takes ``PageAgencyMember`` (or ``PageDrafter``): a member without two-factor sign-in
gets the page that says so.

Privacy: these pages get counts from ``request_counts`` and clips from
``list_evidence`` only; nothing here reads recipients or cameras, so no page can show
who was asked or where a camera is.
"""

from __future__ import annotations

import json
import shutil
import uuid
from collections.abc import Callable
from datetime import datetime, tzinfo
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from fastapi.responses import FileResponse, HTMLResponse, Response
from pydantic import ValidationError
from sqlalchemy.orm import Session
from starlette.background import BackgroundTask
from starlette.datastructures import FormData

from doorstep import timezones
from doorstep.accounts.deps import CheckedForm, ThisPage
from doorstep.accounts.models import User
from doorstep.agencies.deps import ActingMember, PageAgencyMember, page_agency_member
from doorstep.errors import InvalidInput, NotFound
from doorstep.footage import evidence as evidence_service
from doorstep.footage import lifecycle
from doorstep.footage import policy as policy_service
from doorstep.footage import service as request_service
from doorstep.footage.models import FootageRequest, IncidentType, RequestStatus
from doorstep.footage.notice import render_notice
from doorstep.footage.rules import MAX_MESSAGE_CHARS
from doorstep.footage.schemas import CloseRequest, RequestCreate
from doorstep.http import RuntimeDep
from doorstep.routing import GuardedRoute
from doorstep.web.forms import text, validated
from doorstep.web.render import Page, redirect

router = APIRouter(include_in_schema=False, route_class=GuardedRoute)

NOTICES = {
    "drafted": "Draft saved. Check it, then submit it.",
    "submitted": "The request was submitted.",
    "approved": "The request was approved.",
    "withdrawn": "The request was withdrawn.",
    "closed": "The request was closed. Owners can no longer share clips for it.",
    "held": "The evidence is held for the case: it is kept past the retention period.",
    "released": "The hold was released: the evidence is deleted after the retention period.",
    "reviewed_approve": "The request was published to the owners in its area.",
    "reviewed_reject": "The request was rejected; the agency and the public see your note.",
}
STATUS_LABELS = {
    RequestStatus.draft: "draft",
    RequestStatus.pending_approval: "waiting for supervisor approval",
    RequestStatus.pending_review: "waiting for moderator review",
    RequestStatus.active: "active",
    RequestStatus.closed: "closed",
    RequestStatus.withdrawn: "withdrawn",
    RequestStatus.rejected: "rejected",
}
_SPECIAL_LABELS = {
    IncidentType.hit_and_run: "Hit and run",
    IncidentType.vehicle_break_in: "Vehicle break-in",
    IncidentType.first_amendment_activity: "First Amendment activity",
    IncidentType.other_crime: "Other crime",
}
INCIDENT_LABELS = {
    t: _SPECIAL_LABELS.get(t, t.value.replace("_", " ").capitalize()) for t in IncidentType
}
_FIELDS = (
    "shape",
    "area",
    "circle_latitude",
    "circle_longitude",
    "radius_m",
    "window_start",
    "window_end",
    "case_number",
    "incident_type",
    "investigator_contact",
    "message",
)
_LABELS = {
    "area": "Area",
    "circle": "Circle",
    "window_start": "Window start",
    "window_end": "Window end",
    "case_number": "Case number",
    "incident_type": "Incident type",
    "investigator_contact": "Investigator contact",
    "message": "Message",
}
DEFAULT_RADIUS_M = "200"

# A member who may draft requests (two-factor sign-in included).
PageDrafter = Annotated[ActingMember, Depends(page_agency_member(roles=lifecycle.DRAFTERS))]


def page_context() -> dict[str, Any]:
    """Labels every request page uses."""
    return {"status_labels": STATUS_LABELS, "incident_labels": INCIDENT_LABELS}


# ---------------------------------------------------------------- drafting


def _form_values(form: FormData | None) -> dict[str, str]:
    values = {k: (text(form.get(k)) if form is not None else "") for k in _FIELDS}
    values["shape"] = "circle" if values["shape"] == "circle" else "polygon"
    values["radius_m"] = values["radius_m"].strip() or DEFAULT_RADIUS_M
    return values


def _utc(value: str, label: str, zone: tzinfo) -> datetime:
    """A datetime-local value, read in the zone the form names; stored as UTC."""
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError as exc:
        raise InvalidInput(
            f"{label}: give a date and a time ({zone_label(zone)}).", code="invalid_time"
        ) from exc
    return timezones.from_local(moment, zone)


def zone_label(zone: tzinfo) -> str:
    """A zone as a form names it: its IANA name."""
    return str(getattr(zone, "key", zone))


def _parse_request(values: dict[str, str], zone: tzinfo) -> RequestCreate:
    area: Any = None
    circle: dict[str, str] | None = None
    if values["shape"] == "circle":
        if not (values["circle_latitude"].strip() and values["circle_longitude"].strip()):
            raise InvalidInput(
                "Click the map to place the circle's centre, and give its radius in metres.",
                code="area_missing",
            )
        circle = {
            "latitude": values["circle_latitude"].strip(),
            "longitude": values["circle_longitude"].strip(),
            "radius_m": values["radius_m"].strip(),
        }
    else:
        if not values["area"].strip():
            raise InvalidInput(
                "Draw the area on the map (click at least three points, then Close shape), "
                "or paste a GeoJSON polygon.",
                code="area_missing",
            )
        try:
            area = json.loads(values["area"])
        except ValueError as exc:
            raise InvalidInput("The area is not valid GeoJSON.", code="invalid_geometry") from exc
        if not isinstance(area, dict):
            raise InvalidInput("The area must be a GeoJSON Polygon.", code="invalid_geometry")
    fields = {
        "area": area,
        "circle": circle,
        "window_start": _utc(values["window_start"], "Window start", zone),
        "window_end": _utc(values["window_end"], "Window end", zone),
        "case_number": values["case_number"].strip() or None,
        "incident_type": values["incident_type"],
        "message": values["message"],
        "investigator_contact": values["investigator_contact"],
    }
    return validated(RequestCreate, fields, _LABELS)


def _new_request_page(page: Page, member: ActingMember, values: dict[str, str]) -> Response:
    agency = member.agency
    return page.show(
        "footage/request_new.html",
        agency=agency,
        policy=policy_service.effective_policy(session=page.session, agency_id=agency.id),
        values=values,
        zone_name=zone_label(page.time_zone),
        incident_types=list(IncidentType),
        max_message=MAX_MESSAGE_CHARS,
        **page_context(),
    )


@router.get("/agency/requests/new", response_class=HTMLResponse)
def new_request_form(page: ThisPage, member: PageDrafter) -> Response:
    return _new_request_page(page, member, _form_values(None))


@router.post("/agency/requests/new", response_class=HTMLResponse)
def draft_request(page: ThisPage, member: PageDrafter, form: CheckedForm) -> Response:
    values = _form_values(form)
    return page.act(
        lambda: request_service.draft_from(
            session=page.session, actor=member.user, body=_parse_request(values, page.time_zone)
        ),
        done=lambda drafted: redirect(f"/agency/requests/{drafted.id}?notice=drafted"),
        refused=page.refusal(_new_request_page, member, values),
    )


# ---------------------------------------------------------------- one request


def _request_page(page: Page, member: ActingMember, request_id: uuid.UUID) -> Response:
    session = page.session
    user, agency, membership = member.user, member.agency, member.membership
    footage_request = request_service.get_agency_request(
        session=session, actor=user, request_id=request_id
    )
    evidence = evidence_service.list_evidence(session=session, actor=user, request_id=request_id)
    return page.show(
        "footage/request.html",
        agency=agency,
        fr=footage_request,
        counts=request_service.request_counts(session=session, request_id=request_id),
        notice_text=render_notice(request=footage_request, agency=agency, zone=page.time_zone),
        evidence=evidence,
        held=any(v.evidence.held_for_case for v in evidence),
        can_approve=membership.role in lifecycle.APPROVERS,
        notice=page.notice(NOTICES),
        **page_context(),
    )


@router.get("/agency/requests/{request_id}", response_class=HTMLResponse)
def request_page(request_id: uuid.UUID, page: ThisPage, member: PageAgencyMember) -> Response:
    return _request_page(page, member, request_id)


def _submit(session: Session, user: User, request_id: uuid.UUID, form: FormData) -> str:
    request_service.submit_request(session=session, actor=user, request_id=request_id)
    return "submitted"


def _approve(session: Session, user: User, request_id: uuid.UUID, form: FormData) -> str:
    request_service.approve_request(session=session, actor=user, request_id=request_id)
    return "approved"


def _withdraw(session: Session, user: User, request_id: uuid.UUID, form: FormData) -> str:
    request_service.withdraw_request(session=session, actor=user, request_id=request_id)
    return "withdrawn"


def _close(session: Session, user: User, request_id: uuid.UUID, form: FormData) -> str:
    try:
        body = CloseRequest.model_validate({"reason": text(form.get("reason")) or "resolved"})
    except ValidationError as exc:
        raise InvalidInput("Choose why the request is closed.", code="invalid_reason") from exc
    request_service.close_request(
        session=session, actor=user, request_id=request_id, reason=body.reason
    )
    return "closed"


def _hold(session: Session, user: User, request_id: uuid.UUID, form: FormData) -> str:
    held = text(form.get("held")) == "1"
    evidence_service.set_hold(session=session, actor=user, request_id=request_id, held=held)
    return "held" if held else "released"


# The buttons of the request page; each returns the notice to show after it.
ACTIONS: dict[str, Callable[[Session, User, uuid.UUID, FormData], str]] = {
    "submit": _submit,
    "approve": _approve,
    "withdraw": _withdraw,
    "close": _close,
    "hold": _hold,
}


def _remove_export(path: Path) -> None:
    shutil.rmtree(path.parent, ignore_errors=True)


@router.post("/agency/requests/{request_id}/export", response_class=HTMLResponse)
def export(
    request_id: uuid.UUID,
    page: ThisPage,
    member: PageAgencyMember,
    form: CheckedForm,
    runtime: RuntimeDep,
) -> Response:
    """The evidence bundle as a ZIP download; a refusal (nothing to export, a file that
    fails its hash check) is shown on the request's page and logs nothing."""
    return page.act(
        lambda: evidence_service.export_bundle(
            session=page.session,
            storage=runtime.storage,
            actor=member.user,
            request_id=request_id,
        ),
        done=lambda path: FileResponse(
            path,
            media_type="application/zip",
            filename=path.name,
            background=BackgroundTask(_remove_export, path),
        ),
        refused=page.refusal(_request_page, member, request_id),
        passes=(404,),
    )


@router.post("/agency/requests/{request_id}/{action}", response_class=HTMLResponse)
def act(
    request_id: uuid.UUID,
    action: str,
    page: ThisPage,
    member: PageAgencyMember,
    form: CheckedForm,
) -> Response:
    """Submit, approve, withdraw, close, hold or release; a refusal is shown on the
    request's page (a request of another agency stays a 404)."""
    run = ACTIONS.get(action)
    if run is None:
        raise NotFound("No such action.", code="not_found")
    return page.act(
        lambda: run(page.session, member.user, request_id, form),
        done=lambda notice: redirect(f"/agency/requests/{request_id}?notice={notice}"),
        refused=page.refusal(_request_page, member, request_id),
        passes=(404,),
    )


def dashboard_requests(
    *, session: Session, actor: User
) -> list[tuple[FootageRequest, request_service.RequestCounts]]:
    """The member's agency's requests with their counts, for the agency dashboard
    (``agencies.pages.DashboardRequests``)."""
    return [
        (r, request_service.request_counts(session=session, request_id=r.id))
        for r in request_service.list_agency_requests(session=session, actor=actor)
    ]
