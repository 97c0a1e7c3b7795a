"""send_webhook against a local HTTP receiver, and the receiver-side signature check."""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import re
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from doorstep.notify.channels import DeliveryError, PermanentDeliveryError
from doorstep.notify.channels.webhook import (
    send_webhook,
    sign_webhook_body,
    verify_webhook_signature,
)
from doorstep.notify.targets import TargetPolicy

SECRET = "whsec_0123456789abcdef"
# The receivers here listen on 127.0.0.1 over plain http, which an operator must allow.
LOCAL_RECEIVERS = TargetPolicy(allow_http=True, networks=(ipaddress.ip_network("127.0.0.1/32"),))
PAYLOAD = {"request_id": "r_8f3k", "asked": 12, "note": "café ☕"}


@dataclass
class Recorded:
    path: str
    headers: dict[str, str]  # names in lower case
    body: bytes


@dataclass
class LocalHTTPReceiver:
    """An HTTP server on 127.0.0.1 that records POSTs and answers as told."""

    url: str
    status: int = 204
    reply_headers: dict[str, str] = field(default_factory=dict)
    reply_body: bytes = b""
    delay_s: float = 0.0
    received: list[Recorded] = field(default_factory=list)


@pytest.fixture
def receiver() -> Iterator[LocalHTTPReceiver]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    server.daemon_threads = True  # a handler still sleeping must not hold up teardown
    state = LocalHTTPReceiver(url=f"http://127.0.0.1:{server.server_address[1]}")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            headers = {name.lower(): value for name, value in self.headers.items()}
            state.received.append(Recorded(self.path, headers, body))
            if state.delay_s:
                time.sleep(state.delay_s)
            try:
                self.send_response(state.status)
                for name, value in state.reply_headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(state.reply_body)))
                self.end_headers()
                self.wfile.write(state.reply_body)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the sender gave up waiting (the timeout test)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server.RequestHandlerClass = Handler
    # A short poll keeps shutdown() (which waits for one poll) from costing 0.5 s a test.
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()


def deliver(url: str, **overrides: Any) -> None:
    arguments: dict[str, Any] = {
        "url": url,
        "policy": LOCAL_RECEIVERS,
        "secret": SECRET,
        "event": "footage_request.activated",
        "payload": PAYLOAD,
    }
    arguments.update(overrides)
    send_webhook(**arguments)


def test_signed_json_is_delivered(receiver):
    deliver(f"{receiver.url}/hooks/doorstep?x=1", delivery_id="job-42")

    [request] = receiver.received
    assert request.path == "/hooks/doorstep?x=1"
    assert request.headers["content-type"] == "application/json"
    assert request.headers["x-doorstep-event"] == "footage_request.activated"
    assert request.headers["x-doorstep-delivery"] == "job-42"
    assert verify_webhook_signature(SECRET, request.body, request.headers["x-doorstep-signature"])
    document = json.loads(request.body)
    assert document["event"] == "footage_request.activated"
    assert document["data"] == PAYLOAD
    sent_at = dt.datetime.fromisoformat(document["sent_at"])
    assert sent_at.utcoffset() == dt.timedelta(0)
    assert abs(dt.datetime.now(dt.UTC) - sent_at) < dt.timedelta(minutes=1)
    assert int(request.headers["x-doorstep-timestamp"]) == int(sent_at.timestamp())


def test_signature_fails_for_a_tampered_body_or_another_secret(receiver):
    deliver(receiver.url)

    [request] = receiver.received
    signature = request.headers["x-doorstep-signature"]
    tampered = request.body.replace(b'"asked":12', b'"asked":13')
    assert tampered != request.body
    assert not verify_webhook_signature(SECRET, tampered, signature)
    assert not verify_webhook_signature("another secret", request.body, signature)
    assert not verify_webhook_signature(SECRET, request.body, signature.removeprefix("sha256="))
    assert not verify_webhook_signature(SECRET, request.body, "")
    assert not verify_webhook_signature(SECRET, request.body, "sha256=ünïcode")


def test_signature_is_hmac_sha256_hex_of_the_body():
    # RFC 4231 test case 2: key "Jefe", data "what do ya want for nothing?".
    expected = "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"

    assert sign_webhook_body("Jefe", b"what do ya want for nothing?") == f"sha256={expected}"


@pytest.mark.parametrize("status", [500, 502, 503, 408, 429])
def test_server_errors_timeouts_and_rate_limits_are_retried(receiver, status):
    receiver.status = status

    with pytest.raises(DeliveryError, match=str(status)):
        deliver(receiver.url)


def test_retry_after_is_passed_on(receiver):
    receiver.status = 503
    receiver.reply_headers = {"Retry-After": "30"}

    with pytest.raises(DeliveryError) as raised:
        deliver(receiver.url)
    assert raised.value.retry_after_s == 30


@pytest.mark.parametrize("status", [400, 401, 403, 404, 410, 422])
def test_other_client_errors_are_permanent(receiver, status):
    receiver.status = status
    receiver.reply_body = b"bad signature"

    with pytest.raises(PermanentDeliveryError, match=f"{status}: bad signature"):
        deliver(receiver.url)


def test_redirects_are_not_followed(receiver):
    receiver.status = 308
    receiver.reply_headers = {"Location": "https://elsewhere.test/hook"}

    with pytest.raises(PermanentDeliveryError, match=re.escape("https://elsewhere.test/hook")):
        deliver(receiver.url)
    assert len(receiver.received) == 1


@pytest.mark.parametrize(
    "url", ["ftp://127.0.0.1/hook", "file:///etc/passwd", "127.0.0.1:8000/hook", "http:///hook"]
)
def test_non_http_urls_are_refused(url):
    with pytest.raises(PermanentDeliveryError, match="http"):
        deliver(url)


def test_unreachable_receiver_is_retried():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed_port = sock.getsockname()[1]

    with pytest.raises(DeliveryError, match="unreachable"):
        deliver(f"http://127.0.0.1:{closed_port}/hook")


def test_slow_receiver_times_out_and_is_retried(receiver):
    receiver.delay_s = 1.0

    started = time.monotonic()
    with pytest.raises(DeliveryError, match="Timeout"):
        deliver(receiver.url, timeout_s=0.2)
    assert time.monotonic() - started < 1.0


def test_payload_that_is_not_json_is_permanent(receiver):
    with pytest.raises(PermanentDeliveryError, match="JSON"):
        deliver(receiver.url, payload={"when": dt.datetime.now(dt.UTC)})
    assert receiver.received == []
