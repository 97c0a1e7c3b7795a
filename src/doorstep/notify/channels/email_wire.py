"""Emails as the bytes that go over SMTP, written without building an ``EmailMessage`` each.

Python's ``email`` package parses every header it is given and flattens the message again
for each send: about 0.7 ms of CPU per email, most of a worker's time in a fan-out, where
one request's notice goes to thousands of owners with the same subject and text. Here the
parts that repeat are written once by the ``email`` package itself and kept: the ``From``
line, each distinct ``Subject`` line, and each distinct body (``Auto-Submitted``, the MIME
headers and the encoded parts). Per message, only the lines that differ are written: ``To``,
``Date`` and ``Message-ID``, and only when they are plain enough that the ``email`` package
would write them unchanged (a short ASCII address with no display name; anything else goes
the ``email`` package's own way, see ``wire_message``). The result is the same message the
``email`` package writes, header for header and byte for byte, apart from the date, the
message id and a multipart boundary, which are new in each message there (here the
boundary is shared by the messages of one body).
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, getaddresses, make_msgid

__all__ = ["Letterhead", "WireMessage", "letterhead", "wire_message"]

# A dot-atom local part and domain (RFC 5322 3.4.1), ASCII only: the ``email`` package
# writes such an address exactly as given, so it needs no parsing here.
_PLAIN_ADDRESS = re.compile(
    r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*"
)
# The longest header line the ``email`` package leaves unfolded (``max_line_length``).
_LINE = SMTP.max_line_length or 78


@dataclass(frozen=True)
class Letterhead:
    """The sender's part of every message: the ``From`` line, the envelope sender and the
    domain of message ids."""

    from_line: bytes
    envelope_from: str
    message_id_domain: str


@dataclass(frozen=True)
class WireMessage:
    """One message ready for ``smtplib.SMTP.sendmail``."""

    envelope_from: str
    envelope_to: str
    data: bytes


@functools.lru_cache(maxsize=16)
def letterhead(smtp_from: str, message_id_domain: str) -> Letterhead | None:
    """The ``From`` line for ``smtp_from`` (already checked to be one valid address), or
    None when its address is not plain ASCII (such a sender needs SMTPUTF8: the ``email``
    package's own way handles it)."""
    envelope_from = getaddresses([smtp_from])[0][1]
    if not envelope_from.isascii():
        return None
    return Letterhead(_fold("From", smtp_from), envelope_from, message_id_domain)


def wire_message(
    head: Letterhead, *, to: str, subject: str, text: str, html: str | None
) -> WireMessage | None:
    """The message to ``to``, or None when ``to`` is not a plain address (the caller then
    builds it with the ``email`` package, which checks and writes any address)."""
    if len(to) > _LINE - len("To: ") or not _PLAIN_ADDRESS.fullmatch(to):
        return None
    message_id = make_msgid(domain=head.message_id_domain)
    if len(message_id) > _LINE - len("Message-ID: "):
        return None
    date = format_datetime(datetime.now(UTC), usegmt=True)
    data = b"".join(
        [
            head.from_line,
            f"To: {to}\r\nSubject: ".encode(),
            _subject(subject),
            f"Date: {date}\r\nMessage-ID: {message_id}\r\n".encode(),
            _body(text, html),
        ]
    )
    return WireMessage(head.envelope_from, to, data)


def _fold(name: str, value: str) -> bytes:
    return SMTP.fold_binary(name, value)


@functools.lru_cache(maxsize=256)
def _subject(subject: str) -> bytes:
    """The ``Subject`` line's value and line end (a notice's subject repeats for every owner)."""
    return _fold("Subject", subject)[len("Subject: ") :]


@functools.lru_cache(maxsize=256)
def _body(text: str, html: str | None) -> bytes:
    """``Auto-Submitted``, the MIME headers and the encoded parts, as the ``email`` package
    writes them (a notice's text repeats for every owner of a request and time zone)."""
    mime = EmailMessage()
    # RFC 3834: tells vacation responders and list software this is machine-sent.
    mime["Auto-Submitted"] = "auto-generated"
    mime.set_content(text)
    if html is not None:
        mime.add_alternative(html, subtype="html")
    return mime.as_bytes(policy=SMTP)
