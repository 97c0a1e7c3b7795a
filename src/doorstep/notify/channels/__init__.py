"""Delivery channels: email (SMTP), Web Push and signed webhooks.

Each channel is a plain synchronous function that the outbox worker calls
from a job handler in a worker thread. Returning means delivered. A raised
exception tells the worker what to do next:

- ``DeliveryError``: transient (network down, server busy, 4xx SMTP answer,
  5xx HTTP answer); retry later with backoff.
- ``PermanentDeliveryError``: retrying cannot help (push subscription gone,
  recipient address rejected, webhook answered a 4xx); give the job up.

Any other exception is a bug in the caller or here; the worker treats it as
transient, so it is retried and eventually given up after the usual number of
attempts.
"""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

__all__ = ["DeliveryError", "PermanentDeliveryError", "parse_retry_after"]


class DeliveryError(Exception):
    """The message was not delivered this time; retrying later may succeed.

    ``retry_after_s`` carries the receiver's own hint (an HTTP ``Retry-After``
    header) when it gave one; the worker may wait at least that long.
    """

    def __init__(self, message: str, *, retry_after_s: float | None = None) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class PermanentDeliveryError(Exception):
    """The message can never be delivered as addressed; do not retry."""


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from an HTTP ``Retry-After`` header, or None when absent or unreadable.

    The header is either a number of seconds or an HTTP date (RFC 9110, 10.2.3);
    a date in the past gives 0.
    """
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    now = now or datetime.now(UTC)
    return max(0.0, (when - now).total_seconds())
