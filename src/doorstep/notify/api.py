"""JSON routes for the in-app inbox and the user's webhooks."""

from __future__ import annotations

import uuid
from datetime import datetime

from fastapi import APIRouter, Request, Response, status
from pydantic import BaseModel, ConfigDict, Field

from doorstep import timezones
from doorstep.accounts.deps import CurrentUser
from doorstep.http import DbSession, SettingsDep
from doorstep.inputs import Line
from doorstep.notify import service as notify_service
from doorstep.notify.pages import alert_summaries
from doorstep.routing import GuardedRoute

router = APIRouter(prefix="/api/v1", tags=["notifications"], route_class=GuardedRoute)


class NotificationRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: uuid.UUID
    topic: str
    title: str
    body: str
    link: str | None
    created_at: datetime
    read_at: datetime | None
    summary: str | None = Field(
        default=None, description="A short line that stands for the body in a list, if any."
    )


class MarkedRead(BaseModel):
    marked: int = Field(description="How many unread alerts were marked read.")


class WebhookCreate(BaseModel):
    url: Line = Field(min_length=8, max_length=1000)


class WebhookRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: uuid.UUID
    url: str
    created_at: datetime


class WebhookIssued(WebhookRead):
    secret: str = Field(description="Signs each delivery (X-Doorstep-Signature); shown once.")


@router.get("/notifications", response_model=list[NotificationRead])
def list_notifications(
    request: Request,
    user: CurrentUser,
    session: DbSession,
    settings: SettingsDep,
    unread: bool = False,
) -> list[NotificationRead]:
    notes = notify_service.inbox(session=session, user_id=user.id, unread_only=unread)
    summaries = notify_service.summarize(
        session=session,
        notes=notes,
        summarizers=alert_summaries(request),
        zone=timezones.viewer_zone(
            user.time_zone, None, request.app.state.runtime.settings.time_zone
        ),
    )
    return [
        NotificationRead.model_validate(n).model_copy(update={"summary": summaries.get(n.id)})
        for n in notes
    ]


@router.post("/notifications/read", response_model=MarkedRead)
def mark_all_read(user: CurrentUser, session: DbSession) -> MarkedRead:
    """Mark every unread alert of the caller read."""
    marked = notify_service.mark_read(session=session, user_id=user.id, notification_id=None)
    return MarkedRead(marked=marked)


@router.post("/notifications/{notification_id}/read", status_code=status.HTTP_204_NO_CONTENT)
def mark_read(notification_id: uuid.UUID, user: CurrentUser, session: DbSession) -> Response:
    notify_service.mark_read(session=session, user_id=user.id, notification_id=notification_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/webhooks", response_model=WebhookIssued, status_code=status.HTTP_201_CREATED)
def add_webhook(
    body: WebhookCreate, user: CurrentUser, session: DbSession, settings: SettingsDep
) -> WebhookIssued:
    hook = notify_service.add_webhook(
        session=session, settings=settings, user_id=user.id, url=body.url
    )
    return WebhookIssued(id=hook.id, url=hook.url, created_at=hook.created_at, secret=hook.secret)


@router.delete("/webhooks/{webhook_id}", status_code=status.HTTP_204_NO_CONTENT)
def remove_webhook(webhook_id: uuid.UUID, user: CurrentUser, session: DbSession) -> Response:
    notify_service.remove_webhook(session=session, user_id=user.id, webhook_id=webhook_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
