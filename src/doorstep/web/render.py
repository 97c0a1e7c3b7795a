"""Rendering pages: one Jinja environment, the layout's context, the pre-session CSRF
cookie of anonymous forms, a route's ``Page`` (showing it, running its form, showing it
again when the form is refused), and answering with a page from a dependency.

This module knows no domain: the visitor is anything with a ``user`` and a
``csrf_token`` (``accounts.deps.PageVisitor``), and what the layout of a signed-in page
shows besides the page (the unread alert count) comes from the providers that
``routes.py`` puts on the app as ``layout_context``.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol, TypeVar
from urllib.parse import unquote
from zoneinfo import ZoneInfo

import h3
from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates
from jinja2 import pass_context
from jinja2.runtime import Context
from sqlalchemy.orm import Session
from starlette.responses import Response

from doorstep import geo, timezones
from doorstep.errors import DoorstepError
from doorstep.web.forms import form_action, notice_for

TEMPLATE_DIR = Path(__file__).parent / "templates"
STATIC_DIR = Path(__file__).parent / "static"
PRE_SESSION_CSRF_COOKIE = "doorstep_csrf"

T = TypeVar("T")

templates = Jinja2Templates(directory=str(TEMPLATE_DIR))

# What the layout of a signed-in page shows besides the page, for (session, user).
LayoutContext = Callable[[Session, Any], Mapping[str, object]]
# Told, for (session, user, path, query), that a signed-in user opened a page: the alerts
# that link to it are answered (``routes.py`` puts it on the app as ``subject_opened``).
SubjectOpened = Callable[[Session, Any, str, str], None]


class Viewer(Protocol):
    """Who sees a page: the signed-in user (or None) and the CSRF token of his session."""

    @property
    def user(self) -> Any: ...

    @property
    def csrf_token(self) -> str: ...


@pass_context
def _when(context: Any, value: datetime | None, fmt: str = "%Y-%m-%d %H:%M UTC") -> str:
    """A stored (UTC) time in the page's zone; a "UTC" in ``fmt`` names that zone."""
    if not value:
        return ""
    return timezones.shown(value, context.get("time_zone") or UTC, fmt)


def _cell_boundary(cell: int) -> list[list[float]]:
    return [[lat, lng] for lat, lng in h3.cell_to_boundary(h3.int_to_str(cell))]


@pass_context
def _place(context: Context, cell: int | str, home: Any = None) -> str:
    """A coarse cell as people read it (``geo.describe_cell``), with the instance's named
    places, or from the viewer's own ``home`` (anything with a latitude and a longitude)
    when given: pages never print an H3 id."""
    settings = context["request"].app.state.runtime.settings
    position = (home.latitude, home.longitude) if home else None
    return geo.describe_cell(cell, settings.place_names, settings.place_reach_m, position)


templates.env.filters["when"] = _when
templates.env.filters["cell_boundary"] = _cell_boundary
templates.env.filters["place"] = _place


def viewer_zone(request: Request, visitor: Viewer) -> ZoneInfo:
    """The zone this visitor reads (and types) times in: ``timezones.viewer_zone``."""
    return timezones.viewer_zone(
        getattr(visitor.user, "time_zone", None),
        unquote(request.cookies.get(timezones.BROWSER_COOKIE) or ""),
        request.app.state.runtime.settings.time_zone,
    )


def render(
    request: Request,
    name: str,
    visitor: Viewer,
    *,
    status_code: int = 200,
    **context: Any,
) -> HTMLResponse:
    """Render a page with the layout's context; anonymous forms get a pre-session CSRF cookie."""
    settings = request.app.state.runtime.settings
    token, new_pre_session = csrf_token(request, visitor)
    response = templates.TemplateResponse(
        request,
        name,
        {
            "visitor": visitor,
            "user": visitor.user,
            "csrf_token": token,
            "instance_name": settings.instance_name,
            "tile_url": settings.tile_url,
            "tile_attribution": settings.tile_attribution,
            "time_zone": viewer_zone(request, visitor),
            **context,
        },
        status_code=status_code,
    )
    if new_pre_session:
        give_pre_session_token(response, token, secure=settings.cookie_secure)
    return response


def csrf_token(request: Request, visitor: Viewer) -> tuple[str, bool]:
    """The CSRF token of this request's forms, and whether it is a new pre-session token
    (which the response must set as a cookie): one per request, the same when asked again."""
    token = visitor.csrf_token or request.cookies.get(PRE_SESSION_CSRF_COOKIE) or ""
    if token:
        return token, False
    new: str | None = getattr(request.state, "pre_session_token", None)
    if new is None:
        new = request.state.pre_session_token = secrets.token_urlsafe(32)
    return new, True


def give_pre_session_token(response: Response, token: str, *, secure: bool) -> None:
    """Set an anonymous visitor's new pre-session CSRF token as his cookie."""
    response.set_cookie(
        PRE_SESSION_CSRF_COOKIE, token, httponly=True, samesite="strict", secure=secure, path="/"
    )


def show(
    request: Request,
    name: str,
    visitor: Viewer,
    session: Session,
    *,
    status_code: int = 200,
    **context: Any,
) -> HTMLResponse:
    """Render a page of a signed-in area: for a signed-in visitor the layout also shows
    what the app's ``layout_context`` providers give (the unread alert count), once the
    app's ``subject_opened`` was told this page was opened."""
    layout: dict[str, object] = {}
    if visitor.user is not None:
        opened: SubjectOpened | None = getattr(request.app.state, "subject_opened", None)
        if opened is not None:
            opened(session, visitor.user, request.url.path, request.url.query)
        providers: tuple[LayoutContext, ...] = getattr(request.app.state, "layout_context", ())
        for provide in providers:
            layout.update(provide(session, visitor.user))
    return render(request, name, visitor, status_code=status_code, **layout, **context)


@dataclass(frozen=True)
class Page:
    """One request for a page, with what answering it takes: the request, who sees the
    page, and the request's session; and, when a form was refused, the message and the
    status its page is shown again with (``refusal``, ``refused``). A route gets it
    from ``accounts.deps.ThisPage``."""

    request: Request
    visitor: Viewer
    session: Session
    error: str | None = None
    status_code: int = 200
    # The request's session on the primary, when ``session`` reads from a replica: what
    # the layout records (an alert answered by opening its page) is a write.
    layout_session: Session | None = None

    def show(self, name: str, **context: Any) -> HTMLResponse:
        """``show`` the page, with its ``error`` (None unless refused) and its status."""
        return show(
            self.request,
            name,
            self.visitor,
            self.layout_session or self.session,
            status_code=self.status_code,
            error=self.error,
            **context,
        )

    @property
    def time_zone(self) -> ZoneInfo:
        """The zone this page shows times in and reads typed times in."""
        return viewer_zone(self.request, self.visitor)

    def notice(self, notices: Mapping[str, str]) -> str | None:
        """The sentence for the ``notice`` a form's redirect put in the query (or None)."""
        return notice_for(self.request, notices)

    def act(
        self,
        act: Callable[[], T],
        *,
        done: Callable[[T], Response],
        refused: Callable[[DoorstepError], Response],
        passes: Collection[int] = (),
    ) -> Response:
        """``web.forms.form_action`` in this page's session."""
        return form_action(self.session, act, done=done, refused=refused, passes=passes)

    def with_error(self, error: str, status_code: int) -> Page:
        """This page again, saying ``error`` with ``status_code``."""
        return replace(self, error=error, status_code=status_code)

    def refused(self, exc: DoorstepError) -> Page:
        """This page again, saying why ``exc`` refused its form (or its query)."""
        return self.with_error(exc.message, exc.status_code)

    def with_status(self, status_code: int) -> Page:
        """This page again with ``status_code`` (its form says why in its own way)."""
        return replace(self, status_code=status_code)

    def refusal(
        self,
        page: Callable[..., Response],
        *args: Any,
        error_as: str = "error",
        **context: Any,
    ) -> Callable[[DoorstepError], Response]:
        """The ``refused`` of a form (see ``web.forms.form_action``): ``page(this page with
        the refusal's status, *args, **context)``, the refusal's message as the page's
        ``error`` or, for a page with several forms, as the keyword ``error_as`` names."""

        def refused(exc: DoorstepError) -> Response:
            if error_as == "error":
                return page(self.refused(exc), *args, **context)
            again = self.with_status(exc.status_code)
            return page(again, *args, **{error_as: exc.message}, **context)

        return refused


class PageAnswer(Exception):
    """Raised by a page dependency to answer with this page instead of running the route
    (e.g. the two-factor page for an agency member without it); the app returns it as is."""

    def __init__(self, response: Response) -> None:
        self.response = response


def redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def never_cached(response: Response) -> Response:
    """Mark a page that shows a secret once (a token, an invitation link, recovery codes):
    no browser or proxy cache keeps a copy of it."""
    response.headers["Cache-Control"] = "no-store"
    return response
