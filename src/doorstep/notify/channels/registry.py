"""Every delivery channel of the instance: one line each.

The alert service fans each alert out to these channels, in this order, and the job
registry runs their deliveries (``doorstep.jobs``).
"""

from __future__ import annotations

from doorstep.notify.channels import Channel
from doorstep.notify.channels.email import EmailChannel
from doorstep.notify.channels.webhook import WebhookChannel
from doorstep.notify.channels.webpush import PushChannel

__all__ = ["CHANNELS"]

CHANNELS: tuple[Channel, ...] = (
    EmailChannel(),
    PushChannel(),
    WebhookChannel(),
)
