"""HTML routes for Neighbors: the feed (list and map), the resident's own posts, the
home settings and the community guidelines. Posts with their comments, reports and tips
are in ``feed.post_pages``; the moderators' pages in ``feed.moderation_pages``.

Privacy: a home's exact position is put into pages only on the resident's own home
and feed pages (his own view); posts show their coarse cell only.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from doorstep.accounts.deps import CheckedForm, PageUser, ReadPage, ThisPage
from doorstep.accounts.models import User
from doorstep.errors import DoorstepError
from doorstep.feed import areas, homes, timeline
from doorstep.feed import display as feed_display
from doorstep.feed import service as feed_service
from doorstep.feed.alerts import CATEGORY_LABELS
from doorstep.feed.guardrails import APPEARANCE_LABELS
from doorstep.feed.models import Category, ReportReason
from doorstep.feed.schemas import HomeUpdate
from doorstep.routing import GuardedRoute
from doorstep.web.forms import DayFilters, chosen, require_position, text, validated
from doorstep.web.render import Page, redirect

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


class _Filters(DayFilters):
    """The feed's filters: categories and days."""

    def __init__(self, request: Request) -> None:
        super().__init__(request)
        self.categories = [c for c in request.query_params.getlist("category") if c]

    def category_list(self) -> list[Category] | None:
        return chosen(Category, self.categories, "categories", "invalid_category")

    def choices(self) -> list[tuple[str, str]]:
        return [("category", c) for c in self.categories]


def _feed_page(page: Page, user: User, *, as_map: bool) -> Response:
    filters = _Filters(page.request)
    session = page.session
    home = homes.get_home(session=session, owner=user)
    template = "feed/map.html" if as_map else "feed/list.html"
    if home is None:
        return page.show(template, home=None, filters=filters, **post_labels())
    posts, older, features = [], None, []
    try:
        batch = timeline.feed(
            session=session,
            viewer=user,
            ask=timeline.PageAsk(
                categories=filters.category_list(), limit=100 if as_map else 30, **filters.window()
            ),
        )
    except DoorstepError as exc:
        page = page.refused(exc)
    else:
        posts = batch.posts
        if as_map:
            features = _areas_numbered(feed_display.map_features(posts))
        if batch.next_cursor:
            path = "/feed/map" if as_map else "/feed"
            older = f"{path}?{filters.query(cursor=batch.next_cursor)}"
    return page.show(
        template,
        home=homes.home_view(home),
        posts=posts,
        older=older,
        filters=filters,
        geojson={"type": "FeatureCollection", "features": features},
        notice=page.notice(NOTICES),
        **post_labels(),
    )


def _areas_numbered(features: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The map's features for the page: posts of one coarse area share a number instead of
    carrying the cell's H3 id, which the page's source would otherwise print."""
    numbers: dict[object, int] = {}
    for feature in features:
        properties = dict(feature["properties"])
        properties["area"] = numbers.setdefault(properties.pop("cell"), len(numbers) + 1)
        feature["properties"] = properties
    return features


@router.get("/feed", response_class=HTMLResponse)
def feed_list(page: ReadPage, user: PageUser) -> Response:
    return _feed_page(page, user, as_map=False)


@router.get("/feed/map", response_class=HTMLResponse)
def feed_map(page: ReadPage, user: PageUser) -> Response:
    return _feed_page(page, user, as_map=True)


@router.get("/feed/mine", response_class=HTMLResponse)
def my_posts(page: ReadPage, user: PageUser) -> Response:
    session = page.session
    posts = feed_display.post_views(
        session=session, viewer=user, posts=feed_service.own_posts(session=session, author=user)
    )
    return page.show("feed/mine.html", posts=posts, notice=page.notice(NOTICES), **post_labels())


@router.get("/feed/guidelines", response_class=HTMLResponse)
def guidelines(page: ThisPage) -> Response:
    return page.show("feed/guidelines.html", report_labels=REPORT_LABELS)


# ---------------------------------------------------------------- home


def _home_page(page: Page, values: dict[str, Any]) -> Response:
    return page.show(
        "feed/home.html",
        values=values,
        min_radius=areas.MIN_RADIUS_MI,
        max_radius=areas.MAX_RADIUS_MI,
        **post_labels(),
    )


@router.get("/feed/home", response_class=HTMLResponse)
def home_form(page: ThisPage, user: PageUser) -> Response:
    home = homes.get_home(session=page.session, owner=user)
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
    return _home_page(page, values)


def _parse_home(values: dict[str, Any]) -> HomeUpdate:
    require_position(values, "your home")
    return validated(HomeUpdate, values, _HOME_LABELS)


@router.post("/feed/home", response_class=HTMLResponse)
def save_home(page: ThisPage, user: PageUser, form: CheckedForm) -> Response:
    values = {
        "latitude": text(form.get("latitude")).strip(),
        "longitude": text(form.get("longitude")).strip(),
        "radius_mi": text(form.get("radius_mi")).strip() or areas.DEFAULT_RADIUS_MI,
        "alert_categories": [c for c in form.getlist("alert_categories") if isinstance(c, str)],
    }
    return page.act(
        lambda: homes.set_home(session=page.session, owner=user, **dict(_parse_home(values))),
        done=lambda _: redirect("/feed?notice=home_saved"),
        refused=page.refusal(_home_page, values),
    )
