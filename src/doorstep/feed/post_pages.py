"""HTML routes for one Neighbors post: the post with its comments (adding, editing and
deleting one's own), and reporting it or sending its agency a private tip. Writing and
editing posts is in ``feed.post_form_pages``.

Privacy: posts show their coarse cell only.
"""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError
from sqlalchemy.orm import Session
from starlette.datastructures import FormData

from doorstep.accounts.deps import CheckedForm, PageUser, PageVisitor, Visitor
from doorstep.accounts.models import User
from doorstep.errors import InvalidInput
from doorstep.feed import comments as feed_comments
from doorstep.feed import display as feed_display
from doorstep.feed import reports as feed_reports
from doorstep.feed import service as feed_service
from doorstep.feed import tips
from doorstep.feed.pages import NOTICES, REPORT_LABELS, post_labels
from doorstep.feed.schemas import ReportCreate
from doorstep.http import DbSession
from doorstep.routing import GuardedRoute
from doorstep.web.forms import (
    checkbox,
    form_action,
    notice_for,
    show_refusal,
    text,
    validation_message,
)
from doorstep.web.render import redirect, show

router = APIRouter(include_in_schema=False, route_class=GuardedRoute)


def _post_page(
    request: Request,
    visitor: PageVisitor,
    user: User,
    session: Session,
    post_id: uuid.UUID,
    *,
    status_code: int = 200,
    error: str | None = None,
    tip_error: str | None = None,
    report_error: str | None = None,
) -> Response:
    post = feed_service.get_post(session=session, actor=user, post_id=post_id)
    view = feed_display.post_view(session=session, viewer=user, post=post)
    comments = feed_comments.comment_views(
        session=session,
        viewer=user,
        comments=feed_comments.list_comments(session=session, viewer=user, post_id=post_id),
    )
    return show(
        request,
        "feed/post.html",
        visitor,
        session,
        status_code=status_code,
        post=view,
        cell=post.coarse_cell,
        comments=comments,
        report_labels=REPORT_LABELS,
        is_moderator=feed_service.is_moderator(user),
        error=error,
        tip_error=tip_error,
        report_error=report_error,
        notice=notice_for(request, NOTICES),
        **post_labels(),
    )


@router.get("/posts/{post_id}", response_class=HTMLResponse)
def post_page(
    post_id: uuid.UUID, request: Request, visitor: Visitor, user: PageUser, session: DbSession
) -> Response:
    return _post_page(request, visitor, user, session, post_id)


@router.post("/posts/{post_id}/comments", response_class=HTMLResponse)
def add_comment(
    post_id: uuid.UUID,
    request: Request,
    visitor: Visitor,
    user: PageUser,
    form: CheckedForm,
    session: DbSession,
) -> Response:
    return form_action(
        session,
        lambda: feed_comments.add_comment(
            session=session, author=user, post_id=post_id, body=text(form.get("body"))[:2000]
        ),
        done=lambda comment: redirect(f"/posts/{post_id}?notice=commented#comment-{comment.id}"),
        refused=show_refusal(_post_page, request, visitor, user, session, post_id),
    )


@router.get("/comments/{comment_id}/edit", response_class=HTMLResponse)
def edit_comment_form(
    comment_id: uuid.UUID, request: Request, visitor: Visitor, user: PageUser, session: DbSession
) -> Response:
    comment = feed_comments.get_own_comment(session=session, author=user, comment_id=comment_id)
    return show(request, "feed/comment_edit.html", visitor, session, comment=comment)


@router.post("/comments/{comment_id}/edit", response_class=HTMLResponse)
def edit_comment(
    comment_id: uuid.UUID,
    request: Request,
    visitor: Visitor,
    user: PageUser,
    form: CheckedForm,
    session: DbSession,
) -> Response:
    return form_action(
        session,
        lambda: feed_comments.update_comment(
            session=session, author=user, comment_id=comment_id, body=text(form.get("body"))[:2000]
        ),
        done=lambda comment: redirect(f"/posts/{comment.post_id}#comment-{comment.id}"),
        refused=lambda exc: show(
            request,
            "feed/comment_edit.html",
            visitor,
            session,
            status_code=exc.status_code,
            comment=feed_comments.get_comment(session=session, actor=user, comment_id=comment_id),
            error=exc.message,
        ),
    )


@router.post("/comments/{comment_id}/delete")
def delete_comment(
    comment_id: uuid.UUID, user: PageUser, form: CheckedForm, session: DbSession
) -> Response:
    post_id = feed_comments.delete_comment(session=session, author=user, comment_id=comment_id)
    return redirect(f"/posts/{post_id}?notice=comment_deleted")


def _optional_uuid(value: str) -> uuid.UUID | None:
    if not value:
        return None
    try:
        return uuid.UUID(value)
    except ValueError as exc:
        raise InvalidInput("This link is not valid.", code="invalid_id") from exc


def _report_body(form: FormData) -> ReportCreate:
    try:
        return ReportCreate.model_validate(
            {"reason": text(form.get("reason")), "note": text(form.get("note")) or None}
        )
    except ValidationError as exc:
        raise InvalidInput(validation_message(exc, {"reason": "Reason", "note": "Note"})) from exc


@router.post("/posts/{post_id}/report", response_class=HTMLResponse)
def report_post(
    post_id: uuid.UUID,
    request: Request,
    visitor: Visitor,
    user: PageUser,
    form: CheckedForm,
    session: DbSession,
) -> Response:
    comment_id = _optional_uuid(text(form.get("comment_id")))
    return form_action(
        session,
        lambda: feed_reports.report(
            session=session,
            reporter=user,
            post_id=post_id,
            comment_id=comment_id,
            **dict(_report_body(form)),
        ),
        done=lambda _: redirect(f"/posts/{post_id}?notice=reported"),
        refused=lambda exc: _post_page(
            request,
            visitor,
            user,
            session,
            post_id,
            status_code=exc.status_code,
            report_error=exc.message,
        ),
    )


@router.post("/posts/{post_id}/tip", response_class=HTMLResponse)
def send_tip(
    post_id: uuid.UUID,
    request: Request,
    visitor: Visitor,
    user: PageUser,
    form: CheckedForm,
    session: DbSession,
) -> Response:
    post = feed_service.get_post(session=session, actor=user, post_id=post_id)
    anonymous = checkbox(form.get("anonymous"))

    def send() -> object:
        if post.agency_id is None:
            raise InvalidInput(
                "Tips go to agencies, about their official posts.", code="not_agency_post"
            )
        return tips.send_tip(
            session=session,
            sender=user,
            agency_id=post.agency_id,
            body=text(form.get("body"))[:5000],
            post_id=post.id,
            anonymous=anonymous,
        )

    notice = "tip_sent_anonymous" if anonymous else "tip_sent"
    return form_action(
        session,
        send,
        done=lambda _: redirect(f"/posts/{post_id}?notice={notice}"),
        refused=lambda exc: _post_page(
            request,
            visitor,
            user,
            session,
            post_id,
            status_code=exc.status_code,
            tip_error=exc.message,
        ),
    )
