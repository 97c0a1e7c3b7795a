"""Signed webhooks: one JSON POST per event.

What a receiver gets::

    POST <url>
    Content-Type: application/json
    X-Doorstep-Event: footage_request.activated
    X-Doorstep-Timestamp: 1795953600
    X-Doorstep-Signature: sha256=<hex HMAC-SHA256 of the raw body, keyed with the secret>
    X-Doorstep-Delivery: <id, the same on every retry of one delivery; when the sender set it>

    {"event": "footage_request.activated", "data": {...}, "sent_at": "2026-11-29T12:00:00+00:00"}

A receiver checks the signature over the raw bytes it read, before parsing them
(``verify_webhook_signature``). ``sent_at`` is inside the signed body (the
timestamp header repeats it in Unix seconds for convenience but is not
signed), so a receiver that refuses old ``sent_at`` values also refuses
replays. Deliveries are at least once: a receiver that must not act twice
dedupes on ``X-Doorstep-Delivery``.

Targets are checked by ``doorstep.notify.targets``: the address connected to is one the
policy allows (public, or on the operator's allowlist), resolved once and used as is, so a
name that resolves elsewhere between the check and the connection changes nothing. A
refused target fails the delivery for good.

The receiver answers 2xx to accept. 408, 429 and 5xx (and network trouble)
mean "try again later", not before its ``Retry-After`` when it sends one; any other
answer, a redirect included (they are not followed), gives the delivery up.

``WebhookChannel`` posts a user's alerts to each endpoint he registered.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import ipaddress
import json
import threading
import uuid
from collections import defaultdict
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

import httpcore
import httpx
import structlog
from sqlalchemy import select
from sqlalchemy.orm import Session

from doorstep.accounts.models import NotificationPreference
from doorstep.config import Settings
from doorstep.notify.channels import (
    DeliveryError,
    PermanentDeliveryError,
    absolute_url,
    deliver_in_lanes,
    no_lane_to_open,
    notification_of,
    notifications_of,
    parse_retry_after,
)
from doorstep.notify.handlers import BatchContext, JobContext
from doorstep.notify.models import Notification, Webhook
from doorstep.notify.outbox import ClaimedJob, PermanentJobError
from doorstep.notify.targets import (
    TargetPolicy,
    TargetRefused,
    TargetUnresolvable,
    check_url,
    resolve_target,
)

__all__ = [
    "SIGNATURE_PREFIX",
    "WEBHOOK_JOB",
    "WebhookChannel",
    "close_webhook_clients",
    "send_webhook",
    "sign_webhook_body",
    "verify_webhook_signature",
]

log = structlog.get_logger(__name__)

SIGNATURE_PREFIX = "sha256="
WEBHOOK_JOB = "notify.webhook"

_RETRYABLE_CLIENT_ERRORS = frozenset({408, 429})
# Enough of a refusing receiver's answer to explain itself in the job's error.
_ERROR_EXCERPT_BYTES = 300
# The most of an accepting answer read to keep its connection alive.
_DRAIN_BYTES = 64 * 1024


def sign_webhook_body(secret: str, body: bytes) -> str:
    """The ``X-Doorstep-Signature`` value for ``body``: ``sha256=`` and the hex HMAC-SHA256."""
    digest = hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()
    return SIGNATURE_PREFIX + digest


def verify_webhook_signature(secret: str, body: bytes, header: str) -> bool:
    """For receivers: whether ``header`` (the ``X-Doorstep-Signature`` value) signs ``body``.

    ``body`` must be the raw request bytes as received, not re-serialised JSON.
    The comparison takes constant time. Example (any framework)::

        body = request.body()
        if not verify_webhook_signature(SECRET, body, request.headers["X-Doorstep-Signature"]):
            return 401
        event = json.loads(body)
    """
    expected = sign_webhook_body(secret, body).encode("ascii")
    return hmac.compare_digest(expected, header.strip().encode("utf-8", errors="replace"))


def send_webhook(
    *,
    url: str,
    secret: str,
    event: str,
    payload: dict[str, Any],
    policy: TargetPolicy = TargetPolicy(),
    timeout_s: float = 10,
    delivery_id: str | None = None,
) -> None:
    """POST ``{"event", "data", "sent_at"}`` to ``url``, signed with ``secret``; return on 2xx.

    Raises ``PermanentDeliveryError`` for a URL that is not http(s), a target the
    ``policy`` refuses (scheme, or an address it resolves to: nothing is sent), a payload
    that is not JSON, a redirect or a 4xx other than 408/429; ``DeliveryError``
    (with the receiver's Retry-After, if any) for 408, 429, 5xx, timeouts, a host name
    that does not resolve and connection errors. ``timeout_s`` bounds each network step.
    ``delivery_id``, when given, is sent as ``X-Doorstep-Delivery`` so receivers can
    dedupe retries. The default policy is the strictest: https to public addresses.
    """
    try:
        check_url(url, policy)
    except TargetRefused as exc:
        _log_refusal(url, exc)
        raise PermanentDeliveryError(f"webhook URL refused: {exc.message}") from exc
    sent_at = datetime.now(UTC).replace(microsecond=0)
    try:
        body = json.dumps(
            {"event": event, "data": payload, "sent_at": sent_at.isoformat()},
            separators=(",", ":"),
        ).encode("utf-8")
    except (TypeError, ValueError) as exc:
        raise PermanentDeliveryError(f"webhook payload is not JSON-serialisable: {exc}") from exc
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "doorstep-webhook",
        "X-Doorstep-Event": event,
        "X-Doorstep-Timestamp": str(int(sent_at.timestamp())),
        "X-Doorstep-Signature": sign_webhook_body(secret, body),
    }
    if delivery_id is not None:
        headers["X-Doorstep-Delivery"] = delivery_id
    try:
        with _client(policy).stream(
            "POST", url, content=body, headers=headers, timeout=timeout_s
        ) as response:
            _raise_for_answer(response)
    except TargetUnresolvable as exc:  # DNS trouble may pass: try again later
        raise DeliveryError(f"webhook receiver unreachable: {exc.message}") from exc
    except TargetRefused as exc:
        _log_refusal(url, exc)
        raise PermanentDeliveryError(f"webhook target refused: {exc.message}") from exc
    except httpx.InvalidURL as exc:
        raise PermanentDeliveryError(f"invalid webhook URL: {exc}") from exc
    except httpx.HTTPError as exc:
        raise DeliveryError(f"webhook receiver unreachable: {exc!r}") from exc


def _log_refusal(url: str, exc: TargetRefused) -> None:
    log.warning("webhook.target_refused", url=url[:200], reason=exc.reason, error=exc.message)


class _CheckedBackend(httpcore.NetworkBackend):
    """Opens connections only to addresses the policy allows, and to no others.

    httpcore asks the backend for a TCP stream to (host, port) and then does TLS with
    the URL's host name (SNI and certificate check) and sends the URL's Host header;
    this backend resolves the host once, checks every address and connects to the
    checked address itself, so there is no second lookup for DNS rebinding to answer.
    """

    def __init__(self, policy: TargetPolicy) -> None:
        self._policy = policy
        self._inner = httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        addresses = resolve_target(host, port, self._policy)
        last: Exception | None = None
        for address in addresses:
            try:
                stream = self._inner.connect_tcp(
                    str(address),
                    port,
                    timeout=timeout,
                    local_address=local_address,
                    socket_options=socket_options,
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                last = exc  # the next address of the answer may be up
                continue
            peer = stream.get_extra_info("socket").getpeername()[0]
            if ipaddress.ip_address(str(peer).split("%", 1)[0]) != address:
                stream.close()
                raise TargetRefused(
                    f"connected to {peer} instead of the checked {address}", reason="address"
                )
            return stream
        assert last is not None  # resolve_target returns at least one address
        raise last

    def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        raise TargetRefused("webhooks are not delivered to Unix sockets", reason="address")

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


class _CheckedTransport(httpx.HTTPTransport):
    """httpx's transport over a connection pool that uses ``_CheckedBackend``."""

    def __init__(self, policy: TargetPolicy) -> None:
        super().__init__(trust_env=False)
        limits = httpx.Limits()  # httpx's defaults, as a plain client has
        # httpx has no argument for the network backend; its transport only calls
        # ``self._pool.handle_request``, so the pool is replaced with one that has it.
        self._pool = httpcore.ConnectionPool(
            ssl_context=httpx.create_ssl_context(),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=_CheckedBackend(policy),
        )


_shared: dict[TargetPolicy, httpx.Client] = {}
_shared_lock = threading.Lock()


def _client(policy: TargetPolicy) -> httpx.Client:
    """One client per process and policy, shared by every delivery (httpx clients are
    thread-safe); a process has one policy, tests may have a few.

    A client per call cost a fresh TLS context each time (about 10 ms of CPU, two thirds
    of a worker's time in the fan-out benchmark) and a new connection per delivery; the
    shared one builds its context once and keeps connections to a receiver alive. Its
    connections were checked when opened, and a pooled one serves only the same origin.
    No proxy from the environment is used: it would connect to the receiver unchecked.
    """
    with _shared_lock:
        client = _shared.get(policy)
        if client is None:
            client = httpx.Client(
                follow_redirects=False, trust_env=False, transport=_CheckedTransport(policy)
            )
            _shared[policy] = client
        return client


def close_webhook_clients() -> None:
    """Close the shared clients (their kept-alive connections); the next delivery makes new ones."""
    with _shared_lock:
        clients = list(_shared.values())
        _shared.clear()
    for client in clients:
        client.close()


def _raise_for_answer(response: httpx.Response) -> None:
    status = response.status_code
    if 200 <= status < 300:
        _drain(response)
        return
    text = f"webhook receiver answered {status}{_excerpt(response)}"
    if status in _RETRYABLE_CLIENT_ERRORS or status >= 500:
        retry_after_s = parse_retry_after(response.headers.get("Retry-After"))
        raise DeliveryError(text, retry_after_s=retry_after_s)
    if 300 <= status < 400:
        location = response.headers.get("Location", "?")
        raise PermanentDeliveryError(f"{text}; redirects are not followed, use {location}")
    raise PermanentDeliveryError(text)


def _drain(response: httpx.Response) -> None:
    """Read a short answer to its end, so its connection goes back to the pool for the next
    delivery (one left half-read is closed); a long one is dropped, connection and all."""
    read = 0
    try:
        for chunk in response.iter_raw():
            read += len(chunk)
            if read > _DRAIN_BYTES:
                return
    except httpx.HTTPError:
        pass  # accepted already: the answer's end does not matter


def _excerpt(response: httpx.Response) -> str:
    # Streamed, so a receiver answering with a huge error page costs one chunk, not all of it.
    collected = b""
    try:
        for chunk in response.iter_bytes():
            collected += chunk
            if len(collected) >= _ERROR_EXCERPT_BYTES:
                break
    except httpx.HTTPError:
        pass
    text = collected[:_ERROR_EXCERPT_BYTES].decode("utf-8", errors="replace").strip()
    return f": {text}" if text else ""


class WebhookChannel:
    """Alerts as signed JSON to every endpoint a user registered (registering one is his
    choice: there is no preference to turn it off)."""

    kind = WEBHOOK_JOB

    def addresses(
        self, *, session: Session, preferences: Mapping[uuid.UUID, NotificationPreference]
    ) -> dict[uuid.UUID, list[dict[str, str]]]:
        """One delivery per registered endpoint of each user."""
        found: dict[uuid.UUID, list[dict[str, str]]] = defaultdict(list)
        for hook_id, user_id in session.execute(
            select(Webhook.id, Webhook.user_id).where(Webhook.user_id.in_(list(preferences)))
        ):
            found[user_id].append({"webhook_id": str(hook_id)})
        return found

    def deliver(self, ctx: JobContext, payload: dict[str, Any]) -> None:
        note = notification_of(ctx.session, payload)
        hook = ctx.session.get(Webhook, uuid.UUID(payload["webhook_id"]))
        if hook is None:
            return  # removed since: nothing to deliver
        settings = ctx.services.settings
        _post_alert(settings, TargetPolicy.from_settings(settings), ctx.job_id, note, hook)

    def deliver_many(
        self, ctx: BatchContext, jobs: list[ClaimedJob]
    ) -> dict[int, Exception | None]:
        """Many webhook deliveries, read with one query, over the shared keep-alive client."""
        notes = notifications_of(ctx.session, jobs)
        hook_ids = {uuid.UUID(job.payload["webhook_id"]) for job in jobs}
        hooks = {
            h.id: h for h in ctx.session.scalars(select(Webhook).where(Webhook.id.in_(hook_ids)))
        }
        settings = ctx.services.settings
        policy = TargetPolicy.from_settings(settings)
        outcomes: dict[int, Exception | None] = {}
        posts: list[tuple[int, functools.partial[None]]] = []
        for job in jobs:
            note = notes.get(job.id)
            hook = hooks.get(uuid.UUID(job.payload["webhook_id"]))
            if note is None:
                outcomes[job.id] = PermanentJobError("notification no longer exists")
            elif hook is None:
                outcomes[job.id] = None  # removed since: nothing to deliver, as one by one
            else:
                posts.append((job.id, _alert_post(settings, policy, job.id, note, hook)))
        return outcomes | deliver_in_lanes(ctx, posts, lane=no_lane_to_open(_post))


def _post(post: functools.partial[None]) -> None:
    post()


def _post_alert(
    settings: Settings, policy: TargetPolicy, job_id: int, note: Notification, hook: Webhook
) -> None:
    """One alert to one endpoint; the job's id is the delivery id, the same on each retry."""
    _alert_post(settings, policy, job_id, note, hook)()


def _alert_post(
    settings: Settings, policy: TargetPolicy, job_id: int, note: Notification, hook: Webhook
) -> functools.partial[None]:
    """The post of one alert to one endpoint, read out of the rows now (it may be sent from
    another thread, which must not touch them)."""
    return functools.partial(
        send_webhook,
        url=hook.url,
        secret=hook.secret,
        policy=policy,
        delivery_id=str(job_id),
        event=note.topic,
        payload={
            "notification_id": str(note.id),
            "title": note.title,
            "body": note.body,
            "link": absolute_url(settings.base_url, note.link),
            "created_at": note.created_at.isoformat(),
        },
    )
