"""Web Push (RFC 8030) with VAPID (RFC 8292) and aes128gcm payload encryption (RFC 8291).

The instance has one VAPID key pair, kept as a PEM file (``vapid_private.pem``
under ``data_dir`` unless set). Its public half is the application server key
browsers need in ``pushManager.subscribe({applicationServerKey})``; changing
the key invalidates every existing subscription, so it is generated once and
then only read.

``PushChannel`` sends alerts to the browsers a user subscribed. It reads the
subscriptions from the accounts table: a whole fan-out's in one query (a read model, for
speed), and one delivery's by its id (``accounts.service`` has no lookup by id yet).
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import secrets
import uuid
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from py_vapid import Vapid02, VapidException
from pywebpush import WebPushException, webpush
from sqlalchemy import select
from sqlalchemy.orm import Session

from doorstep.accounts import service as account_service
from doorstep.accounts.models import NotificationPreference, PushSubscription
from doorstep.config import Settings
from doorstep.notify.channels import (
    DeliveryError,
    PermanentDeliveryError,
    notification_of,
    parse_retry_after,
)
from doorstep.notify.handlers import JobContext

__all__ = [
    "MAX_PAYLOAD_BYTES",
    "PUSH_JOB",
    "PushChannel",
    "SubscriptionGoneError",
    "VapidKeys",
    "ensure_vapid_keys",
    "send_push",
]

PUSH_JOB = "notify.push"

# RFC 8291 section 4: push services must accept 4096 octets of encrypted body,
# which leaves 3993 octets of plaintext after the aes128gcm header, tag and padding.
MAX_PAYLOAD_BYTES = 3993

# Answers that say this subscription will never take a message again.
_SUBSCRIPTION_GONE = frozenset({404, 410})


class SubscriptionGoneError(PermanentDeliveryError):
    """This subscription will never take a message again (expired, unsubscribed, or
    malformed): the caller should delete it. Other permanent failures (a payload too
    large) are about the message, not the subscription, and raise the base class."""


@dataclass(frozen=True)
class VapidKeys:
    """The instance's VAPID key pair: where the private key lives, and the public key
    as browsers want it (uncompressed P-256 point, base64url without padding)."""

    private_pem_path: Path
    public_key_b64url: str


def ensure_vapid_keys(settings: Settings) -> VapidKeys:
    """Load the VAPID key at ``settings.resolved_vapid_path()``, creating it on first start.

    A new key is an EC P-256 key in PKCS#8 PEM, written with mode 0600 (parent
    directories created). Creation is atomic and never replaces an existing
    file, so two processes starting together end up with the same key.
    Raises ``ValueError`` when the file exists but is not a P-256 private key.
    """
    path = settings.resolved_vapid_path()
    if not path.exists():
        _create_key_file(path)
    key = _load_private_key(path)
    return VapidKeys(private_pem_path=path, public_key_b64url=_public_key_b64url(key))


def send_push(
    settings: Settings,
    keys: VapidKeys,
    *,
    endpoint: str,
    p256dh: str,
    auth: str,
    payload: dict[str, Any],
    ttl_s: int = 3600,
    timeout_s: float = 10.0,
) -> None:
    """Encrypt ``payload`` (as JSON) for one subscription and hand it to its push service.

    ``endpoint``, ``p256dh`` and ``auth`` are the fields of the browser's
    ``PushSubscription.toJSON()``. The push service keeps the message up to
    ``ttl_s`` seconds while the device is offline. Returns when the push
    service accepted the message (2xx).

    Raises ``SubscriptionGoneError`` (a ``PermanentDeliveryError``) when the
    subscription is gone (404/410) or malformed, ``PermanentDeliveryError`` when
    the payload is not JSON or too large (over ``MAX_PAYLOAD_BYTES``, or 413),
    and ``DeliveryError`` for anything else (network, 429 with its Retry-After, 5xx).
    """
    _check_subscription(endpoint=endpoint, p256dh=p256dh, auth=auth)
    data = _encode_payload(payload)
    vapid = Vapid02(private_key=_load_private_key(keys.private_pem_path))
    try:
        webpush(
            subscription_info={"endpoint": endpoint, "keys": {"p256dh": p256dh, "auth": auth}},
            data=data,
            vapid_private_key=vapid,
            # A fresh dict each call: webpush() writes "aud" and "exp" into it.
            vapid_claims={"sub": settings.vapid_subject},
            content_encoding="aes128gcm",
            ttl=ttl_s,
            # webpush() passes timeout=None on to requests, which then waits forever.
            timeout=timeout_s,
        )
    except WebPushException as exc:
        status = exc.status_code
        if status is None:
            raise DeliveryError(f"push failed: {exc.message}") from exc
        text = f"push service answered {status} for {_endpoint_origin(endpoint)}"
        if status in _SUBSCRIPTION_GONE:
            raise SubscriptionGoneError(f"subscription gone: {text}") from exc
        if status == 413:
            raise PermanentDeliveryError(f"payload too large: {text}") from exc
        raise DeliveryError(text, retry_after_s=parse_retry_after(exc.retry_after)) from exc
    except VapidException as exc:
        # vapid_subject must be a mailto: or https: URL; an admin can fix it, so retry.
        raise DeliveryError(f"cannot sign VAPID claims: {exc}") from exc
    except OSError as exc:
        # requests' exceptions (connection refused, timeouts, TLS) subclass OSError.
        raise DeliveryError(f"push service unreachable: {exc!r}") from exc


class PushChannel:
    """Alerts by Web Push to every browser a user subscribed, for users whose ``push``
    preference is on."""

    kind = PUSH_JOB
    # Each subscription has its own push service and its own key: nothing for a batch to share.
    deliver_many = None

    def addresses(
        self, *, session: Session, preferences: Mapping[uuid.UUID, NotificationPreference]
    ) -> dict[uuid.UUID, list[dict[str, str]]]:
        """One delivery per subscribed browser of each user who wants push."""
        wanting = [user_id for user_id, pref in preferences.items() if pref.push]
        found: dict[uuid.UUID, list[dict[str, str]]] = defaultdict(list)
        if wanting:
            for subscription_id, user_id in session.execute(
                select(PushSubscription.id, PushSubscription.user_id).where(
                    PushSubscription.user_id.in_(wanting)
                )
            ):
                found[user_id].append({"subscription_id": str(subscription_id)})
        return found

    def deliver(self, ctx: JobContext, payload: dict[str, Any]) -> None:
        """Push to one browser; a subscription the browser dropped is forgotten, and the
        job is finished."""
        settings = ctx.services.settings
        note = notification_of(ctx.session, payload)
        sub = ctx.session.get(PushSubscription, uuid.UUID(payload["subscription_id"]))
        if sub is None:
            return  # unsubscribed since: nothing to deliver
        try:
            send_push(
                settings,
                ensure_vapid_keys(settings),
                endpoint=sub.endpoint,
                p256dh=sub.p256dh,
                auth=sub.auth,
                payload={"title": note.title, "body": note.body[:1000], "url": note.link or "/"},
            )
        except SubscriptionGoneError:
            account_service.remove_push_subscription(session=ctx.session, endpoint=sub.endpoint)


def _create_key_file(path: Path) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    # Write a private temporary file, then hard-link it into place: the link fails
    # if another process got there first, and a reader never sees a half-written key.
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "wb") as file:
            file.write(pem)
            file.flush()
            os.fsync(file.fileno())
        try:
            os.link(temporary, path)
        except FileExistsError:
            return  # another process created the key first; the finally removes ours
        except OSError:
            # No hard links on this file system: a rename still never shows a partial key.
            os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def _load_private_key(path: Path) -> ec.EllipticCurvePrivateKey:
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except ValueError as exc:
        raise ValueError(f"{path} is not a readable unencrypted PEM private key") from exc
    if not isinstance(key, ec.EllipticCurvePrivateKey) or not isinstance(key.curve, ec.SECP256R1):
        raise ValueError(f"{path} must hold an EC P-256 (prime256v1) key for VAPID")
    return key


def _public_key_b64url(key: ec.EllipticCurvePrivateKey) -> str:
    point = key.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    return _b64url(point)


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64url_decode(text: str) -> bytes:
    # Browsers send unpadded base64url; some libraries send standard base64.
    cleaned = text.strip().replace("+", "-").replace("/", "_").rstrip("=")
    return base64.urlsafe_b64decode(cleaned + "=" * (-len(cleaned) % 4))


def _check_subscription(*, endpoint: str, p256dh: str, auth: str) -> None:
    """A stored subscription that cannot work now never will: say so before sending."""
    if not endpoint.startswith(("https://", "http://")):
        raise SubscriptionGoneError(f"push endpoint is not an http(s) URL: {endpoint[:60]!r}")
    try:
        receiver = _b64url_decode(p256dh)
        ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), receiver)
        if len(receiver) != 65:
            raise ValueError("not an uncompressed point")
        if len(_b64url_decode(auth)) != 16:
            raise ValueError("auth secret must be 16 bytes")
    except (ValueError, binascii.Error) as exc:
        raise SubscriptionGoneError(f"malformed push subscription keys: {exc}") from exc


def _encode_payload(payload: dict[str, Any]) -> str:
    try:
        data = json.dumps(payload, separators=(",", ":"), ensure_ascii=False)
    except (TypeError, ValueError) as exc:
        raise PermanentDeliveryError(f"push payload is not JSON-serialisable: {exc}") from exc
    size = len(data.encode("utf-8"))
    if size > MAX_PAYLOAD_BYTES:
        raise PermanentDeliveryError(
            f"push payload is {size} bytes; at most {MAX_PAYLOAD_BYTES} fit in a push message"
        )
    return data


def _endpoint_origin(endpoint: str) -> str:
    # The endpoint path is a bearer capability for that subscription: keep it out of errors.
    scheme, _, rest = endpoint.partition("://")
    return f"{scheme}://{rest.split('/', 1)[0]}"
