"""Delivery channels: email (SMTP), Web Push and signed webhooks.

A channel is one module under this package with a class that satisfies ``Channel``,
one line in ``registry.CHANNELS``, and, where users turn it on and off, a flag in their
notification preferences (``accounts``) that the channel's ``addresses`` reads. The
alert service fans out to every registered channel and the worker runs each channel's
jobs; neither names a channel.

A channel's delivery is synchronous; the worker calls it in a worker thread. Returning
means delivered. A raised exception tells the worker what to do next:

- ``DeliveryError``: transient (network down, server busy, 4xx SMTP answer,
  5xx HTTP answer); retry later with backoff, and not before the receiver's
  ``Retry-After`` when it gave one.
- ``PermanentDeliveryError``: retrying cannot help (push subscription gone,
  recipient address rejected, webhook answered a 4xx); give the job up.

Any other exception is a bug in the caller or here; the worker treats it as
transient, so it is retried and eventually given up after the usual number of
attempts.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager, contextmanager
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from doorstep.config import MAX_SEND_LANES
from doorstep.notify.handlers import BatchContext, BatchHandler, JobContext
from doorstep.notify.models import Notification
from doorstep.notify.outbox import ClaimedJob, PermanentJobError

if TYPE_CHECKING:
    from doorstep.accounts.models import NotificationPreference

__all__ = [
    "Channel",
    "DeliveryError",
    "PermanentDeliveryError",
    "absolute_url",
    "deliver_in_lanes",
    "no_lane_to_open",
    "notification_of",
    "notifications_of",
    "parse_retry_after",
]


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


class Channel(Protocol):
    """One way an alert leaves the instance besides the inbox."""

    @property
    def kind(self) -> str:
        """The outbox job kind of one delivery on this channel, as ``notify.email``."""
        ...

    def addresses(
        self, *, session: Session, preferences: Mapping[uuid.UUID, NotificationPreference]
    ) -> Mapping[uuid.UUID, list[dict[str, str]]]:
        """Where to reach each user of ``preferences`` on this channel: for each user it
        reaches, one payload part per delivery (``{}`` when the user himself is the address,
        the id of his subscription or endpoint otherwise); a user left out gets nothing.
        Reads with a fixed number of queries, however many users there are."""
        ...

    def deliver(self, ctx: JobContext, payload: dict[str, Any]) -> None:
        """Deliver one job (its payload holds ``notification_id`` and the address part), or
        raise: ``DeliveryError`` to retry, ``PermanentDeliveryError`` or
        ``PermanentJobError`` to give up."""
        ...

    @property
    def deliver_many(self) -> BatchHandler | None:
        """Deliver many jobs at once (bulk reads, one connection), each with its own
        outcome; or None when the channel has no batch, and its jobs run one by one."""
        ...


def notification_of(session: Session, payload: Mapping[str, Any]) -> Notification:
    """The notification a delivery job is for; ``PermanentJobError`` when it is gone (its
    user, and with him his notifications, were deleted meanwhile)."""
    note = session.get(Notification, uuid.UUID(payload["notification_id"]))
    if note is None:
        raise PermanentJobError("notification no longer exists")
    return note


def notifications_of(session: Session, jobs: list[ClaimedJob]) -> dict[int, Notification]:
    """Each job's notification, read in one query (jobs whose notification is gone are left
    out)."""
    wanted = {job.id: uuid.UUID(job.payload["notification_id"]) for job in jobs}
    found = {
        note.id: note
        for note in session.scalars(
            select(Notification).where(Notification.id.in_(set(wanted.values())))
        )
    }
    return {job_id: found[n] for job_id, n in wanted.items() if n in found}


def absolute_url(base_url: str, link: str | None) -> str:
    """``link`` (a path on this instance) as a full URL; the instance's own without one."""
    return f"{base_url.rstrip('/')}{link}" if link else base_url


Delivery = TypeVar("Delivery")
# A lane: opened once for its share of a batch (an SMTP session, or nothing to open), it
# gives the function that sends one delivery.
Lane = Callable[[], AbstractContextManager[Callable[[Delivery], None]]]


def deliver_in_lanes(
    ctx: BatchContext, deliveries: Sequence[tuple[int, Delivery]], *, lane: Lane[Delivery]
) -> dict[int, Exception | None]:
    """Send a batch's deliveries (job id, what to send), ``worker_send_lanes`` at a time.

    Each lane takes every n-th delivery and sends its share in order over one lane of
    its own (``lane()``): while one waits on its receiver, the others send. Each outcome
    is its job's (None when delivered, else the exception), and no lane starts a delivery
    once the batch is out of time: a job left out goes back to the queue untouched. The
    lanes touch no database session; what they send is read before.
    """
    lanes = min(ctx.services.settings.worker_send_lanes, len(deliveries))
    outcomes: dict[int, Exception | None] = {}
    lock = threading.Lock()

    def run(share: Sequence[tuple[int, Delivery]]) -> None:
        with lane() as send:
            for job_id, delivery in share:
                if ctx.out_of_time():
                    return
                outcome: Exception | None = None
                try:
                    send(delivery)
                except Exception as exc:  # recorded against this job; the others go on
                    outcome = exc
                with lock:
                    outcomes[job_id] = outcome

    if lanes <= 1:
        run(deliveries)
    else:
        # list() waits for every lane, and raises what a lane raised outside a send.
        list(_sending_threads().map(run, [deliveries[i::lanes] for i in range(lanes)]))
    return outcomes


_threads: ThreadPoolExecutor | None = None
_threads_lock = threading.Lock()


def _sending_threads() -> ThreadPoolExecutor:
    """The process's threads for lanes, started as lanes need them and kept (starting
    eight threads for each batch cost more than the batch's sends)."""
    global _threads
    with _threads_lock:
        if _threads is None:
            _threads = ThreadPoolExecutor(MAX_SEND_LANES, thread_name_prefix="doorstep-send")
        return _threads


def no_lane_to_open(send: Callable[[Delivery], None]) -> Lane[Delivery]:
    """A lane for deliveries that need nothing opened per lane (they share a client)."""

    @contextmanager
    def opened() -> Iterator[Callable[[Delivery], None]]:
        yield send

    return opened
