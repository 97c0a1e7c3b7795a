"""Rendering pages: one Jinja environment, the layout's context (with the unread alert
count of a signed-in area), CSRF for forms, and answering with a page from a dependency."""

from __future__ import annotations

import secrets
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import h3
from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates
from sqlalchemy.orm import Session
from starlette.datastructures import FormData
from starlette.responses import Response

from doorstep.accounts.deps import PageVisitor, Visitor
from doorstep.errors import Forbidden
from doorstep.notify import service as notify_service

TEMPLATE_DIR = Path(__file__).parent / "templates"
STATIC_DIR = Path(__file__).parent / "static"
PRE_SESSION_CSRF_COOKIE = "doorstep_csrf"

templates = Jinja2Templates(directory=str(TEMPLATE_DIR))


def _when(value: datetime | None, fmt: str = "%Y-%m-%d %H:%M UTC") -> str:
    return value.strftime(fmt) if value else ""


def _cell_boundary(cell: int) -> list[list[float]]:
    return [[lat, lng] for lat, lng in h3.cell_to_boundary(h3.int_to_str(cell))]


templates.env.filters["when"] = _when
templates.env.filters["cell_boundary"] = _cell_boundary


def render(
    request: Request,
    name: str,
    visitor: PageVisitor,
    *,
    status_code: int = 200,
    **context: Any,
) -> HTMLResponse:
    """Render a page with the layout's context; anonymous forms get a pre-session CSRF cookie."""
    settings = request.app.state.runtime.settings
    token = visitor.csrf_token or request.cookies.get(PRE_SESSION_CSRF_COOKIE) or ""
    new_pre_session = False
    if not token:
        token, new_pre_session = secrets.token_urlsafe(32), True
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
            **context,
        },
        status_code=status_code,
    )
    if new_pre_session:
        response.set_cookie(
            PRE_SESSION_CSRF_COOKIE,
            token,
            httponly=True,
            samesite="strict",
            secure=settings.cookie_secure,
            path="/",
        )
    return response


def show(
    request: Request,
    name: str,
    visitor: PageVisitor,
    session: Session,
    *,
    status_code: int = 200,
    **context: Any,
) -> HTMLResponse:
    """Render a page of a signed-in area: the layout also shows the unread alert count."""
    unread = 0
    if visitor.user is not None:
        unread = notify_service.unread_count(session=session, user_id=visitor.user.id)
    return render(request, name, visitor, status_code=status_code, unread_alerts=unread, **context)


class PageAnswer(Exception):
    """Raised by a page dependency to answer with this page instead of running the route
    (e.g. the two-factor page for an agency member without it); the app returns it as is."""

    def __init__(self, response: Response) -> None:
        self.response = response


def redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


async def checked_form(request: Request, visitor: Visitor) -> FormData:
    """The POSTed form, after its CSRF token matched the session's (or pre-session cookie)."""
    form = await request.form()
    sent = str(form.get("csrf_token") or "")
    expected = visitor.csrf_token or request.cookies.get(PRE_SESSION_CSRF_COOKIE) or ""
    if not expected or not sent or not secrets.compare_digest(sent, expected):
        raise Forbidden(
            "This form expired or did not come from this site. Reload the page and try again.",
            code="csrf_failed",
        )
    return form


CheckedForm = Annotated[FormData, Depends(checked_form)]
