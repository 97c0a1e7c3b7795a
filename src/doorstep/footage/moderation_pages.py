"""The moderator's review of footage requests against the community guidelines."""

from __future__ import annotations

import uuid

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, Response

from doorstep.accounts.deps import CheckedForm, PageModerator, ThisPage
from doorstep.accounts.models import User
from doorstep.agencies import service as agency_service
from doorstep.footage import service as request_service
from doorstep.footage.agency_pages import NOTICES, page_context
from doorstep.footage.notice import render_notice
from doorstep.routing import GuardedRoute
from doorstep.web.forms import text
from doorstep.web.render import Page, redirect

router = APIRouter(include_in_schema=False, route_class=GuardedRoute)


def _review_page(page: Page, user: User, *, failed: uuid.UUID | None = None) -> Response:
    session = page.session
    queue = request_service.review_queue(session=session, actor=user)
    items = []
    for footage_request in queue:
        agency = agency_service.get_agency(session=session, agency_id=footage_request.agency_id)
        notice = render_notice(request=footage_request, agency=agency, zone=page.time_zone)
        items.append((footage_request, agency, notice))
    return page.show(
        "footage/review_queue.html",
        items=items,
        failed=failed,
        notice=page.notice(NOTICES),
        **page_context(),
    )


@router.get("/moderation/requests", response_class=HTMLResponse)
def review_queue(page: ThisPage, user: PageModerator) -> Response:
    return _review_page(page, user)


@router.post("/moderation/requests/{request_id}/review", response_class=HTMLResponse)
def review(
    request_id: uuid.UUID, page: ThisPage, user: PageModerator, form: CheckedForm
) -> Response:
    approve = text(form.get("decision")) == "approve"
    return page.act(
        lambda: request_service.review_request(
            session=page.session,
            actor=user,
            request_id=request_id,
            approve=approve,
            note=text(form.get("note")).strip() or None,
        ),
        done=lambda _: redirect(
            f"/moderation/requests?notice=reviewed_{'approve' if approve else 'reject'}"
        ),
        refused=page.refusal(_review_page, user, failed=request_id),
        passes=(403, 404),
    )
