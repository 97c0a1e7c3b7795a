"""A durable outbox for a device, and its delivery: nothing waiting for doorstep is lost
to an outage or a restart (storage in ``outbox_store``).

Delivery is at least once. An item is marked delivered only after the server answered
2xx. If an attempt may have reached the server without an answer (a timeout after
sending, a crash mid-request), the item is sent again and flagged ``maybe_sent``; the
server records clips and events per request, so such a retry can leave a duplicate
event there, carrying the same ``device_ref``. A shared clip (fulfil) cannot be
duplicated: the server accepts each pending upload once and answers 404
``upload_not_pending`` after, which the outbox takes as done.

Events queued for one camera, two or more due in a round, go in one request to the batch
endpoint (``POST /events/batch``): the server records all of them or none and skips any
``device_ref`` it already has, so a batch sent again after an unanswered attempt records
each event once. A batch it refuses (4xx) recorded nothing: its events are then sent one
by one, and only the event at fault fails. Events without a ``device_ref`` are sent alone
(the server could not recognise them in a repeated batch).

Refusals: a 4xx about the item (invalid, too long, not a video) fails it for good (kept,
``retry_failed()`` queues it again); a refused camera token (401/403) keeps everything
queued, since the item is fine and the key is not.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import structlog

from doorstep.integrations.client import (
    MAX_BATCH,
    DeviceAPIError,
    DeviceClient,
    DeviceUnavailable,
    EventReport,
    RetryPolicy,
)
from doorstep.integrations.outbox_store import (
    CLIP,
    DELIVERED,
    EVENT,
    FAILED,
    FULFIL,
    QUEUED,
    Delivery,
    OutboxBusy,
    OutboxStore,
    fsync_dir,
)

__all__ = [
    "CLIP",
    "DELIVERED",
    "EVENT",
    "FAILED",
    "FULFIL",
    "QUEUED",
    "Delivery",
    "DeliveryRound",
    "DeviceOutbox",
    "OutboxBusy",
    "SourceUnavailable",
    "download_to",
]

log = structlog.get_logger(__name__)


class SourceUnavailable(Exception):
    """The clip could not be fetched from its source (e.g. Frigate) this time."""

    def __init__(self, message: str, *, permanent: bool) -> None:
        super().__init__(message)
        self.permanent = permanent


@dataclass
class DeliveryRound:
    delivered: int = 0
    failed: int = 0
    deferred: int = 0
    server_down: bool = False


def download_to(
    url: str, target: Path, *, timeout_s: float = 120.0, max_bytes: int = 200 * 1024 * 1024
) -> None:
    """Fetch ``url`` into ``target``; 5xx/429 and network errors are worth a retry."""
    try:
        with httpx.stream("GET", url, timeout=timeout_s, follow_redirects=True) as response:
            if response.status_code >= 400:
                transient = response.status_code >= 500 or response.status_code in (408, 429)
                raise SourceUnavailable(
                    f"HTTP {response.status_code} from {url}", permanent=not transient
                )
            written = 0
            with target.open("wb") as fh:
                for chunk in response.iter_bytes(1 << 20):
                    written += len(chunk)
                    if written > max_bytes:
                        raise SourceUnavailable(f"{url} is over {max_bytes} bytes", permanent=True)
                    fh.write(chunk)
                fh.flush()
                os.fsync(fh.fileno())
    except httpx.HTTPError as exc:
        raise SourceUnavailable(f"{type(exc).__name__}: {exc}", permanent=False) from exc


class DeviceOutbox(OutboxStore):
    """The device's queue of clips, events and shared uploads waiting for doorstep, and
    their delivery: at least once, oldest first, with backoff while the server is down."""

    def __init__(
        self,
        state_dir: Path,
        *,
        retry: RetryPolicy | None = None,
        remember_days: float = 30.0,
        source_attempts: int = 10,
        fetch: Callable[[str, Path], None] = download_to,
    ) -> None:
        super().__init__(state_dir, remember_days=remember_days)
        # Between rounds and per item: a slower curve than one request's retries.
        self.retry = retry or RetryPolicy(attempts=0, base_delay_s=2.0, max_delay_s=300.0)
        self.source_attempts = source_attempts
        self.fetch = fetch
        # One delivery round at a time: two threads must never send the same row.
        self._delivering = threading.Lock()

    # ------------------------------------------------------------ delivery

    def deliver_due(
        self, clients: Mapping[str, DeviceClient], *, limit: int = 100
    ) -> DeliveryRound:
        """Send every due item once, oldest first; stop early while the server is down."""
        with self._delivering:
            return self._deliver_round(clients, limit)

    def _deliver_round(self, clients: Mapping[str, DeviceClient], limit: int) -> DeliveryRound:
        outcome = DeliveryRound()
        with self._lock:
            rows = self._db.execute(
                "SELECT * FROM deliveries WHERE status = ? AND next_attempt_at <= ?"
                " ORDER BY next_attempt_at, created_at LIMIT ?",
                (QUEUED, time.time(), limit),
            ).fetchall()
        items = self._deliver_batches([Delivery.from_row(row) for row in rows], clients, outcome)
        for item in items if not outcome.server_down else []:
            client = clients.get(item.camera_id)
            if client is None:
                log.warning("outbox_no_client", id=item.id, camera_id=item.camera_id)
                self._defer(item, "no client for this camera", None)
                outcome.deferred += 1
                continue
            result = self._deliver_one(item, client)
            if result == DELIVERED:
                outcome.delivered += 1
            elif result == FAILED:
                outcome.failed += 1
            else:
                outcome.deferred += 1
                if result == "server_down":
                    outcome.server_down = True
                    break
        return outcome

    def _deliver_batches(
        self, items: list[Delivery], clients: Mapping[str, DeviceClient], outcome: DeliveryRound
    ) -> list[Delivery]:
        """Send the due events of each camera with two or more in batch requests; returns
        the items still to send one by one (all that were not batched, or whose batch the
        server refused)."""
        per_camera: dict[str, list[Delivery]] = {}
        for item in items:
            if item.action == EVENT and item.device_ref and item.camera_id in clients:
                per_camera.setdefault(item.camera_id, []).append(item)
        sent: set[str] = set()
        for camera_id, events in per_camera.items():
            for start in range(0, len(events) if len(events) > 1 else 0, MAX_BATCH):
                batch = events[start : start + MAX_BATCH]
                result = self._deliver_batch(batch, clients[camera_id])
                if result == FAILED:
                    continue
                sent.update(item.id for item in batch)
                if result == DELIVERED:
                    outcome.delivered += len(batch)
                else:
                    outcome.deferred += len(batch)
                    outcome.server_down = True
                    return []
        return [item for item in items if item.id not in sent]

    def _deliver_batch(self, events: list[Delivery], client: DeviceClient) -> str:
        """One batch request: DELIVERED, ``server_down`` (all deferred), or FAILED when the
        server refused the batch (it recorded none of it)."""
        with self._one_write():
            for item in events:
                self._update(item.id, attempts=item.attempts + 1, in_flight=1)
        try:
            answer = client.report_events([_report(item) for item in events])
        except DeviceUnavailable as exc:
            with self._one_write():
                for item in events:
                    maybe_sent = item.maybe_sent or exc.maybe_delivered
                    self._update(item.id, in_flight=0, maybe_sent=int(maybe_sent))
                    self._defer(item, str(exc), exc.retry_after_s)
            return "server_down"
        except (DeviceAPIError, ValueError) as exc:
            token_refused = isinstance(exc, DeviceAPIError) and exc.is_credential_problem
            with self._one_write():
                for item in events:
                    self._update(item.id, in_flight=0)
                    if token_refused:
                        self._defer(item, str(exc), self.retry.max_delay_s)
            if token_refused:
                log.error("outbox_token_refused", camera_id=client.camera_id, error=str(exc))
                return "server_down"
            log.warning("outbox_batch_refused", camera_id=client.camera_id, error=str(exc))
            return FAILED
        summary = {"batch": len(events), "created": answer.created, "duplicates": answer.duplicates}
        with self._one_write():
            for item in events:
                self._finish(item, summary)
        return DELIVERED

    def _deliver_one(self, item: Delivery, client: DeviceClient) -> str:
        if item.action in (CLIP, FULFIL) and item.clip_file is None:
            try:
                item = self._fetch_source(item)
            except SourceUnavailable as exc:
                return self._source_failed(item, exc)
        self._update(item.id, attempts=item.attempts + 1, in_flight=1)
        try:
            answer = self._send(item, client)
        except DeviceAPIError as exc:
            self._update(item.id, in_flight=0)
            if item.action == FULFIL and exc.code == "upload_not_pending":
                # Sent before (an unanswered attempt) or withdrawn by the owner: done.
                return self._finish(item, {"not_pending": True})
            if exc.is_credential_problem:
                log.error(
                    "outbox_token_refused", id=item.id, camera_id=item.camera_id, code=exc.code
                )
                self._defer(item, str(exc), self.retry.max_delay_s)
                return "server_down"
            log.error(
                "outbox_refused", id=item.id, key=item.key, code=exc.code, message=exc.message
            )
            self._update(item.id, status=FAILED, finished_at=time.time(), last_error=str(exc))
            return FAILED
        except DeviceUnavailable as exc:
            self._update(
                item.id, in_flight=0, maybe_sent=int(item.maybe_sent or exc.maybe_delivered)
            )
            self._defer(item, str(exc), exc.retry_after_s)
            return "server_down"
        except (OSError, ValueError) as exc:
            self._update(
                item.id,
                in_flight=0,
                status=FAILED,
                finished_at=time.time(),
                last_error=f"{type(exc).__name__}: {exc}",
            )
            log.error("outbox_item_broken", id=item.id, error=str(exc))
            return FAILED
        if item.maybe_sent and not item.device_ref:
            # Without a device_ref the server cannot recognise a repeat.
            log.warning("outbox_possible_duplicate", id=item.id)
        return self._finish(item, answer)

    def _send(self, item: Delivery, client: DeviceClient) -> dict[str, Any]:
        if item.action == EVENT:
            assert item.started_at is not None
            event = client.report_event(
                started_at=item.started_at,
                ended_at=item.ended_at,
                kind=item.kind,
                device_ref=item.device_ref,
            )
            return {"event_id": str(event.id)}
        assert item.clip_file is not None
        clip = self.clips_dir / item.clip_file
        if item.action == CLIP:
            assert item.started_at is not None
            event = client.upload_clip(
                clip, started_at=item.started_at, kind=item.kind, device_ref=item.device_ref
            )
            return {"event_id": str(event.id), "clip_id": str(event.clip_id)}
        assert item.evidence_id is not None
        done = client.fulfil_upload(item.evidence_id, clip)
        return {"evidence_id": str(done.evidence_id), "sha256": done.sha256}

    def _fetch_source(self, item: Delivery) -> Delivery:
        assert item.source_url is not None
        partial = self.clips_dir / f"{item.id}.part"
        try:
            self.fetch(item.source_url, partial)
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
        name = f"{item.id}.mp4"
        os.replace(partial, self.clips_dir / name)
        fsync_dir(self.clips_dir)
        self._update(item.id, clip_file=name)
        fetched = self.get(item.id)
        assert fetched is not None
        return fetched

    def _source_failed(self, item: Delivery, exc: SourceUnavailable) -> str:
        failures = item.source_failures + 1
        self._update(item.id, source_failures=failures)
        if exc.permanent and failures >= self.source_attempts:
            log.error("outbox_source_gone", id=item.id, url=item.source_url, error=str(exc))
            self._update(item.id, status=FAILED, finished_at=time.time(), last_error=str(exc))
            return FAILED
        log.warning("outbox_source_unavailable", id=item.id, url=item.source_url, error=str(exc))
        self._defer(item, str(exc), None, retry=failures)
        return "deferred"

    def _finish(self, item: Delivery, answer: dict[str, Any]) -> str:
        self._update(
            item.id,
            status=DELIVERED,
            finished_at=time.time(),
            in_flight=0,
            result=json.dumps(answer),
            last_error=None,
        )
        if item.clip_file:
            (self.clips_dir / item.clip_file).unlink(missing_ok=True)
        log.info("outbox_delivered", id=item.id, key=item.key, action=item.action, **answer)
        return DELIVERED

    def _defer(
        self, item: Delivery, error: str, retry_after_s: float | None, retry: int | None = None
    ) -> None:
        delay = self.retry.delay_s(
            min(retry if retry is not None else item.attempts, 20), retry_after_s
        )
        self._update(item.id, next_attempt_at=time.time() + delay, last_error=error)

    # ------------------------------------------------------------ loop

    def run(
        self,
        clients: Mapping[str, DeviceClient],
        stop: threading.Event,
        *,
        poll_s: float = 5.0,
        on_round: Callable[[], None] | None = None,
    ) -> None:
        """Deliver until ``stop`` is set; wakes at once when something is queued. While
        the server is down, rounds back off exponentially (``retry``)."""
        down_rounds = 0
        forgot_at = time.monotonic()
        while not stop.is_set():
            self.wake.clear()
            try:
                if on_round is not None:
                    on_round()
                if time.monotonic() - forgot_at > 3600:
                    forgot_at = time.monotonic()
                    self.forget_finished()
                outcome = self.deliver_due(clients)
            except Exception:
                log.exception("outbox_round_failed")
                outcome = DeliveryRound(server_down=True)
            if outcome.server_down:
                down_rounds += 1
                _wait_any(stop, self.wake, self.retry.delay_s(min(down_rounds - 1, 20)))
            else:
                down_rounds = 0
                if not outcome.delivered:
                    _wait_any(stop, self.wake, min(poll_s, self._next_due_in(poll_s)))

    def drain(self, clients: Mapping[str, DeviceClient], *, timeout_s: float) -> bool:
        """Deliver until nothing is queued or ``timeout_s`` passed; True when empty."""
        deadline = time.monotonic() + timeout_s
        while self.count(QUEUED) and time.monotonic() < deadline:
            outcome = self.deliver_due(clients)
            if not outcome.delivered:
                time.sleep(min(max(0.01, deadline - time.monotonic()), self._next_due_in(1.0)))
        return self.count(QUEUED) == 0


def _report(item: Delivery) -> EventReport:
    assert item.started_at is not None
    return EventReport(item.started_at, item.ended_at, item.kind, item.device_ref)


def _wait_any(stop: threading.Event, wake: threading.Event, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while not stop.is_set() and not wake.is_set():
        left = deadline - time.monotonic()
        if left <= 0:
            return
        stop.wait(min(left, 0.05))
