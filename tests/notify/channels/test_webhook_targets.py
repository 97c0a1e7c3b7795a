"""Delivery refuses internal targets: the address connected to is the address checked.

Real HTTP(S) servers on loopback addresses stand in for "internal" services (refused
unless allowlisted) and for "public" receivers (allowlisted, since a test cannot reach
the internet); the resolver is faked only for made-up host names.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.notify.receivers import make_certificates, receiver

from doorstep.notify.channels import DeliveryError, PermanentDeliveryError
from doorstep.notify.channels.webhook import close_webhook_clients, send_webhook
from doorstep.notify.targets import TargetPolicy

HTTP_ONLY = TargetPolicy(allow_http=True)


def allowing(*entries: str, http: bool = True) -> TargetPolicy:
    networks = tuple(ipaddress.ip_network(e) for e in entries if e[0].isdigit() or ":" in e)
    hosts = frozenset(e for e in entries if not (e[0].isdigit() or ":" in e))
    return TargetPolicy(allow_http=http, networks=networks, hosts=hosts)


def deliver(url: str, policy: TargetPolicy, **overrides: Any) -> None:
    arguments: dict[str, Any] = {
        "url": url,
        "secret": "s3cret",
        "event": "test",
        "payload": {"n": 1},
        "policy": policy,
        "timeout_s": 5,
    }
    arguments.update(overrides)
    send_webhook(**arguments)


@pytest.fixture
def fake_dns(
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Callable[[str, list[list[str]]], list[int]]]:
    """Make a made-up name resolve to a sequence of answers, one per lookup (the last repeats).

    Returns a counter list: how many lookups of the name there were.
    """
    real = socket.getaddrinfo

    def install(name: str, answers: list[list[str]]) -> list[int]:
        lookups = [0]

        def fake(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
            if host != name:
                return real(host, port, *args, **kwargs)
            answer = answers[min(lookups[0], len(answers) - 1)]
            lookups[0] += 1
            return [
                (
                    socket.AF_INET6 if ":" in a else socket.AF_INET,
                    socket.SOCK_STREAM,
                    6,
                    "",
                    (a, int(port), 0, 0) if ":" in a else (a, int(port)),
                )
                for a in answer
            ]

        monkeypatch.setattr(socket, "getaddrinfo", fake)
        return lookups

    yield install


def test_loopback_receiver_is_refused_by_default() -> None:
    with (
        receiver("127.0.0.1") as internal,
        pytest.raises(PermanentDeliveryError, match="loopback"),
    ):
        deliver(internal.url(), HTTP_ONLY)
    assert internal.arrivals == []


def test_loopback_receiver_is_delivered_when_its_network_is_allowed() -> None:
    with receiver("127.0.0.1") as on_premises:
        deliver(on_premises.url(), allowing("127.0.0.0/8"))
    assert len(on_premises.arrivals) == 1


def test_plain_http_is_refused_unless_allowed() -> None:
    with (
        receiver("127.0.0.1") as on_premises,
        pytest.raises(PermanentDeliveryError, match="https"),
    ):
        deliver(on_premises.url(), allowing("127.0.0.1", http=False))
    assert on_premises.arrivals == []


def test_a_name_resolving_to_loopback_is_refused() -> None:
    refusal = re.escape("'localhost' resolves to 127.0.0.1, a loopback address")
    with receiver("127.0.0.1") as internal, pytest.raises(PermanentDeliveryError, match=refusal):
        deliver(internal.url("localhost"), HTTP_ONLY)
    assert internal.arrivals == []


def test_an_allowlisted_host_name_is_delivered() -> None:
    with receiver("127.0.0.1") as on_premises:
        deliver(on_premises.url("localhost"), allowing("localhost"))
    [arrival] = on_premises.arrivals
    assert arrival.headers["host"] == f"localhost:{on_premises.port}"


def test_ipv6_loopback_is_refused_and_deliverable_when_allowed() -> None:
    with receiver("::1") as internal:
        with pytest.raises(PermanentDeliveryError, match="loopback"):
            deliver(internal.url(), HTTP_ONLY)
        assert internal.arrivals == []
        deliver(internal.url(), allowing("::1/128"))
    assert len(internal.arrivals) == 1


@pytest.mark.parametrize(
    ("host", "kind"),
    [
        ("10.1.2.3", "private"),
        ("192.168.1.10", "private"),
        ("172.16.0.1", "private"),
        ("169.254.169.254", "link-local"),
        ("0.0.0.0", "unspecified"),
        ("224.0.0.1", "multicast"),
        ("100.64.0.1", "non-public"),
        ("2130706433", "loopback"),  # 127.0.0.1 written as one number
        ("[::]", "unspecified"),
        ("[::1]", "loopback"),
        ("[::ffff:127.0.0.1]", "loopback"),
        ("[::ffff:10.0.0.1]", "private"),
        ("[64:ff9b::a9fe:a9fe]", "link-local"),  # NAT64 of 169.254.169.254
        ("[2002:7f00:1::]", "loopback"),  # 6to4 of 127.0.0.1
        ("[fe80::1]", "link-local"),
        ("[fd00::1]", "private"),
        ("[ff02::1]", "multicast"),
    ],
)
def test_internal_addresses_are_refused_before_connecting(host: str, kind: str) -> None:
    with pytest.raises(PermanentDeliveryError, match=kind):
        deliver(f"https://{host}:8443/hook", TargetPolicy())


def test_a_redirect_to_an_internal_address_is_not_followed() -> None:
    with receiver("127.0.0.2") as internal, receiver("127.0.0.1") as public:
        public.status = 302
        public.reply_headers = {"Location": internal.url()}

        with pytest.raises(PermanentDeliveryError, match="redirects are not followed"):
            deliver(public.url(), allowing("127.0.0.1"))
    assert len(public.arrivals) == 1
    assert internal.arrivals == []


def test_the_address_checked_is_the_address_connected_to(fake_dns: Any) -> None:
    # DNS rebinding: the first answer passes the check, a second lookup would point
    # inside. Both servers share the port, so only the address tells them apart.
    with receiver("127.0.0.1") as public, receiver("127.0.0.2", public.port) as internal:
        lookups = fake_dns("rebind.test", [["127.0.0.1"], ["127.0.0.2"]])

        deliver(public.url("rebind.test"), allowing("127.0.0.1"))
    [arrival] = public.arrivals
    assert arrival.headers["host"] == f"rebind.test:{public.port}"
    assert internal.arrivals == []
    assert lookups[0] == 1


def test_a_name_that_now_resolves_inside_is_refused_at_delivery(fake_dns: Any) -> None:
    with receiver("127.0.0.2") as internal:
        fake_dns("rebind.test", [["127.0.0.2"]])

        with pytest.raises(
            PermanentDeliveryError, match=re.escape("'rebind.test' resolves to 127.0.0.2")
        ):
            deliver(internal.url("rebind.test"), allowing("127.0.0.1"))
    assert internal.arrivals == []


def test_every_address_of_the_answer_is_checked(fake_dns: Any) -> None:
    with receiver("127.0.0.1") as public:
        fake_dns("mixed.test", [["127.0.0.1", "127.0.0.2"]])

        with pytest.raises(PermanentDeliveryError, match=re.escape("127.0.0.2, a loopback")):
            deliver(public.url("mixed.test"), allowing("127.0.0.1"))
    assert public.arrivals == []


def test_a_name_that_does_not_resolve_is_retried() -> None:
    # DNS trouble may pass, so this one is tried again later (.invalid never resolves).
    with pytest.raises(DeliveryError, match="does not resolve") as raised:
        deliver("https://nowhere.invalid/hook", TargetPolicy())
    assert not isinstance(raised.value, PermanentDeliveryError)


def test_https_keeps_the_host_name_for_sni_and_the_certificate(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    certificates = make_certificates(tmp_path, dns_name="localhost", ip="127.0.0.1")
    # The shared clients read SSL_CERT_FILE when made: start from none, end with none.
    close_webhook_clients()
    monkeypatch.setenv("SSL_CERT_FILE", str(certificates.ca_file))
    try:
        with receiver("127.0.0.1", tls=certificates.server_context) as on_premises:
            deliver(on_premises.url("localhost"), allowing("127.0.0.1", http=False))
    finally:
        close_webhook_clients()
    [arrival] = on_premises.arrivals
    assert arrival.server_name == "localhost"
    assert arrival.headers["host"] == f"localhost:{on_premises.port}"


def test_deliveries_to_one_receiver_share_a_kept_alive_connection() -> None:
    policy = allowing("127.0.0.1")
    with receiver("127.0.0.1") as on_premises:
        for _ in range(3):
            deliver(on_premises.url(), policy)
    assert len({arrival.peer for arrival in on_premises.arrivals}) == 1
    assert len(on_premises.arrivals) == 3
