"""The Frigate bridge: Frigate's MQTT review items (and, optionally, tracked-object events)
become doorstep events or uploaded clips.

- Subscribes to ``<prefix>/reviews`` (and ``<prefix>/events``) with QoS 1 on a persistent
  session (fixed client id, ``clean_session=False``): while the bridge is away the broker
  keeps its messages. Each message is acknowledged only after it is in the durable
  outbox, so a crash in between means the broker sends it again.
- Acts once per review item, when it ends (``type: end`` or ``end_time`` set), keyed
  ``frigate:review:<id>`` in the outbox: duplicates, ``update`` after ``end`` and
  restarts do nothing more.
- ``local_first``: reports the event (``device_ref`` = the key); when the owner shares it,
  fetches that span from Frigate's recordings and fulfils the upload.
  ``upload``: fetches the span and uploads it as a clip.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import aiomqtt
import structlog

from doorstep.integrations.client import (
    DeviceAPIError,
    DeviceClient,
    DeviceUnavailable,
    RetryPolicy,
)
from doorstep.integrations.frigate_config import BridgeConfig, CameraLink
from doorstep.integrations.outbox import DeviceOutbox

log = structlog.get_logger(__name__)

REVIEW_REF, EVENT_REF = "frigate:review:", "frigate:event:"
# Frigate's labels -> doorstep's event kinds, first match wins.
_KINDS = (
    ("person", {"person"}),
    ("vehicle", {"car", "truck", "bus", "motorcycle", "bicycle", "boat"}),
    ("package", {"package"}),
)


@dataclass(frozen=True)
class FinishedActivity:
    """A Frigate review item or tracked object that ended, reduced to what the bridge uses."""

    ref: str  # frigate:review:<id> or frigate:event:<id>
    camera: str
    start_time: float
    end_time: float
    severity: str | None
    labels: list[str]
    zones: list[str]

    @property
    def kind(self) -> str:
        for kind, labels in _KINDS:
            if labels & set(self.labels):
                return kind
        return "motion"


def parse_message(topic_name: str, payload: Any) -> FinishedActivity | None:
    """The ended review item or tracked object in a Frigate message; None if it has not
    ended (new/update), is a false positive, or the payload is not Frigate's shape."""
    if not isinstance(payload, dict):
        return None
    after = payload.get("after") or payload.get("before")
    if not isinstance(after, dict) or not after.get("id") or not after.get("camera"):
        return None
    ended = payload.get("type") == "end" or after.get("end_time") is not None
    start = after.get("start_time")
    if not ended or not isinstance(start, int | float):
        return None
    end = after.get("end_time")
    end_time = float(end) if isinstance(end, int | float) else float(start)
    if topic_name == "reviews":
        data = after.get("data") if isinstance(after.get("data"), dict) else {}
        assert isinstance(data, dict)
        return FinishedActivity(
            ref=f"{REVIEW_REF}{after['id']}",
            camera=str(after["camera"]),
            start_time=float(start),
            end_time=max(end_time, float(start)),
            severity=str(after.get("severity") or "detection"),
            # A recognised sub label shows as "person-verified" in data.objects.
            labels=[str(o).removesuffix("-verified") for o in data.get("objects") or []],
            zones=[str(z) for z in data.get("zones") or []],
        )
    if after.get("false_positive"):
        return None
    return FinishedActivity(
        ref=f"{EVENT_REF}{after['id']}",
        camera=str(after["camera"]),
        start_time=float(start),
        end_time=max(end_time, float(start)),
        severity=None,
        labels=[str(after.get("label") or "")],
        zones=[str(z) for z in after.get("entered_zones") or []],
    )


def recording_url(frigate_url: str, camera: str, start: float, end: float) -> str:
    """Frigate's recordings export for a span: GET /api/<camera>/start/<ts>/end/<ts>/clip.mp4."""
    return f"{frigate_url}/api/{quote(camera, safe='')}/start/{start:.3f}/end/{end:.3f}/clip.mp4"


def _utc(epoch_s: float) -> datetime:
    return datetime.fromtimestamp(epoch_s, UTC)


class FrigateBridge:
    """One bridge process: MQTT in, the durable outbox out, pending uploads served."""

    def __init__(self, config: BridgeConfig, *, outbox: DeviceOutbox | None = None) -> None:
        self.config = config
        self.outbox = outbox or DeviceOutbox(
            config.state_dir,
            retry=RetryPolicy(0, config.retry_base_s, config.retry_max_s),
        )
        self._stop_threads = threading.Event()
        self.clients = {
            str(link.camera_id): DeviceClient(
                config.doorstep_url,
                link.camera_id,
                link.token,
                retry=RetryPolicy(
                    attempts=config.request_attempts,
                    base_delay_s=min(0.5, config.retry_base_s),
                    max_delay_s=min(5.0, config.retry_max_s),
                ),
                timeout_s=config.request_timeout_s,
                sleep=self._stop_threads.wait,
            )
            for link in config.cameras.values()
        }
        self.connected = asyncio.Event()

    def close(self) -> None:
        self._stop_threads.set()
        for client in self.clients.values():
            client.close()
        self.outbox.close()

    # ------------------------------------------------------------ messages

    def handle_message(self, topic: str, payload: bytes) -> str:
        """Queue what an MQTT message asks for; returns what happened (for logs and tests).

        Blocking (a durable write): run it off the event loop.
        """
        topic_name = topic.removeprefix(f"{self.config.mqtt.topic_prefix}/")
        try:
            body = json.loads(payload)
        except ValueError:
            log.warning("frigate_bad_payload", topic=topic)
            return "ignored"
        activity = parse_message(topic_name, body)
        if activity is None:
            return "open"
        link = self.config.cameras.get(activity.camera)
        if link is None:
            return "unmapped"
        if self.outbox.has_key(activity.ref):
            return "duplicate"
        if not link.filters.admits(
            severity=activity.severity, labels=activity.labels, zones=activity.zones
        ):
            log.info(
                "frigate_filtered",
                ref=activity.ref,
                severity=activity.severity,
                labels=activity.labels,
                zones=activity.zones,
            )
            return "filtered"
        queued = self._queue(activity, link)
        return "queued" if queued else "duplicate"

    def _queue(self, activity: FinishedActivity, link: CameraLink) -> bool:
        cfg = self.config
        if cfg.mode == "local_first":
            end = min(activity.end_time, activity.start_time + cfg.max_clip_s - 2 * cfg.padding_s)
            return (
                self.outbox.enqueue_event(
                    camera_id=link.camera_id,
                    started_at=_utc(activity.start_time),
                    ended_at=_utc(end),
                    kind=activity.kind,
                    key=activity.ref,
                    device_ref=activity.ref,
                )
                is not None
            )
        start = activity.start_time - cfg.padding_s
        end = min(activity.end_time + cfg.padding_s, start + cfg.max_clip_s)
        return (
            self.outbox.enqueue_clip(
                camera_id=link.camera_id,
                started_at=_utc(start),
                source_url=recording_url(cfg.frigate_url, activity.camera, start, end),
                kind=activity.kind,
                key=activity.ref,
                device_ref=activity.ref,
                not_before_s=cfg.clip_delay_s,
            )
            is not None
        )

    # ------------------------------------------------------------ shared uploads

    def serve_pending_uploads(self) -> int:
        """Queue Frigate's recording for each shared local-first event; returns how many
        were newly queued. Blocking: run it off the event loop."""
        queued = 0
        for camera_id, client in self.clients.items():
            link = self.config.link_for_camera_id(uuid.UUID(camera_id))
            assert link is not None
            try:
                shared = client.list_pending_uploads()
            except (DeviceUnavailable, DeviceAPIError) as exc:
                log.warning("frigate_uploads_poll_failed", camera_id=camera_id, error=str(exc))
                continue
            for pending in shared:
                ref = pending.device_ref or ""
                if not ref.startswith((REVIEW_REF, EVENT_REF)):
                    continue
                start = pending.started_at.timestamp() - self.config.padding_s
                end = min(
                    pending.ended_at.timestamp() + self.config.padding_s,
                    start + self.config.max_clip_s,
                )
                item = self.outbox.enqueue_fulfil(
                    camera_id=camera_id,
                    evidence_id=pending.evidence_id,
                    source_url=recording_url(
                        self.config.frigate_url, link.frigate_name, start, end
                    ),
                )
                if item is not None:
                    log.info("frigate_share_queued", ref=ref, evidence_id=str(pending.evidence_id))
                    queued += 1
        return queued

    # ------------------------------------------------------------ running

    async def run(self, stop: asyncio.Event | None = None) -> None:
        """Run until ``stop`` is set (or the task is cancelled)."""
        stop = stop or asyncio.Event()
        self._stop_threads.clear()
        delivery = threading.Thread(
            target=self.outbox.run,
            args=(self.clients, self._stop_threads),
            kwargs={"poll_s": self.config.delivery_poll_s},
            name="doorstep-bridge-delivery",
            daemon=True,
        )
        delivery.start()
        # Pending uploads are polled in both modes: events reported while the bridge ran
        # local-first can be shared after a switch to upload mode.
        tasks = [
            asyncio.create_task(self._mqtt_loop(), name="mqtt"),
            asyncio.create_task(self._poll_loop(), name="uploads"),
        ]
        stopper = asyncio.create_task(stop.wait())
        try:
            done, _ = await asyncio.wait([stopper, *tasks], return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                error = None if task is stopper else task.exception()
                if error is not None:
                    raise error
        finally:
            for task in [stopper, *tasks]:
                task.cancel()
            await asyncio.gather(stopper, *tasks, return_exceptions=True)
            self._stop_threads.set()
            await asyncio.to_thread(delivery.join, 30)
            self.connected.clear()

    async def _mqtt_loop(self) -> None:
        mqtt = self.config.mqtt
        delay = mqtt.reconnect_min_s
        while True:
            # A fresh TLS context per connection: paho binds one to the client it is given.
            tls = mqtt.tls_context()
            client = aiomqtt.Client(
                mqtt.host,
                mqtt.port,
                username=mqtt.username,
                password=mqtt.password,
                identifier=mqtt.client_id,
                clean_session=False,
                keepalive=mqtt.keepalive_s,
                tls_context=tls,
                tls_insecure=mqtt.tls_insecure_hostname if tls is not None else None,
            )
            ack = _manual_ack(client)
            try:
                async with client:
                    for name in self.config.topics:
                        await client.subscribe(f"{mqtt.topic_prefix}/{name}", qos=1)
                    log.info(
                        "frigate_mqtt_connected",
                        host=mqtt.host,
                        port=mqtt.port,
                        client_id=mqtt.client_id,
                        tls=mqtt.tls,
                    )
                    self.connected.set()
                    delay = mqtt.reconnect_min_s
                    async for message in client.messages:
                        outcome = await asyncio.to_thread(
                            self.handle_message, message.topic.value, _payload(message.payload)
                        )
                        ack(message)
                        log.debug("frigate_message", topic=message.topic.value, outcome=outcome)
            except aiomqtt.MqttError as exc:
                log.warning("frigate_mqtt_disconnected", error=str(exc), retry_in_s=delay)
            except Exception:  # a broken disk or bug: reconnect, the broker resends
                log.exception("frigate_message_failed", retry_in_s=delay)
            self.connected.clear()
            await asyncio.sleep(delay)
            delay = min(mqtt.reconnect_max_s, delay * 2)

    async def _poll_loop(self) -> None:
        while True:
            try:
                await asyncio.to_thread(self.serve_pending_uploads)
            except Exception as exc:  # the server may be down: try again next round
                log.warning("frigate_uploads_poll_failed", error=str(exc))
            await asyncio.sleep(self.config.poll_uploads_s)


def _payload(value: Any) -> bytes:
    if isinstance(value, bytes | bytearray):
        return bytes(value)
    return str(value if value is not None else "").encode()


def _manual_ack(client: aiomqtt.Client) -> Callable[[aiomqtt.Message], None]:
    """Acknowledge a message only once it is stored (paho's manual ack under aiomqtt)."""
    paho = getattr(client, "_client", None)
    if paho is None or not hasattr(paho, "manual_ack_set"):
        log.warning("frigate_manual_ack_unavailable")
        return lambda _message: None
    paho.manual_ack_set(True)

    def ack(message: aiomqtt.Message) -> None:
        with contextlib.suppress(Exception):
            paho.ack(message.mid, message.qos)

    return ack


async def run_bridge(config: BridgeConfig) -> None:
    """Run the bridge until interrupted."""
    bridge = FrigateBridge(config)
    try:
        await bridge.run()
    finally:
        bridge.close()
