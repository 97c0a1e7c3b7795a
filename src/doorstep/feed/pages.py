"""HTML routes for Neighbors: the feed (list and map), the home settings, posts with their
comments, reports and tips, and the community guidelines. Moderation pages live in
``feed.moderation_pages`` and are mounted through this module's router.

Privacy: a home's exact position is put into pages only on the resident's own home
and feed pages (his own view); posts show their coarse cell only.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError
from sqlalchemy.orm import Session
from starlette.datastructures import FormData

from doorstep.accounts.deps import PageUser, PageVisitor, Visitor
from doorstep.accounts.models import User
from doorstep.agencies import service as agency_service
from doorstep.agencies.models import AgencyStatus
from doorstep.cameras import inbox as camera_inbox
from doorstep.errors import DoorstepError, Forbidden, InvalidInput
from doorstep.feed import areas, homes, moderation_pages, tips
from doorstep.feed import comments as feed_comments
from doorstep.feed import display as feed_display
from doorstep.feed import reports as feed_reports
from doorstep.feed import service as feed_service
from doorstep.feed.alerts import CATEGORY_LABELS
from doorstep.feed.guardrails import APPEARANCE_LABELS, PersonalDataWarning
from doorstep.feed.models import Category, ReportReason
from doorstep.feed.schemas import HomeUpdate, PersonFields, PostCreate, PostUpdate, ReportCreate
from doorstep.http import DbSession
from doorstep.routing import GuardedRoute
from doorstep.web.pages import checkbox, day_bounds, show, text, validation_message
from doorstep.web.render import CheckedForm, redirect

router = APIRouter(include_in_schema=False, route_class=GuardedRoute)
router.include_router(moderation_pages.router)

NOTICES = {
    "home_saved": "Your home and alert settings are saved.",
    "posted": "Your post is published.",
    "held": "Thanks. Your post waits for a moderator's review before it is published.",
    "edited": "Your post is updated.",
    "post_deleted": "Your post was deleted.",
    "comment_deleted": "Your comment was deleted.",
    "commented": "Your comment is posted.",
    "reported": "Thanks for the report. A moderator will look at it.",
    "tip_sent": "Your tip was sent privately to the agency.",
    "tip_sent_anonymous": "Your tip was sent anonymously: the agency cannot see who sent it.",
    "moderated": "Done. The author was told; the action is in the public audit log.",
}
REPORT_LABELS = {
    ReportReason.profiling: "Profiling (someone described by race or appearance)",
    ReportReason.false_information: "False information",
    ReportReason.harassment: "Harassment",
    ReportReason.private_information: "Private information (address, phone, plate)",
    ReportReason.spam: "Spam",
    ReportReason.other: "Something else",
}
_POST_LABELS = {
    "category": "Category",
    "title": "Title",
    "body": "What happened",
    "latitude": "Latitude",
    "longitude": "Longitude",
    "behavior": "What the person did",
    **{k: v.capitalize() for k, v in APPEARANCE_LABELS.items()},
}
_HOME_LABELS = {"latitude": "Latitude", "longitude": "Longitude", "radius_mi": "Radius"}


def _notice(request: Request) -> str | None:
    return NOTICES.get(request.query_params.get("notice", ""))


def _labels() -> dict[str, Any]:
    return {
        "category_labels": {c.value: CATEGORY_LABELS[c] for c in Category},
        "categories": list(Category),
        "appearance_labels": APPEARANCE_LABELS,
    }


# ---------------------------------------------------------------- the feed


class _Filters:
    """The feed's filters, parsed from the query string (and written back into links)."""

    def __init__(self, request: Request) -> None:
        params = request.query_params
        self.categories = [c for c in params.getlist("category") if c]
        self.date_from = params.get("from", "")
        self.date_to = params.get("to", "")
        self.cursor = params.get("cursor") or None

    def category_list(self) -> list[Category] | None:
        try:
            return [Category(c) for c in self.categories] or None
        except ValueError as exc:
            raise InvalidInput("Choose categories from the list.", code="invalid_category") from exc

    def since(self) -> datetime | None:
        return day_bounds(self.date_from, self.date_to)[0]

    def until(self) -> datetime | None:
        return day_bounds(self.date_from, self.date_to)[1]

    def query(self, **extra: str) -> str:
        pairs = [("category", c) for c in self.categories]
        if self.date_from:
            pairs.append(("from", self.date_from))
        if self.date_to:
            pairs.append(("to", self.date_to))
        pairs += list(extra.items())
        return urlencode(pairs)


def _feed_page(
    request: Request, visitor: PageVisitor, user: User, session: Session, *, as_map: bool
) -> Response:
    filters = _Filters(request)
    home = homes.get_home(session=session, owner=user)
    template = "feed/map.html" if as_map else "feed/list.html"
    if home is None:
        return show(request, template, visitor, session, home=None, filters=filters, **_labels())
    error, status_code, posts, older, features = None, 200, [], None, []
    try:
        page = feed_service.feed(
            session=session,
            viewer=user,
            categories=filters.category_list(),
            since=filters.since(),
            until=filters.until(),
            cursor=filters.cursor,
            limit=100 if as_map else 30,
        )
    except DoorstepError as exc:
        error, status_code = exc.message, exc.status_code
    else:
        posts = feed_display.post_views(session=session, viewer=user, posts=page.posts)
        if as_map:
            features = feed_display.map_features(session=session, viewer=user, posts=page.posts)
        if page.next_cursor:
            path = "/feed/map" if as_map else "/feed"
            older = f"{path}?{filters.query(cursor=page.next_cursor)}"
    return show(
        request,
        template,
        visitor,
        session,
        status_code=status_code,
        home=homes.home_view(home),
        posts=posts,
        older=older,
        filters=filters,
        geojson={"type": "FeatureCollection", "features": features},
        error=error,
        notice=_notice(request),
        **_labels(),
    )


@router.get("/feed", response_class=HTMLResponse)
def feed_list(request: Request, visitor: Visitor, user: PageUser, session: DbSession) -> Response:
    return _feed_page(request, visitor, user, session, as_map=False)


@router.get("/feed/map", response_class=HTMLResponse)
def feed_map(request: Request, visitor: Visitor, user: PageUser, session: DbSession) -> Response:
    return _feed_page(request, visitor, user, session, as_map=True)


@router.get("/feed/mine", response_class=HTMLResponse)
def my_posts(request: Request, visitor: Visitor, user: PageUser, session: DbSession) -> Response:
    posts = feed_display.post_views(
        session=session, viewer=user, posts=feed_service.own_posts(session=session, author=user)
    )
    return show(
        request,
        "feed/mine.html",
        visitor,
        session,
        posts=posts,
        notice=_notice(request),
        **_labels(),
    )


@router.get("/feed/guidelines", response_class=HTMLResponse)
def guidelines(request: Request, visitor: Visitor, session: DbSession) -> Response:
    return show(request, "feed/guidelines.html", visitor, session, report_labels=REPORT_LABELS)


# ---------------------------------------------------------------- home


def _home_page(
    request: Request,
    visitor: PageVisitor,
    session: Session,
    values: dict[str, Any],
    *,
    status_code: int = 200,
    error: str | None = None,
) -> Response:
    return show(
        request,
        "feed/home.html",
        visitor,
        session,
        status_code=status_code,
        values=values,
        error=error,
        min_radius=areas.MIN_RADIUS_MI,
        max_radius=areas.MAX_RADIUS_MI,
        **_labels(),
    )


@router.get("/feed/home", response_class=HTMLResponse)
def home_form(request: Request, visitor: Visitor, user: PageUser, session: DbSession) -> Response:
    home = homes.get_home(session=session, owner=user)
    values: dict[str, Any] = (
        homes.home_view(home).model_dump(mode="json")
        if home
        else {
            "latitude": "",
            "longitude": "",
            "radius_mi": areas.DEFAULT_RADIUS_MI,
            "alert_categories": [],
        }
    )
    return _home_page(request, visitor, session, values)


@router.post("/feed/home", response_class=HTMLResponse)
def save_home(
    request: Request, visitor: Visitor, user: PageUser, form: CheckedForm, session: DbSession
) -> Response:
    values = {
        "latitude": text(form.get("latitude")).strip(),
        "longitude": text(form.get("longitude")).strip(),
        "radius_mi": text(form.get("radius_mi")).strip() or areas.DEFAULT_RADIUS_MI,
        "alert_categories": [c for c in form.getlist("alert_categories") if isinstance(c, str)],
    }
    try:
        if not values["latitude"] or not values["longitude"]:
            raise InvalidInput(
                "Place your home on the map, or type its latitude and longitude.",
                code="position_missing",
            )
        try:
            body = HomeUpdate.model_validate(values)
        except ValidationError as exc:
            raise InvalidInput(validation_message(exc, _HOME_LABELS)) from exc
        with session.begin_nested():
            homes.set_home(
                session=session,
                owner=user,
                latitude=body.latitude,
                longitude=body.longitude,
                radius_mi=body.radius_mi,
                alert_categories=body.alert_categories,
            )
    except DoorstepError as exc:
        return _home_page(
            request, visitor, session, values, status_code=exc.status_code, error=exc.message
        )
    return redirect("/feed?notice=home_saved")


# ---------------------------------------------------------------- new and edited posts


def _person_values(form: FormData) -> dict[str, str]:
    keys = ("behavior", *APPEARANCE_LABELS, "other")
    return {k: text(form.get(f"person_{k}")).strip() for k in keys}


def _post_values(form: FormData) -> dict[str, Any]:
    return {
        "category": text(form.get("category")),
        "title": text(form.get("title")),
        "body": text(form.get("body")),
        "person": _person_values(form),
        "clip_id": text(form.get("clip_id")),
        "latitude": text(form.get("latitude")).strip(),
        "longitude": text(form.get("longitude")).strip(),
        "official": checkbox(form.get("official")),
        "confirm_personal_data": checkbox(form.get("confirm_personal_data")),
    }


def _person_fields(values: dict[str, Any]) -> PersonFields | None:
    person = {k: v or None for k, v in values["person"].items()}
    if not any(person.values()):
        return None
    person["behavior"] = person["behavior"] or ""
    return PersonFields.model_validate(person)


def _parse_post(values: dict[str, Any]) -> PostCreate:
    try:
        return PostCreate.model_validate(
            {
                **values,
                "person": _person_fields(values),
                "clip_id": values["clip_id"] or None,
                "latitude": values["latitude"] or None,
                "longitude": values["longitude"] or None,
            }
        )
    except ValidationError as exc:
        raise InvalidInput(validation_message(exc, _POST_LABELS)) from exc


def _own_clips(session: Session, user: User) -> list[Any]:
    page = camera_inbox.timeline(session=session, owner=user, limit=30)
    events = [camera_inbox.event_view(*row) for row in page.rows]
    return [e for e in events if e.clip is not None]


def _official_agency(session: Session, user: User) -> Any:
    found = agency_service.membership_of(session=session, user=user)
    if found is None or found[0].status != AgencyStatus.verified:
        return None
    return found[0]


def _post_form(
    request: Request,
    visitor: PageVisitor,
    user: User,
    session: Session,
    values: dict[str, Any],
    *,
    status_code: int = 200,
    error: str | None = None,
    warning: PersonalDataWarning | None = None,
) -> Response:
    return show(
        request,
        "feed/new.html",
        visitor,
        session,
        status_code=status_code,
        values=values,
        error=error,
        warning=warning.details.get("found") if warning else None,
        warning_message=warning.message if warning else None,
        clips=_own_clips(session, user),
        agency=_official_agency(session, user),
        has_home=homes.get_home(session=session, owner=user) is not None,
        **_labels(),
    )


@router.get("/posts/new", response_class=HTMLResponse)
def new_post_form(
    request: Request, visitor: Visitor, user: PageUser, session: DbSession
) -> Response:
    values: dict[str, Any] = {
        "category": request.query_params.get("category", Category.safety.value),
        "title": "",
        "body": "",
        "person": {},
        "clip_id": request.query_params.get("clip", ""),
        "latitude": "",
        "longitude": "",
        "official": False,
        "confirm_personal_data": False,
    }
    return _post_form(request, visitor, user, session, values)


@router.post("/posts/new", response_class=HTMLResponse)
def create_post(
    request: Request, visitor: Visitor, user: PageUser, form: CheckedForm, session: DbSession
) -> Response:
    values = _post_values(form)
    try:
        body = _parse_post(values)
        with session.begin_nested():
            post = feed_service.create_post(
                session=session,
                author=user,
                category=body.category,
                title=body.title,
                body=body.body,
                person=body.person,
                clip_id=body.clip_id,
                latitude=body.latitude,
                longitude=body.longitude,
                official=body.official,
                confirm_personal_data=body.confirm_personal_data,
            )
    except PersonalDataWarning as exc:
        return _post_form(
            request, visitor, user, session, values, status_code=exc.status_code, warning=exc
        )
    except DoorstepError as exc:
        return _post_form(
            request,
            visitor,
            user,
            session,
            values,
            status_code=exc.status_code,
            error=exc.message,
        )
    notice = "posted" if post.published_at is not None else "held"
    return redirect(f"/posts/{post.id}?notice={notice}")


def _edit_page(
    request: Request,
    visitor: PageVisitor,
    session: Session,
    post_id: uuid.UUID,
    values: dict[str, Any],
    *,
    status_code: int = 200,
    error: str | None = None,
    warning: PersonalDataWarning | None = None,
) -> Response:
    return show(
        request,
        "feed/edit.html",
        visitor,
        session,
        status_code=status_code,
        post_id=post_id,
        values=values,
        error=error,
        warning=warning.details.get("found") if warning else None,
        warning_message=warning.message if warning else None,
        **_labels(),
    )


@router.get("/posts/{post_id}/edit", response_class=HTMLResponse)
def edit_post_form(
    post_id: uuid.UUID, request: Request, visitor: Visitor, user: PageUser, session: DbSession
) -> Response:
    post = feed_service.get_own_post(session=session, author=user, post_id=post_id)
    values = {
        "category": post.category.value,
        "title": post.title,
        "body": post.body,
        "person": {k: v or "" for k, v in (post.person or {}).items()},
        "has_clip": post.clip_id is not None,
        "remove_clip": False,
        "confirm_personal_data": False,
    }
    return _edit_page(request, visitor, session, post_id, values)


@router.post("/posts/{post_id}/edit", response_class=HTMLResponse)
def edit_post(
    post_id: uuid.UUID,
    request: Request,
    visitor: Visitor,
    user: PageUser,
    form: CheckedForm,
    session: DbSession,
) -> Response:
    post = feed_service.get_own_post(session=session, author=user, post_id=post_id)
    values = {
        **_post_values(form),
        "has_clip": post.clip_id is not None,
        "remove_clip": checkbox(form.get("remove_clip")),
    }
    try:
        try:
            person = _person_fields(values)
            body = PostUpdate.model_validate(
                {
                    "category": values["category"],
                    "title": values["title"],
                    "body": values["body"],
                    "person": person,
                    "remove_person": person is None,
                    "remove_clip": values["remove_clip"],
                    "confirm_personal_data": values["confirm_personal_data"],
                }
            )
        except ValidationError as exc:
            raise InvalidInput(validation_message(exc, _POST_LABELS)) from exc
        with session.begin_nested():
            feed_service.update_post(session=session, author=user, post_id=post_id, **dict(body))
    except PersonalDataWarning as exc:
        return _edit_page(
            request, visitor, session, post_id, values, status_code=exc.status_code, warning=exc
        )
    except DoorstepError as exc:
        return _edit_page(
            request,
            visitor,
            session,
            post_id,
            values,
            status_code=exc.status_code,
            error=exc.message,
        )
    return redirect(f"/posts/{post_id}?notice=edited")


@router.post("/posts/{post_id}/delete")
def delete_post(
    post_id: uuid.UUID, user: PageUser, form: CheckedForm, session: DbSession
) -> Response:
    feed_service.delete_post(session=session, author=user, post_id=post_id)
    return redirect("/feed/mine?notice=post_deleted")


# ---------------------------------------------------------------- one post


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
        notice=_notice(request),
        **_labels(),
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
    try:
        with session.begin_nested():
            comment = feed_comments.add_comment(
                session=session, author=user, post_id=post_id, body=text(form.get("body"))[:2000]
            )
    except DoorstepError as exc:
        return _post_page(
            request,
            visitor,
            user,
            session,
            post_id,
            status_code=exc.status_code,
            error=exc.message,
        )
    return redirect(f"/posts/{post_id}?notice=commented#comment-{comment.id}")


@router.get("/comments/{comment_id}/edit", response_class=HTMLResponse)
def edit_comment_form(
    comment_id: uuid.UUID, request: Request, visitor: Visitor, user: PageUser, session: DbSession
) -> Response:
    comment = feed_comments.get_comment(session=session, actor=user, comment_id=comment_id)
    if comment.author_id != user.id:
        raise Forbidden("Only the author can change this comment.", code="not_author")
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
    try:
        with session.begin_nested():
            comment = feed_comments.update_comment(
                session=session,
                author=user,
                comment_id=comment_id,
                body=text(form.get("body"))[:2000],
            )
    except DoorstepError as exc:
        comment = feed_comments.get_comment(session=session, actor=user, comment_id=comment_id)
        return show(
            request,
            "feed/comment_edit.html",
            visitor,
            session,
            status_code=exc.status_code,
            comment=comment,
            error=exc.message,
        )
    return redirect(f"/posts/{comment.post_id}#comment-{comment.id}")


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
    try:
        body = _report_body(form)
        with session.begin_nested():
            feed_reports.report(
                session=session,
                reporter=user,
                post_id=post_id,
                comment_id=comment_id,
                reason=body.reason,
                note=body.note,
            )
    except DoorstepError as exc:
        return _post_page(
            request,
            visitor,
            user,
            session,
            post_id,
            status_code=exc.status_code,
            report_error=exc.message,
        )
    return redirect(f"/posts/{post_id}?notice=reported")


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
    try:
        if post.agency_id is None:
            raise InvalidInput(
                "Tips go to agencies, about their official posts.", code="not_agency_post"
            )
        with session.begin_nested():
            tips.send_tip(
                session=session,
                sender=user,
                agency_id=post.agency_id,
                body=text(form.get("body"))[:5000],
                post_id=post.id,
                anonymous=anonymous,
            )
    except DoorstepError as exc:
        return _post_page(
            request,
            visitor,
            user,
            session,
            post_id,
            status_code=exc.status_code,
            tip_error=exc.message,
        )
    notice = "tip_sent_anonymous" if anonymous else "tip_sent"
    return redirect(f"/posts/{post_id}?notice={notice}")
