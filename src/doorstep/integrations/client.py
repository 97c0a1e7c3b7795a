"""A typed client for doorstep's device API, authenticated with a camera's ingest token.

Network errors, 5xx, 408 and 429 are retried with exponential backoff (and the server's
``Retry-After``); any other 4xx is permanent and raised at once as ``DeviceAPIError``
carrying the server's error code. For delivery that survives outages and restarts, put
the work in a ``doorstep.integrations.outbox.DeviceOutbox`` instead of calling this
directly.
"""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from types import TracebackType
from typing import Any, BinaryIO

import httpx
import structlog

log = structlog.get_logger(__name__)

USER_AGENT = "doorstep-device/0.1"
# Statuses worth a retry: the request may succeed later unchanged.
_RETRYABLE = frozenset({408, 425, 429})
# Failures after which the request can be known not to have reached the server.
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout, httpx.UnsupportedProtocol)


class DeviceAPIError(Exception):
    """The server refused the request for good (4xx): sending it again cannot help."""

    def __init__(self, status_code: int, code: str, message: str) -> None:
        super().__init__(f"{status_code} {code}: {message}")
        self.status_code = status_code
        self.code = code
        self.message = message

    @property
    def is_credential_problem(self) -> bool:
        """A wrong, rotated or revoked camera token: the request is fine, the key is not."""
        return self.status_code in (401, 403)


class DeviceUnavailable(Exception):
    """The server was unreachable or answered 5xx/408/429 through every retry.

    ``maybe_delivered`` is True when an attempt may have reached the server before it
    failed (a timeout after sending, a dropped connection, a gateway error): the server
    may have recorded it. Sending it again is safe when it carries a ``device_ref``: the
    server answers with the event it already recorded.
    """

    def __init__(
        self, message: str, *, maybe_delivered: bool, retry_after_s: float | None = None
    ) -> None:
        super().__init__(message)
        self.maybe_delivered = maybe_delivered
        self.retry_after_s = retry_after_s


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with jitter: attempt n waits between d/2 and d, d = base * 2**n."""

    attempts: int = 4
    base_delay_s: float = 0.5
    max_delay_s: float = 30.0

    def delay_s(self, retry: int, retry_after_s: float | None = None) -> float:
        ceiling = min(self.max_delay_s, self.base_delay_s * (2.0**retry))
        delay = ceiling / 2 + random.uniform(0, ceiling / 2)
        if retry_after_s is not None:
            delay = max(delay, min(retry_after_s, self.max_delay_s))
        return delay


@dataclass(frozen=True)
class RecordedEvent:
    """The server's record of a clip or local-first event (its ``EventRead``)."""

    id: uuid.UUID
    camera_id: uuid.UUID
    kind: str
    started_at: datetime
    ended_at: datetime
    on_device: bool
    clip_id: uuid.UUID | None
    body: dict[str, Any] = field(repr=False)

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> RecordedEvent:
        clip = body.get("clip")
        return cls(
            id=uuid.UUID(body["id"]),
            camera_id=uuid.UUID(body["camera_id"]),
            kind=str(body["kind"]),
            started_at=parse_time(body["started_at"]),
            ended_at=parse_time(body["ended_at"]),
            on_device=bool(body["on_device"]),
            clip_id=uuid.UUID(clip["id"]) if isinstance(clip, dict) else None,
            body=body,
        )


@dataclass(frozen=True)
class PendingUpload:
    """A local-first event the owner shared: the server waits for its file."""

    evidence_id: uuid.UUID
    event_id: uuid.UUID
    device_ref: str | None
    started_at: datetime
    ended_at: datetime

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> PendingUpload:
        return cls(
            evidence_id=uuid.UUID(body["evidence_id"]),
            event_id=uuid.UUID(body["event_id"]),
            device_ref=body.get("device_ref"),
            started_at=parse_time(body["started_at"]),
            ended_at=parse_time(body["ended_at"]),
        )


@dataclass(frozen=True)
class EventReport:
    """One local-first event, as sent in a batch."""

    started_at: datetime
    ended_at: datetime | None = None
    kind: str = "motion"
    device_ref: str | None = None

    def body(self) -> dict[str, Any]:
        _require_aware(self.started_at)
        body: dict[str, Any] = {"kind": self.kind, "started_at": self.started_at.isoformat()}
        if self.ended_at is not None:
            _require_aware(self.ended_at)
            body["ended_at"] = self.ended_at.isoformat()
        if self.device_ref:
            body["device_ref"] = self.device_ref
        return body


@dataclass(frozen=True)
class BatchAnswer:
    """What the batch endpoint recorded: new events, and events whose ``device_ref`` it
    had already (skipped)."""

    created: int
    duplicates: int


# The batch endpoint's limit on events per request.
MAX_BATCH = 1000


@dataclass(frozen=True)
class FulfilledUpload:
    evidence_id: uuid.UUID
    sha256: str


def parse_time(value: str) -> datetime:
    parsed = datetime.fromisoformat(value)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _retry_after_s(response: httpx.Response) -> float | None:
    raw = response.headers.get("retry-after")
    if not raw:
        return None
    if raw.strip().isdigit():
        return float(raw)
    try:
        when = parsedate_to_datetime(raw)
    except (TypeError, ValueError):
        return None
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def _refusal(response: httpx.Response) -> DeviceAPIError:
    code, message = f"http_{response.status_code}", response.reason_phrase
    try:
        error = response.json().get("error")
    except ValueError:
        error = None
    if isinstance(error, dict):
        code = str(error.get("code") or code)
        message = str(error.get("message") or message)
    elif response.status_code == 422:
        code, message = "invalid_payload", response.text[:500]
    return DeviceAPIError(response.status_code, code, message)


class DeviceClient:
    """The device API for one camera. Thread-safe (one ``httpx.Client`` underneath).

    ``sleep`` waits between retries; pass ``threading.Event().wait`` to make a
    shutdown cut the wait short.
    """

    def __init__(
        self,
        server_url: str,
        camera_id: uuid.UUID | str,
        token: str,
        *,
        retry: RetryPolicy | None = None,
        timeout_s: float = 60.0,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], object] = time.sleep,
    ) -> None:
        self.camera_id = uuid.UUID(str(camera_id))
        self.retry = retry or RetryPolicy()
        self._sleep = sleep
        self._http = httpx.Client(
            base_url=server_url.rstrip("/"),
            headers={"Authorization": f"Bearer {token}", "User-Agent": USER_AGENT},
            timeout=httpx.Timeout(timeout_s, connect=min(timeout_s, 10.0)),
            transport=transport,
        )

    def __enter__(self) -> DeviceClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    @property
    def _base(self) -> str:
        return f"/api/v1/cameras/{self.camera_id}"

    # ------------------------------------------------------------ operations

    def upload_clip(
        self,
        clip: Path,
        *,
        started_at: datetime,
        kind: str = "motion",
        device_ref: str | None = None,
    ) -> RecordedEvent:
        """Upload an H.264 MP4; the server stores it and alerts the owner."""
        _require_aware(started_at)
        data = {"started_at": started_at.isoformat(), "kind": kind}
        if device_ref:
            data["device_ref"] = device_ref

        def send() -> httpx.Response:
            with _opened(clip) as fh:
                return self._http.post(
                    f"{self._base}/clips", data=data, files={"file": (clip.name, fh, "video/mp4")}
                )

        return RecordedEvent.from_json(self._call(send, "upload_clip"))

    def report_event(
        self,
        *,
        started_at: datetime,
        ended_at: datetime | None = None,
        kind: str = "motion",
        device_ref: str | None = None,
    ) -> RecordedEvent:
        """Report a local-first event: the clip stays on the device until the owner shares it."""
        body = EventReport(started_at, ended_at, kind, device_ref).body()
        return RecordedEvent.from_json(
            self._call(lambda: self._http.post(f"{self._base}/events", json=body), "report_event")
        )

    def report_events(self, events: Sequence[EventReport]) -> BatchAnswer:
        """Report up to ``MAX_BATCH`` local-first events in one request: the server records
        all of them or none, and skips those whose ``device_ref`` it has already."""
        if not 1 <= len(events) <= MAX_BATCH:
            raise ValueError(f"a batch holds 1 to {MAX_BATCH} events, not {len(events)}")
        body = {"events": [event.body() for event in events]}
        answer = self._call(
            lambda: self._http.post(f"{self._base}/events/batch", json=body), "report_events"
        )
        return BatchAnswer(created=int(answer["created"]), duplicates=int(answer["duplicates"]))

    def list_pending_uploads(self) -> list[PendingUpload]:
        """The owner's shared local-first events this device has not sent yet."""
        rows = self._call(lambda: self._http.get(f"{self._base}/uploads"), "list_pending_uploads")
        if not isinstance(rows, list):
            raise DeviceAPIError(200, "unexpected_answer", "expected a list of pending uploads")
        return [PendingUpload.from_json(row) for row in rows]

    def fulfil_upload(self, evidence_id: uuid.UUID | str, clip: Path) -> FulfilledUpload:
        """Send the file of a shared local-first event. A second send answers 404
        ``upload_not_pending``: the server accepts each pending upload once."""

        def send() -> httpx.Response:
            with _opened(clip) as fh:
                return self._http.post(
                    f"{self._base}/uploads/{evidence_id}",
                    files={"file": (clip.name, fh, "video/mp4")},
                )

        body = self._call(send, "fulfil_upload")
        return FulfilledUpload(evidence_id=uuid.UUID(body["evidence_id"]), sha256=body["sha256"])

    # ------------------------------------------------------------ retries

    def _call(self, send: Callable[[], httpx.Response], operation: str) -> Any:
        maybe_delivered = False
        last: str = ""
        retry_after: float | None = None
        for attempt in range(max(1, self.retry.attempts)):
            if attempt:
                delay = self.retry.delay_s(attempt - 1, retry_after)
                log.info(
                    "device_api_retry",
                    operation=operation,
                    attempt=attempt,
                    delay_s=delay,
                    error=last,
                )
                self._sleep(delay)
            retry_after = None
            try:
                response = send()
            except _NOT_SENT as exc:
                last = f"{type(exc).__name__}: {exc}"
                continue
            except httpx.TransportError as exc:
                maybe_delivered = True
                last = f"{type(exc).__name__}: {exc}"
                continue
            if response.is_success:
                return response.json()
            if response.status_code >= 500 or response.status_code in _RETRYABLE:
                # A gateway may have passed the request on before it failed.
                maybe_delivered = maybe_delivered or response.status_code in (502, 504)
                retry_after = _retry_after_s(response)
                last = f"HTTP {response.status_code}"
                continue
            raise _refusal(response)
        raise DeviceUnavailable(
            f"{operation} failed after {self.retry.attempts} attempts: {last}",
            maybe_delivered=maybe_delivered,
            retry_after_s=retry_after,
        )


def _require_aware(value: datetime) -> None:
    if value.tzinfo is None:
        raise ValueError("times sent to doorstep need a time zone")


@contextmanager
def _opened(path: Path) -> Iterator[BinaryIO]:
    with path.open("rb") as fh:
        yield fh
