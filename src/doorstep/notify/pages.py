"""HTML routes for alerts: the in-app inbox, alert preferences, and Web Push on this browser."""

from __future__ import annotations

import secrets

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, HTMLResponse, Response
from pydantic import BaseModel, ValidationError
from sqlalchemy.orm import Session

from doorstep.accounts import service as account_service
from doorstep.accounts.deps import CheckedForm, PageUser, Visitor
from doorstep.accounts.models import User
from doorstep.accounts.schemas import PushSubscriptionCreate
from doorstep.errors import Forbidden, InvalidInput, Unauthenticated
from doorstep.http import DbSession, SettingsDep
from doorstep.inputs import Line
from doorstep.media.kinds import EventKind
from doorstep.notify import service as notify_service
from doorstep.notify.channels.webpush import ensure_vapid_keys
from doorstep.routing import GuardedRoute
from doorstep.web.forms import checkbox, form_action, notice_for
from doorstep.web.render import STATIC_DIR, redirect, show

router = APIRouter(include_in_schema=False, route_class=GuardedRoute)

NOTICES = {
    "saved": "Alert settings saved.",
    "all_read": "All alerts marked read.",
}


def layout_context(session: Session, user: User) -> dict[str, object]:
    """What the layout of every signed-in page shows of alerts: the unread count."""
    return {"unread_alerts": notify_service.unread_count(session=session, user_id=user.id)}


@router.get("/notifications", response_class=HTMLResponse)
def inbox(request: Request, visitor: Visitor, user: PageUser, session: DbSession) -> Response:
    notes = notify_service.inbox(session=session, user_id=user.id, limit=100)
    return show(
        request,
        "notify/inbox.html",
        visitor,
        session,
        notes=notes,
        notice=notice_for(request, NOTICES),
    )


@router.post("/notifications/read")
def mark_all_read(user: PageUser, form: CheckedForm, session: DbSession) -> Response:
    notify_service.mark_read(session=session, user_id=user.id, notification_id=None)
    return redirect("/notifications?notice=all_read")


@router.get("/account/notifications", response_class=HTMLResponse)
def preferences(
    request: Request,
    visitor: Visitor,
    user: PageUser,
    session: DbSession,
    settings: SettingsDep,
) -> Response:
    prefs = account_service.get_preferences(session=session, user=user)
    return show(
        request,
        "notify/preferences.html",
        visitor,
        session,
        prefs=prefs,
        event_kinds=list(EventKind),
        vapid_public_key=ensure_vapid_keys(settings).public_key_b64url,
        notice=notice_for(request, NOTICES),
    )


@router.post("/account/notifications", response_class=HTMLResponse)
def update_preferences(
    request: Request,
    visitor: Visitor,
    user: PageUser,
    form: CheckedForm,
    session: DbSession,
    settings: SettingsDep,
) -> Response:
    return form_action(
        session,
        lambda: account_service.update_preferences(
            session=session,
            user=user,
            in_app=checkbox(form.get("in_app")),
            email=checkbox(form.get("email")),
            push=checkbox(form.get("push")),
            event_kinds=[str(k) for k in form.getlist("event_kinds")],
        ),
        done=lambda _: redirect("/account/notifications?notice=saved"),
        refused=lambda exc: show(
            request,
            "notify/preferences.html",
            visitor,
            session,
            status_code=exc.status_code,
            prefs=account_service.get_preferences(session=session, user=user),
            event_kinds=list(EventKind),
            vapid_public_key=ensure_vapid_keys(settings).public_key_b64url,
            error=exc.message,
        ),
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
