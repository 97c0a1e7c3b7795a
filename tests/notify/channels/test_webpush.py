"""VAPID keys on disk, and send_push against a local stand-in for a browser's push service.

The push service here is plain http on 127.0.0.1: pywebpush does not insist on
https, and py_vapid accepts an ``http://host:port`` audience.
"""

from __future__ import annotations

import json
import os
import socket
import stat
import threading
import time

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from py_vapid import Vapid02
from py_vapid.jwt import decode as decode_vapid_jwt
from tests.servers import b64url, b64url_decode

from doorstep.config import Settings
from doorstep.notify.channels import DeliveryError, PermanentDeliveryError
from doorstep.notify.channels.webpush import (
    MAX_PAYLOAD_BYTES,
    SubscriptionGoneError,
    VapidKeys,
    ensure_vapid_keys,
    send_push,
)

PAYLOAD = {"title": "Footage request near you", "url": "/requests/r_8f3k", "n": 1}


@pytest.fixture
def settings(tmp_path) -> Settings:
    return Settings(
        data_dir=tmp_path / "data",
        vapid_private_key_path=None,
        vapid_subject="mailto:admin@doorstep.test",
    )


@pytest.fixture
def keys(settings) -> VapidKeys:
    return ensure_vapid_keys(settings)


# Keys


def test_keys_are_generated_once_and_then_reused(settings):
    first = ensure_vapid_keys(settings)

    path = settings.data_dir / "vapid_private.pem"
    assert first.private_pem_path == path
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert ensure_vapid_keys(settings) == first
    assert [p.name for p in path.parent.iterdir()] == ["vapid_private.pem"]


def test_processes_starting_together_end_up_with_one_key(settings):
    results: list[VapidKeys] = []
    barrier = threading.Barrier(8)

    def start() -> None:
        barrier.wait()
        results.append(ensure_vapid_keys(settings))

    threads = [threading.Thread(target=start) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(results) == 8
    assert len({keys.public_key_b64url for keys in results}) == 1
    assert [p.name for p in settings.resolved_vapid_path().parent.iterdir()] == [
        "vapid_private.pem"
    ]


def test_public_key_is_the_uncompressed_point_of_the_stored_key(keys):
    point = b64url_decode(keys.public_key_b64url)
    stored = serialization.load_pem_private_key(keys.private_pem_path.read_bytes(), None)

    assert "=" not in keys.public_key_b64url
    assert len(point) == 65
    assert point[0] == 4
    assert (
        stored.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        == point
    )


def test_configured_key_path_is_used(tmp_path):
    path = tmp_path / "keys" / "instance.pem"
    keys = ensure_vapid_keys(Settings(data_dir=tmp_path / "data", vapid_private_key_path=path))

    assert keys.private_pem_path == path
    assert path.exists()
    assert not (tmp_path / "data").exists()


def test_a_key_that_is_not_p256_is_refused(settings):
    path = settings.resolved_vapid_path()
    path.parent.mkdir(parents=True)
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    path.write_bytes(
        rsa_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )

    with pytest.raises(ValueError, match="P-256"):
        ensure_vapid_keys(settings)


# Sending


def test_push_is_encrypted_for_the_subscriber_and_signed_with_vapid(
    settings, keys, push_service, subscriber
):
    send_push(
        settings,
        keys,
        endpoint=f"{push_service.url}/wpush/v2/abc123",
        p256dh=subscriber.p256dh,
        auth=subscriber.auth,
        payload=PAYLOAD,
        ttl_s=3600,
    )

    [request] = push_service.received
    headers = request.headers
    assert request.path == "/wpush/v2/abc123"
    assert headers["content-encoding"] == "aes128gcm"
    assert headers["ttl"] == "3600"
    assert subscriber.decrypt(request.body) == PAYLOAD

    scheme, _, params = headers["authorization"].partition(" ")
    assert scheme == "vapid"
    fields = dict(part.split("=", 1) for part in params.split(","))
    assert fields["k"] == keys.public_key_b64url
    assert Vapid02.verify(headers["authorization"])
    claims = decode_vapid_jwt(fields["t"], keys.public_key_b64url)
    assert claims["aud"] == push_service.url
    assert claims["sub"] == "mailto:admin@doorstep.test"
    assert time.time() < claims["exp"] <= time.time() + 24 * 3600


def test_vapid_token_does_not_verify_against_another_key(settings, keys, push_service, subscriber):
    send_push(
        settings,
        keys,
        endpoint=f"{push_service.url}/p",
        p256dh=subscriber.p256dh,
        auth=subscriber.auth,
        payload=PAYLOAD,
    )

    token = push_service.received[0].headers["authorization"].split("t=")[1].split(",")[0]
    other = ec.generate_private_key(ec.SECP256R1()).public_key()
    other_b64 = b64url(
        other.public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
    )
    with pytest.raises(InvalidSignature):
        decode_vapid_jwt(token, other_b64)


@pytest.mark.parametrize("status", [404, 410])
def test_gone_subscription_is_permanent(settings, keys, push_service, subscriber, status):
    push_service.status = status

    with pytest.raises(SubscriptionGoneError, match="subscription gone"):
        send_push(
            settings,
            keys,
            endpoint=f"{push_service.url}/p",
            p256dh=subscriber.p256dh,
            auth=subscriber.auth,
            payload=PAYLOAD,
        )


def test_server_error_is_retried(settings, keys, push_service, subscriber):
    push_service.status = 500

    with pytest.raises(DeliveryError, match="500"):
        send_push(
            settings,
            keys,
            endpoint=f"{push_service.url}/p",
            p256dh=subscriber.p256dh,
            auth=subscriber.auth,
            payload=PAYLOAD,
        )


def test_rate_limit_is_retried_with_the_services_delay(settings, keys, push_service, subscriber):
    push_service.status = 429
    push_service.reply_headers = {"Retry-After": "120"}

    with pytest.raises(DeliveryError) as raised:
        send_push(
            settings,
            keys,
            endpoint=f"{push_service.url}/p",
            p256dh=subscriber.p256dh,
            auth=subscriber.auth,
            payload=PAYLOAD,
        )
    assert raised.value.retry_after_s == 120


def test_unreachable_push_service_is_retried(settings, keys, subscriber):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed_port = sock.getsockname()[1]

    with pytest.raises(DeliveryError, match="unreachable"):
        send_push(
            settings,
            keys,
            endpoint=f"http://127.0.0.1:{closed_port}/p",
            p256dh=subscriber.p256dh,
            auth=subscriber.auth,
            payload=PAYLOAD,
            timeout_s=2,
        )


@pytest.mark.parametrize(
    ("p256dh", "auth"),
    [
        ("not-a-key", b64url(os.urandom(16))),
        (b64url(b"\x04" + os.urandom(64)), b64url(os.urandom(16))),  # not on the curve
        (None, b64url(os.urandom(8))),  # None: a valid key; the auth secret is too short
    ],
)
def test_malformed_subscription_is_permanent(settings, keys, subscriber, p256dh, auth):
    with pytest.raises(SubscriptionGoneError, match="malformed"):
        send_push(
            settings,
            keys,
            endpoint="https://push.example.test/p",
            p256dh=p256dh or subscriber.p256dh,
            auth=auth,
            payload=PAYLOAD,
        )


def test_payload_too_large_for_a_push_message_is_permanent(settings, keys, subscriber):
    with pytest.raises(PermanentDeliveryError, match="at most 3993") as raised:
        send_push(
            settings,
            keys,
            endpoint="https://push.example.test/p",
            p256dh=subscriber.p256dh,
            auth=subscriber.auth,
            payload={"text": "x" * MAX_PAYLOAD_BYTES},
        )
    # About the message, not the subscription: the caller must not delete the subscription.
    assert not isinstance(raised.value, SubscriptionGoneError)


def test_largest_payload_fits_in_4096_bytes(settings, keys, push_service, subscriber):
    envelope = len(json.dumps({"text": ""}, separators=(",", ":")))
    payload = {"text": "x" * (MAX_PAYLOAD_BYTES - envelope)}

    send_push(
        settings,
        keys,
        endpoint=f"{push_service.url}/p",
        p256dh=subscriber.p256dh,
        auth=subscriber.auth,
        payload=payload,
    )

    body = push_service.received[0].body
    assert len(body) == 4096
    assert subscriber.decrypt(body) == payload
