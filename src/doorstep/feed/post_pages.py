"""HTML routes for one Neighbors post: the post with its comments (adding, editing and
deleting one's own), and reporting it or sending its agency a private tip. Writing and
editing posts is in ``feed.post_form_pages``.

Privacy: posts show their coarse cell only.
"""

from __future__ import annotations

import uuid

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, Response
from starlette.datastructures import FormData

from doorstep.accounts.deps import CheckedForm, PageUser, ReadPage, ThisPage
from doorstep.accounts.models import User
from doorstep.errors import InvalidInput
from doorstep.feed import comments as feed_comments
from doorstep.feed import display as feed_display
from doorstep.feed import homes, tips
from doorstep.feed import reports as feed_reports
from doorstep.feed import service as feed_service
from doorstep.feed.pages import NOTICES, REPORT_LABELS, post_labels
from doorstep.feed.schemas import ReportCreate
from doorstep.http import DbSession
from doorstep.routing import GuardedRoute
from doorstep.web.forms import checkbox, text, validated
from doorstep.web.render import Page, redirect

router = APIRouter(include_in_schema=False, route_class=GuardedRoute)


def _post_page(
    page: Page,
    user: User,
    post_id: uuid.UUID,
    *,
    tip_error: str | None = None,
    report_error: str | None = None,
) -> Response:
    session = page.session
    post = feed_service.get_post(session=session, actor=user, post_id=post_id)
    view = feed_display.post_view(session=session, viewer=user, post=post)
    comments = feed_comments.comment_views(
        session=session,
        viewer=user,
        comments=feed_comments.list_comments(session=session, viewer=user, post_id=post_id),
    )
    home = homes.get_home(session=session, owner=user)
    return page.show(
        "feed/post.html",
        post=view,
        cell=post.coarse_cell,
        home=homes.home_view(home) if home else None,
        comments=comments,
        report_labels=REPORT_LABELS,
        is_moderator=feed_service.is_moderator(user),
        tip_error=tip_error,
        report_error=report_error,
        notice=page.notice(NOTICES),
        **post_labels(),
    )


@router.get("/posts/{post_id}", response_class=HTMLResponse)
def post_page(post_id: uuid.UUID, page: ReadPage, user: PageUser) -> Response:
    return _post_page(page, user, post_id)


@router.post("/posts/{post_id}/comments", response_class=HTMLResponse)
def add_comment(post_id: uuid.UUID, page: ThisPage, user: PageUser, form: CheckedForm) -> Response:
    return page.act(
        lambda: feed_comments.add_comment(
            session=page.session, author=user, post_id=post_id, body=text(form.get("body"))[:2000]
        ),
        done=lambda comment: redirect(f"/posts/{post_id}?notice=commented#comment-{comment.id}"),
        refused=page.refusal(_post_page, user, post_id),
    )


@router.get("/comments/{comment_id}/edit", response_class=HTMLResponse)
def edit_comment_form(comment_id: uuid.UUID, page: ThisPage, user: PageUser) -> Response:
    comment = feed_comments.get_own_comment(
        session=page.session, author=user, comment_id=comment_id
    )
    return page.show("feed/comment_edit.html", comment=comment)


@router.post("/comments/{comment_id}/edit", response_class=HTMLResponse)
def edit_comment(
    comment_id: uuid.UUID, page: ThisPage, user: PageUser, form: CheckedForm
) -> Response:
    session = page.session
    return page.act(
        lambda: feed_comments.update_comment(
            session=session, author=user, comment_id=comment_id, body=text(form.get("body"))[:2000]
        ),
        done=lambda comment: redirect(f"/posts/{comment.post_id}#comment-{comment.id}"),
        refused=lambda exc: page.refused(exc).show(
            "feed/comment_edit.html",
            comment=feed_comments.get_comment(session=session, actor=user, comment_id=comment_id),
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
    return validated(
        ReportCreate,
        {"reason": text(form.get("reason")), "note": text(form.get("note")) or None},
        {"reason": "Reason", "note": "Note"},
    )


@router.post("/posts/{post_id}/report", response_class=HTMLResponse)
def report_post(post_id: uuid.UUID, page: ThisPage, user: PageUser, form: CheckedForm) -> Response:
    comment_id = _optional_uuid(text(form.get("comment_id")))
    return page.act(
        lambda: feed_reports.report(
            session=page.session,
            reporter=user,
            post_id=post_id,
            comment_id=comment_id,
            **dict(_report_body(form)),
        ),
        done=lambda _: redirect(f"/posts/{post_id}?notice=reported"),
        refused=page.refusal(_post_page, user, post_id, error_as="report_error"),
    )


@router.post("/posts/{post_id}/tip", response_class=HTMLResponse)
def send_tip(post_id: uuid.UUID, page: ThisPage, user: PageUser, form: CheckedForm) -> Response:
    session = page.session
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
    return page.act(
        send,
        done=lambda _: redirect(f"/posts/{post_id}?notice={notice}"),
        refused=page.refusal(_post_page, user, post_id, error_as="tip_error"),
    )
