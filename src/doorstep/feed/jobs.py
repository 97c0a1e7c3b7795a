"""Outbox handlers of the feed: a published post's area alerts, and a resident's digest."""

from __future__ import annotations

import uuid
from typing import Any

from doorstep.feed import alerts
from doorstep.notify.handlers import JobContext


def fan_out_post(ctx: JobContext, payload: dict[str, Any]) -> None:
    alerts.fan_out(session=ctx.session, post_id=uuid.UUID(payload["post_id"]))


def send_digest(ctx: JobContext, payload: dict[str, Any]) -> None:
    alerts.send_digest(session=ctx.session, user_id=uuid.UUID(payload["user_id"]))
