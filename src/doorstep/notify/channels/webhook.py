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

The receiver answers 2xx to accept. 408, 429 and 5xx (and network trouble)
mean "try again later"; any other answer, a redirect included (they are not
followed), gives the delivery up.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import httpx

from doorstep.notify.channels import DeliveryError, PermanentDeliveryError, parse_retry_after

__all__ = ["SIGNATURE_PREFIX", "send_webhook", "sign_webhook_body", "verify_webhook_signature"]

SIGNATURE_PREFIX = "sha256="

_RETRYABLE_CLIENT_ERRORS = frozenset({408, 429})
# Enough of a refusing receiver's answer to explain itself in the job's error.
_ERROR_EXCERPT_BYTES = 300


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
    timeout_s: float = 10,
    delivery_id: str | None = None,
) -> None:
    """POST ``{"event", "data", "sent_at"}`` to ``url``, signed with ``secret``; return on 2xx.

    Raises ``PermanentDeliveryError`` for a URL that is not http(s), a payload
    that is not JSON, a redirect or a 4xx other than 408/429; ``DeliveryError``
    (with the receiver's Retry-After, if any) for 408, 429, 5xx, timeouts and
    connection errors. ``timeout_s`` bounds each network step. ``delivery_id``,
    when given, is sent as ``X-Doorstep-Delivery`` so receivers can dedupe retries.
    """
    _check_url(url)
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
        with _client().stream(
            "POST", url, content=body, headers=headers, timeout=timeout_s
        ) as response:
            _raise_for_answer(response)
    except httpx.InvalidURL as exc:
        raise PermanentDeliveryError(f"invalid webhook URL: {exc}") from exc
    except httpx.HTTPError as exc:
        raise DeliveryError(f"webhook receiver unreachable: {exc!r}") from exc


_shared: httpx.Client | None = None
_shared_lock = threading.Lock()


def _client() -> httpx.Client:
    """One client per process, shared by every delivery (httpx clients are thread-safe).

    A client per call cost a fresh TLS context each time (about 10 ms of CPU, two thirds
    of a worker's time in the fan-out benchmark) and a new connection per delivery; the
    shared one builds its context once and keeps connections to a receiver alive.
    """
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = httpx.Client(follow_redirects=False)
        return _shared


def _check_url(url: str) -> None:
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise PermanentDeliveryError(f"webhook URL must be http(s) with a host: {url[:80]!r}")


def _raise_for_answer(response: httpx.Response) -> None:
    status = response.status_code
    if 200 <= status < 300:
        return
    text = f"webhook receiver answered {status}{_excerpt(response)}"
    if status in _RETRYABLE_CLIENT_ERRORS or status >= 500:
        retry_after_s = parse_retry_after(response.headers.get("Retry-After"))
        raise DeliveryError(text, retry_after_s=retry_after_s)
    if 300 <= status < 400:
        location = response.headers.get("Location", "?")
        raise PermanentDeliveryError(f"{text}; redirects are not followed, use {location}")
    raise PermanentDeliveryError(text)


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
