"""Email over SMTP: one recipient per message, one session for many messages; and the
alert channel that sends them (``EmailChannel``).

Blocking (``smtplib``); the worker calls it from a worker thread. SMTP answers
map onto the channel errors: a 5xx refusal of the recipient or of the message
itself is permanent, everything else (4xx answers, connection trouble, bad
credentials, a server that is not configured yet) is worth retrying.

A batch of alert emails reads its recipients' addresses from the accounts table in one
query (a read model, for speed: a request's notices reach thousands of owners); one
email alone asks ``accounts.service``.
"""

from __future__ import annotations

import smtplib
import ssl
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session

from doorstep.accounts import service as account_service
from doorstep.accounts.models import NotificationPreference, User
from doorstep.config import Settings
from doorstep.notify.channels import (
    DeliveryError,
    PermanentDeliveryError,
    absolute_url,
    deliver_in_lanes,
    notification_of,
    notifications_of,
)
from doorstep.notify.channels.email_wire import Letterhead, WireMessage, letterhead, wire_message
from doorstep.notify.handlers import BatchContext, JobContext
from doorstep.notify.models import Notification
from doorstep.notify.outbox import ClaimedJob, PermanentJobError

__all__ = [
    "EMAIL_JOB",
    "EmailChannel",
    "EmailMessageSpec",
    "SmtpConnection",
    "build_email",
    "close_kept_sessions",
    "email_configured",
    "kept_session",
    "send_email",
]

EMAIL_JOB = "notify.email"

# RFC 8314: port 465 speaks TLS from the first byte ("implicit TLS"); a plain
# SMTP client would hang there until the timeout, so it gets SMTP_SSL.
IMPLICIT_TLS_PORT = 465


@dataclass(frozen=True)
class EmailMessageSpec:
    """What to send: one recipient, a subject, a plain-text body and an optional HTML body."""

    to: str
    subject: str
    text: str
    html: str | None = None


def email_configured(settings: Settings) -> bool:
    """Whether an SMTP server is set, i.e. whether email can be offered at all."""
    return bool(settings.smtp_host)


def build_email(settings: Settings, message: EmailMessageSpec) -> EmailMessage:
    """Build the MIME message: From, To, Subject, Date, Message-ID, text and HTML alternatives.

    Raises ``PermanentDeliveryError`` when the recipient is not exactly one valid
    address, and ``DeliveryError`` when ``smtp_from`` is not a valid address (a
    configuration mistake an admin can fix before the retries run out).
    """
    mime = EmailMessage()
    sender = _sender(mime, settings)
    try:
        mime["To"] = message.to
        _single_address(mime, "To")
    except ValueError as exc:
        raise PermanentDeliveryError(f"invalid recipient address {message.to!r}: {exc}") from exc
    mime["Subject"] = _one_line(message.subject)
    mime["Date"] = format_datetime(datetime.now(UTC), usegmt=True)
    mime["Message-ID"] = make_msgid(domain=_message_id_domain(settings, sender))
    # RFC 3834: tells vacation responders and list software this is machine-sent.
    mime["Auto-Submitted"] = "auto-generated"
    mime.set_content(message.text)
    if message.html is not None:
        mime.add_alternative(message.html, subtype="html")
    return mime


def _sender(mime: EmailMessage, settings: Settings) -> Address:
    try:
        mime["From"] = settings.smtp_from
        return _single_address(mime, "From")
    except ValueError as exc:
        raise DeliveryError(f"smtp_from is not a valid address: {exc}") from exc


def _one_line(subject: str) -> str:
    # Subjects may be built from user text; a line break would be refused by the header API.
    return " ".join(subject.split())


def send_email(settings: Settings, message: EmailMessageSpec) -> None:
    """Send ``message`` through the configured SMTP server, or raise.

    Uses STARTTLS when ``smtp_starttls`` is set (implicit TLS on port 465),
    logs in when ``smtp_username`` is set, and bounds every network step by
    ``smtp_timeout_s``. Returns once the server accepted the message.
    """
    with SmtpConnection(settings) as connection:
        connection.send(message)


class SmtpConnection:
    """One SMTP session for many messages (a worker's batch), opened on the first send.

    After a refused recipient or message the session stays open (smtplib resets the
    transaction); after connection trouble it is dropped and the next send opens a new
    one, so one failure never fails the messages after it.
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._client: smtplib.SMTP | None = None
        self._head: Letterhead | None = None
        self._head_read = False

    def __enter__(self) -> SmtpConnection:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def send(self, message: EmailMessageSpec) -> None:
        """Send one message, or raise ``DeliveryError``/``PermanentDeliveryError``."""
        if not email_configured(self.settings):
            raise DeliveryError("email not configured: DOORSTEP_SMTP_HOST is not set")
        mime = self._write(message)
        if self._client is None:
            client = _connect(self.settings)
            try:
                _start_session(self.settings, client)
            except DeliveryError:
                _close_quietly(client)
                raise
            self._client = client
        try:
            _submit(self._client, mime)
        except PermanentDeliveryError:
            raise
        except DeliveryError:
            self.close()  # the session may be broken; the next message starts a new one
            raise

    def _write(self, message: EmailMessageSpec) -> EmailMessage | WireMessage:
        """The message as bytes when its recipient is a plain address (``email_wire``: a
        notice in 5 µs of CPU instead of 0.7 ms), else built by the ``email`` package,
        which checks any address."""
        if not self._head_read:
            sender = _sender(EmailMessage(), self.settings)
            domain = _message_id_domain(self.settings, sender)
            self._head = letterhead(self.settings.smtp_from, domain)
            self._head_read = True
        if self._head is not None:
            wire = wire_message(
                self._head,
                to=message.to,
                subject=_one_line(message.subject),
                text=message.text,
                html=message.html,
            )
            if wire is not None:
                return wire
        return build_email(self.settings, message)

    def probe(self) -> None:
        """Check a kept session with NOOP, and drop it if the server no longer answers
        (the next send opens a new one)."""
        if self._client is not None:
            try:
                code, _reply_text = self._client.noop()
            except (smtplib.SMTPException, OSError):
                code = 0
            if code != 250:
                self.close()

    def close(self) -> None:
        # The messages are accepted at this point (or failed already): a failing QUIT must
        # not turn a delivered message into a retry, which would send it twice.
        if self._client is not None:
            _close_quietly(self._client)
            self._client = None


# Sessions a batch's lanes used, kept open for the next batch (opening one costs three
# round trips, as many as a third of a lane's sends in a batch), by server and login.
_kept: dict[tuple[Any, ...], list[tuple[float, SmtpConnection]]] = {}
_kept_lock = threading.Lock()
# Older than this, a kept session is closed rather than used: RFC 5321 servers wait five
# minutes for the next command, and the NOOP that checks each kept session would find most
# older ones closed anyway.
KEPT_SESSION_IDLE_S = 30.0


@contextmanager
def kept_session(settings: Settings) -> Iterator[SmtpConnection]:
    """An SMTP session to the configured server: one kept from an earlier batch (checked
    with NOOP first), else a new one; kept again afterwards unless the lane failed."""
    key = (
        settings.smtp_host,
        settings.smtp_port,
        settings.smtp_username,
        settings.smtp_password,
        settings.smtp_starttls,
        settings.smtp_from,
        settings.smtp_timeout_s,
    )
    now = time.monotonic()
    connection: SmtpConnection | None = None
    stale: list[SmtpConnection] = []
    with _kept_lock:
        kept = _kept.get(key, [])
        while kept and connection is None:
            used_at, candidate = kept.pop()
            if now - used_at < KEPT_SESSION_IDLE_S:
                connection = candidate
            else:
                stale.append(candidate)
    for old in stale:
        old.close()
    if connection is None:
        connection = SmtpConnection(settings)
    else:
        connection.probe()
    try:
        yield connection
    except BaseException:
        connection.close()
        raise
    with _kept_lock:
        _kept.setdefault(key, []).append((time.monotonic(), connection))


def close_kept_sessions() -> None:
    """Close every kept SMTP session (a worker stopping, tests)."""
    with _kept_lock:
        sessions = [connection for kept in _kept.values() for _at, connection in kept]
        _kept.clear()
    for connection in sessions:
        connection.close()


def _single_address(mime: EmailMessage, header: str) -> Address:
    addresses = mime[header].addresses
    if len(addresses) != 1:
        raise ValueError(f"expected one address, got {len(addresses)}")
    address: Address = addresses[0]
    if not address.username or not address.domain:
        raise ValueError("address needs a local part and a domain")
    return address


def _message_id_domain(settings: Settings, sender: Address) -> str:
    # make_msgid() without a domain calls socket.getfqdn(), which can block on DNS.
    return sender.domain or urlsplit(settings.base_url).hostname or "doorstep.invalid"


def _connect(settings: Settings) -> smtplib.SMTP:
    host = settings.smtp_host or ""
    timeout = settings.smtp_timeout_s
    try:
        if settings.smtp_port == IMPLICIT_TLS_PORT:
            return smtplib.SMTP_SSL(
                host, settings.smtp_port, timeout=timeout, context=ssl.create_default_context()
            )
        return smtplib.SMTP(host, settings.smtp_port, timeout=timeout)
    except (smtplib.SMTPException, OSError) as exc:
        raise DeliveryError(
            f"cannot reach SMTP server {host}:{settings.smtp_port}: {exc!r}"
        ) from exc


def _start_session(settings: Settings, client: smtplib.SMTP) -> None:
    """STARTTLS and login. Failures here are configuration or server trouble: retry."""
    try:
        if settings.smtp_starttls and settings.smtp_port != IMPLICIT_TLS_PORT:
            client.starttls(context=ssl.create_default_context())
        if settings.smtp_username:
            client.login(settings.smtp_username, settings.smtp_password or "")
    except smtplib.SMTPAuthenticationError as exc:
        raise DeliveryError(f"SMTP login refused: {exc.smtp_code} {_reply(exc)}") from exc
    except (smtplib.SMTPException, OSError) as exc:
        raise DeliveryError(f"SMTP session setup failed: {exc!r}") from exc


def _submit(client: smtplib.SMTP, mime: EmailMessage | WireMessage) -> None:
    try:
        if isinstance(mime, WireMessage):
            client.sendmail(mime.envelope_from, [mime.envelope_to], mime.data)
        else:
            client.send_message(mime)
    except smtplib.SMTPRecipientsRefused as exc:
        # One recipient per message, so "all refused" is that one recipient's answer.
        code, reply = next(iter(exc.recipients.values()))
        text = f"recipient refused: {code} {reply.decode(errors='replace')}"
        if 500 <= code < 600:
            raise PermanentDeliveryError(text) from exc
        raise DeliveryError(text) from exc
    except smtplib.SMTPDataError as exc:
        # 5xx after DATA: this message is refused (too large, policy); sending it again
        # would be refused again.
        text = f"message refused: {exc.smtp_code} {_reply(exc)}"
        if 500 <= exc.smtp_code < 600:
            raise PermanentDeliveryError(text) from exc
        raise DeliveryError(text) from exc
    except smtplib.SMTPSenderRefused as exc:
        # The From address is the instance's, not the recipient's: a configuration
        # problem that an admin can fix, so keep retrying.
        raise DeliveryError(f"sender refused: {exc.smtp_code} {_reply(exc)}") from exc
    except smtplib.SMTPNotSupportedError as exc:
        # Raised for a non-ASCII address when the server lacks SMTPUTF8.
        raise PermanentDeliveryError(f"server cannot take this address: {exc}") from exc
    except (smtplib.SMTPException, OSError) as exc:
        raise DeliveryError(f"SMTP send failed: {exc!r}") from exc


def _reply(exc: smtplib.SMTPResponseException) -> str:
    error = exc.smtp_error
    return error.decode(errors="replace") if isinstance(error, bytes) else str(error)


def _close_quietly(client: smtplib.SMTP) -> None:
    try:
        client.quit()
    except (smtplib.SMTPException, OSError):
        client.close()


class EmailChannel:
    """Alerts by email to the account's address, for users whose ``email`` preference is on."""

    kind = EMAIL_JOB

    def addresses(
        self, *, session: Session, preferences: Mapping[uuid.UUID, NotificationPreference]
    ) -> dict[uuid.UUID, list[dict[str, str]]]:
        """The account's own address: one delivery per user who wants email."""
        return {user_id: [{}] for user_id, pref in preferences.items() if pref.email}

    def deliver(self, ctx: JobContext, payload: dict[str, Any]) -> None:
        settings = ctx.services.settings
        if not email_configured(settings):
            raise PermanentJobError("email is not configured on this instance")
        note = notification_of(ctx.session, payload)
        user = account_service.get_user(session=ctx.session, user_id=note.user_id)
        send_email(settings, _alert_email(settings, note, user.email))

    def deliver_many(
        self, ctx: BatchContext, jobs: list[ClaimedJob]
    ) -> dict[int, Exception | None]:
        """Many alert emails, read with one query, sent over a few SMTP sessions at once
        (``deliver_in_lanes``)."""
        settings = ctx.services.settings
        if not email_configured(settings):
            error = PermanentJobError("email is not configured on this instance")
            return {job.id: error for job in jobs}
        notes = notifications_of(ctx.session, jobs)
        user_ids = {note.user_id for note in notes.values()}
        addresses = {
            user_id: email
            for user_id, email in ctx.session.execute(
                select(User.id, User.email).where(User.id.in_(user_ids))
            )
        }
        outcomes: dict[int, Exception | None] = {}
        messages: list[tuple[int, EmailMessageSpec]] = []
        for job in jobs:
            note = notes.get(job.id)
            if note is None:
                outcomes[job.id] = PermanentJobError("notification no longer exists")
            else:
                messages.append((job.id, _alert_email(settings, note, addresses[note.user_id])))

        @contextmanager
        def session_lane() -> Iterator[Callable[[EmailMessageSpec], None]]:
            with kept_session(settings) as connection:
                yield connection.send

        return outcomes | deliver_in_lanes(ctx, messages, lane=session_lane)


def _alert_email(settings: Settings, note: Notification, address: str) -> EmailMessageSpec:
    url = absolute_url(settings.base_url, note.link)
    return EmailMessageSpec(
        to=address,
        subject=f"[{settings.instance_name}] {note.title}",
        text=f"{note.body}\n\nOpen: {url}\n\nChange which alerts you get: "
        f"{absolute_url(settings.base_url, '/account/notifications')}\n",
    )
