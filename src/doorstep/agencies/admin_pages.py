"""HTML routes of the instance administrator for agencies: the list of every agency,
with the status changes (verify, reject, suspend, reinstate, end) each allows; every change
is public."""

from __future__ import annotations

import uuid

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, Response

from doorstep.accounts.deps import CheckedForm, PageAdmin, ThisPage
from doorstep.agencies import service as agency_service
from doorstep.agencies.models import AgencyStatus
from doorstep.routing import GuardedRoute
from doorstep.web.forms import text
from doorstep.web.render import Page, redirect

router = APIRouter(include_in_schema=False, route_class=GuardedRoute)

NOTICES = {"status_changed": "The agency's status was changed. The change is public."}


def _admin_page(page: Page, *, failed: uuid.UUID | None = None) -> Response:
    return page.show(
        "agencies/admin.html",
        agencies=agency_service.list_agencies(session=page.session),
        actions_shown={status: agency_service.available_actions(status) for status in AgencyStatus},
        failed=failed,
        notice=page.notice(NOTICES),
    )


@router.get("/admin/agencies", response_class=HTMLResponse)
def admin_agencies(page: ThisPage, user: PageAdmin) -> Response:
    return _admin_page(page)


@router.post("/admin/agencies/{agency_id}/status", response_class=HTMLResponse)
def change_status(
    agency_id: uuid.UUID, page: ThisPage, user: PageAdmin, form: CheckedForm
) -> Response:
    return page.act(
        lambda: agency_service.change_status(
            session=page.session,
            actor=user,
            agency_id=agency_id,
            action=text(form.get("action")),
            reason=text(form.get("reason")).strip() or None,
        ),
        done=lambda _: redirect("/admin/agencies?notice=status_changed"),
        refused=page.refusal(_admin_page, failed=agency_id),
        passes=(404,),
    )
