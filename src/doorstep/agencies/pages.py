"""HTML routes for agencies: applying, the agency dashboard (members, invitations, the
agency's requests) and accepting an invitation. The instance administrator's agency
list is in ``agencies.admin_pages``.

Every agency action needs two-factor sign-in: the actions take ``PageAgencyMember``,
which answers a member without it with the page that says so and links to the setup.
"""

from __future__ import annotations

import json
import uuid
from typing import Any, Protocol
from urllib.parse import quote

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError
from sqlalchemy.orm import Session
from starlette.datastructures import FormData

from doorstep.accounts.deps import CheckedForm, PageUser, ThisPage
from doorstep.accounts.models import User
from doorstep.agencies import service as agency_service
from doorstep.agencies.deps import PageAgencyMember, two_factor_page
from doorstep.agencies.models import AgencyInvitation, AgencyType, MemberRole
from doorstep.agencies.schemas import AgencyCreate, InvitationCreate
from doorstep.config import Settings
from doorstep.errors import Forbidden, InvalidInput
from doorstep.http import SettingsDep
from doorstep.notify.channels.email import email_configured
from doorstep.routing import GuardedRoute
from doorstep.web.forms import text, validated, validation_message
from doorstep.web.render import Page, never_cached, redirect

router = APIRouter(include_in_schema=False, route_class=GuardedRoute)

NOTICES = {
    "applied": "Your application was sent. An instance administrator will verify it; "
    "the public agency list shows its status.",
    "invitation_resent": "The invitation email was queued again; its status shows below.",
    "joined": "You joined the agency.",
    "member_removed": "The member was removed from the agency.",
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


# ---------------------------------------------------------------- applying


def _apply_values(form: FormData | None) -> dict[str, str]:
    values = {k: (text(form.get(k)) if form is not None else "") for k in _APPLY_LABELS}
    values["agency_type"] = values["agency_type"] or AgencyType.police.value
    return values


def _apply_page(page: Page, values: dict[str, str]) -> Response:
    return page.show("agencies/apply.html", values=values, agency_types=list(AgencyType))


@router.get("/agencies/apply", response_class=HTMLResponse)
def apply_form(page: ThisPage, user: PageUser) -> Response:
    return _apply_page(page, _apply_values(None))


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
    return validated(AgencyCreate, {**values, "jurisdiction": jurisdiction}, _APPLY_LABELS)


@router.post("/agencies/apply", response_class=HTMLResponse)
def apply(page: ThisPage, user: PageUser, form: CheckedForm) -> Response:
    values = _apply_values(form)
    return page.act(
        lambda: agency_service.apply_for_agency(
            session=page.session, applicant=user, **_parse_application(values).model_dump()
        ),
        done=lambda _agency: redirect("/agency?notice=applied"),
        refused=page.refusal(_apply_page, values),
    )


# ---------------------------------------------------------------- the dashboard


class DashboardRequests(Protocol):
    """The agency's footage requests, each with its counts, as the dashboard lists them.
    The footage domain answers it (``footage.agency_pages.dashboard_requests``) and
    ``routes.include_all`` hands it to the app: footage asks through the agencies service,
    so agencies must not import footage back."""

    def __call__(self, *, session: Session, actor: User) -> list[tuple[Any, Any]]: ...


def _dashboard(
    page: Page,
    user: User,
    *,
    invite: dict[str, str] | None = None,
    issued_link: tuple[str, str] | None = None,
    notice: str | None = None,
) -> Response:
    session = page.session
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
        "notice": notice or page.notice(NOTICES),
    }
    if found is not None:
        context["agency"], context["membership"] = found
        try:
            agency, membership = agency_service.require_member(session=session, user=user)
        except Forbidden as exc:
            if exc.code == agency_service.TWO_FACTOR_REQUIRED:
                return two_factor_page(page, exc)
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
            requests_of: DashboardRequests = page.request.app.state.agency_dashboard_requests
            context["requests"] = requests_of(session=session, actor=user)
    response = page.show("agencies/dashboard.html", **context)
    return never_cached(response) if issued_link else response  # the link is shown once


@router.get("/agency", response_class=HTMLResponse)
def dashboard(page: ThisPage, user: PageUser) -> Response:
    return _dashboard(page, user)


def _issued_link_page(
    page: Page, user: User, settings: Settings, issued: tuple[AgencyInvitation, str], notice: str
) -> Response:
    # Shown in this answer, once (only the link's hash is kept), rather than after a redirect.
    invitation, token = issued
    link = agency_service.accept_url(base_url=settings.base_url, token=token)
    return _dashboard(page, user, issued_link=(invitation.email, link), notice=notice)


@router.post("/agency/invitations", response_class=HTMLResponse)
def invite(
    page: ThisPage, member: PageAgencyMember, form: CheckedForm, settings: SettingsDep
) -> Response:
    user = member.user
    values = {"email": text(form.get("email")).strip(), "role": text(form.get("role"))}
    refused = page.refusal(_dashboard, user, invite=values)
    try:
        body = InvitationCreate.model_validate(values)
    except ValidationError as exc:
        return refused(InvalidInput(validation_message(exc, _INVITE_LABELS)))
    notice = (
        "The invitation is made and its email queued. You can also copy the link below "
        "and send it yourself; it is shown only now."
        if email_configured(settings)
        else "The invitation is made. This instance cannot send email: copy the link below "
        "and send it to the invitee yourself; it is shown only now."
    )
    return page.act(
        lambda: agency_service.invite_member(
            session=page.session,
            actor=user,
            agency_id=member.agency.id,
            email=body.email,
            role=body.role,
        ),
        done=lambda issued: _issued_link_page(page, user, settings, issued, notice),
        refused=refused,
    )


@router.post("/agency/invitations/{invitation_id}/link", response_class=HTMLResponse)
def invitation_link(
    invitation_id: uuid.UUID,
    page: ThisPage,
    member: PageAgencyMember,
    form: CheckedForm,
    settings: SettingsDep,
) -> Response:
    user = member.user
    return page.act(
        lambda: agency_service.issue_invitation_link(
            session=page.session,
            actor=user,
            agency_id=member.agency.id,
            invitation_id=invitation_id,
        ),
        done=lambda issued: _issued_link_page(
            page,
            user,
            settings,
            issued,
            "A fresh link is below, shown only now; the previous copied link no longer works.",
        ),
        refused=page.refusal(_dashboard, user),
        passes=(404,),
    )


@router.post("/agency/invitations/{invitation_id}/resend", response_class=HTMLResponse)
def resend_invitation(
    invitation_id: uuid.UUID,
    page: ThisPage,
    member: PageAgencyMember,
    form: CheckedForm,
    settings: SettingsDep,
) -> Response:
    return page.act(
        lambda: agency_service.resend_invitation(
            session=page.session,
            actor=member.user,
            agency_id=member.agency.id,
            invitation_id=invitation_id,
            email_available=email_configured(settings),
        ),
        done=lambda _: redirect("/agency?notice=invitation_resent"),
        refused=page.refusal(_dashboard, member.user),
        passes=(404,),
    )


@router.post("/agency/members/{user_id}/remove", response_class=HTMLResponse)
def remove_member(
    user_id: uuid.UUID, page: ThisPage, member: PageAgencyMember, form: CheckedForm
) -> Response:
    return page.act(
        lambda: agency_service.remove_member(
            session=page.session, actor=member.user, agency_id=member.agency.id, user_id=user_id
        ),
        done=lambda _: redirect("/agency?notice=member_removed"),
        refused=page.refusal(_dashboard, member.user),
        passes=(404,),
    )


# ---------------------------------------------------------------- invitations


@router.get("/agency/invitations/accept", response_class=HTMLResponse)
def accept_form(page: ThisPage, token: str = "") -> Response:
    if page.visitor.user is None:
        # Sign in first (the token must survive the detour through the sign-in pages).
        here = f"/agency/invitations/accept?token={quote(token, safe='')}"
        return redirect(f"/signin?next={quote(here, safe='/')}")
    return page.show("agencies/accept.html", token=token)


@router.post("/agency/invitations/accept", response_class=HTMLResponse)
def accept(page: ThisPage, user: PageUser, form: CheckedForm) -> Response:
    token = text(form.get("token")).strip()
    return page.act(
        lambda: agency_service.accept_invitation(session=page.session, user=user, token=token),
        done=lambda _: redirect("/agency?notice=joined"),
        refused=page.refusal(Page.show, "agencies/accept.html", token=token),
    )
