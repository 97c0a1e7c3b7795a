"""The start page, the layout's shared page helpers, and mounting every page router."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError
from sqlalchemy.orm import Session

from doorstep.accounts.deps import PageVisitor, Visitor
from doorstep.errors import InvalidInput
from doorstep.notify import service as notify_service
from doorstep.routing import GuardedRoute
from doorstep.web.render import redirect, render

router = APIRouter(include_in_schema=False, route_class=GuardedRoute)


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


def validation_message(exc: ValidationError, labels: dict[str, str]) -> str:
    """One readable sentence for the first problem of a form, in the form's own words."""
    first = exc.errors()[0]
    field = str(first["loc"][0]) if first.get("loc") else ""
    label = labels.get(field, field or "This form")
    problem = str(first.get("msg", "is not valid"))
    problem = problem.removeprefix("Value error, ")
    return f"{label}: {problem[:1].lower()}{problem[1:]}."


def checkbox(value: object) -> bool:
    """An HTML checkbox is sent only when ticked."""
    return value is not None and str(value) not in ("", "0", "off", "false")


def day_bounds(date_from: str, date_to: str) -> tuple[datetime | None, datetime | None]:
    """A filter's From/To days (YYYY-MM-DD, UTC) as [since, until): To includes that day."""

    def day(value: str, label: str) -> date | None:
        if not value:
            return None
        try:
            return date.fromisoformat(value)
        except ValueError as exc:
            raise InvalidInput(f"{label} is not a date (YYYY-MM-DD).", code="invalid_date") from exc

    first, last = day(date_from, "From"), day(date_to, "To")
    since = datetime.combine(first, time.min, UTC) if first else None
    if last == date.max:  # the day after it, where the filter would end, does not exist
        raise InvalidInput(
            "To is the last date there is; leave it empty to include every later day.",
            code="invalid_date",
        )
    until = datetime.combine(last + timedelta(days=1), time.min, UTC) if last else None
    return since, until


def text(value: object) -> str:
    return value if isinstance(value, str) else ""


@router.get("/", response_class=HTMLResponse)
def home(request: Request, visitor: Visitor) -> Response:
    if visitor.user is not None:
        return redirect("/timeline")
    return render(request, "home.html", visitor)


def include(app: FastAPI) -> None:
    """Mount every domain's page router (HTML); the JSON API is mounted elsewhere."""
    from doorstep.accounts import pages as account_pages
    from doorstep.agencies import pages as agency_pages
    from doorstep.cameras import pages as camera_pages
    from doorstep.feed import pages as feed_pages
    from doorstep.footage import agency_pages as footage_agency_pages
    from doorstep.footage import moderation_pages as footage_moderation_pages
    from doorstep.footage import owner_pages as footage_owner_pages
    from doorstep.notify import pages as notify_pages
    from doorstep.transparency import pages as transparency_pages

    app.include_router(router)
    app.include_router(account_pages.router)
    app.include_router(camera_pages.router)
    app.include_router(agency_pages.router)
    app.include_router(feed_pages.router)
    app.include_router(footage_agency_pages.router)
    app.include_router(footage_owner_pages.router)
    app.include_router(footage_moderation_pages.router)
    app.include_router(transparency_pages.router)
    app.include_router(notify_pages.router)
