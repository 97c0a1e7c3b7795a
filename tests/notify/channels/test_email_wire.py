"""The wire writer writes the message the ``email`` package writes, at a fraction of its cost."""

from __future__ import annotations

import re
from email import message_from_bytes
from email.policy import SMTP, default
from pathlib import Path

import pytest

from doorstep.config import Settings
from doorstep.footage.notice import WHAT_AGENCY_RECEIVES
from doorstep.notify.channels.email import EmailMessageSpec, build_email
from doorstep.notify.channels.email_wire import letterhead, wire_message

NOTICE = (
    "Sharing is voluntary.\n\nWho asks: Springfield Police (Springfield, IL)\n"
    f"What the agency receives: {WHAT_AGENCY_RECEIVES}\n"
)


def _old_way(settings: Settings, message: EmailMessageSpec) -> bytes:
    """What ``smtplib.SMTP.send_message`` puts on the wire for ``build_email``'s message."""
    return build_email(settings, message).as_bytes(policy=SMTP)


def _same_but_for_ids(data: bytes) -> bytes:
    """The message with what is new in each one blanked: date, message id, boundary."""
    data = re.sub(rb"Date: [^\r]+", b"Date: -", data)
    data = re.sub(rb"Message-ID: <[^>]+>", b"Message-ID: -", data)
    return re.sub(rb"={15}\d+==", b"BOUNDARY", data)


@pytest.mark.parametrize(
    ("subject", "text", "html"),
    [
        ("[doorstep] Springfield Police asks for footage (burglary)", NOTICE, None),
        ("Short", "Plain only", None),
        ("Ünïcode subject, and long enough to be folded over two lines " * 2, "Grüße\n", None),
        ("Both parts", "An agency asks.", "<p>An agency asks. <b>Sharing is voluntary.</b></p>"),
        ("A line\nbreak  in   it", "x" * 200 + "\n" + "é" * 90, None),
    ],
)
def test_the_wire_message_is_the_email_packages_message(
    tmp_path: Path, subject: str, text: str, html: str | None
) -> None:
    settings = Settings(data_dir=tmp_path, smtp_from="doorstep <alerts@doorstep.test>")
    head = letterhead(settings.smtp_from, "doorstep.test")
    assert head is not None and head.envelope_from == "alerts@doorstep.test"
    spec = EmailMessageSpec(to="owner.7+x@example.org", subject=subject, text=text, html=html)

    wire = wire_message(head, to=spec.to, subject=" ".join(subject.split()), text=text, html=html)

    assert wire is not None and wire.envelope_to == "owner.7+x@example.org"
    assert _same_but_for_ids(wire.data) == _same_but_for_ids(_old_way(settings, spec))
    received = message_from_bytes(wire.data, policy=default)
    assert received["Message-ID"].endswith("@doorstep.test>")
    assert received.get_body(preferencelist=("plain",)).get_content().splitlines() == (
        text.splitlines()
    )


@pytest.mark.parametrize(
    "to",
    ["Resident <resident@example.org>", "rés@example.org", "a@b@c", "x" * 80 + "@example.org"],
)
def test_an_address_that_is_not_plain_goes_the_email_packages_way(to: str) -> None:
    head = letterhead("doorstep <alerts@doorstep.test>", "doorstep.test")
    assert head is not None

    assert wire_message(head, to=to, subject="s", text="t", html=None) is None


def test_a_sender_that_needs_smtputf8_goes_the_email_packages_way() -> None:
    assert letterhead("doorstep <alertes@dôorstep.test>", "doorstep.test") is None
