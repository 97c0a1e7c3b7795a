"""The moderator's review of footage requests against the community guidelines."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from doorstep.accounts.deps import CheckedForm, PageModerator, PageVisitor, Visitor
from doorstep.accounts.models import User
from doorstep.agencies import service as agency_service
from doorstep.footage import service as request_service
from doorstep.footage.agency_pages import NOTICES, page_context
from doorstep.footage.notice import render_notice
from doorstep.http import DbSession
from doorstep.routing import GuardedRoute
from doorstep.web.forms import form_action, notice_for, show_refusal, text
from doorstep.web.render import redirect, show

router = APIRouter(include_in_schema=False, route_class=GuardedRoute)


def _review_page(
    request: Request,
    visitor: PageVisitor,
    user: User,
    session: Session,
    *,
    error: str | None = None,
    failed: uuid.UUID | None = None,
    status_code: int = 200,
) -> Response:
    queue = request_service.review_queue(session=session, actor=user)
    items = []
    for footage_request in queue:
        agency = agency_service.get_agency(session=session, agency_id=footage_request.agency_id)
        items.append(
            (footage_request, agency, render_notice(request=footage_request, agency=agency))
        )
    return show(
        request,
        "footage/review_queue.html",
        visitor,
        session,
        status_code=status_code,
        items=items,
        error=error,
        failed=failed,
        notice=notice_for(request, NOTICES),
        **page_context(),
    )


@router.get("/moderation/requests", response_class=HTMLResponse)
def review_queue(
    request: Request, visitor: Visitor, user: PageModerator, session: DbSession
) -> Response:
    return _review_page(request, visitor, user, session)


@router.post("/moderation/requests/{request_id}/review", response_class=HTMLResponse)
def review(
    request_id: uuid.UUID,
    request: Request,
    visitor: Visitor,
    user: PageModerator,
    form: CheckedForm,
    session: DbSession,
) -> Response:
    approve = text(form.get("decision")) == "approve"
    return form_action(
        session,
        lambda: request_service.review_request(
            session=session,
            actor=user,
            request_id=request_id,
            approve=approve,
            note=text(form.get("note")).strip() or None,
        ),
        done=lambda _: redirect(
            f"/moderation/requests?notice=reviewed_{'approve' if approve else 'reject'}"
        ),
        refused=show_refusal(_review_page, request, visitor, user, session, failed=request_id),
        passes=(403, 404),
    )
