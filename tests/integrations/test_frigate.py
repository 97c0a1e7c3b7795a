"""The Frigate bridge against a real Mosquitto, a live doorstep and a stand-in for
Frigate's HTTP API serving real MP4s; payloads are shaped as Frigate documents them."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiomqtt
import pytest
import typer
from typer.testing import CliRunner

from doorstep.integrations.cli import bridge_app
from doorstep.integrations.frigate import FrigateBridge, parse_message, recording_url
from doorstep.integrations.frigate_config import BridgeConfig, BridgeConfigError, parse_config
from doorstep.integrations.outbox import DELIVERED, QUEUED
from doorstep.runtime import Runtime
from tests.factories import CameraWithToken, make_camera, make_person
from tests.integrations.support import (
    FakeFrigate,
    LiveServer,
    OwnBroker,
    async_wait_until,
    frigate_review,
    hours_ago,
    review_id,
    sha256_of,
    share_events,
)

README_EXAMPLE = """
mode = "upload"                     # or "local_first"
state_dir = "/var/lib/doorstep-bridge"

[doorstep]
url = "https://doorstep.example.org"
poll_uploads_s = 30

[frigate]
url = "http://frigate.lan:5000"
topics = ["reviews"]                # add "events" for per-object events
padding_s = 2
clip_delay_s = 15
max_clip_s = 600

[mqtt]
host = "mqtt.lan"
port = 1883
username = "doorstep"
password_env = "DOORSTEP_MQTT_PASSWORD"
topic_prefix = "frigate"
client_id = "doorstep-bridge"

[filters]
severity = ["alert"]
labels = ["person", "car", "package"]
zones = []

[cameras.front_door]
camera_id = "8d7f3c2e-2f0b-4d8e-9a51-3f1f0f7a9c11"
token_env = "DOORSTEP_TOKEN_FRONT_DOOR"

[cameras.driveway]
camera_id = "0b8f8a52-6a0c-4a44-8c5e-2b8d51f0e7d4"
token_env = "DOORSTEP_TOKEN_DRIVEWAY"
severity = ["alert", "detection"]
zones = ["driveway"]
"""


# ---------------------------------------------------------------- payloads and config


def test_frigate_documented_review_messages() -> None:
    start = 1718987129.308396
    new = frigate_review("1718987129.308396-fqk5ka", "front_cam", "new", start=start, end=None)
    update = frigate_review(
        "1718987129.308396-fqk5ka",
        "front_cam",
        "update",
        start=start,
        end=None,
        objects=["person", "car"],
        zones=["front_yard"],
    )
    end = frigate_review(
        "1718987129.308396-fqk5ka",
        "front_cam",
        "end",
        start=start,
        end=start + 42.5,
        objects=["person-verified", "car"],
        zones=["front_yard"],
    )
    assert parse_message("reviews", new) is None
    assert parse_message("reviews", update) is None
    done = parse_message("reviews", end)
    assert done is not None
    assert done.ref == "frigate:review:1718987129.308396-fqk5ka" and done.camera == "front_cam"
    assert (done.start_time, done.end_time, done.severity) == (start, start + 42.5, "alert")
    assert done.labels == ["person", "car"] and done.zones == ["front_yard"]
    assert done.kind == "person"
    assert parse_message("reviews", {"type": "end"}) is None
    assert parse_message("reviews", ["not", "frigate"]) is None


def test_frigate_documented_event_messages() -> None:
    after = {
        "id": "1607123955.475377-mxklsc",
        "camera": "front_door",
        "label": "car",
        "start_time": 1607123955.475377,
        "end_time": None,
        "false_positive": False,
        "entered_zones": ["yard", "driveway"],
        "current_zones": ["driveway"],
    }
    assert parse_message("events", {"type": "update", "before": after, "after": after}) is None
    ended = {**after, "end_time": 1607123970.0}
    done = parse_message("events", {"type": "end", "before": after, "after": ended})
    assert done is not None and done.ref == "frigate:event:1607123955.475377-mxklsc"
    assert done.kind == "vehicle" and done.zones == ["yard", "driveway"]
    fp = {**ended, "false_positive": True}
    assert parse_message("events", {"type": "end", "before": after, "after": fp}) is None


def test_the_readme_example_is_a_working_configuration(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DOORSTEP_MQTT_PASSWORD", "mqtt-secret")
    monkeypatch.setenv("DOORSTEP_TOKEN_FRONT_DOOR", "dsc_front")
    monkeypatch.setenv("DOORSTEP_TOKEN_DRIVEWAY", "dsc_drive")
    path = tmp_path / "bridge.toml"
    path.write_text(README_EXAMPLE)
    # wired as in doorstep.cli: app.add_typer(bridge_app, name="bridge")
    doorstep = typer.Typer()
    doorstep.add_typer(bridge_app, name="bridge")
    doorstep.command("version")(lambda: None)
    check = ["bridge", "frigate", "--config", str(path), "--check"]
    result = CliRunner().invoke(doorstep, check)
    assert result.exit_code == 0, result.output
    assert "front_door -> camera 8d7f3c2e-2f0b-4d8e-9a51-3f1f0f7a9c11" in result.output
    assert "driveway -> camera 0b8f8a52" in result.output and "zones driveway" in result.output
    monkeypatch.delenv("DOORSTEP_TOKEN_DRIVEWAY")
    result = CliRunner().invoke(doorstep, check)
    assert result.exit_code == 2 and "DOORSTEP_TOKEN_DRIVEWAY is not set" in result.output


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"mode": "sometimes"}, "mode must be one of"),
        ({"cameras": {}}, "at least one"),
        ({"cameras": {"x": {"camera_id": "nope", "token": "t"}}}, "not a doorstep camera id"),
        ({"cameras": {"x": {"camera_id": str(uuid.uuid4())}}}, "set token"),
        ({"filters": {"severity": ["urgent"]}}, "severity"),
        ({"frigate": {"topics": ["recordings"]}}, "frigate.topics"),
    ],
)
def test_config_mistakes_are_named(change: dict[str, Any], message: str) -> None:
    raw: dict[str, Any] = {
        "doorstep": {"url": "http://d"},
        "cameras": {"x": {"camera_id": str(uuid.uuid4()), "token": "t"}},
    }
    raw.update(change)
    with pytest.raises(BridgeConfigError, match=message):
        parse_config(raw)


def test_recording_url_is_frigates_export_endpoint() -> None:
    assert (
        recording_url("http://frigate:5000", "front door", 100.0, 112.25)
        == "http://frigate:5000/api/front%20door/start/100.000/end/112.250/clip.mp4"
    )


# ---------------------------------------------------------------- the bridge, live


def _config(
    tmp: Path,
    *,
    mode: str,
    broker: tuple[str, int],
    prefix: str,
    client_id: str,
    server: LiveServer,
    frigate: str,
    cameras: dict[str, dict[str, Any]],
) -> BridgeConfig:
    return parse_config(
        {
            "mode": mode,
            "state_dir": str(tmp / "bridge-state"),
            "doorstep": {"url": server.url, "poll_uploads_s": 0.2},
            "frigate": {"url": frigate, "padding_s": 1.0, "clip_delay_s": 0.0},
            "mqtt": {
                "host": broker[0],
                "port": broker[1],
                "topic_prefix": prefix,
                "client_id": client_id,
                "reconnect_min_s": 0.2,
                "reconnect_max_s": 1.0,
                "keepalive_s": 5,
            },
            "filters": {"severity": ["alert"]},
            "delivery": {
                "retry_base_s": 0.05,
                "retry_max_s": 0.3,
                "poll_s": 0.1,
                "request_attempts": 2,
            },
            "cameras": cameras,
        }
    )


def _link(cam: CameraWithToken, **filters: Any) -> dict[str, Any]:
    return {"camera_id": str(cam.camera.id), "token": cam.token, **filters}


@asynccontextmanager
async def running(config: BridgeConfig) -> AsyncIterator[FrigateBridge]:
    bridge = FrigateBridge(config)
    stop = asyncio.Event()
    task = asyncio.create_task(bridge.run(stop))
    try:
        await asyncio.wait_for(bridge.connected.wait(), 15)
        yield bridge
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)
        bridge.close()


async def publish(broker: tuple[str, int], topic: str, *messages: dict[str, Any]) -> None:
    async with aiomqtt.Client(
        broker[0], broker[1], identifier=f"test-frigate-{uuid.uuid4().hex[:8]}"
    ) as client:
        for message in messages:
            await client.publish(topic, json.dumps(message), qos=1)


async def forget_session(broker: tuple[str, int], client_id: str) -> None:
    """Leave no persistent session behind on the shared broker."""
    async with aiomqtt.Client(broker[0], broker[1], identifier=client_id, clean_session=True):
        pass


def _refs(server: LiveServer, cam: CameraWithToken) -> list[str]:
    return sorted(e.device_ref or "" for e in server.events(cam.camera.id))


async def test_upload_mode_sends_each_ended_review_once(
    runtime: Runtime,
    live_server: LiveServer,
    frigate_api: FakeFrigate,
    system_broker: tuple[str, int],
    tmp_path: Path,
) -> None:
    owner = make_person(runtime)
    front, garage = make_camera(runtime, owner.user), make_camera(runtime, owner.user)
    prefix, client_id = f"frigate-test-{uuid.uuid4().hex[:8]}", f"doorstep-{uuid.uuid4().hex}"
    config = _config(
        tmp_path,
        mode="upload",
        broker=system_broker,
        prefix=prefix,
        client_id=client_id,
        server=live_server,
        frigate=frigate_api.url,
        cameras={
            "front_door": _link(front),
            "garage": _link(garage, labels=["car"], zones=["driveway"]),
        },
    )
    topic = f"{prefix}/reviews"
    t0 = hours_ago(2)
    a, b, c, d, e, f = (review_id(t0 + i * 60) for i in range(6))
    frigate_api.fail_next = 1  # Frigate is busy once: the clip is fetched again later
    try:
        async with running(config) as bridge:
            await publish(
                system_broker,
                topic,
                frigate_review(a, "front_door", "new", start=t0, end=None),
                frigate_review(a, "front_door", "update", start=t0, end=None),
                frigate_review(a, "front_door", "end", start=t0, end=t0 + 20),
                frigate_review(a, "front_door", "end", start=t0, end=t0 + 20),  # duplicate
                frigate_review(a, "front_door", "update", start=t0, end=None),  # late update
                # B ends before it begins (out of order)
                frigate_review(b, "front_door", "end", start=t0 + 60, end=t0 + 75),
                frigate_review(b, "front_door", "new", start=t0 + 60, end=None),
                frigate_review(b, "front_door", "update", start=t0 + 60, end=None),
                # filtered: a detection on an alert-only camera; a person where cars count
                frigate_review(
                    c, "front_door", "end", start=t0 + 120, end=t0 + 130, severity="detection"
                ),
                frigate_review(
                    d,
                    "garage",
                    "end",
                    start=t0 + 180,
                    end=t0 + 190,
                    objects=["person"],
                    zones=["driveway"],
                ),
                # a camera the bridge does not map
                frigate_review(e, "backyard", "end", start=t0 + 240, end=t0 + 250),
                frigate_review(
                    f,
                    "garage",
                    "end",
                    start=t0 + 300,
                    end=t0 + 310,
                    objects=["car"],
                    zones=["driveway", "street"],
                ),
            )
            await async_wait_until(
                lambda: (
                    len(_refs(live_server, front)) >= 2 and len(_refs(live_server, garage)) >= 1
                ),
                timeout_s=30,
                what="three clips",
            )
        # Restarted on the same state dir, the bridge ignores A again.
        async with running(config) as bridge:
            g = review_id(t0 + 360)
            await publish(
                system_broker,
                topic,
                frigate_review(a, "front_door", "end", start=t0, end=t0 + 20),
                frigate_review(g, "front_door", "end", start=t0 + 360, end=t0 + 370),
            )
            # G comes after everything else on the topic: once it is in, all was handled.
            await async_wait_until(
                lambda: f"frigate:review:{g}" in _refs(live_server, front),
                timeout_s=30,
                what="the sentinel review",
            )
            await async_wait_until(lambda: bridge.outbox.count(QUEUED) == 0, what="empty outbox")
            statuses = {d.key: d.status for d in bridge.outbox.items()}
    finally:
        await forget_session(system_broker, client_id)
    assert _refs(live_server, front) == sorted(f"frigate:review:{r}" for r in (a, b, g))
    assert _refs(live_server, garage) == [f"frigate:review:{f}"]
    assert set(statuses.values()) == {DELIVERED} and len(statuses) == 4
    assert all(ev.clip_id is not None for ev in live_server.events(front.camera.id))
    # Each clip was fetched as the review's span (plus padding) from Frigate's recordings.
    spans = {(cam, round(s, 3), round(e_, 3)) for cam, s, e_ in frigate_api.requests}
    assert ("front_door", round(t0 - 1, 3), round(t0 + 21, 3)) in spans
    assert ("garage", round(t0 + 299, 3), round(t0 + 311, 3)) in spans
    assert len(frigate_api.requests) == 4


async def test_local_first_reports_events_and_serves_shares_from_frigate(
    runtime: Runtime,
    live_server: LiveServer,
    frigate_api: FakeFrigate,
    system_broker: tuple[str, int],
    tmp_path: Path,
) -> None:
    owner = make_person(runtime)
    cam = make_camera(runtime, owner.user)
    prefix, client_id = f"frigate-test-{uuid.uuid4().hex[:8]}", f"doorstep-{uuid.uuid4().hex}"
    config = _config(
        tmp_path,
        mode="local_first",
        broker=system_broker,
        prefix=prefix,
        client_id=client_id,
        server=live_server,
        frigate=frigate_api.url,
        cameras={"front_door": _link(cam)},
    )
    t0 = hours_ago(2)
    rid = review_id(t0)
    try:
        async with running(config):
            await publish(
                system_broker,
                f"{prefix}/reviews",
                frigate_review(rid, "front_door", "new", start=t0, end=None),
                frigate_review(
                    rid, "front_door", "end", start=t0, end=t0 + 30, objects=["car", "person"]
                ),
            )
            await async_wait_until(
                lambda: live_server.events(cam.camera.id), what="the local-first event"
            )
            [event] = live_server.events(cam.camera.id)
            assert event.on_device and event.clip_id is None and event.kind.value == "person"
            assert event.device_ref == f"frigate:review:{rid}"
            assert frigate_api.requests == []  # nothing leaves before the owner shares

            shared = await asyncio.to_thread(share_events, live_server, owner, [str(event.id)])
            evidence_id = uuid.UUID(shared[0]["id"])

            def uploaded() -> bool:
                item = live_server.evidence(evidence_id)
                return item is not None and item.original_sha256 is not None

            await async_wait_until(uploaded, timeout_s=30, what="the shared clip")
    finally:
        await forget_session(system_broker, client_id)
    item = live_server.evidence(evidence_id)
    # The server holds the original's hash; the agency gets a redacted copy of it.
    assert item is not None and item.original_sha256 == sha256_of(frigate_api.clip)
    assert item.status.value == "redacting"
    [(camera, start, end)] = frigate_api.requests
    assert camera == "front_door"
    assert abs(start - (t0 - 1)) < 0.01 and abs(end - (t0 + 31)) < 0.01


async def test_a_broker_restart_loses_nothing(
    runtime: Runtime,
    live_server: LiveServer,
    own_broker: OwnBroker,
    tmp_path: Path,
) -> None:
    owner = make_person(runtime)
    cam = make_camera(runtime, owner.user)
    broker = ("127.0.0.1", own_broker.port)
    prefix = f"frigate-test-{uuid.uuid4().hex[:8]}"
    config = _config(
        tmp_path,
        mode="local_first",
        broker=broker,
        prefix=prefix,
        client_id="doorstep-bridge-restart",
        server=live_server,
        frigate="http://127.0.0.1:9",
        cameras={"front_door": _link(cam)},
    )
    topic, t0 = f"{prefix}/reviews", hours_ago(2)
    ids = [review_id(t0 + i * 60) for i in range(5)]

    def end(i: int) -> dict[str, Any]:
        return frigate_review(ids[i], "front_door", "end", start=t0 + i * 60, end=t0 + i * 60 + 10)

    def delivered(n: int) -> bool:
        return len(live_server.events(cam.camera.id)) >= n

    async with running(config) as bridge:
        await publish(broker, topic, end(0))
        await async_wait_until(lambda: delivered(1), what="review 0")
    # The bridge is away; the broker keeps its persistent session's messages ...
    await publish(broker, topic, end(1))
    # ... across its own restart (a clean stop writes them to disk) ...
    await asyncio.to_thread(own_broker.stop)
    await asyncio.to_thread(own_broker.start)
    await publish(broker, topic, end(2))
    async with running(config) as bridge:
        await async_wait_until(lambda: delivered(3), what="reviews 1 and 2")
        # ... and a restart while the bridge is connected: it reconnects with backoff.
        await asyncio.to_thread(own_broker.stop)
        await async_wait_until(lambda: not bridge.connected.is_set(), what="the disconnect")
        await asyncio.to_thread(own_broker.start)
        await publish(broker, topic, end(3), end(3))  # possibly before the bridge is back
        await asyncio.wait_for(bridge.connected.wait(), 15)
        await publish(broker, topic, end(4))
        await async_wait_until(lambda: delivered(5), timeout_s=30, what="reviews 3 and 4")
        await async_wait_until(lambda: bridge.outbox.count(QUEUED) == 0, what="empty outbox")
    assert _refs(live_server, cam) == sorted(f"frigate:review:{r}" for r in ids)


async def test_a_doorstep_outage_loses_nothing_and_sends_nothing_twice(
    runtime: Runtime,
    live_server: LiveServer,
    system_broker: tuple[str, int],
    tmp_path: Path,
) -> None:
    owner = make_person(runtime)
    cam = make_camera(runtime, owner.user)
    prefix, client_id = f"frigate-test-{uuid.uuid4().hex[:8]}", f"doorstep-{uuid.uuid4().hex}"
    config = _config(
        tmp_path,
        mode="local_first",
        broker=system_broker,
        prefix=prefix,
        client_id=client_id,
        server=live_server,
        frigate="http://127.0.0.1:9",
        cameras={"front_door": _link(cam)},
    )
    topic, t0 = f"{prefix}/reviews", hours_ago(2)
    ids = [review_id(t0 + i * 60) for i in range(3)]
    ends = [
        frigate_review(r, "front_door", "end", start=t0 + i * 60, end=t0 + i * 60 + 10)
        for i, r in enumerate(ids)
    ]
    try:
        await asyncio.to_thread(live_server.stop)  # doorstep goes down
        async with running(config) as bridge:
            await publish(system_broker, topic, ends[0], ends[1], ends[0], ends[2])

            def tried_all() -> bool:
                items = bridge.outbox.items()
                return len(items) == 3 and any(d.last_error for d in items)

            await async_wait_until(tried_all, what="three queued reviews, tried")
            assert bridge.outbox.count(QUEUED) == 3
        # The bridge restarts during the outage; doorstep comes back after.
        async with running(config) as bridge:
            await asyncio.to_thread(live_server.start)
            await async_wait_until(
                lambda: bridge.outbox.count(QUEUED) == 0, timeout_s=30, what="the queue to drain"
            )
            await publish(system_broker, topic, ends[1])  # a late duplicate
            sentinel = review_id(t0 + 600)
            await publish(
                system_broker,
                topic,
                frigate_review(sentinel, "front_door", "end", start=t0 + 600, end=t0 + 610),
            )
            await async_wait_until(
                lambda: f"frigate:review:{sentinel}" in _refs(live_server, cam),
                what="the sentinel review",
            )
    finally:
        await forget_session(system_broker, client_id)
    assert _refs(live_server, cam) == sorted(f"frigate:review:{r}" for r in [*ids, sentinel])


async def test_reviews_queued_in_an_outage_reach_doorstep_in_one_batch(
    runtime: Runtime,
    live_server: LiveServer,
    system_broker: tuple[str, int],
    tmp_path: Path,
) -> None:
    """Local-first: three reviews queued while doorstep is down arrive in one batch
    request when it is back, each once; a late repeat is not sent again."""
    owner = make_person(runtime)
    cam = make_camera(runtime, owner.user)
    prefix, client_id = f"frigate-test-{uuid.uuid4().hex[:8]}", f"doorstep-{uuid.uuid4().hex}"
    config = _config(
        tmp_path,
        mode="local_first",
        broker=system_broker,
        prefix=prefix,
        client_id=client_id,
        server=live_server,
        frigate="http://127.0.0.1:9",
        cameras={"front_door": _link(cam)},
    )
    topic, t0 = f"{prefix}/reviews", hours_ago(2)
    ids = [review_id(t0 + i * 60) for i in range(3)]
    ends = [
        frigate_review(r, "front_door", "end", start=t0 + i * 60, end=t0 + i * 60 + 10)
        for i, r in enumerate(ids)
    ]
    try:
        await asyncio.to_thread(live_server.stop)
        async with running(config) as bridge:
            await publish(system_broker, topic, *ends)

            def tried_all() -> bool:
                items = bridge.outbox.items()
                return len(items) == 3 and all(d.last_error for d in items)

            await async_wait_until(tried_all, what="three queued reviews, tried")
        await asyncio.to_thread(live_server.start)
        await asyncio.sleep(0.5)  # past the longest backoff (retry_max_s): all three are due
        async with running(config) as bridge:
            await async_wait_until(
                lambda: bridge.outbox.count(QUEUED) == 0, timeout_s=30, what="the queue to drain"
            )
            await publish(system_broker, topic, ends[1])  # a late duplicate
            sentinel = review_id(t0 + 600)
            await publish(
                system_broker,
                topic,
                frigate_review(sentinel, "front_door", "end", start=t0 + 600, end=t0 + 610),
            )
            await async_wait_until(
                lambda: f"frigate:review:{sentinel}" in _refs(live_server, cam),
                what="the sentinel review",
            )
    finally:
        await forget_session(system_broker, client_id)
    assert _refs(live_server, cam) == sorted(f"frigate:review:{r}" for r in [*ids, sentinel])
    assert live_server.posts(cam.camera.id, "events/batch") == 1
    assert live_server.posts(cam.camera.id, "events") == 1  # the sentinel, alone
