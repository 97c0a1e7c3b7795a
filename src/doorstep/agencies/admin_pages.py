"""HTML routes of the instance administrator for agencies: the list of every agency,
with the status changes (verify, reject, suspend, reinstate, end) each allows; every change
is public."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from doorstep.accounts.deps import CheckedForm, PageAdmin, PageVisitor, Visitor
from doorstep.agencies import service as agency_service
from doorstep.agencies.models import AgencyStatus
from doorstep.http import DbSession
from doorstep.routing import GuardedRoute
from doorstep.web.forms import form_action, notice_for, show_refusal, text
from doorstep.web.render import redirect, show

router = APIRouter(include_in_schema=False, route_class=GuardedRoute)

NOTICES = {"status_changed": "The agency's status was changed. The change is public."}


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
        notice=notice_for(request, NOTICES),
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
    return form_action(
        session,
        lambda: agency_service.change_status(
            session=session,
            actor=user,
            agency_id=agency_id,
            action=text(form.get("action")),
            reason=text(form.get("reason")).strip() or None,
        ),
        done=lambda _: redirect("/admin/agencies?notice=status_changed"),
        refused=show_refusal(_admin_page, request, visitor, session, failed=agency_id),
        passes=(404,),
    )
