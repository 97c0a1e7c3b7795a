"""HTML routes for Neighbors: the feed (list and map), the resident's own posts, the
home settings and the community guidelines. Posts with their comments, reports and tips
are in ``feed.post_pages``; the moderators' pages in ``feed.moderation_pages``.

Privacy: a home's exact position is put into pages only on the resident's own home
and feed pages (his own view); posts show their coarse cell only.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError
from sqlalchemy.orm import Session

from doorstep.accounts.deps import CheckedForm, PageUser, PageVisitor, Visitor
from doorstep.accounts.models import User
from doorstep.errors import DoorstepError, InvalidInput
from doorstep.feed import areas, homes
from doorstep.feed import display as feed_display
from doorstep.feed import service as feed_service
from doorstep.feed.alerts import CATEGORY_LABELS
from doorstep.feed.guardrails import APPEARANCE_LABELS
from doorstep.feed.models import Category, ReportReason
from doorstep.feed.schemas import HomeUpdate
from doorstep.http import DbSession
from doorstep.routing import GuardedRoute
from doorstep.web.forms import (
    day_bounds,
    form_action,
    notice_for,
    show_refusal,
    text,
    validation_message,
)
from doorstep.web.render import redirect, show

router = APIRouter(include_in_schema=False, route_class=GuardedRoute)

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
_HOME_LABELS = {"latitude": "Latitude", "longitude": "Longitude", "radius_mi": "Radius"}


def post_labels() -> dict[str, Any]:
    """The category and appearance labels every page that shows posts uses."""
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
        return show(
            request, template, visitor, session, home=None, filters=filters, **post_labels()
        )
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
        notice=notice_for(request, NOTICES),
        **post_labels(),
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
        notice=notice_for(request, NOTICES),
        **post_labels(),
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
        **post_labels(),
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


def _parse_home(values: dict[str, Any]) -> HomeUpdate:
    if not values["latitude"] or not values["longitude"]:
        raise InvalidInput(
            "Place your home on the map, or type its latitude and longitude.",
            code="position_missing",
        )
    try:
        return HomeUpdate.model_validate(values)
    except ValidationError as exc:
        raise InvalidInput(validation_message(exc, _HOME_LABELS)) from exc


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
    return form_action(
        session,
        lambda: homes.set_home(session=session, owner=user, **dict(_parse_home(values))),
        done=lambda _: redirect("/feed?notice=home_saved"),
        refused=show_refusal(_home_page, request, visitor, session, values),
    )
