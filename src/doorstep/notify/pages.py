"""HTML routes for alerts: the in-app inbox, alert preferences, and Web Push on this browser."""

from __future__ import annotations

import secrets
from collections.abc import Mapping

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, HTMLResponse, Response
from pydantic import BaseModel, ValidationError
from sqlalchemy.orm import Session

from doorstep.accounts import service as account_service
from doorstep.accounts.deps import CheckedForm, PageUser, ThisPage, Visitor
from doorstep.accounts.models import User
from doorstep.accounts.schemas import PushSubscriptionCreate
from doorstep.errors import Forbidden, InvalidInput, Unauthenticated
from doorstep.http import DbSession, SettingsDep
from doorstep.inputs import Line
from doorstep.media.kinds import EventKind
from doorstep.notify import service as notify_service
from doorstep.notify.channels.webpush import ensure_vapid_keys
from doorstep.routing import GuardedRoute
from doorstep.web.forms import checkbox
from doorstep.web.render import STATIC_DIR, redirect

router = APIRouter(include_in_schema=False, route_class=GuardedRoute)

NOTICES = {
    "saved": "Alert settings saved.",
    "all_read": "All alerts marked read.",
}


def layout_context(session: Session, user: User) -> dict[str, object]:
    """What the layout of every signed-in page shows of alerts: the unread count."""
    return {"unread_alerts": notify_service.unread_count(session=session, user_id=user.id)}


def subject_opened(session: Session, user: User, path: str, query: str) -> None:
    """A signed-in page was opened: the alerts that link to it are read."""
    notify_service.mark_subject_read(session=session, user_id=user.id, path=path, query=query)


def alert_summaries(request: Request) -> Mapping[str, notify_service.Summarizer]:
    """The summarizers ``routes.py`` gave the app, by alert topic."""
    found: Mapping[str, notify_service.Summarizer] = getattr(
        request.app.state, "alert_summaries", {}
    )
    return found


@router.get("/notifications", response_class=HTMLResponse)
def inbox(page: ThisPage, user: PageUser) -> Response:
    notes = notify_service.inbox(session=page.session, user_id=user.id, limit=100)
    summaries = notify_service.summarize(
        session=page.session,
        notes=notes,
        summarizers=alert_summaries(page.request),
        zone=page.time_zone,
    )
    return page.show(
        "notify/inbox.html", notes=notes, summaries=summaries, notice=page.notice(NOTICES)
    )


@router.post("/notifications/read")
def mark_all_read(user: PageUser, form: CheckedForm, session: DbSession) -> Response:
    notify_service.mark_read(session=session, user_id=user.id, notification_id=None)
    return redirect("/notifications?notice=all_read")


@router.get("/account/notifications", response_class=HTMLResponse)
def preferences(page: ThisPage, user: PageUser, settings: SettingsDep) -> Response:
    return page.show(
        "notify/preferences.html",
        prefs=account_service.get_preferences(session=page.session, user=user),
        event_kinds=list(EventKind),
        vapid_public_key=ensure_vapid_keys(settings).public_key_b64url,
        notice=page.notice(NOTICES),
    )


@router.post("/account/notifications", response_class=HTMLResponse)
def update_preferences(
    page: ThisPage, user: PageUser, form: CheckedForm, settings: SettingsDep
) -> Response:
    return page.act(
        lambda: account_service.update_preferences(
            session=page.session,
            user=user,
            in_app=checkbox(form.get("in_app")),
            email=checkbox(form.get("email")),
            push=checkbox(form.get("push")),
            event_kinds=[str(k) for k in form.getlist("event_kinds")],
        ),
        done=lambda _: redirect("/account/notifications?notice=saved"),
        refused=page.refusal(preferences, user, settings),
    )


class _PushKeys(BaseModel):
    p256dh: Line
    auth: Line


class BrowserPushSubscription(BaseModel):
    """What ``PushSubscription.toJSON()`` gives in the browser."""

    endpoint: Line
    keys: _PushKeys


@router.post("/account/push-subscriptions", status_code=201)
def add_push_subscription(
    body: BrowserPushSubscription, request: Request, visitor: Visitor, session: DbSession
) -> dict[str, str]:
    """Subscribe this browser, by script, with the page's CSRF token in ``X-CSRF-Token``."""
    if visitor.user is None:
        raise Unauthenticated("Sign in first.", code="sign_in_required")
    sent = request.headers.get("x-csrf-token", "")
    if not sent or not secrets.compare_digest(sent, visitor.csrf_token):
        raise Forbidden("This request did not come from this site.", code="csrf_failed")
    try:
        checked = PushSubscriptionCreate(
            endpoint=body.endpoint, p256dh=body.keys.p256dh, auth=body.keys.auth
        )
    except ValidationError as exc:
        raise InvalidInput(
            "This is not a Web Push subscription.", code="invalid_subscription"
        ) from exc
    sub = account_service.add_push_subscription(
        session=session,
        user=visitor.user,
        endpoint=checked.endpoint,
        p256dh=checked.p256dh,
        auth=checked.auth,
    )
    return {"id": str(sub.id)}


@router.get("/sw.js")
def service_worker() -> Response:
    """The push service worker, served from the root so its scope can be the whole site."""
    return FileResponse(
        STATIC_DIR / "sw.js",
        media_type="application/javascript",
        headers={"Service-Worker-Allowed": "/", "Cache-Control": "no-cache"},
    )
