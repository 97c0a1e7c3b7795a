"""Outbox handlers of the feed: a published post's area alerts, and a resident's digest."""

from __future__ import annotations

import uuid
from typing import Any

from doorstep.feed import alerts
from doorstep.feed import service as feed_service
from doorstep.notify import outbox


@outbox.handler(feed_service.POST_PUBLISHED_JOB)
def fan_out_post(ctx: outbox.JobContext, payload: dict[str, Any]) -> None:
    alerts.fan_out(session=ctx.session, post_id=uuid.UUID(payload["post_id"]))


@outbox.handler(alerts.DIGEST_JOB)
def send_digest(ctx: outbox.JobContext, payload: dict[str, Any]) -> None:
    alerts.send_digest(session=ctx.session, user_id=uuid.UUID(payload["user_id"]))
