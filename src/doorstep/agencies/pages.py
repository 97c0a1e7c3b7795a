"""HTML routes for agencies: applying, the agency dashboard (members, invitations, the
agency's requests), accepting an invitation, and the instance admin's agency list.

Every agency action needs two-factor sign-in; a member without it gets a page that
says so and links to the setup, not a bare error.
"""

from __future__ import annotations

import json
import uuid
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError
from sqlalchemy.orm import Session
from starlette.datastructures import FormData

from doorstep.accounts.deps import PageAdmin, PageUser, PageVisitor, Visitor
from doorstep.accounts.models import User
from doorstep.agencies import service as agency_service
from doorstep.agencies.models import AgencyStatus, AgencyType, MemberRole
from doorstep.agencies.schemas import AgencyCreate, InvitationCreate
from doorstep.errors import DoorstepError, Forbidden, InvalidInput
from doorstep.footage import service as request_service
from doorstep.http import DbSession, SettingsDep
from doorstep.notify.channels.email import email_configured
from doorstep.routing import GuardedRoute
from doorstep.web.pages import show, text, validation_message
from doorstep.web.render import CheckedForm, redirect

router = APIRouter(include_in_schema=False, route_class=GuardedRoute)

TWO_FACTOR_REQUIRED = agency_service.TWO_FACTOR_REQUIRED
NOTICES = {
    "applied": "Your application was sent. An instance administrator will verify it; "
    "the public agency list shows its status.",
    "invitation_resent": "The invitation email was queued again; its status shows below.",
    "joined": "You joined the agency.",
    "member_removed": "The member was removed from the agency.",
    "status_changed": "The agency's status was changed. The change is public.",
}
_APPLY_LABELS = {
    "name": "Name",
    "agency_type": "Type",
    "city": "City",
    "state": "State",
    "jurisdiction": "Jurisdiction",
    "contact_email": "Official contact email",
    "website": "Website",
}
_INVITE_LABELS = {"email": "Email", "role": "Role"}
ROLE_LABELS = {
    MemberRole.officer: "Officer",
    MemberRole.supervisor: "Supervisor",
    MemberRole.agency_admin: "Agency admin",
}


def _notice(request: Request) -> str | None:
    return NOTICES.get(request.query_params.get("notice", ""))


def two_factor_page(
    request: Request, visitor: PageVisitor, session: Session, exc: DoorstepError
) -> Response:
    """The page for an agency member without two-factor sign-in; other refusals go on."""
    if exc.code != TWO_FACTOR_REQUIRED:
        raise exc
    return show(request, "agencies/two_factor.html", visitor, session, status_code=exc.status_code)


# ---------------------------------------------------------------- applying


def _apply_values(form: FormData | None) -> dict[str, str]:
    values = {k: (text(form.get(k)) if form is not None else "") for k in _APPLY_LABELS}
    values["agency_type"] = values["agency_type"] or AgencyType.police.value
    return values


def _apply_page(
    request: Request,
    visitor: PageVisitor,
    session: Session,
    values: dict[str, str],
    *,
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    return show(
        request,
        "agencies/apply.html",
        visitor,
        session,
        status_code=status_code,
        values=values,
        agency_types=list(AgencyType),
        error=error,
    )


@router.get("/agencies/apply", response_class=HTMLResponse)
def apply_form(request: Request, visitor: Visitor, user: PageUser, session: DbSession) -> Response:
    return _apply_page(request, visitor, session, _apply_values(None))


def _parse_application(values: dict[str, str]) -> AgencyCreate:
    raw = values["jurisdiction"].strip()
    if not raw:
        raise InvalidInput(
            "Draw the jurisdiction on the map (click its corners, then Close) or paste it "
            "as a GeoJSON polygon.",
            code="jurisdiction_missing",
        )
    try:
        jurisdiction: Any = json.loads(raw)
    except ValueError as exc:
        raise InvalidInput(
            "The jurisdiction is not valid GeoJSON.", code="invalid_geometry"
        ) from exc
    if not isinstance(jurisdiction, dict):
        raise InvalidInput(
            "The jurisdiction must be a GeoJSON Polygon or MultiPolygon.", code="invalid_geometry"
        )
    try:
        return AgencyCreate.model_validate({**values, "jurisdiction": jurisdiction})
    except ValidationError as exc:
        raise InvalidInput(validation_message(exc, _APPLY_LABELS)) from exc


@router.post("/agencies/apply", response_class=HTMLResponse)
def apply(
    request: Request, visitor: Visitor, user: PageUser, form: CheckedForm, session: DbSession
) -> Response:
    values = _apply_values(form)
    try:
        body = _parse_application(values)
        with session.begin_nested():
            agency_service.apply_for_agency(session=session, applicant=user, **body.model_dump())
    except DoorstepError as exc:
        return _apply_page(
            request, visitor, session, values, error=exc.message, status_code=exc.status_code
        )
    return redirect("/agency?notice=applied")


# ---------------------------------------------------------------- the dashboard


def _dashboard(
    request: Request,
    visitor: PageVisitor,
    user: User,
    session: Session,
    *,
    invite: dict[str, str] | None = None,
    issued_link: tuple[str, str] | None = None,
    notice: str | None = None,
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    found = agency_service.membership_of(session=session, user=user)
    context: dict[str, Any] = {
        "agency": None,
        "membership": None,
        "refusal": None,
        "members": [],
        "invitations": [],
        "issued_link": issued_link,
        "role_labels": ROLE_LABELS,
        "member_roles": list(MemberRole),
        "invite": invite or {"email": "", "role": MemberRole.officer.value},
        "error": error,
        "notice": notice or _notice(request),
    }
    if found is not None:
        context["agency"], context["membership"] = found
        try:
            agency, membership = agency_service.require_member(session=session, user=user)
        except Forbidden as exc:
            if exc.code == TWO_FACTOR_REQUIRED:
                return two_factor_page(request, visitor, session, exc)
            # Not verified (yet), suspended or ended: the page shows the status only.
            context["refusal"] = exc.message
        else:
            if membership.role == MemberRole.agency_admin:
                context["members"] = agency_service.members(
                    session=session, actor=user, agency_id=agency.id
                )
                context["invitations"] = agency_service.list_invitations(
                    session=session, actor=user, agency_id=agency.id
                )
            context["requests"] = [
                (r, request_service.request_counts(session=session, request_id=r.id))
                for r in request_service.list_agency_requests(session=session, actor=user)
            ]
    response = show(
        request, "agencies/dashboard.html", visitor, session, status_code=status_code, **context
    )
    if issued_link:
        response.headers["Cache-Control"] = "no-store"  # the link is shown once, never cached
    return response


@router.get("/agency", response_class=HTMLResponse)
def dashboard(request: Request, visitor: Visitor, user: PageUser, session: DbSession) -> Response:
    return _dashboard(request, visitor, user, session)


@router.post("/agency/invitations", response_class=HTMLResponse)
def invite(
    request: Request,
    visitor: Visitor,
    user: PageUser,
    form: CheckedForm,
    session: DbSession,
    settings: SettingsDep,
) -> Response:
    values = {"email": text(form.get("email")).strip(), "role": text(form.get("role"))}
    try:
        body = InvitationCreate.model_validate(values)
    except ValidationError as exc:
        return _dashboard(
            request,
            visitor,
            user,
            session,
            invite=values,
            error=validation_message(exc, _INVITE_LABELS),
            status_code=400,
        )
    try:
        with session.begin_nested():
            agency, _membership = agency_service.require_member(session=session, user=user)
            invitation, token = agency_service.invite_member(
                session=session, actor=user, agency_id=agency.id, email=body.email, role=body.role
            )
    except DoorstepError as exc:
        if exc.code == TWO_FACTOR_REQUIRED:
            return two_factor_page(request, visitor, session, exc)
        return _dashboard(
            request,
            visitor,
            user,
            session,
            invite=values,
            error=exc.message,
            status_code=exc.status_code,
        )
    # Shown in this answer, once (only the link's hash is kept), rather than after a redirect.
    notice = (
        "The invitation is made and its email queued. You can also copy the link below "
        "and send it yourself; it is shown only now."
        if email_configured(settings)
        else "The invitation is made. This instance cannot send email: copy the link below "
        "and send it to the invitee yourself; it is shown only now."
    )
    return _dashboard(
        request,
        visitor,
        user,
        session,
        issued_link=(
            invitation.email,
            agency_service.accept_url(base_url=settings.base_url, token=token),
        ),
        notice=notice,
    )


@router.post("/agency/invitations/{invitation_id}/link", response_class=HTMLResponse)
def invitation_link(
    invitation_id: uuid.UUID,
    request: Request,
    visitor: Visitor,
    user: PageUser,
    form: CheckedForm,
    session: DbSession,
    settings: SettingsDep,
) -> Response:
    try:
        with session.begin_nested():
            agency, _membership = agency_service.require_member(session=session, user=user)
            invitation, token = agency_service.issue_invitation_link(
                session=session, actor=user, agency_id=agency.id, invitation_id=invitation_id
            )
    except DoorstepError as exc:
        if exc.code == TWO_FACTOR_REQUIRED:
            return two_factor_page(request, visitor, session, exc)
        if exc.status_code == 404:
            raise
        return _dashboard(
            request, visitor, user, session, error=exc.message, status_code=exc.status_code
        )
    return _dashboard(
        request,
        visitor,
        user,
        session,
        issued_link=(
            invitation.email,
            agency_service.accept_url(base_url=settings.base_url, token=token),
        ),
        notice="A fresh link is below, shown only now; the previous copied link no longer works.",
    )


@router.post("/agency/invitations/{invitation_id}/resend", response_class=HTMLResponse)
def resend_invitation(
    invitation_id: uuid.UUID,
    request: Request,
    visitor: Visitor,
    user: PageUser,
    form: CheckedForm,
    session: DbSession,
    settings: SettingsDep,
) -> Response:
    try:
        with session.begin_nested():
            agency, _membership = agency_service.require_member(session=session, user=user)
            agency_service.resend_invitation(
                session=session,
                actor=user,
                agency_id=agency.id,
                invitation_id=invitation_id,
                email_available=email_configured(settings),
            )
    except DoorstepError as exc:
        if exc.code == TWO_FACTOR_REQUIRED:
            return two_factor_page(request, visitor, session, exc)
        if exc.status_code == 404:
            raise
        return _dashboard(
            request, visitor, user, session, error=exc.message, status_code=exc.status_code
        )
    return redirect("/agency?notice=invitation_resent")


@router.post("/agency/members/{user_id}/remove", response_class=HTMLResponse)
def remove_member(
    user_id: uuid.UUID,
    request: Request,
    visitor: Visitor,
    user: PageUser,
    form: CheckedForm,
    session: DbSession,
) -> Response:
    try:
        with session.begin_nested():
            agency, _membership = agency_service.require_member(session=session, user=user)
            agency_service.remove_member(
                session=session, actor=user, agency_id=agency.id, user_id=user_id
            )
    except DoorstepError as exc:
        if exc.code == TWO_FACTOR_REQUIRED:
            return two_factor_page(request, visitor, session, exc)
        if exc.status_code == 404:
            raise
        return _dashboard(
            request, visitor, user, session, error=exc.message, status_code=exc.status_code
        )
    return redirect("/agency?notice=member_removed")


# ---------------------------------------------------------------- invitations


@router.get("/agency/invitations/accept", response_class=HTMLResponse)
def accept_form(
    request: Request, visitor: Visitor, session: DbSession, token: str = ""
) -> Response:
    if visitor.user is None:
        # Sign in first (the token must survive the detour through the sign-in pages).
        here = f"/agency/invitations/accept?token={quote(token, safe='')}"
        return redirect(f"/signin?next={quote(here, safe='/')}")
    return show(request, "agencies/accept.html", visitor, session, token=token)


@router.post("/agency/invitations/accept", response_class=HTMLResponse)
def accept(
    request: Request, visitor: Visitor, user: PageUser, form: CheckedForm, session: DbSession
) -> Response:
    token = text(form.get("token")).strip()
    try:
        with session.begin_nested():
            agency_service.accept_invitation(session=session, user=user, token=token)
    except DoorstepError as exc:
        return show(
            request,
            "agencies/accept.html",
            visitor,
            session,
            status_code=exc.status_code,
            token=token,
            error=exc.message,
        )
    return redirect("/agency?notice=joined")


# ---------------------------------------------------------------- instance admin


def _admin_page(
    request: Request,
    visitor: PageVisitor,
    session: Session,
    *,
    error: str | None = None,
    failed: uuid.UUID | None = None,
    status_code: int = 200,
) -> Response:
    return show(
        request,
        "agencies/admin.html",
        visitor,
        session,
        status_code=status_code,
        agencies=agency_service.list_agencies(session=session),
        actions_shown={status: agency_service.available_actions(status) for status in AgencyStatus},
        error=error,
        failed=failed,
        notice=_notice(request),
    )


@router.get("/admin/agencies", response_class=HTMLResponse)
def admin_agencies(
    request: Request, visitor: Visitor, user: PageAdmin, session: DbSession
) -> Response:
    return _admin_page(request, visitor, session)


@router.post("/admin/agencies/{agency_id}/status", response_class=HTMLResponse)
def change_status(
    agency_id: uuid.UUID,
    request: Request,
    visitor: Visitor,
    user: PageAdmin,
    form: CheckedForm,
    session: DbSession,
) -> Response:
    try:
        with session.begin_nested():
            agency_service.change_status(
                session=session,
                actor=user,
                agency_id=agency_id,
                action=text(form.get("action")),
                reason=text(form.get("reason")).strip() or None,
            )
    except DoorstepError as exc:
        if exc.status_code == 404:
            raise
        return _admin_page(
            request,
            visitor,
            session,
            error=exc.message,
            failed=agency_id,
            status_code=exc.status_code,
        )
    return redirect("/admin/agencies?notice=status_changed")
