"""send_email against a real SMTP server (aiosmtpd) on 127.0.0.1."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import ipaddress
import socket
import ssl
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from doorstep.config import Settings
from doorstep.notify.channels import DeliveryError, PermanentDeliveryError
from doorstep.notify.channels.email import (
    EmailMessageSpec,
    build_email,
    email_configured,
    send_email,
)

MESSAGE = EmailMessageSpec(
    to="Resident <resident@example.org>",
    subject="Footage request near you",
    text="An agency asks for footage. Sharing is voluntary.",
    html="<p>An agency asks for footage. <b>Sharing is voluntary.</b></p>",
)


class Mailbox:
    """aiosmtpd handler: keeps accepted envelopes, or answers with a fixed reply."""

    def __init__(self, *, rcpt_reply: str | None = None, data_reply: str | None = None) -> None:
        self.rcpt_reply = rcpt_reply
        self.data_reply = data_reply
        self.envelopes: list[Any] = []

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.rcpt_reply:
            return self.rcpt_reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.data_reply:
            return self.data_reply
        self.envelopes.append(envelope)
        return "250 Message accepted for delivery"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def smtp_settings(tmp_path: Path, port: int, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "data_dir": tmp_path,
        "smtp_host": "127.0.0.1",
        "smtp_port": port,
        "smtp_username": None,
        "smtp_password": None,
        "smtp_starttls": False,
        "smtp_from": "doorstep <alerts@doorstep.test>",
        "smtp_timeout_s": 5.0,
    }
    values.update(overrides)
    return Settings(**values)


@pytest.fixture
def smtp_server() -> Iterator[Callable[..., int]]:
    """Start an aiosmtpd server with the given handler; returns its port."""
    controllers: list[Controller] = []

    def start(handler: Mailbox, **smtp_options: Any) -> int:
        port = free_port()
        controller = Controller(handler, hostname="127.0.0.1", port=port, **smtp_options)
        controller.start()
        controllers.append(controller)
        return port

    yield start
    for controller in controllers:
        controller.stop()


def test_message_is_delivered_with_headers_and_both_parts(tmp_path, smtp_server):
    mailbox = Mailbox()
    port = smtp_server(mailbox)

    send_email(smtp_settings(tmp_path, port), MESSAGE)

    assert len(mailbox.envelopes) == 1
    envelope = mailbox.envelopes[0]
    assert envelope.mail_from == "alerts@doorstep.test"
    assert envelope.rcpt_tos == ["resident@example.org"]
    received = email.message_from_bytes(envelope.content, policy=email.policy.default)
    assert received["From"] == "doorstep <alerts@doorstep.test>"
    assert received["To"] == "Resident <resident@example.org>"
    assert received["Subject"] == "Footage request near you"
    assert received["Message-ID"].endswith("@doorstep.test>")
    sent_at = received["Date"].datetime
    assert abs(dt.datetime.now(dt.UTC) - sent_at) < dt.timedelta(minutes=1)
    assert received["Auto-Submitted"] == "auto-generated"
    assert received.get_content_type() == "multipart/alternative"
    plain = received.get_body(preferencelist=("plain",))
    html = received.get_body(preferencelist=("html",))
    assert plain.get_content().strip() == MESSAGE.text
    assert html.get_content().strip() == MESSAGE.html


def test_text_only_message_is_a_single_part(tmp_path, smtp_server):
    mailbox = Mailbox()
    port = smtp_server(mailbox)

    send_email(
        smtp_settings(tmp_path, port),
        EmailMessageSpec(to="resident@example.org", subject="Hi", text="Plain only"),
    )

    received = email.message_from_bytes(mailbox.envelopes[0].content, policy=email.policy.default)
    assert received.get_content_type() == "text/plain"
    assert received.get_content().strip() == "Plain only"


def test_recipient_refused_with_550_is_permanent(tmp_path, smtp_server):
    port = smtp_server(Mailbox(rcpt_reply="550 5.1.1 No such user here"))

    with pytest.raises(PermanentDeliveryError, match="550"):
        send_email(smtp_settings(tmp_path, port), MESSAGE)


def test_recipient_answered_451_is_retried(tmp_path, smtp_server):
    port = smtp_server(Mailbox(rcpt_reply="451 4.3.0 Try again later"))

    with pytest.raises(DeliveryError, match="451"):
        send_email(smtp_settings(tmp_path, port), MESSAGE)


def test_message_refused_after_data_with_554_is_permanent(tmp_path, smtp_server):
    port = smtp_server(Mailbox(data_reply="554 5.7.1 Rejected by policy"))

    with pytest.raises(PermanentDeliveryError, match="554"):
        send_email(smtp_settings(tmp_path, port), MESSAGE)


def test_closed_port_is_retried(tmp_path):
    with pytest.raises(DeliveryError, match="cannot reach SMTP server"):
        send_email(smtp_settings(tmp_path, free_port()), MESSAGE)


def test_unconfigured_email_is_retried_not_dropped(tmp_path):
    settings = smtp_settings(tmp_path, 25, smtp_host=None)

    assert not email_configured(settings)
    with pytest.raises(DeliveryError, match="not configured"):
        send_email(settings, MESSAGE)


@pytest.mark.parametrize(
    "to",
    ["", "not an address", "a@example.org, b@example.org", "victim@example.org\nBcc: x@evil.test"],
)
def test_bad_recipient_is_permanent(tmp_path, to):
    with pytest.raises(PermanentDeliveryError, match="invalid recipient"):
        build_email(smtp_settings(tmp_path, 25), EmailMessageSpec(to=to, subject="s", text="t"))


def test_invalid_sender_setting_is_retried_so_an_admin_can_fix_it(tmp_path):
    settings = smtp_settings(tmp_path, 25, smtp_from="doorstep")

    with pytest.raises(DeliveryError, match="smtp_from"):
        build_email(settings, MESSAGE)


def test_line_breaks_in_subject_are_folded_into_spaces(tmp_path):
    mime = build_email(
        smtp_settings(tmp_path, 25),
        EmailMessageSpec(to="r@example.org", subject="Break\r\nBcc: x@evil.test", text="t"),
    )

    assert mime["Subject"] == "Break Bcc: x@evil.test"
    assert mime["Bcc"] is None


# STARTTLS and login, against a server that refuses both MAIL and AUTH without TLS.


@pytest.fixture
def trusted_certificate(tmp_path, monkeypatch) -> ssl.SSLContext:
    """A self-signed certificate for 127.0.0.1 that the client trusts (via SSL_CERT_FILE)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path = tmp_path / "cert.pem"
    key_path = tmp_path / "key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    monkeypatch.setenv("SSL_CERT_FILE", str(cert_path))
    server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_context.load_cert_chain(cert_path, key_path)
    return server_context


def accept_mailer(server, session, envelope, mechanism, auth_data) -> AuthResult:
    ok = isinstance(auth_data, LoginPassword) and auth_data == (b"mailer", b"s3cret")
    # handled=False: aiosmtpd answers the refusal (535) itself; by default it stays silent.
    return AuthResult(success=ok, handled=False)


def test_starttls_and_login(tmp_path, smtp_server, trusted_certificate):
    mailbox = Mailbox()
    port = smtp_server(
        mailbox,
        tls_context=trusted_certificate,
        require_starttls=True,
        auth_required=True,
        authenticator=accept_mailer,
    )
    settings = smtp_settings(
        tmp_path, port, smtp_starttls=True, smtp_username="mailer", smtp_password="s3cret"
    )

    send_email(settings, MESSAGE)

    assert len(mailbox.envelopes) == 1


def test_wrong_password_is_retried(tmp_path, smtp_server, trusted_certificate):
    port = smtp_server(
        Mailbox(),
        tls_context=trusted_certificate,
        require_starttls=True,
        auth_required=True,
        authenticator=accept_mailer,
    )
    settings = smtp_settings(
        tmp_path, port, smtp_starttls=True, smtp_username="mailer", smtp_password="wrong"
    )

    with pytest.raises(DeliveryError, match="login refused: 535"):
        send_email(settings, MESSAGE)
