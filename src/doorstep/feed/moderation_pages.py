"""HTML routes for moderators (the queue, held posts, the hold option) and for agency
members (their tips inbox)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Collection
from functools import partial

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session
from starlette.datastructures import FormData

from doorstep.accounts.deps import CheckedForm, PageModerator, PageUser, ThisPage
from doorstep.accounts.models import Role, User
from doorstep.agencies import service as agency_service
from doorstep.errors import Forbidden, NotFound
from doorstep.feed import comments as feed_comments
from doorstep.feed import display as feed_display
from doorstep.feed import moderation, tips
from doorstep.feed import reports as feed_reports
from doorstep.feed import service as feed_service
from doorstep.feed.alerts import CATEGORY_LABELS
from doorstep.feed.models import Category
from doorstep.http import DbSession
from doorstep.routing import GuardedRoute
from doorstep.web.forms import checkbox, text
from doorstep.web.render import Page, redirect

router = APIRouter(include_in_schema=False, route_class=GuardedRoute)

NOTICES = {
    "hidden": "Hidden. The author was told why; the action is in the public audit log.",
    "restored": "Restored. The author was told; the action is in the public audit log.",
    "approved": "Published. The author was told.",
    "rejected": "Rejected. The author was told why.",
    "dismissed": "Reports dismissed.",
    "settings": "Feed settings saved.",
}
COMMENT_ACTIONS = ("hide", "restore", "dismiss")
_DONE = {
    "hide": "hidden",
    "restore": "restored",
    "approve": "approved",
    "reject": "rejected",
    "dismiss": "dismissed",
}


@router.get("/moderation", response_class=HTMLResponse)
def moderation_page(page: ThisPage, user: PageModerator) -> Response:
    session = page.session
    queue = [
        feed_reports.queue_item(entry)
        for entry in feed_reports.moderation_queue(session=session, actor=user)
    ]
    pending = feed_display.post_views(
        session=session, viewer=user, posts=moderation.pending_posts(session=session, actor=user)
    )
    return page.show(
        "feed/moderation.html",
        queue=queue,
        pending=pending,
        settings=feed_service.current_settings(session=session),
        is_admin=user.role == Role.admin,
        category_labels={c.value: CATEGORY_LABELS[c] for c in Category},
        notice=page.notice(NOTICES),
    )


def _back(form_value: object, post_id: uuid.UUID, notice: str) -> Response:
    if text(form_value) == "post":
        return redirect(f"/posts/{post_id}?notice=moderated")
    return redirect(f"/moderation?notice={notice}")


def _known(action: str, actions: Collection[str]) -> str:
    """A button of the moderation forms; any other is a page that is not there."""
    if action not in actions:
        raise NotFound("No such action.")
    return action


def _moderate(
    page: Page,
    user: User,
    form: FormData,
    action: str,
    run: Callable[..., object],
    of_post: uuid.UUID,
    /,
    **target: uuid.UUID,
) -> Response:
    """Run a moderator's button on ``target`` with the form's reason; then back to the queue
    (or to the post ``of_post``, when the form was on it), or the queue with the refusal."""
    reason = text(form.get("reason"))
    return page.act(
        lambda: run(session=page.session, actor=user, reason=reason, **target),
        done=lambda _: _back(form.get("back"), of_post, _DONE[action]),
        refused=page.refusal(moderation_page, user),
    )


def _approve_post(*, session: Session, actor: User, post_id: uuid.UUID, reason: str) -> object:
    # Approving needs no reason: an empty one is none.
    return moderation.approve_post(
        session=session, actor=actor, post_id=post_id, reason=reason or None
    )


# The buttons on a post; each takes the session, the moderator, the post and the reason.
_POST_BUTTONS: dict[str, Callable[..., object]] = {
    "hide": moderation.hide_post,
    "restore": moderation.restore_post,
    "approve": _approve_post,
    "reject": moderation.reject_post,
    "dismiss": moderation.dismiss_reports,
}


@router.post("/moderation/posts/{post_id}/{action}", response_class=HTMLResponse)
def moderate_post(
    post_id: uuid.UUID, action: str, page: ThisPage, user: PageModerator, form: CheckedForm
) -> Response:
    run = _POST_BUTTONS[_known(action, _POST_BUTTONS)]
    return _moderate(page, user, form, action, run, post_id, post_id=post_id)


@router.post("/moderation/comments/{comment_id}/{action}", response_class=HTMLResponse)
def moderate_comment(
    comment_id: uuid.UUID, action: str, page: ThisPage, user: PageModerator, form: CheckedForm
) -> Response:
    _known(action, COMMENT_ACTIONS)
    comment = feed_comments.get_comment(session=page.session, actor=user, comment_id=comment_id)
    buttons: dict[str, Callable[..., object]] = {
        "hide": moderation.hide_comment,
        "restore": moderation.restore_comment,
        "dismiss": partial(moderation.dismiss_reports, post_id=comment.post_id),
    }
    run = buttons[action]
    return _moderate(page, user, form, action, run, comment.post_id, comment_id=comment_id)


@router.post("/moderation/settings")
def change_settings(user: PageUser, form: CheckedForm, session: DbSession) -> Response:
    moderation.change_settings(
        session=session, actor=user, hold_new_posts=checkbox(form.get("hold_new_posts"))
    )
    return redirect("/moderation?notice=settings")


@router.get("/feed/tips", response_class=HTMLResponse)
def agency_tips(page: ThisPage, user: PageUser) -> Response:
    """An agency member's tips inbox (his own agency's)."""
    session = page.session
    found = agency_service.membership_of(session=session, user=user)
    if found is None:
        raise Forbidden("Tips are read by agency members.", code="not_agency_member")
    agency = found[0]
    rows = tips.agency_tips(session=session, actor=user, agency_id=agency.id)
    return page.show("feed/tips.html", agency=agency, tips=rows)
